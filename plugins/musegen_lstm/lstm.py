"""``lstm``: the model plugin — training loop with held-out checkpointing, scoring and sampling (the Keras model is in net.py)."""

from __future__ import annotations

import csv
import io
import math
import time
from pathlib import Path
from types import SimpleNamespace

from musegen_lstm import env

env.setup()  # before Keras is imported
with env.quiet_import():
    import keras  # noqa: E402
import numpy as np  # noqa: E402

from musegen import MusegenError, TrainResult, interrupts
from musegen.atomic import atomic_path, write_text
from musegen_lstm.loss_scale import LossScale
from musegen_lstm.net import build
from musegen_lstm.sampling import NumpyLSTM, Prepared
from musegen_lstm.scoring import token_nll
from musegen_lstm.steps import steps
from musegen_lstm.trained import CHECKPOINTS, draw_tunes, prime_per_tune, sampler_for


def windows(stream: np.ndarray, length: int) -> np.ndarray:
    """Non-overlapping (input, target) windows of ``length`` covering ``stream``."""
    n = (len(stream) - 1) // length
    idx = np.arange(n)[:, None] * length + np.arange(length + 1)
    return stream[idx]


class LSTMModel:
    def __init__(self, config, vocab_size: int):
        self.config = config
        self.vocab_size = vocab_size
        self.net: keras.Model | None = None
        self.best: float | None = None
        self.history: list[dict] = []
        self._prepared = None  # ((int8, version key), the values it was made from, Prepared): see prepared()

    # -- building and checkpoints -------------------------------------------------------------
    def build(self) -> keras.Model:
        if self.net is None:
            env.check_backend(keras.backend.backend())
            self.net = build(self.config, self.vocab_size)
        return self.net

    def _compile(self, train) -> None:
        lr = train.learning_rate
        if train.schedule == "cosine":
            warm = min(train.warmup_steps, max(0, train.total_steps - 1))
            lr = keras.optimizers.schedules.CosineDecay(
                0.0 if warm else lr, max(1, train.total_steps - warm), alpha=0.1,
                warmup_target=lr if warm else None, warmup_steps=warm)
        opt = keras.optimizers.Adam(learning_rate=lr, clipnorm=train.clipnorm)
        if self.config.precision == "mixed_float16":  # float16 gradients: a dynamic loss scale (loss_scale.py)
            opt = LossScale(opt)
        self.net.compile(optimizer=opt, loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))

    def save(self, run, tag: str) -> Path:
        target = run.file(CHECKPOINTS[tag])
        with atomic_path(target) as tmp:
            self.net.save(tmp)
        return target

    @classmethod
    def load(cls, config, vocab_size: int, run, tag: str = "best") -> LSTMModel:
        path = run.file(CHECKPOINTS[tag])
        if not path.is_file():
            raise MusegenError(f"{run.path} has no {path.name}: training stopped before its first checkpoint")
        self = cls(config, vocab_size)
        env.check_backend(keras.backend.backend())
        try:
            self.net = keras.saving.load_model(path, compile=(tag == "last"), safe_mode=True)
        except Exception as first:
            try:  # optimizer state from another backend may not load; the weights do
                self.net = keras.saving.load_model(path, compile=False, safe_mode=True)
            except Exception:
                raise MusegenError(f"{path} is corrupt or not a musegen model (Keras: {type(first).__name__})") from None
        out = self.net.output_shape[-1]
        if out != vocab_size:
            raise MusegenError(f"{path} predicts {out} tokens but the run's vocabulary has {vocab_size}")
        self.history = _read_history(run.file("history.csv"))
        losses = [h["valid_loss"] for h in self.history if h.get("valid_loss") is not None]
        self.best = min(losses) if losses else None
        return self

    # -- training -----------------------------------------------------------------------------
    def fit(self, data, train, run, progress) -> TrainResult:
        keras.utils.set_random_seed(train.seed)
        resumed = self.net is not None
        if train.distribute == "data-parallel":
            self._distribute(train, run, progress, resumed)
        with interrupts.deferred():  # JAX starting: native code that a signal must not cut short
            self.build()
            if not resumed or self.net.optimizer is None or not self.net.compiled:
                self._compile(train)
        step = int(self.net.optimizer.iterations.numpy()) if resumed and self.net.optimizer.built else 0
        if resumed:
            self.history = [h for h in self.history if h["step"] <= step]
            progress.log(f"resuming at step {step} of {train.total_steps}")
        streams = [data.stream("train")]
        if train.pretrain_steps and data.pretrain:
            streams.insert(0, data.stream("pretrain"))
            progress.log(f"pre-training {train.pretrain_steps} steps on {len(data.pretrain)} pieces, "
                         f"then {train.steps} steps on the corpus")
        seq = min(train.seq_len, *(len(s) - 1 for s in streams))
        if seq < 2:
            raise MusegenError("the training corpus is too short: fewer than 3 tokens")
        if seq < train.seq_len:
            progress.log(f"corpus shorter than seq_len; training on windows of {seq}")
        valid = data.stream("valid")
        valid_windows = windows(valid, min(seq, max(1, len(valid) - 1)))[: max(1, train.eval_tokens // seq)] if len(valid) > 2 else None
        t0 = time.perf_counter()
        progress.start(train.total_steps, step)
        with interrupts.deferred():  # Ctrl-C/SIGTERM: finish the step, save last.keras, then stop
            step, loss, stopped = self._loop(train, run, progress, streams, seq, valid_windows, step, t0)
            if interrupts.requested():
                self.save(run, "last")
                _write_history(run.file("history.csv"), self.history)
                progress.log(f"interrupted at step {step}; saved last.keras")
        if not run.file(CHECKPOINTS["best"]).is_file():  # zero steps asked for: still leave a model
            self.save(run, "best")
            self.save(run, "last")
        return TrainResult(step, self.best if valid_windows is not None else None, loss,
                           time.perf_counter() - t0, stopped, self.history)

    def _loop(self, train, run, progress, streams, seq, valid_windows, step, t0):
        """Steps until ``train.total_steps``: the first ``pretrain_steps`` on ``streams[0]`` when there are
        two streams, the rest on the corpus (``streams[-1]``); early stopping only counts on the corpus.
        Each step's loss is read while the next step runs (:mod:`musegen_lstm.steps`)."""
        stepper = steps(self.net, train.seed)
        loss = None
        pending = None  # (step, loss on the device) of the last step dispatched, not read yet
        stopped = False
        scores = [h["valid_loss"] if h["valid_loss"] is not None else h["train_loss"] for h in self.history]
        since_best = len(scores) - 1 - scores.index(min(scores)) if scores else 0  # resumed runs keep counting

        def read(pending) -> float:
            done, value = pending
            value = float(value)  # waits for that step (the next one is queued already)
            if not math.isfinite(value):
                raise MusegenError(f"training diverged at step {done} (loss {value}); lower train.learning_rate")
            progress.update(done, loss=value)
            return value

        while step < train.total_steps:
            stream = streams[0] if step < train.pretrain_steps else streams[-1]
            rng = np.random.default_rng([train.seed, step])  # the batch depends on (seed, step) alone: resumable
            starts = rng.integers(0, len(stream) - seq, size=train.batch_size)
            batch = stream[starts[:, None] + np.arange(seq + 1)]
            dispatched = stepper(batch[:, :-1], batch[:, 1:], step)
            step += 1
            if pending is not None:
                loss = read(pending)
            pending = (step, dispatched)
            if interrupts.requested():
                break
            if step % train.eval_every == 0 or step == train.total_steps:
                loss, pending = read(pending), None
                stepper.sync()
                vloss = self.valid_loss(valid_windows, train.batch_size) if valid_windows is not None else None
                self.history.append({"step": step, "train_loss": round(loss, 5),
                                     "valid_loss": None if vloss is None else round(vloss, 5),
                                     "seconds": round(time.perf_counter() - t0, 2)})
                score = vloss if vloss is not None else loss
                if self.best is None or score < self.best:
                    self.best, since_best = score, 0
                    self.save(run, "best")
                else:
                    since_best += 1
                self.save(run, "last")
                _write_history(run.file("history.csv"), self.history)
                progress.update(step, loss=loss, valid=score)
                if train.patience and since_best >= train.patience and step > train.pretrain_steps:
                    progress.log(f"stopping early at step {step}: no better held-out loss in {since_best} evaluations")
                    stopped = True
                    break
        if pending is not None:
            loss = read(pending)
        stepper.sync()
        return step, loss, stopped

    def _distribute(self, train, run, progress, resumed: bool) -> None:
        """Data parallelism through keras.distribution: variables replicated on every device, each batch
        split across them. A resumed model is loaded again so that its variables are replicated too."""
        devices = keras.distribution.list_devices()
        if len(devices) == 1:  # nothing to split (and Keras would warn of its own metric variables)
            progress.log(f"data-parallel over 1 device ({devices[0]}): nothing to split, training as usual")
            return
        if train.batch_size % len(devices):
            raise MusegenError(f"train.batch_size {train.batch_size} does not split over {len(devices)} devices")
        keras.distribution.set_distribution(keras.distribution.DataParallel(devices=devices))
        progress.log(f"data-parallel over {len(devices)} devices: {', '.join(map(str, devices))}")
        if resumed:
            self.net = keras.saving.load_model(run.file(CHECKPOINTS["last"]), safe_mode=True)

    def valid_loss(self, wins: np.ndarray, batch_size: int) -> float:
        total, count = 0.0, 0
        for i in range(0, len(wins), batch_size):
            b = wins[i:i + batch_size]
            logits = np.asarray(self.net.predict_on_batch(b[:, :-1]), dtype=np.float64)
            logz = np.log(np.exp(logits - logits.max(-1, keepdims=True)).sum(-1)) + logits.max(-1)
            picked = np.take_along_axis(logits, b[:, 1:, None].astype(np.int64), -1)[..., 0]
            total += float((logz - picked).sum())
            count += picked.size
        return total / count

    def nll(self, sequences: list[list[int]], end_id: int, batch_size: int = 16) -> tuple[float, int]:
        """Total negative log-likelihood (nats) and token count of each sequence, each scored from a
        fresh state after ``end_id``, as tunes are sampled."""
        self.build()
        total, count = 0.0, 0
        order = sorted(range(len(sequences)), key=lambda i: len(sequences[i]))
        for b in range(0, len(order), batch_size):
            group = [sequences[i] for i in order[b:b + batch_size]]
            width = -(-max(len(s) for s in group) // 256) * 256  # few distinct shapes: few compilations
            x = np.full((len(group), width), end_id, dtype=np.int32)
            y = np.zeros((len(group), width), dtype=np.int64)
            mask = np.zeros((len(group), width), dtype=bool)
            for r, seq in enumerate(group):
                x[r, 1:len(seq)] = seq[:-1]
                y[r, :len(seq)] = seq
                mask[r, :len(seq)] = True
            total += float((token_nll(self.net.predict_on_batch(x), y) * mask).sum())
            count += int(mask.sum())
        return total, count

    # -- sampling -----------------------------------------------------------------------------
    def weights(self) -> SimpleNamespace:
        """The weights in a ``NumpyLSTM``'s layout, left where the backend keeps them (JAX arrays,
        PyTorch tensors; NumPy for TensorFlow): for the compiled sampler, which reads them in place."""
        net = self.build()
        if keras.backend.backend() not in ("jax", "torch"):
            return self.numpy_lstm()
        value = lambda layer: [w.value for w in net.get_layer(layer).weights]  # noqa: E731
        return SimpleNamespace(embedding=value("embedding")[0],
                               layers=[tuple(value(f"lstm_{i}")) for i in range(self.config.layers)],
                               dense_w=value("logits")[0], dense_b=value("logits")[1])

    def numpy_lstm(self) -> NumpyLSTM:
        net = self.build()
        layers = [net.get_layer(f"lstm_{i}") for i in range(self.config.layers)]
        emb = net.get_layer("embedding").get_weights()[0]
        dense_w, dense_b = net.get_layer("logits").get_weights()
        return NumpyLSTM(emb, [tuple(layer.get_weights()) for layer in layers], dense_w, dense_b)

    def prepared(self, int8: bool = False) -> Prepared:
        """The NumPy sampler's weights, laid out (and with ``int8`` quantized) once and kept until the
        model's weights change (at 1024 units that work took 10-100 ms a call, 20-50 more with int8).
        TensorFlow's variables count no changes: there the weights are kept while the variables hold the
        same values (:func:`_same_value`)."""
        net = self.build()
        values = [w.value for w in net.weights]
        key = _version_key(values)
        kept = self._prepared
        if key is None:  # TensorFlow: the variables' buffers, else their values
            values = _read_now(values)
            unchanged = kept is not None and kept[0] == (int8, key) and all(map(_same_value, values, kept[1]))
        else:
            unchanged = kept is not None and kept[0] == (int8, key)
        if unchanged:
            return kept[2]
        prep = Prepared(self.numpy_lstm(), int8=int8)
        self._prepared = ((int8, key), values, prep)  # the values kept (their ids, TensorFlow's buffers)
        return prep

    @property
    def prime_per_tune(self) -> bool:
        """Whether ``sample`` takes a prime for each tune (:func:`musegen_lstm.trained.prime_per_tune`)."""
        return prime_per_tune(self)

    def sample(self, prime: list[int], options, end_id: int, checker=None) -> list[list[int]]:
        """Carry (h, c) token by token, never re-running the prefix; all tunes advance as one batch.
        With a ``checker`` (bars, say), refused units are drawn again: that needs the NumPy sampler
        (:func:`musegen_lstm.trained.draw_tunes`)."""
        return draw_tunes(self, prime, options, end_id, checker)

    def sampler(self) -> str:
        """numpy on a CPU (as fast as compiled JAX there for one tune and many); jax on an accelerator.
        numpy-int8 only when asked for."""
        return sampler_for(self.config.sampler)

    def count_params(self) -> int:
        return self.build().count_params()


def _version_key(values: list) -> tuple | None:
    """What changes when any of these variable values does: JAX arrays are replaced, never changed (their
    ids); PyTorch tensors change in place and count it (``_version``). None where neither holds
    (TensorFlow): see :meth:`LSTMModel.prepared`."""
    key = []
    for v in values:
        if hasattr(v, "_version"):  # torch
            key.append((id(v), v._version))
        elif type(v).__module__.startswith(("jax", "jaxlib")):
            key.append(id(v))
        else:
            return None
    return tuple(key)


def _read_now(variables: list) -> list:
    """TensorFlow: each variable's value now, as a tensor; on a CPU it shares the variable's buffer
    (anything without a resource handle, a distributed variable say, is converted, and compared)."""
    import tensorflow as tf

    def read(v):
        try:
            return tf.raw_ops.ReadVariableOp(resource=v.handle, dtype=v.dtype)
        except (AttributeError, ValueError, TypeError):
            return tf.convert_to_tensor(v)

    return [read(v) for v in variables]


def _same_value(now, before) -> bool:
    """Whether two reads of a TensorFlow variable (:func:`_read_now`) hold the same value. A tensor never
    changes, so while ``before`` is held a write to the variable goes to a new buffer (copy on write):
    reads that share a buffer hold the same value, without looking at it. Else (a write since, a GPU
    copy, a variable in sparse updates' copy-on-read mode) the values are compared. The model's six
    variables, after 0.3 s idle (when TensorFlow's first call costs about 1 ms): 0.7-1.0 ms at 256 units
    and 0.9 ms at 1024, against 3.3-5.1 and 14.5-14.9 ms to copy them to NumPy and compare them."""
    try:
        a, b = now._numpy(), before._numpy()
        if a.__array_interface__["data"][0] == b.__array_interface__["data"][0] and a.shape == b.shape:
            return True
    except (AttributeError, TypeError, ValueError):  # a TensorFlow without ``_numpy``: compare the values
        pass
    return np.array_equal(np.asarray(now), np.asarray(before))


def _write_history(path: Path, rows: list[dict]) -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=["step", "train_loss", "valid_loss", "seconds"])
    writer.writeheader()
    writer.writerows(rows)
    write_text(path, buf.getvalue())


def _read_history(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    rows = []
    try:
        for r in csv.DictReader(path.read_text(encoding="utf-8").splitlines()):
            rows.append({"step": int(r["step"]), "train_loss": float(r["train_loss"]),
                         "valid_loss": float(r["valid_loss"]) if r["valid_loss"] else None,
                         "seconds": float(r["seconds"])})
    except (OSError, UnicodeDecodeError, KeyError, TypeError, ValueError, csv.Error) as exc:
        raise MusegenError(f"{path} is corrupt ({type(exc).__name__}: {exc}); it records the held-out losses "
                           "that choose the best checkpoint") from None
    return rows
