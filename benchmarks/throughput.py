"""Training and sampling throughput of musegen's lstm plugin against a plain PyTorch LSTM, in one run.

    python benchmarks/throughput.py --quick                    # this CPU, under 5 minutes
    python benchmarks/throughput.py --device gpu --backend jax # the paper's shapes on a GPU

Both sides train on the same batches (random windows of a synthetic token stream with the paper's
83-symbol vocabulary) with the same shapes, and sample 1 and 64 sequences carrying the LSTM state.
Prints a table and, last, one JSON line with the ratios (musegen / PyTorch; above 1 is faster).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time

import numpy as np


def batches(vocab, seq, batch, steps, seed=0):
    rng = np.random.default_rng(seed)
    stream = rng.integers(0, vocab, size=200_000).astype(np.int32)
    for _ in range(steps):
        starts = rng.integers(0, len(stream) - seq - 1, size=batch)
        b = stream[starts[:, None] + np.arange(seq + 1)]
        yield b[:, :-1], b[:, 1:]


def time_musegen(args, data):
    os.environ.setdefault("KERAS_BACKEND", args.backend)
    from musegen import SampleConfig, TrainConfig
    from musegen_lstm.config import LSTMConfig
    from musegen_lstm.lstm import LSTMModel

    model = LSTMModel(LSTMConfig(embedding_dim=args.embedding, units=args.units), args.vocab)
    model.build()
    model._compile(TrainConfig(learning_rate=1e-3))
    for x, y in data[: args.warmup]:
        model.net.train_on_batch(x, y)
    t0 = time.perf_counter()
    for x, y in data[args.warmup:]:
        loss = model.net.train_on_batch(x, y)
    float(np.asarray(loss).reshape(-1)[0])  # wait for the device
    train_s = time.perf_counter() - t0
    out = {"train_chars_per_s": (len(data) - args.warmup) * args.batch * args.seq / train_s, "sampler": model.sampler()}
    for n in (1, 64):
        opts = SampleConfig(tunes=n, max_len=args.sample_len, seed=1)
        model.sample([1, 2, 3], opts.model_copy(update={"max_len": 8}), end_id=-1)  # compile / warm caches
        t0 = time.perf_counter()
        model.sample([1, 2, 3], opts, end_id=-1)
        out[f"sample_b{n}_chars_per_s"] = n * args.sample_len / (time.perf_counter() - t0)
    import keras

    out["backend"] = keras.backend.backend()
    return out


def time_torch(args, data):
    import torch
    from torch import nn

    dev = torch.device("cuda" if args.device == "gpu" else "cpu")

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(args.vocab, args.embedding)
            self.lstm = nn.LSTM(args.embedding, args.units, batch_first=True)
            self.out = nn.Linear(args.units, args.vocab)

        def forward(self, x, state=None):
            h, state = self.lstm(self.emb(x), state)
            return self.out(h), state

    torch.manual_seed(0)
    net = Net().to(dev)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    lossf = nn.CrossEntropyLoss()

    def step(x, y):
        opt.zero_grad()
        logits, _ = net(torch.as_tensor(x, device=dev, dtype=torch.long))
        loss = lossf(logits.reshape(-1, args.vocab), torch.as_tensor(y, device=dev, dtype=torch.long).reshape(-1))
        loss.backward()
        opt.step()
        return loss

    for x, y in data[: args.warmup]:
        step(x, y)
    t0 = time.perf_counter()
    for x, y in data[args.warmup:]:
        loss = step(x, y)
    loss.item()
    train_s = time.perf_counter() - t0
    out = {"train_chars_per_s": (len(data) - args.warmup) * args.batch * args.seq / train_s}
    for n in (1, 64):
        with torch.no_grad():
            t0 = time.perf_counter()
            tok = torch.full((n, 1), 1, dtype=torch.long, device=dev)
            state = None
            for _ in range(args.sample_len):
                logits, state = net(tok, state)
                tok = torch.multinomial(torch.softmax(logits[:, -1], -1), 1)
            tok.cpu()
            out[f"sample_b{n}_chars_per_s"] = n * args.sample_len / (time.perf_counter() - t0)
    out["torch"] = torch.__version__
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small shapes and few steps: under 5 minutes on a 2-core CPU")
    ap.add_argument("--device", choices=["cpu", "gpu"], default="cpu")
    ap.add_argument("--backend", choices=["jax", "torch", "tensorflow"], default="jax")
    ap.add_argument("--units", type=int, default=None)
    args = ap.parse_args()
    args.vocab, args.embedding = 83, 256
    if args.quick:
        args.units, args.seq, args.batch, args.steps, args.warmup, args.sample_len = args.units or 256, 200, 32, 25, 3, 300
    else:
        args.units, args.seq, args.batch, args.steps, args.warmup, args.sample_len = args.units or 1024, 400, 32, 60, 5, 1000
    if args.device == "cpu":
        os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
    data = list(batches(args.vocab, args.seq, args.batch, args.steps + args.warmup))
    ours = time_musegen(args, data)
    ref = time_torch(args, data)
    print(f"device {args.device} ({platform.processor() or platform.machine()}), backend {ours['backend']}, torch {ref['torch']}, "
          f"LSTM {args.units}, sequence {args.seq}, batch {args.batch}, sampler {ours['sampler']}")
    print(f"{'measure':<24}{'musegen':>14}{'PyTorch':>14}{'ratio':>8}")
    ratios = {}
    for key, label in (("train_chars_per_s", "train"), ("sample_b1_chars_per_s", "sample_b1"), ("sample_b64_chars_per_s", "sample_b64")):
        ratios[f"{label}_ratio_vs_torch"] = round(ours[key] / ref[key], 2)
        print(f"{key:<24}{ours[key]:>14,.0f}{ref[key]:>14,.0f}{ratios[f'{label}_ratio_vs_torch']:>8.2f}")
    print(json.dumps({**ratios, "device": args.device, "backend": ours["backend"], "units": args.units,
                      "musegen": {k: round(v) for k, v in ours.items() if isinstance(v, float)},
                      "torch": {k: round(v) for k, v in ref.items() if isinstance(v, float)}}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
