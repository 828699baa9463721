"""Scoring held-out tunes without Keras: the negative log-likelihood through the NumPy recurrence.

``gen eval`` scores the held-out tunes of a run it opened without Keras (``musegen_lstm.fast.trained``):
the same numbers as the Keras model's ``nll``, computed by :class:`musegen_lstm.fast.sampling.FastStep`,
the recurrence the sampler runs, so that the command never imports Keras (whose import costs more
than the scoring).
"""

from __future__ import annotations

import numpy as np

from musegen.sampling import _shed
from musegen.training import token_nll
from musegen_lstm.fast.sampling import FastStep

BATCH = 64
"""Tunes scored together: one row each, in order of length, so that a batch ends together."""


def nll(prepared, sequences: list[list[int]], end_id: int) -> tuple[float, int]:
    """Total negative log-likelihood (nats) of ``sequences`` and their token count, each scored from a
    fresh state after ``end_id`` (as tunes are sampled), by the weights of ``prepared`` (a
    :class:`musegen_lstm.fast.sampling.Prepared`)."""
    total, count = 0.0, 0
    order = sorted(range(len(sequences)), key=lambda i: len(sequences[i]))
    for b in range(0, len(order), BATCH):
        group = [sequences[i] for i in order[b : b + BATCH]]
        total += _batch_nll(prepared, group, end_id)
        count += sum(map(len, group))
    return total, count


def _batch_nll(prepared, group: list[list[int]], end_id: int) -> float:
    """The summed negative log-likelihood of the sequences of ``group`` (shortest first), a step for each
    token; a row leaves the batch once its sequence is scored and they are half of it."""
    lengths = np.array([len(s) for s in group])
    width = int(lengths.max(initial=0))
    tokens = np.full((len(group), width), end_id, np.int64)
    for r, seq in enumerate(group):
        tokens[r, : len(seq)] = seq
    fast, live, total = FastStep(prepared, len(group), 1.0), np.arange(len(group)), 0.0
    inputs = np.full(len(group), end_id, np.int64)
    for t in range(width):
        targets = tokens[live, t]
        total += float((token_nll(fast.step(inputs), targets) * (lengths[live] > t)).sum())
        inputs = targets
        done = lengths[live] <= t + 1  # scored whole
        if _shed(done) and not done.all():
            keep = np.flatnonzero(~done)
            fast, live, inputs = fast.rows(keep), live[keep], inputs[keep]
    return total
