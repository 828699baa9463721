"""The paper's model in plain Keras 3, on one screen: the reference the fast path is tested against.

Embedding → LSTM × layers (→ Dropout) → Dense logits, Keras's own layers only. It trains through
musegen's loop (``musegen_nets.KerasModel``: ``train_on_batch``), scores with ``predict_on_batch`` and
samples a token at a time through the LSTM cells (:class:`musegen_nets.LayerStepper`). Its layers have
the fast path's names and weights, so either path opens the other's checkpoints.
``--set model.fast=false`` runs it end to end, on any backend.
"""

from __future__ import annotations

from musegen import MusegenError
from musegen_lstm.config import CHECKPOINTS
from musegen_nets import KerasModel


class PlainLSTM(KerasModel):
    checkpoints = CHECKPOINTS  # the fast path's file names

    def network(self):
        import keras

        c, policy = self.config, self.config.precision
        x = tokens = keras.Input(shape=(None,), dtype="int32", name="tokens")
        x = keras.layers.Embedding(self.vocab_size, c.embedding_dim, dtype=policy, name="embedding")(x)
        for i in range(c.layers):
            x = keras.layers.LSTM(c.units, return_sequences=True, dtype=policy, name=f"lstm_{i}")(x)
            if c.dropout:
                x = keras.layers.Dropout(c.dropout, seed=i + 1, name=f"dropout_{i}")(x)
        logits = keras.layers.Dense(self.vocab_size, dtype="float32", name="logits")(x)  # loss in float32
        return keras.Model(tokens, logits, name="musegen_lstm")

    @classmethod
    def load(cls, config, vocab_size: int, run, tag: str = "best"):
        """The ``best`` weights into :meth:`network` (a checkpoint of either path); ``last`` as Keras saved it,
        with its optimizer state, to train on."""
        if tag != "best":
            return super().load(config, vocab_size, run, tag)
        path = cls.checkpoint(run, tag)
        self = cls(config, vocab_size)
        self.net = self.network()
        try:
            self.net.load_weights(path)
        except Exception as exc:
            raise MusegenError(f"{path} does not hold this model's weights (Keras: {type(exc).__name__})") from None
        return self
