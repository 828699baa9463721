"""Which type cuDNN's LSTM is fast in, and which one ``torch.autocast`` runs it in (needs a CUDA GPU).

    python benchmarks/cudnn_lstm_types.py [--units 1024] [--batch 32] [--seq 400]

Times one forward and backward pass of a single LSTM layer (the paper's shapes by default) through
musegen's torch backend's own call (``musegen_lstm.fast.layer.torch_lstm``: weights cast to the type, and
in float16 its gradients scaled) in float32, float16 and bfloat16, and ``torch.nn.LSTM`` under
``torch.autocast`` in bfloat16 and float16, all in one run; prints milliseconds a pass, characters/s,
the ratio to float32, the type autocast's outputs come back in, and the kernels each one launched
(cuDNN's persistent LSTM kernels run the whole recurrence in one launch; its standard algorithm
launches products each time step). musegen_lstm.fast.layer.gpu_dtype chose float16 for either mixed
precision from what scratch scripts of the same calls printed on an H200 (``RESULTS.md``, session 9).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from types import SimpleNamespace


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--units", type=int, default=1024)
    ap.add_argument("--embedding", type=int, default=256, help="the LSTM's input size")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--seq", type=int, default=400)
    ap.add_argument("--repeats", type=int, default=20)
    args = ap.parse_args()
    import torch
    from torch.profiler import ProfilerActivity, profile

    os.environ.setdefault("KERAS_BACKEND", "torch")  # musegen_lstm.fast.layer imports Keras
    from musegen_lstm.fast.layer import torch_lstm

    if not torch.cuda.is_available():
        print("error: no CUDA GPU here: this benchmark times cuDNN", file=sys.stderr)
        sys.exit(2)
    warnings.filterwarnings("ignore", "RNN module weights are not part of single contiguous chunk")
    torch.manual_seed(0)
    dev, (B, T, I, U) = "cuda", (args.batch, args.seq, args.embedding, args.units)  # noqa: E741 (inputs)
    x = torch.randn(B, T, I, device=dev)
    kernel = torch.nn.Parameter(torch.randn(I, 4 * U, device=dev) * 0.03)
    recurrent = torch.nn.Parameter(torch.randn(U, 4 * U, device=dev) * 0.03)
    bias = torch.nn.Parameter(torch.zeros(4 * U, device=dev))
    h0 = torch.zeros(B, U, device=dev)
    module = torch.nn.LSTM(I, U, batch_first=True).to(dev)
    out_types = {}

    layer = SimpleNamespace(compute_dtype="float32", _ran=lambda path: None)  # what torch_lstm asks of a layer

    def musegen_way(dtype):
        def run():
            torch_lstm(layer, "cudnn", x, h0, h0, kernel, recurrent, bias, dtype)[0].mean().backward()

        return run

    def autocast(dtype):
        def run():
            with torch.autocast("cuda", dtype=dtype):
                out = module(x)[0]
            out_types[dtype] = out.dtype
            out.float().mean().backward()

        return run

    cases = {
        "float32": musegen_way(torch.float32),
        "float16": musegen_way(torch.float16),
        "bfloat16": musegen_way(torch.bfloat16),
        "autocast bfloat16": autocast(torch.bfloat16),
        "autocast float16": autocast(torch.float16),
    }

    def timed(run) -> float:
        for _ in range(3):
            run()
        torch.cuda.synchronize()
        t = time.perf_counter()
        for _ in range(args.repeats):
            run()
        torch.cuda.synchronize()
        return (time.perf_counter() - t) / args.repeats * 1e3

    print(
        f"{torch.cuda.get_device_name()}, torch {torch.__version__}, cuDNN {torch.backends.cudnn.version()}; "
        f"LSTM {U}, input {I}, batch {B}, sequence {T}: one forward and backward pass"
    )
    ms = {name: timed(run) for name, run in cases.items()}
    print(f"{'':20s} {'ms':>7s} {'characters/s':>13s} {'vs float32':>10s}  kernels (most device time first)")
    for name, run in cases.items():
        with profile(activities=[ProfilerActivity.CUDA]) as prof:
            run()
            torch.cuda.synchronize()
        top = sorted(prof.key_averages(), key=lambda e: -e.device_time_total)[:3]
        kernels = "; ".join(f"{e.key[:40]} x{e.count}" for e in top)
        print(f"{name:20s} {ms[name]:7.2f} {B * T / ms[name] * 1e3:13,.0f} {ms['float32'] / ms[name]:10.2f}  {kernels}")
    print("autocast's LSTM outputs:", ", ".join(f"asked {str(a)[6:]} -> {str(b)[6:]}" for a, b in out_types.items()))


if __name__ == "__main__":
    main()
