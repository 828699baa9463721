"""The LSTM recurrence for training on a CPU with TensorFlow: XLA-compiled loops, a hand-written backward pass.

On a CPU Keras's TensorFlow LSTM is its generic loop in graph mode (Keras turns XLA off on machines
without a GPU): ``x @ kernel`` inside every time step, a dozen small ops a step, and TensorFlow
differentiating the loop. Here, as in :mod:`musegen_lstm.fast.jax_lstm` (read it first: the same steps,
layouts and saved arrays), the input projection is done outside the loop — one product over the whole
sequence (:func:`lstm`) or rows of a table (:func:`lstm_from_table`, see :mod:`musegen_lstm.fast.net`) — and
the forward loop and the backward loop are each one ``tf.function(jit_compile=True)``: XLA fuses each
step's elementwise work, which graph mode runs op by op. Each gate is its own product, sigmoids are
computed through ``tanh``, the backward loop carries only the state gradients, and the recurrent
kernels' gradients are one product over all steps. Results match Keras's LSTM (gate order i, f, c, o)
to float32 rounding.

**Layouts.** Up to :data:`COLUMNS_ABOVE` units the loops hold a batch as ``(B, U)`` and multiply
``h @ kernel``; above, as ``(U, B)`` and ``kernelᵀ @ h``, faster at large sizes, as in jax_lstm.

**Rows split.** Up to :data:`COLUMNS_ABOVE` units a small product runs on one core, so a batch's rows
are split into one share per core (at least :data:`MIN_ROWS` each): each share's loops are their own
XLA calls, which TensorFlow's inter-op threads run at the same time; the kernels' gradients are
summed. In columns the products are wide enough for every core: no split.

**bfloat16.** Under ``mixed_bfloat16``, on a CPU with bfloat16 instructions
(:func:`musegen_lstm.fast.layer.cpu_dtype`), each step's recurrent products, forward and backward, read
bfloat16 and sum into float32 (``BatchMatMulV3`` with a float32 result); everything else stays float32, as in
:mod:`musegen_lstm.fast.jax_lstm`. Under the other mixed
precisions, or without the instructions, the loops compute in float32.

Only where TensorFlow sees no GPU (there Keras runs cuDNN): :mod:`musegen_lstm.fast.layer` and
:mod:`musegen_lstm.fast.net` decide.
"""

from __future__ import annotations

import tensorflow as tf

from musegen_lstm.env import cpu_cores as _cores  # a name of this module: tests set how many cores it sees

COLUMNS_ABOVE = 512  # units: the loops hold a batch as (U, B) above this
MIN_ROWS = 8  # rows per share: fewer make products too thin to gain from another core


def _sigmoid(x):
    return 0.5 * tf.tanh(0.5 * x) + 0.5


def _mm(state, held, columns: bool):
    """``state @ held`` (in columns ``held @ state``), float32; with bfloat16 kernels the state is read
    in bfloat16 and the products summed into float32 (XLA's CPU product into bfloat16 is slower than
    float32's; into float32 it is about twice as fast)."""
    if held.dtype != tf.bfloat16:
        return tf.matmul(held, state) if columns else tf.matmul(state, held)
    state = tf.cast(state, tf.bfloat16)
    return _into_float32(held, state) if columns else _into_float32(state, held)


def _into_float32(x, y, adj_x: bool = False, adj_y: bool = False):
    """``x @ y`` (each transposed where asked) of bfloat16 matrices, summed into float32."""
    return tf.raw_ops.BatchMatMulV3(x=x, y=y, adj_x=adj_x, adj_y=adj_y, Tout=tf.float32)


@tf.function(jit_compile=True, reduce_retracing=True)
def _forward(inputs, tok, rs, h0, c0, columns: bool):
    """The forward loop. ``inputs``: four held gate-input arrays ``(T, ...)``, or, with ``tok``
    ``(T, B)`` token ids, four held tables (``(V, U)``, in columns ``(U, V)``) read row by row.
    ``rs``: the four held recurrent kernels. Returns every step's (h, c before it, i, f, g, o), held,
    and the last c."""
    steps = tf.shape(tok if tok is not None else inputs[0])[0]

    def body(t, h, c, arrays):
        if tok is None:
            z = [x[t] for x in inputs]
        else:
            z = [tf.gather(table, tok[t], axis=1 if columns else 0) for table in inputs]
        i = _sigmoid(z[0] + _mm(h, rs[0], columns))
        f = _sigmoid(z[1] + _mm(h, rs[1], columns))
        g = tf.tanh(z[2] + _mm(h, rs[2], columns))
        o = _sigmoid(z[3] + _mm(h, rs[3], columns))
        c_next = f * c + i * g
        h = o * tf.tanh(c_next)
        return t + 1, h, c_next, [a.write(t, v) for a, v in zip(arrays, (h, c, i, f, g, o))]

    arrays = [tf.TensorArray(h0.dtype, size=steps) for _ in range(6)]
    _, _, c, arrays = tf.while_loop(lambda t, *_: t < steps, body, (0, h0, c0, arrays))
    return [a.stack() for a in arrays], c


@tf.function(jit_compile=True, reduce_retracing=True)
def _backward(saved, rs, h0, dhs, dc_last, columns: bool):
    """The backward loop over what :func:`_forward` saved, from the outputs' gradients ``dhs`` (held,
    ``(T, ...)``) and the last c's. Returns the four gate inputs' gradients (held, ``(T, ...)``), the
    four held kernels' gradients, and h0's and c0's."""
    hs, c_prev, i, f, g, o = saved
    steps = tf.shape(hs)[0]
    wts = [tf.transpose(r) for r in rs]

    def body(k, dh_next, dc_next, arrays):
        t = steps - 1 - k
        it, ft, gt, ot, ct = i[t], f[t], g[t], o[t], c_prev[t]
        tc = tf.tanh(ft * ct + it * gt)
        dh = dhs[t] + dh_next
        dc = dc_next + dh * ot * (1.0 - tc * tc)
        dz = (
            dc * gt * it * (1.0 - it),
            dc * ct * ft * (1.0 - ft),
            dc * it * (1.0 - gt * gt),
            dh * tc * ot * (1.0 - ot),
        )
        dh_prev = tf.add_n([_mm(d, w, columns) for d, w in zip(dz, wts)])
        return k + 1, dh_prev, dc * ft, [a.write(t, d) for a, d in zip(arrays, dz)]

    arrays = [tf.TensorArray(h0.dtype, size=steps) for _ in range(4)]
    _, dh0, dc0, arrays = tf.while_loop(lambda k, *_: k < steps, body, (0, tf.zeros_like(h0), dc_last, arrays))
    dzs = [a.stack() for a in arrays]
    # Σ over steps and rows of h_before ⊗ dz: step 0 reads h0, the others the h of the step before
    if rs[0].dtype == tf.bfloat16:
        drs = _outer_bfloat16(tf.concat([h0[None], hs[:-1]], 0), dzs, columns)
    else:
        outer = "tib,tob->oi" if columns else "tbi,tbo->io"  # (h, dz) -> the held kernel's gradient
        drs = [tf.einsum(outer, hs[:-1], dz[1:]) + tf.einsum(outer, h0[None], dz[:1]) for dz in dzs]
    return dzs, drs, dh0, dc0


def _outer_bfloat16(h_before, dzs, columns: bool):
    """The held kernels' gradients as :func:`_backward` sums them, the products reading bfloat16 and
    summing into float32: a third of a step's products, and float32's were most of a bfloat16 step's
    time (LSTM 1024, one (1024, 6400) x (6400, 1024) a gate)."""

    def flat(a):  # (T, ...) held -> (T·B, U) rows, or (U, T·B) columns
        a = tf.cast(a, tf.bfloat16)
        if columns:
            return tf.reshape(tf.transpose(a, [1, 0, 2]), [tf.shape(a)[1], -1])
        return tf.reshape(a, [-1, a.shape[-1]])

    h = flat(h_before)
    if columns:
        return [_into_float32(flat(dz), h, adj_y=True) for dz in dzs]
    return [_into_float32(h, flat(dz), adj_x=True) for dz in dzs]


def _held(a, columns: bool):
    """``(..., B, U)`` → the loops' layout, and back (its own inverse); a table ``(V, U)`` likewise."""
    return tf.linalg.matrix_transpose(a) if columns else a


def shares(batch, units: int) -> int:
    """How many shares a recurrence over ``batch`` rows (an int, or None when not known when traced)
    is split into: one per core this process may use, at least :data:`MIN_ROWS` rows each, all the
    same size; 1 in columns."""
    if batch is None or units > COLUMNS_ABOVE:
        return 1
    return max((k for k in range(2, _cores() + 1) if batch % k == 0 and batch // k >= MIN_ROWS), default=1)


def path(batch, units: int, dtype: str = "float32") -> str:
    """The name :attr:`musegen_lstm.fast.layer.LSTM.path` records for this recurrence, its recurrent
    products in ``dtype``."""
    n = shares(batch, units)
    return (
        "musegen-tf-xla-loops"
        + (", kernel on the left" if units > COLUMNS_ABOVE else "")
        + (f", rows split in {n} concurrent shares" if n > 1 else "")
        + (f", {dtype} products" if dtype != "float32" else "")
    )


def _recurrence(inputs, tok, rs, h0, c0, dtype: str):
    """Every step's h ``(T, B, U)`` and the last c, from four gate inputs ``(T, B, U)`` (``tok`` None)
    or four ``(V, U)`` tables read by the token ids ``tok`` ``(T, B)``; ``rs``: the four ``(U, U)``
    recurrent kernels, multiplied in ``dtype``; ``h0``, ``c0``: ``(B, U)``; all float32.
    Differentiable in everything but ``tok``."""
    units = rs[0].shape[0]
    columns, n = units > COLUMNS_ABOVE, shares(h0.shape[0], units)
    rows_of_steps, rows_of_state = (2, 1) if columns else (1, 0)  # the batch's axis in held (T, ...) and state arrays

    def shared(a, axis):
        """``a`` (held) cut into the ``n`` shares' rows."""
        return tf.split(a, n, axis=axis) if n > 1 else [a]

    @tf.custom_gradient
    def run(*args):
        # the loops are differentiated by hand (grad below): no tape may record them (in eager mode
        # TensorFlow would otherwise make the compiled forward loop keep what its own gradient needs)
        args = [tf.stop_gradient(a) for a in args]
        held = [_held(a, columns) for a in args]
        inputs, rs, h0, c0 = held[:4], [tf.cast(r, dtype) for r in held[4:8]], held[8], held[9]
        if tok is None:
            toks, ins = [None] * n, list(zip(*[shared(z, rows_of_steps) for z in inputs]))
        else:  # every share reads the whole tables with its own tokens
            toks, ins = shared(tok, 1), [inputs] * n
        h0s, c0s = shared(h0, rows_of_state), shared(c0, rows_of_state)
        runs = [_forward(list(x), t, rs, h, c, columns) for x, t, h, c in zip(ins, toks, h0s, c0s)]
        hs = tf.concat([_held(saved[0], columns) for saved, _ in runs], 1)
        c = tf.concat([_held(c_last, columns) for _, c_last in runs], 0)

        def grad(dhs, dc):
            dhs, dc = tf.stop_gradient(dhs), tf.zeros_like(c) if dc is None else tf.stop_gradient(dc)
            parts = [
                _backward(saved, rs, h, d, e, columns)
                for (saved, _), h, d, e in zip(
                    runs, h0s, shared(_held(dhs, columns), rows_of_steps), shared(_held(dc, columns), rows_of_state)
                )
            ]
            # per gate, each share's gate-input gradients, (T, B, U) again
            dzs = [[_held(p[0][k], columns) for p in parts] for k in range(4)]
            if tok is None:
                dinputs = [tf.concat(dz, 1) for dz in dzs]
            else:  # summed into the tables' rows
                vocab, ids = tf.shape(args[0])[0], [tf.reshape(t, [-1]) for t in toks]
                dinputs = [
                    tf.add_n(
                        [tf.math.unsorted_segment_sum(tf.reshape(d, [-1, units]), i, vocab) for d, i in zip(dz, ids)]
                    )
                    for dz in dzs
                ]
            drs = [_held(tf.add_n([p[1][k] for p in parts]), columns) for k in range(4)]
            dh0 = tf.concat([_held(p[2], columns) for p in parts], 0)
            dc0 = tf.concat([_held(p[3], columns) for p in parts], 0)
            return (*dinputs, *drs, dh0, dc0)

        return (hs, c), grad

    return run(*inputs, *rs, h0, c0)


def _gates(a):
    return tf.split(a, 4, axis=-1)


def lstm(x, kernel, recurrent_kernel, bias, h0, c0, dtype: str = "float32"):
    """Batch-first LSTM, float32: ``x`` is ``(B, T, F)``; returns (outputs ``(B, T, U)``, last h, last c).
    ``dtype``: the type of the recurrent products (module docstring, **bfloat16**)."""
    zs = [tf.einsum("btf,fu->tbu", x, k) + b for k, b in zip(_gates(kernel), _gates(bias))]
    hs, c = _recurrence(zs, None, _gates(recurrent_kernel), h0, c0, dtype)
    return tf.transpose(hs, [1, 0, 2]), hs[-1], c


def lstm_from_table(tokens, table, recurrent_kernel, dtype: str = "float32"):
    """Batch-first LSTM over token ids ``(B, T)`` from a zero state, its input projections read from
    ``table`` (vocabulary × 4U, ``embedding @ kernel + bias``); returns the outputs ``(B, T, U)``.
    ``dtype``: as :func:`lstm`."""
    units = recurrent_kernel.shape[0]
    h0 = tf.zeros(tf.stack([tf.shape(tokens)[0], units]), table.dtype)
    h0.set_shape([tokens.shape[0], units])
    # Transposed as float32 (ids below 2**24 are exact): TensorFlow's oneDNN transpose of int32 logs an
    # error line ("oneDNN supports DT_INT32 only on platforms with AVX-512") on CPUs without it, and runs.
    tok = tf.cast(tf.transpose(tf.cast(tokens, tf.float32)), tokens.dtype)
    hs, _ = _recurrence(_gates(table), tok, _gates(recurrent_kernel), h0, h0, dtype)
    return tf.transpose(hs, [1, 0, 2])
