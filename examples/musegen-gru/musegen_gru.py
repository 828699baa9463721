"""musegen-gru: a Keras GRU model plugin in one screen.

The model is its network: token ids -> Embedding -> GRU layers -> logits. Everything else comes from
``musegen_nets.KerasModel``: training through musegen's loop (held-out checkpoints, patience,
Ctrl-C and exact resume), ``gen eval``'s scoring, and sampling with temperature, top-k, top-p, a
seed and the encoder's bar checker. Copy this file to start a Keras model of your own.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

import musegen
from musegen_nets import KerasModel


class GRUConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a misspelt --set model.unit=64 is an error, not ignored
    embedding_dim: int = Field(32, ge=1, le=4096, description="size of each token's embedding")
    units: int = Field(256, ge=1, le=8192, description="GRU units in each layer")
    layers: int = Field(1, ge=1, le=8, description="GRU layers, one above the other")
    dropout: float = Field(0.0, ge=0, lt=1, description="dropout after each GRU layer while training")


class GRUModel(KerasModel):
    checkpoints = {"best": "best-gru.keras", "last": "last-gru.keras"}  # files of the run, written atomically

    def network(self):
        import keras  # imported when a model is built: `gen --help` stays fast

        c, layers = self.config, []
        for _ in range(c.layers):
            layers.append(keras.layers.GRU(c.units, return_sequences=True))
            if c.dropout:
                layers.append(keras.layers.Dropout(c.dropout))
        return keras.Sequential(
            [
                keras.Input((None,), dtype="int32"),
                keras.layers.Embedding(self.vocab_size, c.embedding_dim),
                *layers,
                keras.layers.Dense(self.vocab_size),  # logits: the loss and the sampler apply the softmax
            ]
        )


@musegen.hookimpl
def register_models(register):
    register(
        "gru",
        GRUModel,
        config=GRUConfig,
        summary="Keras GRU (example plugin)",
        presets={"tiny": {"embedding_dim": 8, "units": 16}},
    )  # --preset tiny: small here too
