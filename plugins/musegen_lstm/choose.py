"""The one place that chooses the lstm model's path: the plain Keras model or the fast one.

``model.fast`` (true by default) picks it, for training, sampling and scoring alike; within the fast path
``model.sampler`` picks the sampling loop (:mod:`musegen_lstm.fast.draw`). Registering the plugin and
opening a run to sample from never import Keras: the fast path reads a run's best weights without it.
"""

from __future__ import annotations

from musegen import MusegenError
from musegen_lstm.config import CHECKPOINTS


class LSTM:
    """The ``lstm`` model component. Calling it builds the fast or the plain model (``model.fast``): it is a
    factory (``__new__``) rather than the model itself, so that choosing never imports Keras."""

    can_resume = True  # the last checkpoint holds the optimizer state, the step and the data position
    can_pretrain = True  # musegen.training.fit runs the pretrain steps first

    def __new__(cls, config, vocab_size: int):
        if not config.fast:
            from musegen_lstm.plain import PlainLSTM

            return PlainLSTM(config, vocab_size)
        from musegen_lstm.fast.lstm import LSTMModel

        return LSTMModel(config, vocab_size)

    @staticmethod
    def check(config, run_config) -> None:
        """Settings this model cannot train with, said before anything is written."""
        if config.distribute != "none" and (run_config.backend != "jax" or not config.fast):
            raise MusegenError(
                f"--distribute {config.distribute} needs the jax backend and the fast path (keras.distribution), "
                f"not {run_config.backend}" + ("" if config.fast else " with model.fast=false")
            )

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
            from musegen_lstm.fast.checkpoint import read
            from musegen_lstm.fast.trained import Trained

            net = read(path, vocab_size)
            if net is not None:
                return Trained(config, vocab_size, run, tag, net)
        from musegen_lstm.fast.lstm import LSTMModel

        return LSTMModel.load(config, vocab_size, run, tag)
