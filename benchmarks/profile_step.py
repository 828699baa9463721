"""Where a training step of musegen's ``lstm`` plugin spends its time, on the torch backend.

    python benchmarks/profile_step.py [--device gpu] [--units 1024] [--precision mixed_bfloat16]

Runs the steps ``gen train`` runs (``musegen_lstm.fast.steps``) under ``torch.profiler`` and prints the ops
that take the most host (CPU) time, then the most device time: when the host time per step exceeds
the device time, Python and Keras, not the GPU, set the pace.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", choices=["cpu", "gpu"], default="cpu")
    ap.add_argument("--units", type=int, default=1024)
    ap.add_argument("--seq", type=int, default=400)
    ap.add_argument("--precision", default="float32")
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--rows", type=int, default=25)
    args = ap.parse_args()
    os.environ["KERAS_BACKEND"] = "torch"
    if args.device == "cpu":
        os.environ["CUDA_VISIBLE_DEVICES"] = ""
    import torch
    from torch.profiler import ProfilerActivity, profile

    from musegen import TrainConfig, process

    process.setup()  # musegen's process settings, as gen and musegen.train apply them
    from musegen_lstm.config import LSTMConfig
    from musegen_lstm.fast.lstm import LSTMModel
    from musegen_lstm.fast.steps import steps

    model = LSTMModel(LSTMConfig(units=args.units, precision=args.precision), 83)
    model.build()
    model._compile(TrainConfig())
    run = steps(model.net, 0)
    rng = np.random.default_rng(0)
    batch = rng.integers(0, 83, size=(32, args.seq + 1)).astype(np.int32)
    for i in range(3):
        float(run(batch[:, :-1], batch[:, 1:], i))
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if args.device == "gpu" else [])
    with profile(activities=activities) as prof:
        t0 = time.perf_counter()
        for i in range(args.steps):
            loss = run(batch[:, :-1], batch[:, 1:], i)
        dispatched = time.perf_counter() - t0
        float(loss)
        total = time.perf_counter() - t0
    table = prof.key_averages()
    print(
        f"{args.steps} steps: {total / args.steps * 1e3:.1f} ms a step, {dispatched / args.steps * 1e3:.1f} ms of it "
        f"before the last step was queued "
        f"(torch {torch.__version__}, {args.device}, LSTM {args.units}, {args.precision})"
    )
    print(table.table(sort_by="self_cpu_time_total", row_limit=args.rows))
    if args.device == "gpu":
        print(table.table(sort_by="self_cuda_time_total", row_limit=12))
    return 0


if __name__ == "__main__":
    sys.exit(main())
