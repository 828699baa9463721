"""How many LSTM steps the compiled (JAX) sampler should take per loop iteration, measured here.

    python benchmarks/sampler_unroll.py                 # the paper's LSTM 1024, on JAX's default device
    python benchmarks/sampler_unroll.py --units 256 --length 300

On a GPU an XLA loop copies its condition to the host after every iteration, so one LSTM step per
iteration pays that round trip each character; several steps per iteration amortize it. Times
1 and 64 tunes of ``--length`` characters (they never end early) for each unroll, best of
``--rounds``, with random weights of the paper's shapes; prints characters/s and, last, one JSON
line. ``musegen_lstm.fast.jax_sampling.UNROLL`` holds the choice.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--units", type=int, default=1024)
    ap.add_argument("--length", type=int, default=1000)
    ap.add_argument("--unroll", default="1,2,4,8,16", help="comma-separated unroll factors")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
    import jax

    from musegen_lstm.fast.jax_sampling import sample
    from musegen_lstm.fast.sampling import NumpyLSTM

    vocab, emb, u = 83, 256, args.units
    rng = np.random.default_rng(0)
    net = NumpyLSTM(
        rng.normal(0, 0.5, (vocab, emb)),
        [(rng.normal(0, emb**-0.5, (emb, 4 * u)), rng.normal(0, u**-0.5, (u, 4 * u)), np.zeros(4 * u))],
        rng.normal(0, u**-0.5, (u, vocab)),
        np.zeros(vocab),
    )
    unrolls = [int(k) for k in args.unroll.split(",")]
    rates = {}
    for n in (1, 64):
        for settings in ({}, {"temperature": 0.6, "top_p": 0.9}):
            for k in unrolls:

                def run(n=n, k=k, settings=settings):
                    return sample(net, [1, 2, 3], n, args.length, -1, seed=1, unroll=k, **settings)

                run()  # compile
                best = float("inf")
                for _ in range(args.rounds):
                    t0 = time.perf_counter()
                    run()
                    best = min(best, time.perf_counter() - t0)
                rates[(n, "top_p" if settings else "plain", k)] = n * args.length / best
    print(
        f"device {jax.devices()[0].device_kind} ({jax.default_backend()}), LSTM {u}, {args.length} characters, "
        f"best of {args.rounds}; characters/s"
    )
    print(f"{'tunes, filter':<18}" + "".join(f"{'unroll ' + str(k):>14}" for k in unrolls))
    for n in (1, 64):
        for f in ("plain", "top_p"):
            print(f"{f'{n}, {f}':<18}" + "".join(f"{rates[(n, f, k)]:>14,.0f}" for k in unrolls))
    print(
        json.dumps(
            {
                "device": jax.devices()[0].device_kind,
                "platform": jax.default_backend(),
                "units": u,
                "rates": {f"{n}_{f}_{k}": round(r) for (n, f, k), r in rates.items()},
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
