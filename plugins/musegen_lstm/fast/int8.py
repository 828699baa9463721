"""int8 kernels for the NumPy sampler (``--set model.sampler=numpy-int8``): a quarter of the memory a step reads.

One tune's step on a CPU is a ``(1, K) x (K, N)`` product that reads the whole kernel: at the paper's
1024 units the recurrent kernel (with the output layer's fused beside it) is 16.7 MB of float32, and
reading it is the step's cost, whatever the arithmetic. Stored as int8 with one float32 scale per
output column it is a quarter of that, which a CPU's caches may nearly hold. Two of PyTorch's CPU
kernels multiply by it (their speeds against float32: benchmarks/RESULTS.md, "int8 sampling"):

- ``dynamic`` (preferred): ``torch.ops.quantized.linear_dynamic``, FBGEMM's int8 GEMM; each call
  quantizes its input to 7-bit integers (one scale for the call, ``reduce_range``: no overflow on
  CPUs without VNNI either). From :data:`ONEDNN_ROWS` rows the same op over weights packed for
  oneDNN instead, where this PyTorch has that engine (same rounding, faster there; FBGEMM is
  faster below 16).
- ``weight-only`` (where ``dynamic`` does not run): ``torch._weight_int8pack_mm`` with the input in
  bfloat16; above :data:`KERNEL_ROWS` rows, float32 BLAS over the dequantized weights instead.

The price is rounding: the held-out loss of a trained model moves by about a tenth of a percent. Needs PyTorch
(any backend): imported when such a kernel is
made, never otherwise.
"""

from __future__ import annotations

import functools
import warnings

import numpy as np

from musegen import MusegenError

ROUTES = ("dynamic", "weight-only")

PAD = 64
"""``weight-only``: the input length is padded with zeros to a multiple of this: that kernel reads
garbage past lengths that are not multiples of 16 (PyTorch 2.13, CPU; 24, 40, 56 tried)."""

KERNEL_ROWS = 8
"""``weight-only``: up to this many rows the int8 kernel, above them float32 BLAS over the dequantized
weights (table above)."""

ONEDNN_ROWS = 24
"""``dynamic``: from this many rows the weights packed for oneDNN (where PyTorch has that engine),
below them FBGEMM's (module docstring)."""


def _torch():
    try:
        import torch
    except ImportError:
        raise MusegenError(
            "model.sampler=numpy-int8 needs PyTorch (pip install torch); or sample with --set model.sampler=numpy"
        ) from None
    if not hasattr(torch, "_weight_int8pack_mm"):
        raise MusegenError(f"model.sampler=numpy-int8 needs PyTorch 2.3 or newer (this is {torch.__version__})")
    return torch


def _prepack(torch, q, scale, engine: str | None = None):
    """``q`` (N, K) int8 with per-row ``scale``, packed for ``torch.ops.quantized.linear_dynamic``, by
    ``engine`` (one of ``torch.backends.quantized.supported_engines``; by default the current one).
    The packed weights carry their engine: ``linear_dynamic`` runs theirs whatever the current one is."""
    engines = torch.backends.quantized
    before = engines.engine
    with warnings.catch_warnings():  # PyTorch calls quantized tensors deprecated in favour of torchao;
        warnings.simplefilter("ignore")  # the packed weights below are what its kernels still read
        qw = torch._make_per_channel_quantized_tensor(
            q.contiguous(), scale.double(), torch.zeros(q.shape[0], dtype=torch.long), 0
        )
        try:
            engines.engine = engine or before
            return torch.ops.quantized.linear_prepack(qw, None)
        finally:
            engines.engine = before


def _dynamic_ok(torch, engine: str | None = None) -> bool:
    """Whether ``linear_dynamic`` over weights packed by ``engine`` runs and is right, on a small kernel."""
    try:
        rng = np.random.default_rng(0)
        q = torch.from_numpy(rng.integers(-127, 128, size=(24, 40)).astype(np.int8))
        scale = torch.full((24,), 0.01)
        x = torch.from_numpy(rng.uniform(-1, 1, size=(3, 40)).astype(np.float32))
        got = torch.ops.quantized.linear_dynamic(x, _prepack(torch, q, scale, engine), True)
        want = x @ (q.float() * scale[:, None]).T
        return float((got - want).norm() / want.norm()) < 0.05
    except Exception:  # noqa: BLE001 — no such engine for this CPU, or the op is gone
        return False


@functools.cache
def best_route() -> str:
    """``dynamic`` where this PyTorch runs it correctly (tried once on a small kernel), else ``weight-only``."""
    return "dynamic" if _dynamic_ok(_torch()) else "weight-only"


@functools.cache
def onednn_ok() -> bool:
    """Whether the ``dynamic`` route may pack weights for oneDNN for :data:`ONEDNN_ROWS` rows or more."""
    torch = _torch()
    return "onednn" in torch.backends.quantized.supported_engines and _dynamic_ok(torch, "onednn")


class Int8Kernel:
    """A float32 kernel ``(K, N)`` as int8 values ``q`` and a scale per column: ``kernel ≈ q * scale``,
    ``scale = max |column| / 127`` (each column's largest weight is exact). ``route``: one of
    :data:`ROUTES`, by default :func:`best_route`."""

    def __init__(self, kernel: np.ndarray, route: str | None = None):
        torch = _torch()
        self.route = route or best_route()
        if self.route not in ROUTES:
            raise ValueError(f"route {self.route!r}: one of {ROUTES}")
        k = torch.from_numpy(np.ascontiguousarray(kernel, np.float32))
        scale = k.abs().amax(0) / 127
        scale = torch.where(scale > 0, scale, torch.ones_like(scale))  # an all-zero column stays zero
        rows, cols = kernel.shape
        self.q = torch.zeros((cols, -(-rows // PAD) * PAD), dtype=torch.int8)  # (N, K padded): as the kernels read
        self.q[:, :rows] = torch.round(k / scale).to(torch.int8).T
        self.scale = scale.numpy()
        self.shape = (rows, cols)
        if self.route == "dynamic":
            self._packed = _prepack(torch, self.q[:, :rows], scale)
        else:
            self._unit = torch.ones(cols, dtype=torch.bfloat16)  # the kernel's scales: applied in float32 after

    @property
    def packed(self):
        """The weights packed for ``torch.ops.quantized.linear_dynamic`` by FBGEMM (``dynamic`` route)."""
        return self._packed

    @functools.cached_property
    def _packed_onednn(self):
        """The weights packed for oneDNN (``dynamic`` route, many rows): made on first use."""
        torch = _torch()
        return _prepack(torch, self.q[:, : self.shape[0]], torch.from_numpy(self.scale), "onednn")

    @functools.cached_property
    def dequantized(self) -> np.ndarray:
        """``q * scale`` as float32 ``(K, N)``: what the int8 values stand for."""
        return np.ascontiguousarray(self.q[:, : self.shape[0]].numpy().T * self.scale, dtype=np.float32)

    def product(self, x: np.ndarray, out: np.ndarray):
        """A function of no arguments that writes ``x @ kernel`` into ``out``, reading ``x`` when called
        (both are buffers the caller keeps and overwrites in place)."""
        torch = _torch()
        x_t, out_t = torch.from_numpy(x), torch.from_numpy(out)
        if self.route == "dynamic":
            many = x.shape[0] >= ONEDNN_ROWS and onednn_ok()
            op, packed = torch.ops.quantized.linear_dynamic, self._packed_onednn if many else self._packed
            return lambda: out_t.copy_(op(x_t, packed, True))
        if x.shape[0] > KERNEL_ROWS:
            return functools.partial(x.dot, self.dequantized, out=out)
        q, unit, scale = self.q, self._unit, self.scale
        padded = torch.zeros((x.shape[0], q.shape[1]), dtype=torch.bfloat16)
        x_bf16, mm = padded[:, : x.shape[1]], torch._weight_int8pack_mm

        def run():
            x_bf16.copy_(x_t)
            out_t.copy_(mm(padded, q, unit))
            np.multiply(out, scale, out=out)

        return run
