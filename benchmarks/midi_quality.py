"""Train the `midi` preset and measure its pieces beside real ones: Bach's chorales and O'Neill's as MIDI.

    python benchmarks/midi_quality.py                         # both corpora, the preset as it is
    python benchmarks/midi_quality.py --only chorales --steps 300 --samples 50
    python benchmarks/midi_quality.py --reuse                 # measure runs already trained into --out
    python benchmarks/midi_quality.py --set encoder.tokenization=TSD --out runs/bench-midi-tsd

The same calls as `gen train --preset midi` then `gen eval --samples N --json`, on each corpus's own
held-out split. Per piece, the median piece (polyphony, key, range, held notes, density); over all
pieces, the pitch-class overlap with the corpus and the share that needed a repair. Prints one table
and, last, one JSON line with every number.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPORA = {"chorales": "bach-chorales", "oneills": "oneills-midi"}
TARGETS = {  # issue targets for the chorales; the monophonic share is O'Neill's
    "repaired_pct": ("<=", 2),
    "polyphony": ("3.4-4.6",),
    "max_polyphony": ("<=", 5),
    "in_key_pct": (">=", 93),
    "held_past_4s_pct": ("<=", 1),
    "pitch_class_overlap": (">=", 0.95),
    "monophonic_pct": (">=", 98),
}
EXTRA = [
    "ended_pct",
    "ended_at_length_pct",
    "pitch_range",
    "notes_per_beat",
    "nll_nats_per_event",
    "notes_redrawn_pct",
    "notes_kept_wrong",
    "train_seconds",
    "steps",
]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", default="chorales,oneills", help="comma-separated: chorales, oneills")
    ap.add_argument("--steps", type=int, default=None, help="override the preset's training steps (quick runs)")
    ap.add_argument(
        "--set",
        dest="sets",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a setting on top of the preset, as gen's --set (repeatable)",
    )
    ap.add_argument("--samples", type=int, default=200)
    ap.add_argument("--seed", type=int, default=11, help="sampling seed")
    ap.add_argument("--out", default=str(ROOT / "runs" / "bench-midi"))
    ap.add_argument("--reuse", action="store_true", help="measure runs already in --out instead of training")
    args = ap.parse_args()
    import musegen
    from musegen.config import parse_sets
    from musegen.evaluation import evaluate_run

    rows = {}
    for name in args.only.split(","):
        run_dir = Path(args.out) / name
        if args.reuse:
            run = musegen.RunDir.open(run_dir)
        else:
            sets = {**parse_sets(args.sets), **({"train.steps": args.steps} if args.steps is not None else {})}
            cfg = musegen.resolve("midi", flags={"corpus": CORPORA[name]}, sets=sets)
            t0 = time.perf_counter()
            run = musegen.train(cfg, run_dir, force=True)
            print(
                f"{name}: trained {run.manifest()['result']['steps']} steps in {time.perf_counter() - t0:.0f} s",
                file=sys.stderr,
                flush=True,
            )
        result, *_ = evaluate_run(run.path, None, args.samples, seed=args.seed, log=lambda m: None)
        trained = run.manifest()["result"]
        result.update(
            train_seconds=trained["seconds"],
            steps=trained["steps"],
            tokenization=run.manifest()["components"]["encoder"]["config"]["tokenization"],
        )
        rows[name] = result
    metrics = list(TARGETS) + EXTRA
    print("| metric | target | " + " | ".join(f"{n} | {n} (real)" for n in rows) + " |")
    print("|---|---|" + "---|---|" * len(rows))
    for m in metrics:
        target = " ".join(map(str, TARGETS.get(m, ())))
        cells = " | ".join(f"{r.get(m, '')} | {r['reference'].get(m, '')}" for r in rows.values())
        print(f"| {m} | {target} | {cells} |")
    print(
        json.dumps(
            {
                n: {
                    "tokenization": r["tokenization"],
                    **{m: r.get(m) for m in metrics},
                    "real": {m: r["reference"].get(m) for m in metrics},
                }
                for n, r in rows.items()
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
