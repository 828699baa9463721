"""Sampling without Keras in the loop: the LSTM recurrence in NumPy, carrying (h, c) step by step.

Weights are read once from the trained Keras model (gate order i, f, c, o, as Keras stores them).
Each new token costs one step of the recurrence; the prefix is never run again. All tunes of a call
advance together as one batch, which sheds the tunes that have ended once they are half of it
(:meth:`FastStep.rows`): a batch runs as long as its longest tune, and most tunes are much shorter.

:class:`FastStep` is what the sampling loop runs. It folds as much as possible into the weights once,
so that a step is a few NumPy calls on preallocated arrays (on a CPU, per-call overhead, not
arithmetic, is what a step of a small LSTM costs):

- the first layer's input product is a table lookup: ``embedding @ kernel + bias``, one row a token;
- gates are reordered (i, f, o, c) and the sigmoid gates' columns halved, so that one ``tanh`` over
  all gates gives every activation: ``sigmoid(x) = (1 + tanh(x / 2)) / 2``;
- a layer above the first multiplies ``[x, h]`` by its stacked kernels in one product;
- the temperature divides the output layer's weights, not the logits of every step (with the output
  layer fused into the recurrent product, below, it scales the logits: one multiply a step).

That layout is a :class:`Prepared`, made once per model and kept between calls; with ``int8`` its
LSTM products read int8 weights (:mod:`musegen_lstm.fast.int8`, ``model.sampler=numpy-int8``).
"""

from __future__ import annotations

import functools

import numpy as np

from musegen.sampling import _shed, draw, feed_primes, filter_logits, sample_checked, sample_free, start  # noqa: F401


def _sigmoid(x):
    return 0.5 * (np.tanh(0.5 * x) + 1.0)


class NumpyLSTM:
    def __init__(self, embedding, layers, dense_w, dense_b):
        self.embedding = np.asarray(embedding, np.float32)
        self.layers = [tuple(np.asarray(a, np.float32) for a in layer) for layer in layers]  # (W, R, b)
        self.dense_w = np.asarray(dense_w, np.float32)
        self.dense_b = np.asarray(dense_b, np.float32)

    def zero_state(self, n: int):
        return [
            (np.zeros((n, r.shape[0]), np.float32), np.zeros((n, r.shape[0]), np.float32)) for _, r, _ in self.layers
        ]

    def step(self, tokens: np.ndarray, state):
        """One time step for a batch of tokens; returns (logits, new state). The reference that
        :class:`FastStep` is tested against."""
        x = self.embedding[tokens]
        new = []
        for (w, r, b), (h, c) in zip(self.layers, state):
            z = x @ w + h @ r + b
            u = r.shape[0]
            i, f, g, o = (
                _sigmoid(z[:, :u]),
                _sigmoid(z[:, u : 2 * u]),
                np.tanh(z[:, 2 * u : 3 * u]),
                _sigmoid(z[:, 3 * u :]),
            )
            c = f * c + i * g
            h = o * np.tanh(c)
            new.append((h, c))
            x = h
        return x @ self.dense_w + self.dense_b, new


def _reordered(a: np.ndarray, u: int) -> np.ndarray:
    """Gate columns i, f, c, o of ``a`` as i, f, o, c, the sigmoid gates' halved (block copies: fancy
    indexing is ten times slower, and every sampling call pays it)."""
    out = np.empty(a.shape, np.float32)
    out[..., : 2 * u] = a[..., : 2 * u]
    out[..., 2 * u : 3 * u] = a[..., 3 * u :]
    out[..., 3 * u :] = a[..., 2 * u : 3 * u]
    out[..., : 3 * u] *= 0.5
    return out


class Prepared:
    """A :class:`NumpyLSTM`'s weights laid out for :class:`FastStep` (above), made once per model and
    reused by every sampling call until the weights change (``LSTMModel`` keeps it). ``int8``: every
    product of the recurrence through :class:`musegen_lstm.fast.int8.Int8Kernel`.

    With one LSTM layer the output layer's kernel is fused into the recurrent one: ``h @ [R | D]`` gives
    this step's logits and the next step's recurrent part in one product (at 1024 units on a CPU,
    one tune: 13-15% less time a character, float32 and int8 alike, measured in one run).
    """

    def __init__(self, net: NumpyLSTM, int8: bool = False):
        self.fused = len(net.layers) == 1
        self.units = []
        self.weights = []  # per layer: (input table or None, kernel of the product, bias or None)
        for k, (w, r, b) in enumerate(net.layers):
            u = r.shape[0]
            w, r, b = _reordered(w, u), _reordered(r, u), _reordered(b, u)
            if k == 0:  # the product is h @ recurrent kernel; the input's part is a row of the table
                table, kernel, b = np.ascontiguousarray(net.embedding @ w + b, np.float32), r, None
                if self.fused:
                    kernel = np.concatenate([r, np.asarray(net.dense_w, np.float32)], axis=1)
            else:  # one product of [x, h] by the stacked kernels (_reordered gives contiguous float32)
                table, kernel = None, np.concatenate([w, r])
            if int8:
                from musegen_lstm.fast.int8 import Int8Kernel

                kernel = Int8Kernel(kernel)
            self.weights.append((table, kernel, b))
            self.units.append(u)
        self.dense_w, self.dense_b = net.dense_w, net.dense_b


class FastStep:
    """The recurrence of a :class:`NumpyLSTM` (or of its :class:`Prepared` weights) for ``n`` sequences
    at a time, at ``temperature``.

    ``step(tokens)`` advances every sequence by one token and returns the tempered logits ``(n, V)``,
    a buffer that the next step overwrites. ``state``: the arrays a row of which is one sequence's
    state (h and c of each layer, and with a fused output layer the product computed ahead for the
    next step); a row copied back into each of them puts that sequence back where it was.
    """

    def __init__(self, net: NumpyLSTM | Prepared, n: int, temperature: float = 1.0):
        prep = net if isinstance(net, Prepared) else Prepared(net)
        self.prepared, self._temperature = prep, temperature
        self.n, self.units, self.fused = n, prep.units, prep.fused
        self.weights = prep.weights
        vocab = prep.dense_b.shape[0]
        self.h = [np.zeros((n, u), np.float32) for u in self.units]
        self.c = [np.zeros((n, u), np.float32) for u in self.units]
        self.z = [np.empty((n, 4 * u), np.float32) for u in self.units]
        self.xh = [None] + [np.empty((n, self.units[k - 1] + u), np.float32) for k, u in enumerate(self.units) if k]
        self.tmp = [np.empty((n, u), np.float32) for u in self.units]
        self.logits = np.empty((n, vocab), np.float32)
        # views of each layer's gate buffer: sigmoid gates (i, f, o), then i, f, o, c one by one
        self.views = [
            (z[:, : 3 * u], z[:, :u], z[:, u : 2 * u], z[:, 2 * u : 3 * u], z[:, 3 * u :])
            for z, u in zip(self.z, self.units)
        ]
        outs = list(self.z)
        if self.fused:  # h @ [R | D]: the next step's recurrent part, then this step's logits (zero while h is)
            self.ahead = np.zeros((n, 4 * self.units[0] + vocab), np.float32)
            self.recurrent, self.raw_logits = self.ahead[:, : 4 * self.units[0]], self.ahead[:, 4 * self.units[0] :]
            outs[0] = self.ahead
            self.inv_t, self.dense_b = np.float32(1.0 / temperature), (prep.dense_b / temperature).astype(np.float32)
            self.temperature, self.raw_bias = np.float32(temperature), np.asarray(prep.dense_b, np.float32)
        else:
            self.dense_w = np.ascontiguousarray(prep.dense_w / temperature, np.float32)
            self.dense_b = (prep.dense_b / temperature).astype(np.float32)
        # each layer's product as a function of no arguments: (h or [x, h]) @ kernel into its buffer, in place
        self.products = [
            _product(self.h[0] if k == 0 else self.xh[k], kernel, outs[k])
            for k, (_, kernel, _) in enumerate(self.weights)
        ]
        self.state = [*self.h, *self.c] + ([self.ahead] if self.fused else [])
        # advance(tokens): step() without the logits; with a fused output layer the raw ones (h @ D, before
        # the bias and the temperature) are left in raw_logits, and logits is not written
        self.advance = self._fused_advance() if self.fused else self._advance_layers

    def rows(self, keep: np.ndarray) -> FastStep:
        """A :class:`FastStep` of the sequences in rows ``keep`` alone (in that order), each where it is
        now, its tempered logits included: the batch without the tunes that have ended."""
        new = FastStep(self.prepared, len(keep), self._temperature)
        for mine, theirs in zip(self.state, new.state):
            np.take(mine, keep, axis=0, out=theirs)
        np.take(self.logits, keep, axis=0, out=new.logits)
        return new

    def compiled_loop(self):
        """One tune's draws and steps compiled (:func:`musegen_lstm.fast.int8_loop.one_tune`) where this is one
        tune through one fused LSTM layer with int8 weights on the ``dynamic`` route; else None."""
        kernel = self.weights[0][1]
        if self.n != 1 or not self.fused or getattr(kernel, "route", None) != "dynamic":
            return None
        from musegen_lstm.fast.int8_loop import one_tune

        return one_tune(self, kernel.packed)

    def step(self, tokens) -> np.ndarray:
        """``tokens``: an array of ``n`` ids, or one int when ``n`` is 1."""
        self.advance(tokens)
        if self.fused:
            np.multiply(self.raw_logits, self.inv_t, out=self.logits)
        else:
            np.dot(self.h[-1], self.dense_w, out=self.logits)
        self.logits += self.dense_b
        return self.logits

    def _advance_layers(self, tokens) -> None:
        """:attr:`advance` of layers not fused with the output layer (two or more): their products,
        gates and states, layer by layer."""
        x = None
        for k in range(len(self.units)):
            h, c, z, tmp = self.h[k], self.c[k], self.z[k], self.tmp[k]
            table, _, b = self.weights[k]
            sig, i, f, o, g = self.views[k]
            if k == 0:
                self.products[0]()
                z += table[tokens]
            else:
                xh = self.xh[k]
                xh[:, : x.shape[1]] = x
                xh[:, x.shape[1] :] = h
                self.products[k]()
                z += b
            np.tanh(z, out=z)
            sig += 1.0
            sig *= 0.5
            c *= f
            np.multiply(i, g, out=tmp)
            c += tmp
            np.tanh(c, out=h)
            h *= o
            x = h

    def _fused_advance(self):
        """:attr:`advance` of one layer fused with the output layer: ``h @ R`` was made by the last step's
        product, and this step's product makes the next one's and the raw logits. The same NumPy calls
        as :meth:`_advance_layers`, with the buffers bound once."""
        h, c, z, tmp, (table, _, _) = self.h[0], self.c[0], self.z[0], self.tmp[0], self.weights[0]
        sig, i, f, o, g = self.views[0]
        recurrent, product = self.recurrent, self.products[0]
        add, tanh, multiply, one, half = np.add, np.tanh, np.multiply, np.float32(1.0), np.float32(0.5)

        def advance(tokens) -> None:
            add(recurrent, table[tokens], out=z)
            tanh(z, out=z)
            add(sig, one, out=sig)  # sigmoid(x) = 0.5 tanh(x / 2) + 0.5, the inputs halved in the weights
            multiply(sig, half, out=sig)
            multiply(c, f, out=c)
            multiply(i, g, out=tmp)
            add(c, tmp, out=c)
            tanh(c, out=h)
            multiply(h, o, out=h)
            product()

        return advance


def _product(x: np.ndarray, kernel, out: np.ndarray):
    """A function of no arguments writing ``x @ kernel`` into ``out`` (``x`` read when called)."""
    if isinstance(kernel, np.ndarray):
        return functools.partial(x.dot, kernel, out=out)
    return kernel.product(x, out)


def sample(
    net: NumpyLSTM,
    prime: list[int],
    n: int,
    max_len: int,
    end_id: int,
    temperature=1.0,
    top_k=0,
    top_p=1.0,
    seed=None,
    checker=None,
) -> list[list[int]]:
    """:func:`musegen.sampling.sample` through a :class:`FastStep` of ``net``, with one fast path: a single
    tune without top-k or top-p is drawn by Gumbel-max (:func:`_sample_one_gumbel`)."""
    rng = np.random.default_rng(seed)
    fast = FastStep(net, n, temperature)
    primes, logits = start(fast, prime, n, end_id)
    if checker is not None:
        return sample_checked(fast, logits, rng, primes, n, max_len, end_id, temperature, top_k, top_p, checker)
    if n == 1 and not (top_k and top_k < logits.shape[1]) and top_p >= 1.0:  # one tune, unfiltered: Gumbel-max
        return [_sample_one_gumbel(fast, rng, max_len, end_id)]
    return sample_free(fast, logits, rng, n, max_len, end_id, top_k, top_p)


GUMBEL_ROWS = 256
""":func:`_sample_one_gumbel` draws its noise this many tokens at a time."""


def gumbel_noise(rng: np.random.Generator, rows: int, vocab: int) -> np.ndarray:
    """Gumbel(0, 1) noise as float32, ``-log(-log(u))`` of float64 uniforms in four in-place calls:
    ``rng.gumbel`` computes the same one value at a time, several times slower.
    A uniform of 0 (one chance in 2**53) would give -inf: that token not drawn that step."""
    u = rng.random((rows, vocab))
    with np.errstate(divide="ignore"):
        np.log(u, out=u)
    np.negative(u, out=u)
    np.log(u, out=u)
    np.negative(u, out=u)
    return u.astype(np.float32)


def _sample_one_gumbel(fast: FastStep, rng, max_len: int, end_id: int) -> list[int]:
    """One tune without top-k or top-p, by the Gumbel-max trick: ``argmax(logits + g)``, with ``g``
    independent Gumbel(0, 1) noise for each token of the vocabulary, is a draw from
    ``softmax(logits)``, exactly. Two NumPy calls a token instead of the inverse CDF's six: right
    after a product that streams the weights through the caches, each call costs several times what
    it costs in a loop of its own. With int8
    weights the loop runs compiled where it can (:mod:`musegen_lstm.fast.int8_loop`), on the same noise; else
    with a fused output layer :func:`_fused_block` runs it. The first token is drawn from the logits of
    ``fast``'s last step (the prime's)."""
    noisy = np.empty_like(fast.logits[0])

    def block(noise: np.ndarray, end: int) -> list[int]:  # the Python loop: as the compiled one, a row a token
        return _draw_rows(noise, end, fast.logits[0], fast.step, noisy)  # step writes fast.logits in place

    run = fast.compiled_loop() or (_fused_block(fast) if fast.fused else block)
    one: list[int] = []
    for begin in range(0, max_len, GUMBEL_ROWS):
        one += run(gumbel_noise(rng, min(GUMBEL_ROWS, max_len - begin), noisy.shape[0]), end_id)
        if one[-1] == end_id:
            break
    return one


def _fused_block(fast: FastStep):
    """:func:`_sample_one_gumbel`'s Python loop for a block of noise where the output layer is fused, with
    no arithmetic on the logits a token: ``argmax(raw / T + b / T + g) = argmax(raw + (b + T·g))``, and
    ``b + T·g`` is made for the block at once: two NumPy calls fewer a token. Reads the raw logits ``fast``'s last step
    left (the prime's, or the block before's), and leaves ``fast.logits`` as they were before the draws."""
    raw, noisy = fast.raw_logits[0], np.empty_like(fast.logits[0])

    def block(noise: np.ndarray, end: int) -> list[int]:
        noise *= fast.temperature
        noise += fast.raw_bias
        return _draw_rows(noise, end, raw, fast.advance, noisy)  # advance writes raw in place

    return block


def _draw_rows(noise: np.ndarray, end: int, logits: np.ndarray, advance, noisy: np.ndarray) -> list[int]:
    """Tokens ``argmax(logits + noise[r])``, a row of noise a token, until ``end``; after each other
    token ``advance(token)``, which writes the next step's ``logits`` into that same buffer."""
    out = []
    for row in noise:
        np.add(logits, row, out=noisy)
        tok = int(noisy.argmax())
        out.append(tok)
        if tok == end:
            break
        advance(tok)
    return out
