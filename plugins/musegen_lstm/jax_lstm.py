"""The LSTM recurrence for training on a CPU with JAX, with a hand-written backward pass.

Keras's generic loop computes ``x @ kernel`` inside every time step and lets JAX differentiate the
loop. Here, as in cuDNN, the input projection of the whole sequence is one matrix product outside the
loop, each gate is its own ``(U, U)`` product (faster than one ``(U, 4U)`` product on XLA's CPU
backend), sigmoids are computed through ``tanh`` (XLA's ``exp`` is slow on CPUs), the backward loop
carries only the state gradients, and the recurrent kernel's gradient is one product over all steps.
Results match Keras's own LSTM (gate order i, f, c, o) to float32 rounding.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def _sigmoid(x):
    return 0.5 * jnp.tanh(0.5 * x) + 0.5


def _gates(a, u):
    return [a[..., k * u:(k + 1) * u] for k in range(4)]


@jax.custom_vjp
def recurrence(xw, recurrent_kernel, h0, c0):
    """Hidden and cell states ``(T, B, U)`` each, for input projections ``xw = x @ kernel + bias`` of
    shape ``(T, B, 4U)``, time first."""
    return _forward(xw, recurrent_kernel, h0, c0)[:2]


def _forward(xw, r, h0, c0):
    u = r.shape[0]
    r_i, r_f, r_g, r_o = _gates(r, u)

    def step(carry, z):
        h, c = carry
        i = _sigmoid(z[0] + h @ r_i)
        f = _sigmoid(z[1] + h @ r_f)
        g = jnp.tanh(z[2] + h @ r_g)
        o = _sigmoid(z[3] + h @ r_o)
        c = f * c + i * g
        tc = jnp.tanh(c)
        h = o * tc
        return (h, c), (h, c, i, f, g, o, tc)

    _, saved = jax.lax.scan(step, (h0, c0), tuple(_gates(xw, u)))
    return saved


def _fwd(xw, r, h0, c0):
    saved = _forward(xw, r, h0, c0)
    return saved[:2], (saved, r, h0, c0)


def _bwd(res, cotangents):
    (hs, cs, i, f, g, o, tc), r, h0, c0 = res
    dhs, dcs = cotangents
    u = r.shape[0]
    rt_i, rt_f, rt_g, rt_o = (w.T for w in _gates(r, u))
    c_prev = jnp.concatenate([c0[None], cs[:-1]], axis=0)

    def step(carry, xs):
        dh_next, dc_next = carry
        dh_out, dc_out, i, f, g, o, tc, cp = xs
        dh = dh_out + dh_next
        dc = dc_next + dc_out + dh * o * (1.0 - tc * tc)
        di = dc * g * i * (1.0 - i)
        df = dc * cp * f * (1.0 - f)
        dg = dc * i * (1.0 - g * g)
        do = dh * tc * o * (1.0 - o)
        dh_prev = di @ rt_i + df @ rt_f + dg @ rt_g + do @ rt_o
        return (dh_prev, dc * f), jnp.concatenate([di, df, dg, do], axis=-1)

    (dh0, dc0), dz = jax.lax.scan(step, (jnp.zeros_like(h0), jnp.zeros_like(c0)),
                                  (dhs, dcs, i, f, g, o, tc, c_prev), reverse=True)
    h_prev = jnp.concatenate([h0[None], hs[:-1]], axis=0)
    return dz, jnp.einsum("tbu,tbg->ug", h_prev, dz), dh0, dc0


recurrence.defvjp(_fwd, _bwd)


def lstm(x, kernel, recurrent_kernel, bias, h0, c0):
    """Batch-first LSTM: ``x`` is ``(B, T, F)``; returns (outputs ``(B, T, U)``, last h, last c)."""
    xw = jnp.einsum("btf,fg->tbg", x, kernel) + bias
    hs, cs = recurrence(xw, recurrent_kernel, h0, c0)
    return jnp.swapaxes(hs, 0, 1), hs[-1], cs[-1]


def lstm_from_table(tokens, table, recurrent_kernel):
    """Batch-first LSTM over token ids ``(B, T)`` from a zero state, its input projections read from
    ``table`` (vocabulary × 4U, ``embedding @ kernel + bias``); returns the outputs ``(B, T, U)``."""
    h0 = jnp.zeros((tokens.shape[0], recurrent_kernel.shape[0]), table.dtype)
    hs, _ = recurrence(jnp.take(table, tokens.T, axis=0), recurrent_kernel, h0, h0)
    return jnp.swapaxes(hs, 0, 1)
