"""The sampler compiled with JAX: the whole loop — LSTM step, temperature, top-k, top-p and the draw —
runs inside one ``jax.jit``-compiled ``lax.while_loop`` that stops when every tune has ended.

JAX is one of musegen's own dependencies, so this serves every Keras backend: the weights are read
from the Keras model as arrays, whichever backend trained it.
"""

from __future__ import annotations

import functools

import numpy as np

UNROLL = {"cpu": 1, "gpu": 16}
"""LSTM steps per loop iteration, by platform. On a GPU each iteration of an XLA loop copies its
condition back to the host; several steps per iteration amortize that (``benchmarks/sampler_unroll.py``
measured the choice). A tune that ends inside an iteration is cut at its end as usual."""


@functools.cache
def _compiled():
    import jax
    import jax.numpy as jnp

    def step(params, table, tokens, state):
        _, layers, dense_w, dense_b = params
        new, x = [], None
        for k, ((w, r, b), (h, c)) in enumerate(zip(layers, state)):
            # the first layer's input projection is a row of the table (embedding @ kernel + bias)
            z = (table[tokens] if k == 0 else x @ w + b) + h @ r
            i, f, g, o = jnp.split(z, 4, axis=-1)
            c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
            h = jax.nn.sigmoid(o) * jnp.tanh(c)
            new.append((h, c))
            x = h
        return x @ dense_w + dense_b, tuple(new)

    def filtered(logits, temperature, top_k, top_p, nucleus):
        z = logits / temperature
        if top_k:
            kth = jax.lax.top_k(z, top_k)[0][:, -1:]
            z = jnp.where(z < kth, -jnp.inf, z)
        if not nucleus:
            return z
        sorted_z = -jnp.sort(-z, axis=-1)
        probs = jax.nn.softmax(sorted_z, axis=-1)
        keep = (jnp.cumsum(probs, axis=-1) - probs) < top_p  # the most likely token is always kept
        cutoff = jnp.min(jnp.where(keep, sorted_z, jnp.inf), axis=-1, keepdims=True)
        return jnp.where(z < cutoff, -jnp.inf, z)

    @functools.partial(jax.jit, static_argnames=("max_len", "top_k", "nucleus", "unroll"))
    def run(params, prime, key, temperature, top_p, end_id, *, max_len, top_k, nucleus, unroll):
        emb, layers, _, _ = params
        w0, _, b0 = layers[0]
        table = emb @ w0 + b0
        n = prime.shape[0]
        state = tuple((jnp.zeros((n, r.shape[0])), jnp.zeros((n, r.shape[0]))) for _, r, _ in layers)

        def feed(carry, tokens):
            _, state = carry
            return step(params, table, tokens, state), None

        init_logits = jnp.zeros((n, params[2].shape[1]))
        (logits, state), _ = jax.lax.scan(feed, (init_logits, state), prime.T)
        out = jnp.zeros((n, max_len + unroll), jnp.int32)  # room for the last iteration's overshoot
        done = jnp.zeros((n,), bool)
        length = jnp.full((n,), max_len, jnp.int32)

        def cond(carry):
            i, _, _, _, done, _, _ = carry
            return (i < max_len) & ~jnp.all(done)

        def body(carry):
            i, logits, state, key, done, out, length = carry
            for _ in range(unroll):
                key, sub = jax.random.split(key)
                tok = jax.random.categorical(sub, filtered(logits, temperature, top_k, top_p, nucleus)).astype(
                    jnp.int32
                )
                out = jax.lax.dynamic_update_slice(out, tok[:, None], (0, i))
                ended = ~done & (tok == end_id) & (i < max_len)
                length = jnp.where(ended, i + 1, length)
                done = done | ended
                logits, state = step(params, table, tok, state)
                i = i + 1
            return i, logits, state, key, done, out, length

        carry = (jnp.int32(0), logits, state, key, done, out, length)
        _, _, _, _, _, out, length = jax.lax.while_loop(cond, body, carry)
        return out, length

    return run


def sample(
    net,
    prime: list[int],
    n: int,
    max_len: int,
    end_id: int,
    temperature=1.0,
    top_k=0,
    top_p=1.0,
    seed=None,
    unroll: int | None = None,
) -> list[list[int]]:
    """Same contract as :func:`musegen_lstm.fast.sampling.sample`, compiled. ``net`` has a ``NumpyLSTM``'s
    attributes (``embedding``, ``layers`` of ``(W, R, b)``, ``dense_w``, ``dense_b``) as NumPy arrays,
    JAX arrays or PyTorch tensors (read in place through DLPack: on a GPU the weights are not copied
    through the host). ``unroll``: LSTM steps per loop iteration (default: :data:`UNROLL` for the
    platform); the tunes drawn do not depend on it."""
    import jax
    import jax.numpy as jnp

    params = (
        _array(net.embedding),
        tuple(tuple(_array(a) for a in layer) for layer in net.layers),
        _array(net.dense_w),
        _array(net.dense_b),
    )
    tokens = jnp.asarray(np.tile(np.asarray([end_id, *prime], np.int32), (n, 1)))
    key = jax.random.PRNGKey(0 if seed is None else seed)
    top_k = min(top_k, net.dense_w.shape[1]) if top_k else 0
    out, length = _compiled()(
        params,
        tokens,
        key,
        jnp.float32(temperature),
        jnp.float32(top_p),
        end_id,
        max_len=max_len,
        top_k=top_k,
        nucleus=bool(top_p < 1.0),
        unroll=unroll or UNROLL.get(jax.default_backend(), UNROLL["gpu"]),
    )
    out, length = np.asarray(out), np.asarray(length)
    return [out[i, : length[i]].tolist() for i in range(n)]


def _array(a):
    """``a`` as a JAX array on JAX's default device, without a copy where it already lives there."""
    import jax
    import jax.numpy as jnp

    if not isinstance(a, (np.ndarray, jax.Array)) and hasattr(a, "__dlpack__"):  # a PyTorch tensor
        a = jax.dlpack.from_dlpack(a.detach() if hasattr(a, "detach") else a)
    return jax.device_put(jnp.asarray(a, jnp.float32), jax.devices()[0])
