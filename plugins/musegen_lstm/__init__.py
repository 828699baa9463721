"""The seed paper's model: Embedding → LSTM → Dense over the vocabulary, in Keras 3 on any backend.

Keras is imported only when the model is built, or loaded for more than sampling (:mod:`musegen_lstm.choose`),
never when this plugin is registered.
"""

import musegen
from musegen_lstm.config import LSTMConfig


@musegen.hookimpl
def register_models(register):
    register(
        "lstm",
        "musegen_lstm.choose:LSTM",
        config=LSTMConfig,
        summary="Keras 3 Embedding → LSTM → Dense (JAX, TensorFlow or PyTorch backend)",
    )


@musegen.hookimpl
def setup_process():
    from musegen_lstm import env

    env.setup()
