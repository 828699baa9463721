"""What the registry hands out for ``lstm``: the model to train, and a run opened for sampling without Keras.

``LSTM(config, vocab_size)`` builds the model to train: the fast one (:class:`musegen_lstm.lstm.LSTMModel`),
or with ``model.fast=false`` the plain one (:class:`musegen_lstm.plain.PlainLSTM`); Keras is imported then.
``LSTM.load(config, vocab_size, run)`` opens the run's best checkpoint as a :class:`Trained`: its weights
read by :mod:`musegen_lstm.checkpoint` without Keras (a fraction of Keras's import time), sampled by the
NumPy sampler (or the compiled JAX one on an accelerator), the same tunes as the Keras model gives for
the same seed, and scored (:mod:`musegen_lstm.scoring`). Anything else asked of it — training on, the
Keras net — loads the Keras model then and hands over to it.
"""

from __future__ import annotations

from musegen_lstm.checkpoint import CHECKPOINTS
from musegen_lstm.choose import draw_tunes, prime_per_tune


class LSTM:
    """The ``lstm`` model component. Calling it builds the fast or the plain model (``model.fast``), which
    is why it is a factory (``__new__``) rather than the model itself: registering the plugin and opening
    a run to sample from must not import Keras."""

    can_resume = True  # the last checkpoint holds the optimizer state, the step and the data position
    can_pretrain = True  # musegen.training.fit runs the pretrain steps first

    def __new__(cls, config, vocab_size: int):
        if not config.fast:
            from musegen_lstm.plain import PlainLSTM

            return PlainLSTM(config, vocab_size)
        from musegen_lstm.lstm import LSTMModel

        return LSTMModel(config, vocab_size)

    @staticmethod
    def load(config, vocab_size: int, run, tag: str = "best"):
        """The run's ``tag`` checkpoint: a :class:`Trained` for the best one where its file reads without
        Keras, else (the last one, to train on; a file Keras must read, or explain) the Keras model; with
        ``model.fast=false`` always the plain Keras model."""
        if not config.fast:
            from musegen_lstm.plain import PlainLSTM

            return PlainLSTM.load(config, vocab_size, run, tag)
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
