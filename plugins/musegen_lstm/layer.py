"""``keras.layers.LSTM`` with a fused recurrence on CPUs, where Keras runs a generic per-step loop.

On a GPU every backend already runs the fused cuDNN kernel through Keras, and this layer leaves it
to Keras. On a CPU it runs, instead of the generic loop:

- torch: PyTorch's own native LSTM kernel (the one ``torch.nn.LSTM`` runs), 4-8x faster than
  Keras's Python loop over time steps;
- jax: :mod:`musegen_lstm.jax_lstm`, a scan with a hand-written backward pass;
- tensorflow: Keras's own path (unchanged).

The weights, their layout and the results are those of ``keras.layers.LSTM``: checkpoints move
between backends and devices, and the NumPy sampler reads them unchanged.
"""

from __future__ import annotations

import keras

from keras import activations


@keras.saving.register_keras_serializable(package="musegen")
class LSTM(keras.layers.LSTM):
    def inner_loop(self, sequences, initial_state, mask, training=False):
        fused = _FUSED.get(keras.backend.backend())
        if fused is not None and self._fusable(mask):
            out = fused(self, sequences, initial_state)
            if out is not None:
                return out
        return super().inner_loop(sequences, initial_state, mask, training=training)

    def _fusable(self, mask) -> bool:
        cell = self.cell
        return (mask is None and self.compute_dtype == "float32" and not self.dropout and not self.recurrent_dropout and not self.go_backwards
                and not self.unroll and cell.use_bias and cell.activation is activations.tanh
                and cell.recurrent_activation is activations.sigmoid)

    def fused_path(self) -> str:
        """Which recurrence a call on this machine runs: for benchmarks and tests."""
        backend = keras.backend.backend()
        if backend == "jax":
            import jax

            return "musegen-jax-scan" if jax.default_backend() == "cpu" else "keras-cudnn"
        if backend == "torch":
            import torch

            return "keras-cudnn" if torch.cuda.is_available() else "torch-native"
        return "keras"


def _torch(layer, sequences, initial_state):
    import torch

    if sequences.is_cuda:
        return None  # Keras runs cuDNN there
    cell = layer.cell
    kernel, recurrent, bias = cell.kernel.value, cell.recurrent_kernel.value, cell.bias.value
    sequences = sequences.to(kernel.dtype)
    h0, c0 = (s.to(kernel.dtype).unsqueeze(0) for s in initial_state)
    params = [kernel.T.contiguous(), recurrent.T.contiguous(), bias, torch.zeros_like(bias)]
    # torch._VF.lstm is what torch.nn.LSTM calls: (input, (h0, c0), weights, has_biases, num_layers,
    # dropout, train, bidirectional, batch_first); gate order i, f, g, o is Keras's i, f, c, o.
    outputs, h, c = torch._VF.lstm(sequences, (h0, c0), params, True, 1, 0.0, torch.is_grad_enabled(), False, True)
    h, c = h.squeeze(0), c.squeeze(0)
    return h, (outputs if layer.return_sequences else h.unsqueeze(1)), [h, c]


def _jax(layer, sequences, initial_state):
    import jax

    if jax.default_backend() != "cpu":
        return None  # Keras runs cuDNN there
    from musegen_lstm.jax_lstm import lstm

    cell = layer.cell
    kernel = cell.kernel.value
    h0, c0 = (s.astype(kernel.dtype) for s in initial_state)
    outputs, h, c = lstm(sequences.astype(kernel.dtype), kernel, cell.recurrent_kernel.value, cell.bias.value, h0, c0)
    return h, (outputs if layer.return_sequences else h[:, None]), [h, c]


_FUSED = {"torch": _torch, "jax": _jax}
