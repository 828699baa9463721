"""The NumPy sampler with int8 weights against float32, by LSTM size, in one run; and what int8 costs a
trained model's held-out loss.

    python benchmarks/int8_sampling.py                      # LSTM 256, 512, 768, 1024; about 2 minutes
    python benchmarks/int8_sampling.py --run runs/paper     # also: held-out loss of that run, both ways

Speed: characters/s of 300-character tunes through the ``lstm`` model's own ``sample`` (1 and 64 tunes),
float32 and int8 in alternating blocks of ``--rounds`` calls (see PAUSE), the best call of each side
counted, after a first call of each (which lays the weights out, and quantizes them for int8). Loss:
every held-out tune of the run scored character by character through the sampler's own step (the
tempered logits at temperature 1), float32 and int8.
Prints a table and, last, one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

PAUSE = 0.5
"""Seconds between the two sides' blocks of calls. NumPy's OpenBLAS threads keep spinning on the
cores for about 0.1 s after a float32 product: an int8 call made right after a float32 one ran 2-4
times slower (1024 units, one tune: 2,402 against 5,447 characters/s with OpenBLAS on one thread).
A process that samples one way does not pay that."""


def speed(units: int, rounds: int, length: int = 300) -> dict:
    from musegen import SampleConfig
    from musegen_lstm.config import LSTMConfig
    from musegen_lstm.fast.lstm import LSTMModel

    models = {s: LSTMModel(LSTMConfig(units=units, sampler=s), 83) for s in ("numpy", "numpy-int8")}
    for m in models.values():
        m.build()
    models["numpy-int8"].net.set_weights(models["numpy"].net.get_weights())  # the same weights both ways
    out = {}
    for n in (1, 64):
        best = dict.fromkeys(models, float("inf"))
        for m in models.values():  # first calls, not counted
            m.sample([1, 2, 3], SampleConfig(tunes=n, max_len=length, seed=0), end_id=-1)
        for _ in range(2):  # A B A B: each side's calls in a block, then a pause (below)
            for name, m in models.items():
                time.sleep(PAUSE)
                for r in range(rounds):
                    t0 = time.perf_counter()
                    m.sample([1, 2, 3], SampleConfig(tunes=n, max_len=length, seed=r), end_id=-1)
                    best[name] = min(best[name], time.perf_counter() - t0)
        for name, seconds in best.items():
            out[f"{name}_b{n}"] = round(n * length / seconds)
    return out


def held_out_loss(run: str) -> dict:
    from musegen.evaluation import held_out
    from musegen.pipeline import load_run
    from musegen_lstm.fast.sampling import FastStep, Prepared

    _, cfg, encoder, model = load_run(run, os.environ["KERAS_BACKEND"])  # weights load on any backend
    sequences = [encoder.encode(p) for p in held_out(cfg, None)[1]]
    net = model.numpy_lstm()
    out = {"tunes": len(sequences), "characters": sum(map(len, sequences))}
    for name, prep in (("float32", Prepared(net)), ("int8", Prepared(net, int8=True))):
        total = 0.0
        for seq in sequences:
            fast = FastStep(prep, 1)
            tokens = [encoder.end_id, *seq]
            for now, nxt in zip(tokens[:-1], tokens[1:]):
                z = fast.step(now)[0].astype(np.float64)
                top = z.max()
                total += top + np.log(np.exp(z - top).sum()) - z[nxt]
        out[name] = round(total / out["characters"], 5)
    out["change_pct"] = round(100 * (out["int8"] - out["float32"]) / out["float32"], 3)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--units", type=int, nargs="+", default=[256, 512, 768, 1024])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--run", help="a trained run directory: also measure its held-out loss both ways")
    args = ap.parse_args()
    os.environ.setdefault("KERAS_BACKEND", "jax")
    os.environ["CUDA_VISIBLE_DEVICES"] = ""
    from musegen import process

    process.setup()  # musegen's process settings, as gen and musegen.train apply them
    from musegen_lstm.fast.int8 import best_route

    result = {"route": best_route(), "cpu": f"{os.cpu_count()} cores", "speed": {}}
    print(f"int8 route: {result['route']}; characters/s of 300-character tunes, best of {args.rounds} rounds")
    print(f"{'LSTM units':<12}{'1 tune f32':>12}{'int8':>10}{'ratio':>7}{'64 tunes f32':>14}{'int8':>10}{'ratio':>7}")
    for units in args.units:
        r = speed(units, args.rounds)
        result["speed"][units] = r
        print(
            f"{units:<12}{r['numpy_b1']:>12,}{r['numpy-int8_b1']:>10,}{r['numpy-int8_b1'] / r['numpy_b1']:>7.2f}"
            f"{r['numpy_b64']:>14,}{r['numpy-int8_b64']:>10,}{r['numpy-int8_b64'] / r['numpy_b64']:>7.2f}"
        )
    if args.run:
        result["held_out"] = held_out_loss(args.run)
        h = result["held_out"]
        print(
            f"held-out loss of {args.run} ({h['tunes']} tunes, {h['characters']} characters): float32 "
            f"{h['float32']}, int8 {h['int8']} nats/character ({h['change_pct']:+}%)"
        )
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
