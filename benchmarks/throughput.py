"""Speed of musegen against a plain PyTorch LSTM, measured in one run, plus start-up and rendering.

    python benchmarks/throughput.py --quick                     # this CPU, about a minute
    python benchmarks/throughput.py --quick --backend torch     # musegen on Keras's torch backend
    python benchmarks/throughput.py --device gpu --backend jax  # the paper's shapes on a GPU
    python benchmarks/throughput.py --device gpu --backend torch --precision mixed_bfloat16

Training: both sides train on the same batches (random windows of a synthetic token stream over the
paper's 83-symbol vocabulary) with the same shapes, in alternating rounds so that a noisy machine
slows both alike; the best round of each side counts. The reference runs in a process of its own, as
plain PyTorch runs for its users, without the settings musegen makes in its process. Sampling: 1 and
64 sequences carrying the LSTM state, the same way (three times as many rounds: each is short); on a
CPU also with int8 weights (rows *_int8: model.sampler=numpy-int8, weights quantized once for the
model; the PyTorch loop is the same in both, so its best round of either race counts for both). The
LSTM path printed is the one the training step ran (each layer records it), checked on a GPU in the
step itself: cuDNN's primitives in the jax step's program, cuDNN's ops in a profile of a
torch step. Then `gen --help` and `gen plugins` (fresh processes; Keras must not be imported) and ABC
-> MIDI -> WAV of O'Neill's tunes. Prints a table and, last, one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
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


class Musegen:
    """musegen's ``lstm`` plugin: the training steps ``gen train`` runs, and the plugin's own sampler."""

    steps = None

    def __init__(self, args):
        os.environ["KERAS_BACKEND"] = args.backend
        from musegen import TrainConfig, process

        process.setup()  # musegen's process settings, as gen and musegen.train apply them
        from musegen_lstm.config import LSTMConfig
        from musegen_lstm.fast.lstm import LSTMModel

        config = LSTMConfig(embedding_dim=args.embedding, units=args.units, precision=args.precision)
        self.model = LSTMModel(config, args.vocab)
        self.model.build()
        self.model._compile(TrainConfig(learning_rate=1e-3))
        import keras

        self.backend = keras.backend.backend()

    def lstm_path(self, x) -> str:
        """The recurrence the training step ran, as the layer recorded it, and on a GPU what the step's
        own program shows."""
        net = self.model.net
        path = net.get_layer("lstm_0").path + (", embedding folded" if net.folded() else "")
        seen = cudnn_seen(net, x, self.backend)
        return path if seen is None else f"{path} ({seen})"

    def train(self, data):
        from musegen_lstm.fast.steps import steps

        if self.steps is None:
            self.steps = steps(self.model.net, seed=0)
        loss = None
        for i, (x, y) in enumerate(data):
            loss = self.steps(x, y, i)
        float(loss)  # wait for the device
        self.steps.sync()

    def sample(self, n, length):
        from musegen import SampleConfig

        self.model.sample([1, 2, 3], SampleConfig(tunes=n, max_len=length, seed=1), end_id=-1)


def cudnn_seen(net, x, backend: str) -> str | None:
    """On a GPU, whether a training step of ``net`` on ``x`` runs cuDNN's LSTM, read from the step
    itself: the jax step's program (rnn_fwd / rnn_bwd), or the ops in a profile of a torch step."""
    if backend == "jax":
        import jax

        if jax.default_backend() == "cpu":
            return None
        non_trainable = [v.value for v in net.non_trainable_variables]

        def loss(trainable):
            return net.stateless_call(trainable, non_trainable, x)[0].astype("float32").sum()

        program = str(jax.make_jaxpr(jax.grad(loss))([v.value for v in net.trainable_variables]))
        found = [p for p in ("rnn_fwd", "rnn_bwd") if p in program]
        return f"step program has {', '.join(found)}" if found else "no cuDNN primitive in the step program"
    if backend == "torch":
        import torch

        if not torch.cuda.is_available():
            return None
        with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
            net(torch.as_tensor(x, device="cuda")).float().sum().backward()
        found = sorted({e.name for e in prof.events() if "cudnn_rnn" in e.name})
        return f"step ran {', '.join(found)}" if found else "no cuDNN op in the step"
    return None


class Torch:
    """The reference: torch.nn.LSTM (cuDNN on a GPU), Adam, cross-entropy; a no_grad sampling loop.
    With a mixed precision, training runs under ``torch.autocast`` in that type (on a GPU autocast runs
    cuDNN's LSTM in float16 under either type: its outputs come back float16, seen on an H200)."""

    def __init__(self, args):
        import torch
        from torch import nn

        self.torch, self.vocab = torch, args.vocab
        self.dev = torch.device("cuda" if args.device == "gpu" else "cpu")
        self.autocast = {"mixed_bfloat16": torch.bfloat16, "mixed_float16": torch.float16}.get(args.precision)

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
        self.net = Net().to(self.dev)
        self.opt = torch.optim.Adam(self.net.parameters(), lr=1e-3)
        self.lossf = nn.CrossEntropyLoss()

    def train(self, data):
        torch, loss = self.torch, None
        for x, y in data:
            self.opt.zero_grad()
            with torch.autocast(self.dev.type, dtype=self.autocast, enabled=self.autocast is not None):
                logits, _ = self.net(torch.as_tensor(x, device=self.dev, dtype=torch.long))
            loss = self.lossf(
                logits.float().reshape(-1, self.vocab),
                torch.as_tensor(y, device=self.dev, dtype=torch.long).reshape(-1),
            )
            loss.backward()
            self.opt.step()
        loss.item()

    def sample(self, n, length):
        torch = self.torch
        with torch.no_grad():
            tok = torch.full((n, 1), 1, dtype=torch.long, device=self.dev)
            state = None
            for _ in range(length):
                logits, state = self.net(tok, state)
                tok = torch.multinomial(torch.softmax(logits[:, -1], -1), 1)
            tok.cpu()


class Reference:
    """:class:`Torch` in a process of its own, as a user runs plain PyTorch: musegen's process settings
    (``musegen_lstm.env``: glibc's malloc keeping freed memory) sped the plain PyTorch LSTM up by 24-29%
    on a CPU when it shared musegen's process. It builds the same model and the same batches from the
    same seeds; each call runs there and returns when it is done (a line each way, microseconds)."""

    def __init__(self, args):
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--serve-reference", json.dumps(vars(args))],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self._done()  # built

    def _ask(self, line: str) -> None:
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        self._done()

    def _done(self) -> None:
        answer = self.proc.stdout.readline().strip()
        if answer != "done":
            raise SystemExit(f"throughput.py: the PyTorch reference's process failed ({answer or 'no answer'})")

    def close(self) -> None:
        self.proc.stdin.close()  # its loop over stdin ends
        self.proc.wait()

    def train(self, data):
        self._ask(f"train {len(data)}")  # the run's first len(data) batches, as the other side's

    def sample(self, n, length):
        self._ask(f"sample {n} {length}")


def serve_reference(given: str) -> int:
    """The reference's process (:class:`Reference`): commands on stdin, ``done`` on stdout after each."""
    args = argparse.Namespace(**json.loads(given))
    data = list(batches(args.vocab, args.seq, args.batch, args.steps))
    reference = Torch(args)
    print("done", flush=True)
    for line in sys.stdin:
        cmd, *numbers = line.split()
        if cmd == "train":
            reference.train(data[: int(numbers[0])])
        else:
            reference.sample(int(numbers[0]), int(numbers[1]))
        print("done", flush=True)
    return 0


PAUSE = 0.3  # seconds before each timed call: the other side's idle threads stop spinning (OpenBLAS's spin a while)


def race(sides: dict, work, rounds: int) -> dict[str, float]:
    """Run ``work(side)`` for each side in turn, ``rounds`` times; the best seconds of each side."""
    best = dict.fromkeys(sides, float("inf"))
    for _ in range(rounds):
        for name, side in sides.items():
            time.sleep(PAUSE)
            t0 = time.perf_counter()
            work(side)
            best[name] = min(best[name], time.perf_counter() - t0)
    return best


def pool_reference(seconds: dict) -> list[str]:
    """The reference's best over every race of the same work: the int8 rows race musegen's int8 sampler
    against the same PyTorch loop as the float32 rows, so ``sample_bN`` and ``sample_bN_int8`` share the
    best of both races' reference rounds (in place). On a 2-core AMD EPYC the loop's one tune sometimes
    stayed at about 150 ms through a whole race of 9 rounds and made 80 ms in the next: the ratio was then
    19x where it is 11x. Returns the rows whose reference time came from the other race."""
    changed = []
    for key in [k for k in seconds if k.endswith("_int8")]:
        float_key = key[: -len("_int8")]
        if float_key not in seconds:
            continue
        best = min(seconds[key]["torch"], seconds[float_key]["torch"])
        for k in (key, float_key):
            if seconds[k]["torch"] > best:
                seconds[k]["torch"] = best
                changed.append(k)
    return changed


def startup(args) -> dict:
    """Seconds for `gen --help` and `gen plugins` (best of 5 fresh processes), and whether keras loaded."""
    out = {}
    for cmd in (["--help"], ["plugins"]):
        times = []
        for _ in range(5):
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-m", "musegen", *cmd], capture_output=True, check=True)
            times.append(time.perf_counter() - t0)
        out[f"gen_{cmd[0].strip('-')}_s"] = round(min(times), 3)
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, musegen.cli; from musegen.plugins import get_manager; "
            "get_manager(); print(sorted(m for m in ('keras', 'jax', 'torch', 'tensorflow', 'music21') "
            "if m in sys.modules))",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    out["heavy_modules_at_start"] = probe.stdout.strip()
    return out


def rendering(n: int) -> dict:
    """ABC -> MIDI -> WAV for ``n`` O'Neill's tunes (music21's copy) into a temporary folder."""
    import tempfile

    import musegen

    tunes = [p.text for p in musegen.get_registry().get("corpus", "oneills").build({"limit": n}).load().pieces]
    with tempfile.TemporaryDirectory() as tmp:
        pieces = [musegen.Piece.from_abc(t) for t in tunes]
        t0 = time.perf_counter()
        result = musegen.render(pieces, tmp, ["midi", "wav"])
        seconds = time.perf_counter() - t0
    return {
        "render_tunes": len(tunes),
        "render_wav_written": len(result["wav"].files),
        "render_tunes_per_s": round(len(tunes) / seconds, 1),
    }


def device_name(args) -> str:
    if args.device == "gpu":
        import torch

        return torch.cuda.get_device_name()
    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores"


def positive(text: str) -> int:
    """An argument that must be a whole number above zero (argparse says so in one line otherwise)."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number above 0")
    return value


def main() -> int:
    if sys.argv[1:2] == ["--serve-reference"]:
        return serve_reference(sys.argv[2])
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small shapes and few steps: about a minute on a 2-core CPU")
    ap.add_argument("--device", choices=["cpu", "gpu"], default="cpu")
    ap.add_argument("--backend", choices=["jax", "torch", "tensorflow"], default="jax")
    ap.add_argument("--units", type=positive, default=None)
    ap.add_argument(
        "--precision",
        choices=["float32", "mixed_bfloat16", "mixed_float16"],
        default="float32",
        help="training precision, both sides (PyTorch: torch.autocast); sampling stays float32",
    )
    ap.add_argument("--rounds", type=positive, default=3, help="alternating rounds per measure; the best counts")
    ap.add_argument(
        "--sample-rounds",
        type=positive,
        default=None,
        help="alternating rounds per sampling measure (default: 3x --rounds; a round of one tune "
        "takes milliseconds, so that a few slow ones on a busy machine do not decide it)",
    )
    ap.add_argument("--skip-extras", action="store_true", help="only training and sampling")
    ap.add_argument(
        "--skip-int8",
        action="store_true",
        help="on a CPU, skip the rows of the NumPy sampler with int8 weights (model.sampler=numpy-int8)",
    )
    args = ap.parse_args()
    args.sample_rounds = args.sample_rounds or 3 * args.rounds
    if args.device == "cpu" and args.precision == "mixed_float16":
        # torch.autocast(float16) on a CPU: oneDNN "could not create a primitive descriptor" for the LSTM
        ap.exit(
            2,
            "throughput.py: error: no plain PyTorch reference for mixed_float16 on a CPU (PyTorch's CPU LSTM "
            "has no float16 kernel); measure it with --device gpu, or mixed_bfloat16 here\n",
        )
    args.vocab, args.embedding = 83, 256
    if args.quick:
        args.units, args.seq, args.batch, args.steps, args.sample_len = args.units or 256, 200, 32, 8, 300
    else:
        args.units, args.seq, args.batch, args.steps, args.sample_len = args.units or 1024, 400, 32, 20, 1000
    if args.device == "cpu":
        os.environ["CUDA_VISIBLE_DEVICES"] = ""
    else:
        args.steps *= 3  # a GPU step takes milliseconds: longer rounds
        os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")  # JAX and PyTorch share the GPU
    data = list(batches(args.vocab, args.seq, args.batch, args.steps))
    sides = {"musegen": Musegen(args), "torch": Reference(args)}
    # compile (the sampler compiles once per length), warm caches
    race(sides, lambda s: (s.train(data[:2]), s.sample(1, args.sample_len), s.sample(64, args.sample_len)), 1)
    seconds = {"train": race(sides, lambda s: s.train(data), args.rounds)}
    for n in (1, 64):
        seconds[f"sample_b{n}"] = race(sides, lambda s, n=n: s.sample(n, args.sample_len), args.sample_rounds)
    ours = sides["musegen"]
    sampler, int8_route = ours.model.sampler(), None
    if args.device == "cpu" and not args.skip_int8:  # the NumPy sampler with int8 weights, same PyTorch loop
        ours.model.config = ours.model.config.model_copy(update={"sampler": "numpy-int8"})
        ours.sample(1, args.sample_len)  # quantizes the weights, once for the model
        from musegen_lstm.fast.int8 import best_route

        int8_route = best_route()
        for n in (1, 64):
            seconds[f"sample_b{n}_int8"] = race(sides, lambda s, n=n: s.sample(n, args.sample_len), args.sample_rounds)
    pooled = pool_reference(seconds)
    tunes = lambda key: int(key.split("_")[1][1:])  # noqa: E731 — sample_b64_int8: 64
    rate = {
        k: {
            side: (len(data) * args.batch * args.seq if k == "train" else tunes(k) * args.sample_len) / s
            for side, s in v.items()
        }
        for k, v in seconds.items()
    }
    sides["torch"].close()
    path = ours.lstm_path(data[0][0])
    import torch

    print(
        f"device {args.device} ({device_name(args)}), "
        f"backend {ours.backend} (LSTM path: {path}), torch {torch.__version__}, LSTM {args.units}, "
        f"sequence {args.seq}, batch {args.batch}, {args.precision}, sampler {sampler}, best of {args.rounds} rounds "
        f"(sampling {args.sample_rounds})"
    )
    if int8_route:
        print(f"int8 rows: model.sampler=numpy-int8, {int8_route} route (musegen_lstm/int8.py)")
    if pooled:
        print(f"PyTorch's time in {', '.join(pooled)}: its best in the other race of the same loop")
    print(f"{'characters/s':<22}{'musegen':>12}{'PyTorch':>12}{'ratio':>8}")
    result = {}
    for key, r in rate.items():
        result[f"{key}_ratio_vs_torch"] = round(r["musegen"] / r["torch"], 2)
        print(f"{key:<22}{r['musegen']:>12,.0f}{r['torch']:>12,.0f}{result[f'{key}_ratio_vs_torch']:>8.2f}")
    result.update(
        device=args.device,
        device_name=device_name(args),
        backend=ours.backend,
        lstm_path=path,
        units=args.units,
        precision=args.precision,
        rounds=args.rounds,
        sample_rounds=args.sample_rounds,
        int8_route=int8_route,
        reference_pooled=pooled,
        musegen={k: round(r["musegen"]) for k, r in rate.items()},
        torch={k: round(r["torch"]) for k, r in rate.items()},
    )
    if not args.skip_extras:
        result.update(startup(args))
        print(
            f"gen --help {result['gen_help_s']} s, gen plugins {result['gen_plugins_s']} s, "
            f"heavy modules imported at start: {result['heavy_modules_at_start']}"
        )
        result.update(rendering(100 if args.quick else 400))
        print(
            f"ABC -> MIDI -> WAV: {result['render_tunes_per_s']} tunes/s "
            f"({result['render_wav_written']} of {result['render_tunes']} O'Neill's tunes written)"
        )
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
