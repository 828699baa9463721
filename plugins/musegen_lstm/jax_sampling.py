"""The sampler compiled with JAX: the whole loop — LSTM step, temperature, top-k, top-p and the draw —
runs inside one ``jax.jit``-compiled ``lax.while_loop`` that stops when every tune has ended.

JAX is one of musegen's own dependencies, so this serves every Keras backend: the weights are read
from the Keras model as arrays, whichever backend trained it.
"""

from __future__ import annotations

import functools

import numpy as np


@functools.cache
def _compiled():
    import jax
    import jax.numpy as jnp

    def step(params, tokens, state):
        emb, layers, dense_w, dense_b = params
        x = emb[tokens]
        new = []
        for (w, r, b), (h, c) in zip(layers, state):
            z = x @ w + h @ r + b
            i, f, g, o = jnp.split(z, 4, axis=-1)
            c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
            h = jax.nn.sigmoid(o) * jnp.tanh(c)
            new.append((h, c))
            x = h
        return x @ dense_w + dense_b, tuple(new)

    def filtered(logits, temperature, top_k, top_p):
        z = logits / temperature
        if top_k:
            kth = jax.lax.top_k(z, top_k)[0][:, -1:]
            z = jnp.where(z < kth, -jnp.inf, z)
        sorted_z = -jnp.sort(-z, axis=-1)
        probs = jax.nn.softmax(sorted_z, axis=-1)
        keep = (jnp.cumsum(probs, axis=-1) - probs) < top_p  # the most likely token is always kept
        cutoff = jnp.min(jnp.where(keep, sorted_z, jnp.inf), axis=-1, keepdims=True)
        return jnp.where(z < cutoff, -jnp.inf, z)

    @functools.partial(jax.jit, static_argnames=("max_len", "top_k"))
    def run(params, prime, key, temperature, top_p, end_id, *, max_len, top_k):
        n = prime.shape[0]
        units = [r.shape[0] for _, r, _ in params[1]]
        state = tuple((jnp.zeros((n, u)), jnp.zeros((n, u))) for u in units)

        def feed(carry, tokens):
            _, state = carry
            logits, state = step(params, tokens, state)
            return (logits, state), None

        init_logits = jnp.zeros((n, params[2].shape[1]))
        (logits, state), _ = jax.lax.scan(feed, (init_logits, state), prime.T)
        out = jnp.zeros((n, max_len), jnp.int32)
        done = jnp.zeros((n,), bool)
        length = jnp.full((n,), max_len, jnp.int32)

        def cond(carry):
            i, _, _, _, done, _, _ = carry
            return (i < max_len) & ~jnp.all(done)

        def body(carry):
            i, logits, state, key, done, out, length = carry
            key, sub = jax.random.split(key)
            tok = jax.random.categorical(sub, filtered(logits, temperature, top_k, top_p)).astype(jnp.int32)
            out = out.at[:, i].set(tok)
            ended = ~done & (tok == end_id)
            length = jnp.where(ended, i + 1, length)
            logits, state = step(params, tok, state)
            return i + 1, logits, state, key, done | ended, out, length

        carry = (jnp.int32(0), logits, state, key, done, out, length)
        _, _, _, _, _, out, length = jax.lax.while_loop(cond, body, carry)
        return out, length

    return run


def sample(net, prime: list[int], n: int, max_len: int, end_id: int, temperature=1.0, top_k=0, top_p=1.0,
           seed=None) -> list[list[int]]:
    """Same contract as :func:`musegen_lstm.sampling.sample`, compiled; ``net`` is a ``NumpyLSTM``."""
    import jax
    import jax.numpy as jnp

    params = (jnp.asarray(net.embedding), tuple(tuple(jnp.asarray(a) for a in layer) for layer in net.layers),
              jnp.asarray(net.dense_w), jnp.asarray(net.dense_b))
    tokens = jnp.asarray(np.tile(np.asarray([end_id, *prime], np.int32), (n, 1)))
    key = jax.random.PRNGKey(0 if seed is None else seed)
    top_k = min(top_k, net.dense_w.shape[1]) if top_k else 0
    out, length = _compiled()(params, tokens, key, jnp.float32(temperature), jnp.float32(top_p), end_id,
                              max_len=max_len, top_k=top_k)
    out, length = np.asarray(out), np.asarray(length)
    return [out[i, : length[i]].tolist() for i in range(n)]
