"""The Keras model: Embedding → LSTM × layers (→ Dropout) → Dense logits, with its embedding folded
into the first LSTM's input projection on CPUs.

The embedding's only reader is the first LSTM, which multiplies it by its input kernel: for a token
``t`` the projection ``embedding[t] @ kernel + bias`` is row ``t`` of the table ``embedding @ kernel +
bias`` (vocabulary × 4 units). So instead of a ``(batch · time) × embedding × 4 units`` product forward
and two of that size backward, a step looks rows up in a table made by a ``vocabulary × embedding × 4
units`` product — 83 rows against 6,400 for the paper's batch. Same weights, same results to float32
rounding, same checkpoints; the NumPy sampler reads the layers as before.

- jax on a CPU: :func:`musegen_lstm.fast.jax_lstm.lstm_from_table`, rows looked up step by step (in
  the precision :mod:`musegen_lstm.fast.layer` would run: :func:`musegen_lstm.fast.layer.cpu_dtype`);
- torch on a CPU, when the vocabulary is smaller than the embedding: PyTorch's native LSTM kernel
  over one-hot inputs, the table as its input weights (in bfloat16 under ``mixed_bfloat16`` where
  the CPU has bfloat16 instructions, else in float32);
- tensorflow on a CPU: :func:`musegen_lstm.fast.tf_lstm.lstm_from_table`, rows looked up step by step (in
  the precision :mod:`musegen_lstm.fast.layer` would run);
- anything else (a GPU, dropout inside the LSTM, a mask): Keras's graph.
"""

from __future__ import annotations

import keras

from musegen_lstm.fast.layer import LSTM


def build(config, vocab_size: int) -> keras.Model:
    """Embedding → LSTM × layers (→ Dropout) → Dense logits over the vocabulary."""
    policy = config.precision
    tokens = keras.Input(shape=(None,), dtype="int32", name="tokens")
    x = keras.layers.Embedding(vocab_size, config.embedding_dim, dtype=policy, name="embedding")(tokens)
    for i in range(config.layers):
        x = LSTM(config.units, return_sequences=True, dtype=policy, name=f"lstm_{i}")(x)
        if config.dropout:
            x = keras.layers.Dropout(config.dropout, seed=i + 1, name=f"dropout_{i}")(
                x
            )  # seeded: masks follow (seed, step)
    logits = keras.layers.Dense(vocab_size, dtype="float32", name="logits")(x)  # softmax and loss in float32
    return Net(tokens, logits, name="musegen_lstm")


@keras.saving.register_keras_serializable(package="musegen")
class Net(keras.Model):
    """The functional model of :func:`build`; its ``call`` folds the embedding where it can (above)."""

    def call(self, inputs, training=None, mask=None, **kwargs):
        if mask is None and not kwargs and not isinstance(inputs, keras.KerasTensor) and self.folded():
            embedding, lstm, *rest = self._chain()
            x = _FOLDS[keras.backend.backend()](embedding, lstm, keras.ops.convert_to_tensor(inputs, dtype="int32"))
            for layer in rest:
                x = layer(x, training=training)
            return x
        return super().call(inputs, training=training, mask=mask, **kwargs)

    def folded(self) -> bool:
        """Whether a call on this machine reads the first LSTM's input projection from a table."""
        chain, backend = self._chain(), keras.backend.backend()
        return chain is not None and backend in _FOLDS and _FOLDS_WHEN[backend](*chain[:2])

    def _chain(self):
        """[embedding, lstm_0, every later layer in order] when the model is build()'s plain chain of
        layers (the embedding and the first LSTM in one precision) and the first LSTM can be fused;
        otherwise None."""
        if not hasattr(self, "_musegen_chain"):
            layers = [layer for layer in self.layers if not isinstance(layer, keras.layers.InputLayer)]
            ok = (
                len(layers) >= 3
                and layers[0].name == "embedding"
                and isinstance(layers[0], keras.layers.Embedding)
                and isinstance(layers[1], LSTM)
                and layers[1].name == "lstm_0"
                and layers[0].compute_dtype == layers[1].compute_dtype
                and getattr(layers[0], "quantization_mode", None) is None
                and layers[1]._fusable(None)
                and _is_chain(self, layers)
            )
            object.__setattr__(self, "_musegen_chain", layers if ok else None)  # a cache: not tracked by Keras
        return self._musegen_chain


def _is_chain(model, layers) -> bool:
    """Each layer reads the output of the one before it, and the model's output is the last one's."""
    for before, layer in zip(layers, layers[1:]):  # no public API tells how often a layer is called: its nodes
        if len(layer._inbound_nodes) != 1 or layer._inbound_nodes[0].parent_nodes != before._inbound_nodes:
            return False
    return len(model.outputs) == 1 and model.outputs[0] is layers[-1].output


BF16_INPUTS = 32
"""torch, bfloat16: the one-hot inputs are padded to a multiple of this many (zero rows of the table):
oneDNN's bfloat16 LSTM runs far faster on padded widths; float32 runs alike."""


def _torch(embedding, lstm, tokens):
    import torch

    from musegen_lstm.fast.layer import cpu_dtype, torch_lstm

    dtype = getattr(torch, cpu_dtype(lstm.compute_dtype, "torch"))
    cell = lstm.cell
    recurrent = cell.recurrent_kernel.value
    table = embedding.embeddings.value.float() @ cell.kernel.value.float()  # in float32 whatever the precision
    if dtype == torch.bfloat16:  # oneDNN's bfloat16 LSTM: see BF16_INPUTS
        table = torch.nn.functional.pad(table, (0, 0, 0, -table.shape[0] % BF16_INPUTS))
    onehot = torch.nn.functional.one_hot(tokens.long(), table.shape[0])
    zeros = table.new_zeros(tokens.shape[0], recurrent.shape[0])
    # As layer._torch, with (embedding @ kernel) as the input weights and one-hot rows as the inputs.
    return torch_lstm(lstm, "torch-native", onehot, zeros, zeros, table, recurrent, cell.bias.value, dtype)[0]


def _torch_folds(embedding, lstm) -> bool:
    """PyTorch's kernel multiplies its inputs in any case: one-hot rows are cheaper than embeddings
    only when the vocabulary is smaller than the embedding (the paper's 83 < 256, not 83 > 64).
    On a GPU the layer runs cuDNN (:mod:`musegen_lstm.fast.layer`)."""
    embeddings = embedding.embeddings.value
    return not embeddings.is_cuda and embeddings.shape[0] < embeddings.shape[1]


def _jax_folds(embedding, lstm) -> bool:
    """On a CPU; on a GPU the layer runs cuDNN (:mod:`musegen_lstm.fast.layer`)."""
    import jax

    return jax.default_backend() == "cpu"


def _jax(embedding, lstm, tokens):
    from musegen_lstm.fast.jax_lstm import lstm_from_table
    from musegen_lstm.fast.layer import scan_dtype

    cell = lstm.cell
    kernel, recurrent, bias = (v.value.astype("float32") for v in (cell.kernel, cell.recurrent_kernel, cell.bias))
    table = embedding.embeddings.value.astype("float32") @ kernel + bias
    dtype = scan_dtype(lstm, tokens.shape[0])  # bfloat16 products where the CPU has them
    return lstm_from_table(tokens, table, recurrent, dtype).astype(lstm.compute_dtype)


def _tensorflow(embedding, lstm, tokens):
    from musegen_lstm.fast.layer import scan_dtype
    from musegen_lstm.fast.tf_lstm import lstm_from_table

    cell = lstm.cell
    kernel, bias = (keras.ops.cast(v.value, "float32") for v in (cell.kernel, cell.bias))
    table = keras.ops.cast(embedding.embeddings.value, "float32") @ kernel + bias
    dtype = scan_dtype(lstm, tokens.shape[0])  # bfloat16 products where the CPU has them
    out = lstm_from_table(tokens, table, keras.ops.cast(cell.recurrent_kernel.value, "float32"), dtype)
    return keras.ops.cast(out, lstm.compute_dtype)


def _tensorflow_folds(embedding, lstm) -> bool:
    """On a CPU; on a GPU Keras's LSTM runs cuDNN (:mod:`musegen_lstm.fast.layer`)."""
    from musegen_lstm.fast.layer import tf_gpu

    return not tf_gpu()


_FOLDS = {"torch": _torch, "jax": _jax, "tensorflow": _tensorflow}
_FOLDS_WHEN = {"torch": _torch_folds, "jax": _jax_folds, "tensorflow": _tensorflow_folds}  # asked by Net.folded()
