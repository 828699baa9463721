"""Train and evaluate presets side by side on irish.abc (the MIT 6.S191 lab's corpus, split by tune).

    python benchmarks/quality.py                       # quality, paper and the 5-gram markov model
    python benchmarks/quality.py --only quality --steps 400 --samples 50
    python benchmarks/quality.py --only paper --reuse   # evaluate runs already trained into --out

Uses ../shared/data/irish-train.abc for training and irish-valid.abc for validation and evaluation
(the same calls as `gen train --valid ... --preset P` then `gen eval --data ... --samples N --json`).
Each LSTM run is evaluated as musegen samples by default (bar checking on) and from the model alone
(`--no-check-bars`), so that what the bar check adds is plain. Prints one table and, last, one JSON
line with every number.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
TARGETS = {
    "nll_nats_per_char": ("<=", 0.85),
    "clean_pct": (">=", 95),
    "bars_ok_pct": (">=", 92),
    "copies_pct": ("<=", 0),
    "meter_tv": ("<=", 0.10),
    "key_tv": ("<=", 0.10),
}
FORM = [
    "form_regular_pct",
    "corpus_form_regular_pct",
    "form_ends_pct",
    "form_repeats_pct",
    "form_parts_overlap",
    "form_bars_per_part_overlap",
    "form_bars_per_tune_overlap",
    "form_parts_median",
    "form_bars_per_tune_median",
]
EXTRA = [
    *FORM,
    "bars_redrawn_pct",
    "bars_kept_wrong",
    "complete_pct",
    "pitch_class_overlap",
    "note_length_overlap",
    "longest_copy_chars",
    "train_seconds",
    "steps",
]
SYSTEMS = {
    "quality": ("quality", "lstm"),
    "paper": ("paper", "lstm"),
    "markov": ("default", "markov"),
    "default": ("default", "lstm"),
}  # default: O'Neill's (music21), scored on its own held-out split
ASKS = {
    "jig G 2x8": {"type": "jig", "meter": "6/8", "key": "G", "parts": 2, "bars": 8},
    "reel Dmix": {"type": "reel", "key": "Dmix"},
}  # the controls benchmarked: each tune must be what was asked
CONTROLS = [
    "asked_match_pct",
    *[f"asked {name} {what}" for name in ASKS for what in ("match_pct", "ends_pct")],
    "generate_100_seconds",
]


def trained(run) -> dict:
    """Steps and seconds of training; a run stopped early (Ctrl-C) has no result yet, its history does."""
    result = run.manifest().get("result")
    if result:
        return result
    step, _, _, seconds = run.file("history.csv").read_text().splitlines()[-1].split(",")
    return {"steps": int(step), "seconds": float(seconds)}


def asked(run_path, args) -> dict:
    """Tunes asked for each of ASKS: the share that is what was asked and the share that ended by itself;
    and the seconds `gen generate -n 100` samples (after a first call has loaded the run)."""
    from musegen.pipeline import load_run, sample_run

    loaded = load_run(run_path, args.backend)
    if not hasattr(loaded[2], "primes") or loaded[2].primes(loaded[1].sample) is None:
        return {}
    out = {}
    for name, controls in ASKS.items():
        pieces = sample_run(loaded, {"tunes": args.samples, "seed": args.seed, **controls})
        out[f"asked {name} match_pct"] = round(100.0 * sum(not p.meta["missed"] for p in pieces) / len(pieces), 1)
        out[f"asked {name} ends_pct"] = round(100.0 * sum(p.meta["complete"] for p in pieces) / len(pieces), 1)
    t0 = time.perf_counter()
    sample_run(loaded, {"tunes": 100, "seed": args.seed})
    out["generate_100_seconds"] = round(time.perf_counter() - t0, 2)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--only",
        default="quality,paper,markov",
        help="comma-separated: quality, paper, markov, default (O'Neill's, its own held-out split)",
    )
    ap.add_argument("--steps", type=int, default=None, help="override the presets' training steps (quick runs)")
    ap.add_argument("--samples", type=int, default=200)
    ap.add_argument("--seed", type=int, default=11, help="sampling seed")
    ap.add_argument("--out", default=str(ROOT / "runs" / "bench-quality"))
    ap.add_argument("--backend", default="jax")
    ap.add_argument("--reuse", action="store_true", help="evaluate runs already in --out instead of training")
    args = ap.parse_args()
    if not (DATA / "irish-train.abc").is_file():
        print(f"error: {DATA}/irish-train.abc not found (the benchmark needs ../shared/data)", file=sys.stderr)
        return 2
    import musegen
    from musegen.evaluation import evaluate_run

    rows = {}
    valid = str(DATA / "irish-valid.abc")
    for name in args.only.split(","):
        preset, model = SYSTEMS[name]
        run_dir = Path(args.out) / name
        if args.reuse:
            run = musegen.RunDir.open(run_dir)
            train_s = trained(run)["seconds"]
        else:
            sets = {"train.steps": args.steps} if args.steps is not None and model != "markov" else {}
            if model == "markov":
                sets["model.order"] = 4  # a character 5-gram
            own = {} if name == "default" else {"corpus": str(DATA / "irish-train.abc"), "valid": valid}
            cfg = musegen.resolve(preset, flags={**own, "model": model, "backend": args.backend}, sets=sets)
            t0 = time.perf_counter()
            run = musegen.train(cfg, run_dir, force=True)
            train_s = time.perf_counter() - t0
            print(
                f"{name}: trained {run.manifest()['result']['steps']} steps in {train_s:.0f} s",
                file=sys.stderr,
                flush=True,
            )
        steps = trained(run)["steps"]
        for label, sample in ((name, {}), (f"{name} (model alone)", {"check_bars": False, "check_form": False})):
            if model == "markov" and sample:
                continue  # the markov example takes no bar checker: it is the model alone already
            held = None if name == "default" else valid
            result, *_ = evaluate_run(
                run.path, held, args.samples, seed=args.seed, sample=sample, log=lambda m: None, backend=args.backend
            )  # one process, one Keras backend
            result["train_seconds"] = round(train_s, 1)
            result["steps"] = steps
            if not sample:
                result.update(asked(run.path, args))
            rows[label] = result
    metrics = list(TARGETS) + EXTRA + CONTROLS
    print("| metric | target | " + " | ".join(rows) + " | real held-out tunes |")
    print("|---|---|" + "---|" * len(rows) + "---|")
    for m in metrics:
        target = " ".join(map(str, TARGETS[m])) if m in TARGETS else ""
        ref = next(iter(rows.values()))["reference"].get(m, "") if rows else ""
        print(f"| {m} | {target} | " + " | ".join(str(r.get(m, "")) for r in rows.values()) + f" | {ref} |")
    print(json.dumps({name: {m: r.get(m) for m in metrics} for name, r in rows.items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
