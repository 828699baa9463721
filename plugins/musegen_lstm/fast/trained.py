"""A trained run opened for sampling and scoring without Keras: :class:`Trained`.

Its weights are read by :mod:`musegen_lstm.fast.checkpoint` (a fraction of Keras's import time), sampled
by the NumPy sampler (or the compiled JAX one on an accelerator) — the same tunes as the Keras model
gives for the same seed — and scored by :mod:`musegen_lstm.fast.scoring`. Anything else asked of it
(training on, the Keras net) loads the Keras model then and hands over to it.
"""

from __future__ import annotations

from musegen_lstm.fast.draw import draw_tunes, prime_per_tune


class Trained:
    """A trained ``lstm`` model read for sampling, without Keras (see the module's docstring).

    ``sample`` and ``nll`` are :class:`musegen_lstm.fast.lstm.LSTMModel`'s, on the same weights; every other
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
            from musegen_lstm.fast.sampling import Prepared

            self._prepared[int8] = Prepared(self._net, int8=int8)
        return self._prepared[int8]

    def numpy_lstm(self):
        """The weights as the NumPy sampler reads them (as ``LSTMModel.numpy_lstm``)."""
        return self._net

    def nll(self, sequences: list[list[int]], end_id: int) -> tuple[float, int]:
        """As ``LSTMModel.nll``, through the NumPy recurrence (:mod:`musegen_lstm.fast.scoring`): no Keras."""
        from musegen_lstm.fast.scoring import nll

        return nll(self.prepared(), sequences, end_id)

    def keras_model(self):
        """The Keras model of the same checkpoint (loaded once, on first use)."""
        if "_keras" not in self.__dict__:
            from musegen_lstm.fast.lstm import LSTMModel

            self._keras = LSTMModel.load(self.config, self.vocab_size, self._run, self._tag)
        return self._keras

    def __getattr__(self, name: str):
        if name.startswith("__") or name in ("_keras", "_net", "_prepared", "_run", "_tag"):
            raise AttributeError(name)
        return getattr(self.keras_model(), name)
