"""The LSTM recurrence for training on a CPU with JAX, with a hand-written backward pass.

Keras's generic loop computes ``x @ kernel`` inside every time step and lets JAX differentiate the
loop. Here, as in cuDNN, the input projection is done outside the loop: one product over the whole
sequence (:func:`lstm`) or, for the first layer, rows of a table looked up per step
(:func:`lstm_from_table`, see :mod:`musegen_lstm.fast.net`). What XLA's CPU backend is slow at shapes the
rest: each gate is its own ``(U, U)`` product and its own ``(T, B, U)`` array (slicing a ``4U``-wide
array inside a loop costs more than the product), sigmoids are computed through ``tanh`` (XLA's
``exp`` is slow on CPUs), the forward loop saves only what the backward one cannot recompute cheaply
(the cell state before each step; ``tanh`` of the one after is recomputed in the backward loop), the
backward loop carries only the state gradients, and the recurrent kernel's gradient is one product
over all steps, read without concatenating or transposing the saved states (XLA would copy them). Results match
Keras's own LSTM (gate order i, f, c, o) to float32 rounding.

**Two layouts.** Up to 512 units the loops hold a batch as ``(B, U)`` and multiply ``h @ kernel``
(:data:`ROWS`). Above, they hold it as ``(U, B)`` and multiply ``kernelᵀ @ h`` (:data:`COLUMNS`): XLA's
CPU product runs about twice as fast with the large matrix on the left at 1024 units, and no faster
at 256, where whole training steps were slower in columns. Arrays outside the loops are ``(T, B, U)``;
in float32 the columns' loops give each step's h and gate-input gradients as rows, transposed inside
the loop (:data:`COLUMNS_FLOAT32`), so that nothing after the loops copies ``(T, U, B)`` arrays.

**Rows split over the CPU's cores.** XLA runs a small product like ``(32, 256) × (256, 256)`` on one
core, so a recurrence used one of the machine's cores. The rows of a batch are independent
sequences: with several JAX CPU devices (:mod:`musegen_lstm.fast.lstm` makes one per core), each device
runs the recurrence for its share of the rows (``shard_map``), forward and backward, and the weight
gradients are summed — the same numbers as one device, to float32 rounding. See :func:`cpu_mesh`.
Not in columns: there XLA runs each product on every core itself, and each device would stream the
whole kernel each step, which measured slower.

**bfloat16.** Under ``mixed_bfloat16``, on a CPU with bfloat16 instructions
(:func:`musegen_lstm.fast.layer.cpu_dtype`), every product of the recurrence (the input projection, each
step's ``h @ kernel`` forward and backward, the kernel's gradient) reads bfloat16 and sums in float32;
gates, cell states and the gate inputs' gradients stay float32. Inside the loop XLA's CPU products
run about twice float32's speed in bfloat16.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp


def _sigmoid(x):
    return 0.5 * jnp.tanh(0.5 * x) + 0.5


def _gates(a, u):
    return tuple(a[..., k * u : (k + 1) * u] for k in range(4))


class _Layout(NamedTuple):
    """How the loops hold a batch: ``ROWS`` as ``(B, U)`` (``h @ kernel``), ``COLUMNS`` as ``(U, B)``
    (``kernelᵀ @ h``). The functions outside take and give ``(T, B, U)`` arrays either way."""

    mm: Callable  # (state, kernel as the loops hold it) -> the product
    outer: Callable  # Σ over steps and rows of h ⊗ dz, (T, ...) each: the held kernel's gradient
    inward: Callable  # (..., B, U) -> held, and back (its own inverse)
    weights: Callable  # a (X, U) matrix -> held, and a held one's gradient back to (X, U)
    x_axis: int  # the axis of a held (X, U) matrix that runs over X (a table's vocabulary)
    rows_given: bool  # the loops give each step's h and gate-input gradients as (B, U) rows, not held


def _given(lay: _Layout, a):
    """One step's array, held, as the loops give it (:attr:`_Layout.rows_given`)."""
    return lay.inward(a) if lay.rows_given else a


def _as_rows(lay: _Layout, a):
    """Arrays ``(T, ...)`` the loops gave → ``(T, B, U)``."""
    return a if lay.rows_given else lay.inward(a)


def _cols(a):
    return jnp.moveaxis(a, 1, 0).reshape(a.shape[1], -1)


# Products read the state in the kernel's type (bfloat16 kernels: bfloat16 products) and give float32.
_F32 = jnp.float32
ROWS = _Layout(
    mm=lambda s, w: jnp.matmul(s.astype(w.dtype), w, preferred_element_type=_F32),
    outer=lambda h, d: jnp.matmul(
        h.reshape(-1, h.shape[-1]).T, d.reshape(-1, d.shape[-1]), preferred_element_type=_F32
    ),
    inward=lambda a: a,
    weights=lambda w: w,
    x_axis=0,
    rows_given=True,
)
COLUMNS = _Layout(
    mm=lambda s, w: jnp.matmul(w, s.astype(w.dtype), preferred_element_type=_F32),
    outer=lambda h, d: jax.lax.dot_general(_cols(d), _cols(h), (((1,), (1,)), ((), ())), preferred_element_type=_F32),
    inward=lambda a: jnp.swapaxes(a, -1, -2),
    weights=lambda w: w.T,
    x_axis=1,
    rows_given=False,
)
# In float32 the columns' loops give rows (each step's transpose costs nothing measurable): the kernels'
# gradients then read (T·B, U) arrays as they lie, and the layer's outputs and the gate inputs' gradients
# need no copy, which measured faster. In bfloat16 held: XLA's CPU has no fast bfloat16 product in that form.
COLUMNS_FLOAT32 = COLUMNS._replace(outer=lambda h, d: ROWS.outer(d, h), rows_given=True)
COLUMNS_ABOVE = 512  # units: XLA's products with a (U, U) kernel on the left run about twice as fast at 1024


def _layout(u: int, dtype) -> _Layout:
    """The layout for ``u`` units whose recurrent products read ``dtype``."""
    if u <= COLUMNS_ABOVE:
        return ROWS
    return COLUMNS_FLOAT32 if dtype == _F32 else COLUMNS


def _forward(gate_inputs, xs, ws, h0, c0, save: bool, lay: _Layout):
    """Scan over ``xs``; ``gate_inputs(x)`` gives one step's four gate inputs (held as ``lay`` holds a
    batch). Returns the last (h, c) and every step's h, or with ``save`` the arrays the backward pass reads;
    the h of each step as :func:`_given`, the rest held."""

    def step(carry, x):
        h, c = carry
        z = gate_inputs(x)
        i = _sigmoid(z[0] + lay.mm(h, ws[0]))
        f = _sigmoid(z[1] + lay.mm(h, ws[1]))
        g = jnp.tanh(z[2] + lay.mm(h, ws[2]))
        o = _sigmoid(z[3] + lay.mm(h, ws[3]))
        c_prev, c = c, f * c + i * g
        h = o * jnp.tanh(c)
        return (h, c), ((_given(lay, h), c_prev, i, f, g, o) if save else _given(lay, h))

    return jax.lax.scan(step, (h0, c0), xs)


def _backward(saved, ws, h0, dhs, dc_last, lay: _Layout):
    """Gradients of the four gate inputs (as :func:`_given`), of the held recurrent kernels ``ws``, of h0 and
    c0 (held)."""
    hs, c_prev, i, f, g, o = saved
    wts = tuple(w.T for w in ws)

    def step(carry, x):
        dh_next, dc_next = carry
        dh_out, i, f, g, o, cp = x
        tc = jnp.tanh(f * cp + i * g)
        dh = dh_out + dh_next
        dc = dc_next + dh * o * (1.0 - tc * tc)
        di = dc * g * i * (1.0 - i)
        df = dc * cp * f * (1.0 - f)
        dg = dc * i * (1.0 - g * g)
        do = dh * tc * o * (1.0 - o)
        dh_prev = lay.mm(di, wts[0]) + lay.mm(df, wts[1]) + lay.mm(dg, wts[2]) + lay.mm(do, wts[3])
        return (dh_prev, dc * f), tuple(_given(lay, d) for d in (di, df, dg, do))

    (dh0, dc0), dzs = jax.lax.scan(step, (jnp.zeros_like(h0), dc_last), (dhs, i, f, g, o, c_prev), reverse=True)
    # steps 1.. read the h before them, step 0 reads h0: no concatenation (XLA copied it, transposed);
    # in the kernels' type, as the products of the loops
    dt, h0 = ws[0].dtype, _given(lay, h0)
    dws = tuple(
        (lay.outer(hs[:-1].astype(dt), dz[1:].astype(dt)) + lay.outer(h0[None].astype(dt), dz[:1].astype(dt))).astype(
            dt
        )
        for dz in dzs
    )
    return dzs, dws, dh0, dc0


def _run_forward(gate_inputs_in, xs_in, rs, h0, c0, save: bool):
    """:func:`_forward` from and to ``(.., B, U)`` arrays, in the layout the units call for:
    ``gate_inputs_in(lay)`` and ``xs_in(lay)`` give its ``gate_inputs`` and ``xs`` for that layout.
    Returns every h ``(T, B, U)``, the last c ``(B, U)`` and what :func:`_forward` returned."""
    lay = _layout(rs[0].shape[0], rs[0].dtype)
    (_, c), out = _forward(
        gate_inputs_in(lay), xs_in(lay), tuple(lay.weights(r) for r in rs), lay.inward(h0), lay.inward(c0), save, lay
    )
    return _as_rows(lay, out[0] if save else out), lay.inward(c), out


def _run_backward(saved, rs, h0, dhs, dc_last):
    """:func:`_backward` from and to ``(.., B, U)`` arrays; the gate-input gradients as the loops gave them."""
    lay = _layout(rs[0].shape[0], rs[0].dtype)
    dzs, dws, dh0, dc0 = _backward(
        saved, tuple(lay.weights(r) for r in rs), lay.inward(h0), lay.inward(dhs), lay.inward(dc_last), lay
    )
    return lay, dzs, tuple(lay.weights(d) for d in dws), lay.inward(dh0), lay.inward(dc0)


def _held(zs):
    return lambda lay: tuple(lay.inward(z) for z in zs)


def _as_given(lay):
    return lambda z: z  # the scanned arrays are the gate inputs themselves


@jax.custom_vjp
def recurrence(zs, rs, h0, c0):
    """Every step's hidden state ``(T, B, U)`` and the last cell state, for the four gate inputs ``zs``
    (``x @ kernel + bias`` split by gate, ``(T, B, U)`` each, time first) and recurrent kernels ``rs``."""
    hs, c, _ = _run_forward(_as_given, _held(zs), rs, h0, c0, save=False)
    return hs, c


def _recurrence_fwd(zs, rs, h0, c0):
    hs, c, saved = _run_forward(_as_given, _held(zs), rs, h0, c0, save=True)
    return (hs, c), (saved, rs, h0)


def _recurrence_bwd(res, cotangents):
    saved, rs, h0 = res
    lay, dzs, drs, dh0, dc0 = _run_backward(saved, rs, h0, *cotangents)
    return tuple(_as_rows(lay, dz) for dz in dzs), drs, dh0, dc0


recurrence.defvjp(_recurrence_fwd, _recurrence_bwd)


@jax.custom_vjp
def table_recurrence(tokens, tables, rs, h0, c0):
    """As :func:`recurrence`, the gate inputs being rows of ``tables`` (four ``(V, U)``) picked by the
    token ids ``tokens`` ``(T, B)`` step by step: no ``(T, B, 4U)`` array is made."""
    hs, c, _ = _run_forward(_lookup(tables), lambda lay: tokens, rs, h0, c0, save=False)
    return hs, c


def _lookup(tables):
    def gate_inputs(lay):
        held = tuple(lay.weights(t) for t in tables)  # (V, U) rows, or (U, V) columns
        return lambda tok: tuple(jnp.take(t, tok, axis=lay.x_axis) for t in held)

    return gate_inputs


def _table_fwd(tokens, tables, rs, h0, c0):
    hs, c, saved = _run_forward(_lookup(tables), lambda lay: tokens, rs, h0, c0, save=True)
    return (hs, c), (saved, tokens, rs, h0, tables)


def _table_bwd(res, cotangents):
    saved, tokens, rs, h0, tables = res
    lay, dzs, drs, dh0, dc0 = _run_backward(saved, rs, h0, *cotangents)
    ids = tokens.reshape(-1)
    dtables = tuple(
        jax.ops.segment_sum(_as_rows(lay, dz).reshape(ids.shape[0], -1), ids, t.shape[0]) for dz, t in zip(dzs, tables)
    )
    return None, dtables, drs, dh0, dc0


table_recurrence.defvjp(_table_fwd, _table_bwd)


MIN_ROWS = 8  # rows per device: fewer make products too thin to gain from another core


def cpu_mesh(batch: int, units: int):
    """The CPU devices a recurrence over ``batch`` rows of ``units`` is split across, as a mesh, or None
    to run it whole: on a CPU with several JAX devices, at least :data:`MIN_ROWS` rows each, each device
    the same share; not in columns (module docstring), nor under ``keras.distribution`` (which splits
    the batch itself)."""
    import keras

    if jax.default_backend() != "cpu" or units > COLUMNS_ABOVE or keras.distribution.distribution() is not None:
        return None
    devices = jax.devices("cpu")
    n = max((k for k in range(2, len(devices) + 1) if batch % k == 0 and batch // k >= MIN_ROWS), default=1)
    return jax.sharding.Mesh(devices[:n], ("rows",)) if n > 1 else None


def path(batch: int, units: int, dtype: str = "float32") -> str:
    """The name :attr:`musegen_lstm.fast.layer.LSTM.path` records for this recurrence over ``batch`` rows,
    its recurrent products in ``dtype``."""
    mesh = cpu_mesh(batch, units)
    return (
        "musegen-jax-scan"
        + (", kernel on the left" if units > COLUMNS_ABOVE else "")
        + (f", rows split over {mesh.size} CPU devices" if mesh is not None else "")
        + (f", {dtype} products" if dtype != "float32" else "")
    )


def _split(fn, batch: int, units: int, in_specs, out_specs):
    """``fn`` run by each device of :func:`cpu_mesh` on its rows (the specs name the ``rows`` axis of each
    argument and result), or ``fn`` itself. Gradients of the unsplit arguments are summed over devices."""
    mesh = cpu_mesh(batch, units)
    if mesh is None:
        return fn
    return jax.shard_map(fn, mesh=mesh, in_specs=in_specs, out_specs=out_specs, check_vma=False)


_P = jax.sharding.PartitionSpec
_SPLIT_AXIS1, _SPLIT_AXIS0, _UNSPLIT = _P(None, "rows"), _P("rows"), _P()


def lstm(x, kernel, recurrent_kernel, bias, h0, c0, dtype: str = "float32"):
    """Batch-first LSTM: ``x`` is ``(B, T, F)``; returns (outputs ``(B, T, U)``, last h, last c), all
    float32. ``dtype``: the type of the products (module docstring, **bfloat16**); the rest is float32."""
    u = recurrent_kernel.shape[0]
    if dtype == "float32":
        zs = tuple(jnp.einsum("btf,fu->tbu", x, k) + b for k, b in zip(_gates(kernel, u), _gates(bias, u)))
    else:  # 2-D products: XLA's CPU multiplies bfloat16 into float32 there, not in an einsum's ("Unsupported")
        rows = jnp.swapaxes(x, 0, 1).astype(dtype).reshape(-1, x.shape[-1])
        zs = tuple(
            (jnp.matmul(rows, k.astype(dtype), preferred_element_type=_F32) + b).reshape(x.shape[1], x.shape[0], u)
            for k, b in zip(_gates(kernel, u), _gates(bias, u))
        )
    run = _split(
        recurrence,
        x.shape[0],
        u,
        ((_SPLIT_AXIS1,) * 4, _UNSPLIT, _SPLIT_AXIS0, _SPLIT_AXIS0),
        (_SPLIT_AXIS1, _SPLIT_AXIS0),
    )
    hs, c = run(zs, _gates(recurrent_kernel.astype(dtype), u), h0, c0)
    return jnp.swapaxes(hs, 0, 1), hs[-1], c


def lstm_from_table(tokens, table, recurrent_kernel, dtype: str = "float32"):
    """Batch-first LSTM over token ids ``(B, T)`` from a zero state, its input projections read from
    ``table`` (vocabulary × 4U, ``embedding @ kernel + bias``); returns the outputs ``(B, T, U)``.
    ``dtype``: the type of the recurrent products, as :func:`lstm`."""
    u = recurrent_kernel.shape[0]
    h0 = jnp.zeros((tokens.shape[0], u), table.dtype)
    run = _split(
        table_recurrence,
        tokens.shape[0],
        u,
        (_SPLIT_AXIS1, _UNSPLIT, _UNSPLIT, _SPLIT_AXIS0, _SPLIT_AXIS0),
        (_SPLIT_AXIS1, _SPLIT_AXIS0),
    )
    hs, _ = run(tokens.T, _gates(table, u), _gates(recurrent_kernel.astype(dtype), u), h0, h0)
    return jnp.swapaxes(hs, 0, 1)
