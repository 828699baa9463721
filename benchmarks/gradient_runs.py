"""What float16_gradients.py and loss_scale.py both read: the runs asked for, and a held-out batch of each."""

from __future__ import annotations

import sys


def cases(args, backend: str):
    """``(name, initialized, config, encoder, model)`` for each run of ``args.runs`` loaded on ``backend``
    (``args.tag``'s checkpoint), then with ``args.init`` the first run again, its model to be used freshly
    initialized. A run that does not load: one line on stderr, exit 2."""
    from musegen.errors import MusegenError
    from musegen.pipeline import load_run

    for where, init in [(run, False) for run in args.runs] + ([(args.runs[0], True)] if args.init else []):
        try:
            _, cfg, enc, model = load_run(where, backend=backend, tag=args.tag)
        except MusegenError as exc:
            print(f"error: {exc}", file=sys.stderr)
            sys.exit(2)
        yield where + (" (initialized)" if init else ""), init, cfg, enc, model


def windows(cfg, enc, batch: int, seq: int):
    """``batch`` windows of ``seq + 1`` token ids from the run's held-out tunes, at seeded places (``seq``
    shortened where a toy corpus is shorter than a window)."""
    import numpy as np

    from musegen.evaluation import held_out

    ids = np.array([i for piece in held_out(cfg, None)[0] for i in enc.encode(piece)])
    seq = min(seq, len(ids) - 2)
    starts = np.random.default_rng(0).integers(0, len(ids) - seq - 1, batch)
    return ids[starts[:, None] + np.arange(seq + 1)]
