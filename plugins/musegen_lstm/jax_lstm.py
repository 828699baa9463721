"""The LSTM recurrence for training on a CPU with JAX, with a hand-written backward pass.

Keras's generic loop computes ``x @ kernel`` inside every time step and lets JAX differentiate the
loop. Here, as in cuDNN, the input projection is done outside the loop: one product over the whole
sequence (:func:`lstm`) or, for the first layer, rows of a table looked up per step
(:func:`lstm_from_table`, see :mod:`musegen_lstm.net`). What XLA's CPU backend is slow at shapes the
rest: each gate is its own ``(U, U)`` product and its own ``(T, B, U)`` array (slicing a ``4U``-wide
array inside a loop costs more than the product), sigmoids are computed through ``tanh`` (XLA's
``exp`` is slow on CPUs), the forward loop saves only what the backward one cannot recompute cheaply
(the cell state before each step; ``tanh`` of the one after is recomputed in the backward loop), the
backward loop carries only the state gradients, and the recurrent kernel's gradient is one product
over all steps, read without concatenating or transposing the saved states (XLA made a 10 ms copy of
that). Results match Keras's own LSTM (gate order i, f, c, o) to float32 rounding.

**Rows split over the CPU's cores.** XLA runs a small product like ``(32, 256) × (256, 256)`` on one
core, so a recurrence used one of this machine's cores. The rows of a batch are independent
sequences: with several JAX CPU devices (:mod:`musegen_lstm.lstm` makes one per core), each device
runs the recurrence for its share of the rows (``shard_map``), forward and backward, and the weight
gradients are summed — the same numbers as one device, to float32 rounding. See :func:`cpu_mesh`.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def _sigmoid(x):
    return 0.5 * jnp.tanh(0.5 * x) + 0.5


def _gates(a, u):
    return tuple(a[..., k * u:(k + 1) * u] for k in range(4))


def _forward(gate_inputs, xs, rs, h0, c0, save: bool):
    """Scan over ``xs``; ``gate_inputs(x)`` gives one step's four gate inputs ``(B, U)``. Returns the
    last (h, c) and every step's h, or with ``save`` the arrays the backward pass reads."""

    def step(carry, x):
        h, c = carry
        z = gate_inputs(x)
        i = _sigmoid(z[0] + h @ rs[0])
        f = _sigmoid(z[1] + h @ rs[1])
        g = jnp.tanh(z[2] + h @ rs[2])
        o = _sigmoid(z[3] + h @ rs[3])
        c_prev, c = c, f * c + i * g
        h = o * jnp.tanh(c)
        return (h, c), ((h, c_prev, i, f, g, o) if save else h)

    return jax.lax.scan(step, (h0, c0), xs)


def _backward(saved, rs, h0, c0, dhs, dc_last):
    """Gradients of the four gate inputs ``(T, B, U)``, of the recurrent kernels, of h0 and c0."""
    hs, c_prev, i, f, g, o = saved
    rts = tuple(r.T for r in rs)

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
        dh_prev = di @ rts[0] + df @ rts[1] + dg @ rts[2] + do @ rts[3]
        return (dh_prev, dc * f), (di, df, dg, do)

    (dh0, dc0), dzs = jax.lax.scan(step, (jnp.zeros_like(h0), dc_last), (dhs, i, f, g, o, c_prev), reverse=True)
    u = hs.shape[-1]
    h_prev = hs[:-1].reshape(-1, u).T  # steps 1.. read the h before them; step 0 reads h0
    drs = tuple(h_prev @ dz[1:].reshape(-1, u) + h0.T @ dz[0] for dz in dzs)
    return dzs, drs, dh0, dc0


def _given(z):
    return z


@jax.custom_vjp
def recurrence(zs, rs, h0, c0):
    """Every step's hidden state ``(T, B, U)`` and the last cell state, for the four gate inputs ``zs``
    (``x @ kernel + bias`` split by gate, ``(T, B, U)`` each, time first) and recurrent kernels ``rs``."""
    (_, c), hs = _forward(_given, zs, rs, h0, c0, save=False)
    return hs, c


def _recurrence_fwd(zs, rs, h0, c0):
    (_, c), saved = _forward(_given, zs, rs, h0, c0, save=True)
    return (saved[0], c), (saved, rs, h0, c0)


def _recurrence_bwd(res, cotangents):
    saved, rs, h0, c0 = res
    return _backward(saved, rs, h0, c0, *cotangents)


recurrence.defvjp(_recurrence_fwd, _recurrence_bwd)


@jax.custom_vjp
def table_recurrence(tokens, tables, rs, h0, c0):
    """As :func:`recurrence`, the gate inputs being rows of ``tables`` (four ``(V, U)``) picked by the
    token ids ``tokens`` ``(T, B)`` step by step: no ``(T, B, 4U)`` array is made."""
    (_, c), hs = _forward(_rows(tables), tokens, rs, h0, c0, save=False)
    return hs, c


def _rows(tables):
    return lambda tok: tuple(jnp.take(t, tok, axis=0) for t in tables)


def _table_fwd(tokens, tables, rs, h0, c0):
    (_, c), saved = _forward(_rows(tables), tokens, rs, h0, c0, save=True)
    return (saved[0], c), (saved, tokens, rs, h0, c0, tables)


def _table_bwd(res, cotangents):
    saved, tokens, rs, h0, c0, tables = res
    dzs, drs, dh0, dc0 = _backward(saved, rs, h0, c0, *cotangents)
    ids = tokens.reshape(-1)
    dtables = tuple(jax.ops.segment_sum(dz.reshape(ids.shape[0], -1), ids, t.shape[0]) for dz, t in zip(dzs, tables))
    return None, dtables, drs, dh0, dc0


table_recurrence.defvjp(_table_fwd, _table_bwd)


MIN_ROWS = 8  # rows per device: fewer make products too thin to gain from another core


def cpu_mesh(batch: int):
    """The CPU devices a recurrence over ``batch`` rows is split across, as a mesh, or None to run it
    whole: on a CPU with several JAX devices, at least :data:`MIN_ROWS` rows each, each device the
    same share; not under ``keras.distribution`` (which splits the batch itself)."""
    import keras

    if jax.default_backend() != "cpu" or keras.distribution.distribution() is not None:
        return None
    devices = jax.devices("cpu")
    n = max((k for k in range(2, len(devices) + 1) if batch % k == 0 and batch // k >= MIN_ROWS), default=1)
    return jax.sharding.Mesh(devices[:n], ("rows",)) if n > 1 else None


def path(batch: int) -> str:
    """The name :attr:`musegen_lstm.layer.LSTM.path` records for this recurrence over ``batch`` rows."""
    mesh = cpu_mesh(batch)
    return "musegen-jax-scan" + (f", rows split over {mesh.size} CPU devices" if mesh is not None else "")


def _split(fn, batch: int, in_specs, out_specs):
    """``fn`` run by each device of :func:`cpu_mesh` on its rows (the specs name the ``rows`` axis of each
    argument and result), or ``fn`` itself. Gradients of the unsplit arguments are summed over devices."""
    mesh = cpu_mesh(batch)
    if mesh is None:
        return fn
    return jax.shard_map(fn, mesh=mesh, in_specs=in_specs, out_specs=out_specs, check_vma=False)


_P = jax.sharding.PartitionSpec
_TIME_ROWS, _ROWS, _ALL = _P(None, "rows"), _P("rows"), _P()


def lstm(x, kernel, recurrent_kernel, bias, h0, c0):
    """Batch-first LSTM: ``x`` is ``(B, T, F)``; returns (outputs ``(B, T, U)``, last h, last c)."""
    u = recurrent_kernel.shape[0]
    zs = tuple(jnp.einsum("btf,fu->tbu", x, k) + b for k, b in zip(_gates(kernel, u), _gates(bias, u)))
    run = _split(recurrence, x.shape[0], ((_TIME_ROWS,) * 4, _ALL, _ROWS, _ROWS), (_TIME_ROWS, _ROWS))
    hs, c = run(zs, _gates(recurrent_kernel, u), h0, c0)
    return jnp.swapaxes(hs, 0, 1), hs[-1], c


def lstm_from_table(tokens, table, recurrent_kernel):
    """Batch-first LSTM over token ids ``(B, T)`` from a zero state, its input projections read from
    ``table`` (vocabulary × 4U, ``embedding @ kernel + bias``); returns the outputs ``(B, T, U)``."""
    u = recurrent_kernel.shape[0]
    h0 = jnp.zeros((tokens.shape[0], u), table.dtype)
    run = _split(table_recurrence, tokens.shape[0], (_TIME_ROWS, _ALL, _ALL, _ROWS, _ROWS), (_TIME_ROWS, _ROWS))
    hs, _ = run(tokens.T, _gates(table, u), _gates(recurrent_kernel, u), h0, h0)
    return jnp.swapaxes(hs, 0, 1)
