"""``lstm``: the model plugin — training (musegen.training.fit, with fast steps), scoring and sampling.

The Keras model is in net.py."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from musegen_lstm import env

with env.quiet_import():  # TensorFlow's import lines, on its backend
    import keras
import numpy as np

import musegen_nets
from musegen import MusegenError, TrainResult, interrupts, training
from musegen.atomic import atomic_path
from musegen_lstm.config import CHECKPOINTS
from musegen_lstm.fast.draw import draw_tunes, prime_per_tune, sampler_for
from musegen_lstm.fast.loss_scale import LossScale
from musegen_lstm.fast.net import build
from musegen_lstm.fast.sampling import NumpyLSTM, Prepared
from musegen_lstm.fast.steps import steps


class LSTMModel:
    def __init__(self, config, vocab_size: int):
        self.config = config
        self.vocab_size = vocab_size
        self.net: keras.Model | None = None
        self._prepared = None  # ((int8, version key), the values it was made from, Prepared): see prepared()

    # -- building and checkpoints -------------------------------------------------------------
    def build(self) -> keras.Model:
        if self.net is None:
            env.check_backend(keras.backend.backend())
            self.net = build(self.config, self.vocab_size)
        return self.net

    def _compile(self, train) -> None:
        opt = musegen_nets.optimizer(train)
        if self.config.precision == "mixed_float16":  # float16 gradients: a dynamic loss scale (loss_scale.py)
            opt = LossScale(opt)
        musegen_nets.compile(self.net, train, opt)

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
                raise MusegenError(
                    f"{path} is corrupt or not a musegen model (Keras: {type(first).__name__})"
                ) from None
        out = self.net.output_shape[-1]
        if out != vocab_size:
            raise MusegenError(f"{path} predicts {out} tokens but the run's vocabulary has {vocab_size}")
        return self

    # -- training: through musegen.training.fit, with the pipelined steps of steps.py ----------------
    def fit(self, data, train, run, progress) -> TrainResult:
        musegen_nets.seed(train.seed)
        resumed = self.net is not None
        if self.config.distribute == "data-parallel":
            self._distribute(train, run, progress, resumed)
        with interrupts.deferred():  # JAX starting: native code that a signal must not cut short
            self.build()
            if not resumed or self.net.optimizer is None or not self.net.compiled:
                self._compile(train)
        start = int(self.net.optimizer.iterations.numpy()) if resumed and self.net.optimizer.built else 0
        self.stepper = steps(self.net, train.seed)
        return training.fit(self, data, train, run, progress, start=start)

    def train_step(self, x, y, step: int):
        """One step, dispatched: its loss stays on the device until the loop reads it (steps.py)."""
        return self.stepper(x, y, step)

    def logits(self, x):
        return self.net.predict_on_batch(x)

    def sync(self) -> None:
        self.stepper.sync()

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

    def nll(self, sequences: list[list[int]], end_id: int, batch_size: int = 16) -> tuple[float, int]:
        """Total negative log-likelihood (nats) and token count of each sequence, each scored from a
        fresh state after ``end_id``, as tunes are sampled."""
        self.build()
        return training.sequence_nll(self.net.predict_on_batch, sequences, end_id, batch_size)

    # -- sampling -----------------------------------------------------------------------------
    def weights(self) -> SimpleNamespace:
        """The weights in a ``NumpyLSTM``'s layout, left where the backend keeps them (JAX arrays,
        PyTorch tensors; NumPy for TensorFlow): for the compiled sampler, which reads them in place."""
        net = self.build()
        if keras.backend.backend() not in ("jax", "torch"):
            return self.numpy_lstm()
        value = lambda layer: [w.value for w in net.get_layer(layer).weights]  # noqa: E731
        return SimpleNamespace(
            embedding=value("embedding")[0],
            layers=[tuple(value(f"lstm_{i}")) for i in range(self.config.layers)],
            dense_w=value("logits")[0],
            dense_b=value("logits")[1],
        )

    def numpy_lstm(self) -> NumpyLSTM:
        net = self.build()
        layers = [net.get_layer(f"lstm_{i}") for i in range(self.config.layers)]
        emb = net.get_layer("embedding").get_weights()[0]
        dense_w, dense_b = net.get_layer("logits").get_weights()
        return NumpyLSTM(emb, [tuple(layer.get_weights()) for layer in layers], dense_w, dense_b)

    def prepared(self, int8: bool = False) -> Prepared:
        """The NumPy sampler's weights, laid out (and with ``int8`` quantized) once and kept until the
        model's weights change (at large sizes that work costs more than a short tune).
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
        """Whether ``sample`` takes a prime for each tune (:func:`musegen_lstm.fast.draw.prime_per_tune`)."""
        return prime_per_tune(self)

    def sample(self, prime: list[int], options, end_id: int, checker=None) -> list[list[int]]:
        """Carry (h, c) token by token, never re-running the prefix; all tunes advance as one batch.
        With a ``checker`` (bars, say), refused units are drawn again: that needs the NumPy sampler
        (:func:`musegen_lstm.fast.draw.draw_tunes`)."""
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
    copy, a variable in sparse updates' copy-on-read mode) the values are compared: copying them to
    NumPy to compare costs several times as much."""
    try:
        a, b = now._numpy(), before._numpy()
        if a.__array_interface__["data"][0] == b.__array_interface__["data"][0] and a.shape == b.shape:
            return True
    except (AttributeError, TypeError, ValueError):  # a TensorFlow without ``_numpy``: compare the values
        pass
    return np.array_equal(np.asarray(now), np.asarray(before))
