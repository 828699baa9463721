"""``keras.layers.LSTM`` with a fused recurrence on every backend it can, recording which one ran.

- torch: PyTorch's own LSTM kernel (the one ``torch.nn.LSTM`` runs): cuDNN on a GPU, in float32, or
  in float16 under either mixed precision (:func:`gpu_dtype`), its gradients crossing float16 scaled
  (:func:`_float16_gradients`); the native CPU kernel, several times faster than Keras's per-step
  loop, in float32, or in bfloat16 under ``mixed_bfloat16`` where the CPU has bfloat16 instructions
  (:func:`cpu_dtype`);
- jax on a GPU: cuDNN through ``jax.experimental.rnn`` (what Keras itself calls there), in float32
  whatever the precision (it has no bfloat16); if that cannot run, the scan below in float32;
- jax on a CPU: :mod:`musegen_lstm.fast.jax_lstm`, a scan with a hand-written backward pass, in float32,
  its products in bfloat16 under ``mixed_bfloat16`` where the CPU has bfloat16 instructions;
- tensorflow on a CPU: :mod:`musegen_lstm.fast.tf_lstm`, XLA-compiled loops with a hand-written backward
  pass, in float32, their recurrent products in bfloat16 under ``mixed_bfloat16`` where the CPU has
  bfloat16 instructions (on a GPU Keras runs cuDNN itself);
- anything else (a mask, dropout inside the cell): Keras's own path.

``layer.path`` names the recurrence the last call ran (on jax: the one it traced; when the embedding
is folded into this layer, :mod:`musegen_lstm.fast.net` records its path here too). The weights, their
layout and the results are those of ``keras.layers.LSTM``: checkpoints move between backends and
devices, and the NumPy sampler reads them unchanged.
"""

from __future__ import annotations

import functools
import warnings

import keras
from keras import activations


@keras.saving.register_keras_serializable(package="musegen")
class LSTM(keras.layers.LSTM):
    path: str | None = None  # the recurrence the last call ran (None before any call)

    def inner_loop(self, sequences, initial_state, mask, training=False):
        fused = _FUSED.get(keras.backend.backend())
        if fused is not None and self._fusable(mask):
            out = fused(self, sequences, initial_state)
            if out is not None:
                return out
        self._ran("keras")
        return super().inner_loop(sequences, initial_state, mask, training=training)

    def _fusable(self, mask) -> bool:
        """The cell is the plain LSTM that every fused kernel computes (any precision: each path checks)."""
        cell = self.cell
        return (
            mask is None
            and not self.dropout
            and not self.recurrent_dropout
            and not self.go_backwards
            and not self.unroll
            and cell.use_bias
            and cell.activation is activations.tanh
            and cell.recurrent_activation is activations.sigmoid
        )

    def _ran(self, path: str) -> None:
        object.__setattr__(self, "path", path)  # a plain attribute: not tracked by Keras


def _torch(layer, sequences, initial_state):
    import torch

    cell = layer.cell
    compute = layer.compute_dtype
    dtype = getattr(torch, gpu_dtype(compute) if sequences.is_cuda else cpu_dtype(compute, "torch"))
    path = (
        "cudnn"
        if sequences.is_cuda and torch.backends.cudnn.enabled and torch.backends.cudnn.is_available()
        else "torch-native"
    )
    outputs, h, c = torch_lstm(
        layer, path, sequences, *initial_state, cell.kernel.value, cell.recurrent_kernel.value, cell.bias.value, dtype
    )
    return h, (outputs if layer.return_sequences else h.unsqueeze(1)), [h, c]


def torch_lstm(layer, path: str, x, h0, c0, input_kernel, recurrent, bias, dtype):
    """PyTorch's LSTM kernel over batch-first ``x`` from ``(h0, c0)`` ``(B, U)``, with Keras's weights
    (``x @ input_kernel + h @ recurrent + bias``), computing in ``dtype``; records ``path`` (with the
    type, unless it and the layer's are float32) on ``layer``. Returns (outputs, h, c) in the layer's
    compute type. :func:`_torch` and :mod:`musegen_lstm.fast.net`'s fold both run it."""
    import torch

    compute = getattr(torch, layer.compute_dtype)
    layer._ran(path if dtype == torch.float32 == compute else f"{path}, {str(dtype)[6:]}")
    scaling = dtype == torch.float16 and torch.is_grad_enabled()
    if scaling:  # the gradients cross float16 scaled (see _float16_gradients)
        scale, unscale, box = (*_float16_gradients(), [])
        x, h0, c0, input_kernel, recurrent, bias = unscale.apply(box, x, h0, c0, input_kernel, recurrent, bias)
    params = [input_kernel.T.to(dtype).contiguous(), recurrent.T.to(dtype).contiguous(), bias.to(dtype)]
    params.append(torch.zeros_like(params[-1]))
    # No public PyTorch API runs its LSTM kernel on weights passed in. torch._VF.lstm is what torch.nn.LSTM
    # calls: (input, (h0, c0), weights, has_biases, num_layers, dropout, train, bidirectional, batch_first);
    # gate order i, f, g, o is Keras's i, f, c, o.
    # On a GPU it runs cuDNN whenever cuDNN accepts the inputs.
    with warnings.catch_warnings():
        # cuDNN wants the four weights in one buffer and copies them into one (a fast copy); say nothing
        warnings.filterwarnings("ignore", "RNN module weights are not part of single contiguous chunk")
        outputs, h, c = torch._VF.lstm(
            x.to(dtype),
            (h0.to(dtype).unsqueeze(0), c0.to(dtype).unsqueeze(0)),
            params,
            True,
            1,
            0.0,
            torch.is_grad_enabled(),
            False,
            True,
        )
    out = tuple(a.to(compute) for a in (outputs, h.squeeze(0), c.squeeze(0)))
    return scale.apply(box, *out) if scaling else out


GRADIENT_TOP = 2.0**-3
"""The largest gradient entering a float16 LSTM is scaled to within (GRADIENT_TOP / 2, GRADIENT_TOP]."""


def gradient_scale(largest):
    """``2^k`` (a tensor, on ``largest``'s device) that brings ``largest`` (a float32 tensor: the largest
    gradient) to within (GRADIENT_TOP / 2, GRADIENT_TOP], ``k`` within float16 (-14 .. 15; 15 when
    every gradient is zero). What :func:`_float16_gradients` scales by."""
    import torch

    return torch.exp2(torch.floor(torch.log2(GRADIENT_TOP / largest)).clamp(-14, 15))


@functools.cache
def _float16_gradients():
    """Two identities whose gradients scale by a power of two across a float16 LSTM, as a loss scale does.

    The gradients reaching the LSTM's outputs carry the loss's mean over every character: in the paper
    model most are below float16's normal range (6.1e-5), and many round to zero
    (``benchmarks/float16_gradients.py`` measures it). ``scale`` (on the outputs) multiplies the incoming
    gradients, in the layer's type, by ``2^k`` that brings the largest to within (GRADIENT_TOP / 2,
    GRADIENT_TOP]: what is left is float16's rounding. ``unscale`` (on the inputs and weights) divides theirs by
    it on the way out.
    ``k`` is worked out on the device: nothing waits. The weights' gradients, sums over every
    character, stay far from float16's largest (65504): measured at most 4,000 times the largest
    incoming gradient (the bias, at initialization), so at most 500 here."""
    import torch

    class Scale(torch.autograd.Function):
        @staticmethod
        def forward(ctx, box, *tensors):
            ctx.box = box
            return tuple(t.view_as(t) for t in tensors)

        @staticmethod
        def backward(ctx, *grads):
            largest = torch.stack([g.detach().abs().amax().float() for g in grads]).amax()
            ctx.box[:] = [gradient_scale(largest)]  # for unscale, whose backward runs after this one
            return (None, *(g * ctx.box[0].to(g.dtype) for g in grads))

    class Unscale(Scale):
        @staticmethod
        def backward(ctx, *grads):
            return (None, *(g if g is None else g / ctx.box[0].to(g.dtype) for g in grads))

    return Scale, Unscale


def gpu_dtype(compute_dtype: str) -> str:
    """The type cuDNN's LSTM computes in on a GPU (torch backend) for a layer computing in
    ``compute_dtype``: float16 under either mixed precision, which is what ``torch.autocast`` runs
    cuDNN's LSTM in even when asked for bfloat16. cuDNN's float16 LSTM has persistent kernels (the
    whole recurrence in one launch); its bfloat16 LSTM launches products each time step and is
    host-bound, slower even than float32 (``benchmarks/cudnn_lstm_types.py``). Float16's range is safe here:
    an LSTM's ``h`` stays within (-1, 1) and ``|c|`` grows by at most 1 a time step."""
    return "float16" if compute_dtype in ("bfloat16", "float16") else compute_dtype


def cpu_dtype(compute_dtype: str, backend: str) -> str:
    """The type a CPU recurrence multiplies in for a layer computing in ``compute_dtype``, on the
    ``backend`` (torch: PyTorch's LSTM kernel, jax and tensorflow: the products of
    :mod:`musegen_lstm.fast.jax_lstm` and :mod:`musegen_lstm.fast.tf_lstm`):
    bfloat16 only where this CPU has bfloat16 instructions (AVX512-BF16 or AMX, where it runs about
    twice float32's speed); float16, or bfloat16 emulated, ran slower than float32: float32."""
    if compute_dtype == "bfloat16" and (_torch_has_bfloat16() if backend == "torch" else _cpu_has_bfloat16()):
        return "bfloat16"
    return "float32"


@functools.cache
def _torch_has_bfloat16() -> bool:
    import torch

    return torch.backends.mkldnn.is_available() and bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


@functools.cache
def _cpu_has_bfloat16() -> bool:
    """AVX512-BF16 or AMX-BF16 among the CPU's flags (Linux; False where they can't be read)."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            flags = next((line.split() for line in f if line.startswith("flags")), [])
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def _jax(layer, sequences, initial_state):
    import jax

    cell = layer.cell
    kernel, recurrent, bias = cell.kernel.value, cell.recurrent_kernel.value, cell.bias.value
    compute = layer.compute_dtype  # what the layer gives; below, float32 but for the CPU's bfloat16 products
    wide = [a.astype("float32") for a in (sequences, kernel, recurrent, bias, *initial_state)]
    if jax.default_backend() != "cpu":
        # JAX's cuDNN LSTM computes in float32 only (no bfloat16): a mixed precision runs it in float32
        out = _jax_cudnn(*wide)
        if out is not None:
            layer._ran("cudnn" if compute == "float32" else "cudnn, float32")
            outputs, h, c = (a.astype(compute) for a in out)
            return h, (outputs if layer.return_sequences else h[:, None]), [h, c]
    from musegen_lstm.fast.jax_lstm import lstm

    dtype = scan_dtype(layer, sequences.shape[0])
    outputs, h, c = (a.astype(compute) for a in lstm(*wide, dtype=dtype))
    return h, (outputs if layer.return_sequences else h[:, None]), [h, c]


def scan_dtype(layer, batch) -> str:
    """The type of the CPU loops' recurrent products for ``layer`` over ``batch`` rows
    (:mod:`musegen_lstm.fast.jax_lstm`'s scan on jax, :mod:`musegen_lstm.fast.tf_lstm`'s loops on tensorflow):
    bfloat16 on a CPU that has it under ``mixed_bfloat16``, else float32. Records the loops' path on
    ``layer`` (with ", float32" where the layer computes in another type). The layer's fused call and
    :mod:`musegen_lstm.fast.net`'s fold both run the loops."""
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        from musegen_lstm.fast.jax_lstm import path

        on_cpu = jax.default_backend() == "cpu"
    else:
        from musegen_lstm.fast.tf_lstm import path

        on_cpu = True  # tf_lstm runs only where TensorFlow sees no GPU
    dtype = cpu_dtype(layer.compute_dtype, backend) if on_cpu else "float32"
    ran = path(batch, layer.cell.units, dtype)
    layer._ran(ran if layer.compute_dtype == "float32" or dtype != "float32" else f"{ran}, float32")
    return dtype


def _jax_cudnn(sequences, kernel, recurrent, bias, h0, c0):
    """cuDNN's LSTM through ``jax.experimental.rnn`` (batch-first; its flat weights are
    ``[W_ih, W_hh, b_ih, b_hh]`` in gate order i, f, g, o — Keras's i, f, c, o); None if it can't run."""
    import jax.numpy as jnp

    try:
        from jax.experimental.rnn import lstm
    except ImportError:
        return None
    weights = jnp.concatenate([kernel.T.ravel(), recurrent.T.ravel(), bias, jnp.zeros_like(bias)])
    lengths = jnp.full((sequences.shape[0],), sequences.shape[1], dtype=jnp.int32)
    try:
        outputs, h, c = lstm(
            sequences,
            h0[None],
            c0[None],
            weights,
            lengths,
            input_size=kernel.shape[0],
            hidden_size=recurrent.shape[0],
            num_layers=1,
            dropout=0.0,
            bidirectional=False,
        )
    except Exception:  # noqa: BLE001 — no cuDNN build, a shape or type it refuses: the scan runs instead
        return None
    return outputs, h[0], c[0]


def _tensorflow(layer, sequences, initial_state):
    """:mod:`musegen_lstm.fast.tf_lstm` where TensorFlow sees no GPU; None (Keras's path: cuDNN) on a GPU."""
    if tf_gpu():
        return None
    from musegen_lstm.fast.tf_lstm import lstm

    cell = layer.cell
    dtype = scan_dtype(layer, sequences.shape[0])
    wide = [
        keras.ops.cast(a, "float32")
        for a in (sequences, cell.kernel.value, cell.recurrent_kernel.value, cell.bias.value, *initial_state)
    ]
    outputs, h, c = (keras.ops.cast(a, layer.compute_dtype) for a in lstm(*wide, dtype=dtype))
    return h, (outputs if layer.return_sequences else h[:, None]), [h, c]


@functools.cache
def tf_gpu() -> bool:
    """Whether TensorFlow sees a GPU: there Keras's own TensorFlow LSTM runs cuDNN."""
    import tensorflow as tf

    return bool(tf.config.list_logical_devices("GPU"))


_FUSED = {"torch": _torch, "jax": _jax, "tensorflow": _tensorflow}
