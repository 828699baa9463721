"""int8 kernels for the NumPy sampler (``--set model.sampler=numpy-int8``): a quarter of the memory a step reads.

One tune's step on a CPU is a ``(1, K) x (K, N)`` product that reads the whole kernel: at the paper's
1024 units the recurrent kernel is 16 MB of float32 and the product alone takes about 300 us, whatever
the arithmetic. Stored as int8 with one float32 scale per output column it is 4 MB, and PyTorch's
weight-only int8 kernel (``torch._weight_int8pack_mm``, activations in bfloat16) makes the product in
about 110 us on the same machine. The price is rounding: on the paper preset's trained model the
held-out loss moved from 1.70646 to 1.70726 nats a character (+0.05%).

That kernel wins only for a few rows (tunes) at a time; from :data:`KERNEL_ROWS` rows up, the product is
float32 over the dequantized weights (the same int8 values times their scales), where BLAS is faster.
Needs PyTorch (any backend): it is imported when such a kernel is made, never otherwise.
"""

from __future__ import annotations

import functools

import numpy as np

from musegen import MusegenError

PAD = 64
"""The kernel's input length is padded with zeros to a multiple of this: PyTorch's int8 kernel reads
garbage past lengths that are not multiples of 16 (PyTorch 2.13, CPU; 24, 40, 56 tried)."""

KERNEL_ROWS = 8
"""Up to this many rows a product runs PyTorch's int8 kernel; above, float32 BLAS over the dequantized
weights (2-core Sapphire Rapids, 1024 x 4096: 8 rows 847 vs 1,126 us; 16 rows 1,259 vs 1,361; 64 rows
3,445 vs 2,262)."""


def _torch():
    try:
        import torch
    except ImportError:
        raise MusegenError("model.sampler=numpy-int8 needs PyTorch (pip install torch); "
                           "or sample with --set model.sampler=numpy") from None
    if not hasattr(torch, "_weight_int8pack_mm"):
        raise MusegenError(f"model.sampler=numpy-int8 needs PyTorch 2.3 or newer (this is {torch.__version__})")
    return torch


class Int8Kernel:
    """A float32 kernel ``(K, N)`` as int8 values ``q`` and a scale per column: ``kernel ≈ q * scale``,
    ``scale = max |column| / 127`` (each column's largest weight is exact)."""

    def __init__(self, kernel: np.ndarray):
        torch = _torch()
        k = torch.from_numpy(np.ascontiguousarray(kernel, np.float32))
        scale = k.abs().amax(0) / 127
        scale = torch.where(scale > 0, scale, torch.ones_like(scale))  # an all-zero column stays zero
        rows, cols = kernel.shape
        self.q = torch.zeros((cols, -(-rows // PAD) * PAD), dtype=torch.int8)  # (N, K padded): as the kernel reads
        self.q[:, :rows] = torch.round(k / scale).to(torch.int8).T
        self.scale = scale.numpy()
        self.shape = (rows, cols)
        self._unit = torch.ones(self.shape[1], dtype=torch.bfloat16)  # scales applied in float32 after

    @functools.cached_property
    def dequantized(self) -> np.ndarray:
        """``q * scale`` as float32 ``(K, N)``: what the int8 values stand for."""
        return np.ascontiguousarray(self.q[:, :self.shape[0]].numpy().T * self.scale, dtype=np.float32)

    def product(self, x: np.ndarray, out: np.ndarray):
        """A function of no arguments that writes ``x @ kernel`` into ``out``, reading ``x`` when called
        (both are buffers the caller keeps and overwrites in place)."""
        if x.shape[0] > KERNEL_ROWS:
            return functools.partial(x.dot, self.dequantized, out=out)
        torch = _torch()
        x_t, out_t, q, unit, scale = torch.from_numpy(x), torch.from_numpy(out), self.q, self._unit, self.scale
        padded = torch.zeros((x.shape[0], q.shape[1]), dtype=torch.bfloat16)
        x_bf16, mm = padded[:, :x.shape[1]], torch._weight_int8pack_mm

        def run():
            x_bf16.copy_(x_t)
            out_t.copy_(mm(padded, q, unit))
            np.multiply(out, scale, out=out)

        return run
