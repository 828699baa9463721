"""Sampling without Keras in the loop: the LSTM recurrence in NumPy, carrying (h, c) step by step.

Weights are read once from the trained Keras model (gate order i, f, c, o, as Keras stores them).
Each new token costs one step of the recurrence; the prefix is never run again. All tunes of a call
advance together as one batch.
"""

from __future__ import annotations

import numpy as np


def _sigmoid(x):
    return 0.5 * (np.tanh(0.5 * x) + 1.0)


class NumpyLSTM:
    def __init__(self, embedding, layers, dense_w, dense_b):
        self.embedding = np.asarray(embedding, np.float32)
        self.layers = [tuple(np.asarray(a, np.float32) for a in layer) for layer in layers]  # (W, R, b)
        self.dense_w = np.asarray(dense_w, np.float32)
        self.dense_b = np.asarray(dense_b, np.float32)

    def zero_state(self, n: int):
        return [(np.zeros((n, r.shape[0]), np.float32), np.zeros((n, r.shape[0]), np.float32)) for _, r, _ in self.layers]

    def step(self, tokens: np.ndarray, state):
        """One time step for a batch of tokens; returns (logits, new state)."""
        x = self.embedding[tokens]
        new = []
        for (w, r, b), (h, c) in zip(self.layers, state):
            z = x @ w + h @ r + b
            u = r.shape[0]
            i, f, g, o = _sigmoid(z[:, :u]), _sigmoid(z[:, u:2 * u]), np.tanh(z[:, 2 * u:3 * u]), _sigmoid(z[:, 3 * u:])
            c = f * c + i * g
            h = o * np.tanh(c)
            new.append((h, c))
            x = h
        return x @ self.dense_w + self.dense_b, new


def filter_logits(logits: np.ndarray, temperature: float, top_k: int, top_p: float) -> np.ndarray:
    """Probabilities after temperature, top-k and nucleus (top-p) filtering, row by row."""
    z = logits.astype(np.float64) / temperature
    if top_k and top_k < z.shape[-1]:
        kth = np.partition(z, -top_k, axis=-1)[:, -top_k][:, None]
        z = np.where(z < kth, -np.inf, z)
    z = z - z.max(axis=-1, keepdims=True)
    p = np.exp(z)
    p /= p.sum(axis=-1, keepdims=True)
    if top_p < 1.0:
        order = np.argsort(-p, axis=-1)
        sorted_p = np.take_along_axis(p, order, axis=-1)
        keep_sorted = np.cumsum(sorted_p, axis=-1) - sorted_p < top_p  # always keeps the most likely token
        keep = np.zeros_like(keep_sorted)
        np.put_along_axis(keep, order, keep_sorted, axis=-1)
        p = np.where(keep, p, 0.0)
        p /= p.sum(axis=-1, keepdims=True)
    return p


def sample(net: NumpyLSTM, prime: list[int], n: int, max_len: int, end_id: int,
           temperature=1.0, top_k=0, top_p=1.0, seed=None) -> list[list[int]]:
    """``n`` sequences continuing ``[end_id] + prime``; each ends with ``end_id`` if the tune finished."""
    rng = np.random.default_rng(seed)
    state = net.zero_state(n)
    logits = None
    for tok in [end_id, *prime]:
        logits, state = net.step(np.full(n, tok, dtype=np.int64), state)
    out: list[list[int]] = [[] for _ in range(n)]
    done = np.zeros(n, dtype=bool)
    for _ in range(max_len):
        p = filter_logits(logits, temperature, top_k, top_p)
        u = rng.random((n, 1))
        nxt = np.minimum((np.cumsum(p, axis=-1) < u).sum(axis=-1), p.shape[-1] - 1)
        for i in np.flatnonzero(~done):
            out[i].append(int(nxt[i]))
        done |= nxt == end_id
        if done.all():
            break
        logits, state = net.step(nxt, state)
    return out
