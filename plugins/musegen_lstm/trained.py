"""What the registry hands out for ``lstm``: Keras for training, and no Keras to sample from a trained run.

``LSTM(config, vocab_size)`` is :class:`musegen_lstm.lstm.LSTMModel` (Keras, imported then).
``LSTM.load(config, vocab_size, run)`` opens the run's best checkpoint as a :class:`Trained`: its
weights read by :mod:`musegen_lstm.checkpoint`, sampled by the NumPy sampler (or the compiled JAX one
on an accelerator), the same tunes as the Keras model gives for the same seed, and scored
(:mod:`musegen_lstm.scoring`). Anything else asked of it — training on, the Keras net — loads the
Keras model then and hands over to it.
``gen generate -n 1`` of the paper preset's run (trained on the torch backend; ABC, MIDI and WAV
written) took 1.0-1.4 s this way, 5.5-5.6 s with the Keras model, most of that importing Keras and PyTorch.
"""

from __future__ import annotations

import functools

from musegen import MusegenError

CHECKPOINTS = {"best": "model.keras", "last": "last.keras"}


class LSTM:
    """The ``lstm`` model component: building one is the Keras model, loading one for sampling is not."""

    can_resume = True  # the last checkpoint holds the optimizer state, the step and the data position
    can_pretrain = True  # musegen.training.fit runs the pretrain steps first

    def __new__(cls, config, vocab_size: int):
        from musegen_lstm.lstm import LSTMModel

        return LSTMModel(config, vocab_size)

    @staticmethod
    def load(config, vocab_size: int, run, tag: str = "best"):
        """The run's ``tag`` checkpoint: a :class:`Trained` for the best one where its file reads without
        Keras, else (the last one, to train on; a file Keras must read, or explain) the Keras model."""
        path = run.file(CHECKPOINTS[tag])
        if tag == "best" and path.is_file():
            from musegen_lstm.checkpoint import read

            net = read(path, vocab_size)
            if net is not None:
                return Trained(config, vocab_size, run, tag, net)
        from musegen_lstm.lstm import LSTMModel

        return LSTMModel.load(config, vocab_size, run, tag)


class Trained:
    """A trained ``lstm`` model read for sampling, without Keras (see the module's docstring).

    ``sample`` and ``nll`` are :class:`musegen_lstm.lstm.LSTMModel`'s, on the same weights; every other
    attribute is the Keras model's, loaded on first use.
    """

    def __init__(self, config, vocab_size: int, run, tag: str, net):
        self.config, self.vocab_size, self._run, self._tag, self._net = config, vocab_size, run, tag, net
        self._prepared = {}  # int8 or not -> Prepared: the weights never change here

    @property
    def prime_per_tune(self) -> bool:
        return prime_per_tune(self)

    def sample(self, prime: list[int], options, end_id: int, checker=None) -> list[list[int]]:
        """As the Keras model samples (:func:`draw_tunes`), on the same weights."""
        return draw_tunes(self, prime, options, end_id, checker)

    def weights(self):
        """The weights the compiled sampler reads: here the NumPy arrays (as ``LSTMModel.weights``)."""
        return self._net

    def prepared(self, int8: bool = False):
        """The NumPy sampler's layout of the weights, made once each way (the weights never change here)."""
        if int8 not in self._prepared:
            from musegen_lstm.sampling import Prepared

            self._prepared[int8] = Prepared(self._net, int8=int8)
        return self._prepared[int8]

    def numpy_lstm(self):
        """The weights as the NumPy sampler reads them (as ``LSTMModel.numpy_lstm``)."""
        return self._net

    def nll(self, sequences: list[list[int]], end_id: int) -> tuple[float, int]:
        """As ``LSTMModel.nll``, through the NumPy recurrence (:mod:`musegen_lstm.scoring`): no Keras."""
        from musegen_lstm.scoring import nll

        return nll(self.prepared(), sequences, end_id)

    def keras_model(self):
        """The Keras model of the same checkpoint (loaded once, on first use)."""
        if "_keras" not in self.__dict__:
            from musegen_lstm.lstm import LSTMModel

            self._keras = LSTMModel.load(self.config, self.vocab_size, self._run, self._tag)
        return self._keras

    def __getattr__(self, name: str):
        if name.startswith("__") or name in ("_keras", "_net", "_prepared", "_run", "_tag"):
            raise AttributeError(name)
        return getattr(self.keras_model(), name)


def draw_tunes(model, prime: list[int], options, end_id: int, checker=None) -> list[list[int]]:
    """How both ``lstm`` models sample (``LSTMModel``, :class:`Trained`): the compiled JAX loop over
    ``model.weights()`` where :func:`sampler_for` says jax and there is no ``checker``, else the NumPy
    sampler over ``model.prepared(int8=...)`` (a checker's refused units are drawn again there)."""
    args = (prime, options.tunes, options.max_len, end_id, options.temperature, options.top_k, options.top_p,
            options.seed)
    sampler = sampler_for(model.config.sampler, checker)
    if checker is None and sampler == "jax":
        from musegen_lstm.jax_sampling import sample as jax_sample

        return jax_sample(model.weights(), *args)
    from musegen_lstm.sampling import sample

    return sample(model.prepared(int8=sampler == "numpy-int8"), *args, checker=checker)


def prime_per_tune(model) -> bool:
    """Whether ``model.sample`` takes a prime for each tune: the NumPy sampler does, the compiled JAX loop
    does not (the pipeline then samples each different prime's tunes on their own)."""
    return sampler_for(model.config.sampler) != "jax"


def sampler_for(name: str, checker=None) -> str:
    """``model.sampler`` as it runs: ``auto`` is numpy on a CPU and with a ``checker`` (JAX not asked
    then), the compiled jax loop on an accelerator; numpy-int8 only when named."""
    if name != "auto":
        return name
    return "numpy" if checker is not None or not accelerated() else "jax"


@functools.cache
def accelerated() -> bool:
    """Whether JAX sees a GPU (or another accelerator): where ``auto`` samples with the compiled loop.
    Asked once a process (JAX's devices are fixed from its first use): the setup and the question took
    0.2 ms, 2-3% of a 300-character tune at 256 units on a CPU."""
    from musegen_lstm import env

    env.setup()  # before JAX is imported
    try:
        import jax
    except ImportError as exc:
        raise MusegenError(f"model.sampler=auto needs JAX ({exc}); or --set model.sampler=numpy") from None
    return any(d.platform != "cpu" for d in jax.devices())
