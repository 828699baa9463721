"""Drawing tunes from any recurrent model a token at a time: temperature, top-k, top-p, seeds and checkers.

A model gives a :class:`Stepper` (its network advanced one token at a time for many sequences at
once); :func:`sample` does the rest: the primes, the draws, sequences that end early, and a checker's
refused units drawn again (see ``musegen.Checker``). NumPy only, so any array library can plug in.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from musegen.interfaces import Limits


class Stepper(Protocol):
    """``n`` sequences of a recurrent network, advanced together a token at a time, at a temperature.

    ``state`` is the list of arrays whose row ``r`` holds sequence ``r``'s state: a row saved and written
    back puts that sequence back where it was (how a refused bar is drawn again). ``logits`` is the
    last step's buffer.
    """

    state: list[np.ndarray]
    logits: np.ndarray

    def step(self, tokens) -> np.ndarray:
        """Advance each sequence by its token (an int array of ``n``; an int when ``n`` is 1) and return
        the logits divided by the temperature, ``(n, vocabulary)``: a buffer the next step may overwrite."""

    def rows(self, keep: np.ndarray) -> Stepper:
        """A stepper of the sequences in rows ``keep`` alone, each where it is now, logits included."""


def settings(options) -> dict:
    """A ``SampleConfig``'s drawing settings as keyword arguments: :func:`sample` and every sampler of the
    same contract take them by these names."""
    return {
        "n": options.tunes,
        "max_len": options.max_len,
        "temperature": options.temperature,
        "top_k": options.top_k,
        "top_p": options.top_p,
        "seed": options.seed,
    }


def sample(
    stepper: Stepper,
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
    """``n`` sequences continuing ``[end_id] + prime`` (without it), each ending with ``end_id`` if the tune
    finished, at most ``max_len`` tokens. ``prime`` may be a list of ``n`` primes, one for each sequence.
    ``stepper`` is at ``temperature`` already; the same ``seed`` gives the same tunes.

    ``checker`` (see ``musegen.Checker``): a unit it refuses (a bar of ABC, say) is drawn again from
    the state after the last accepted one, and after ``checker.retries`` refusals from the one before;
    while a sequence is in its header (until ``checker.header_done``), it is drawn at
    ``checker.header_temperature`` with neither top-k nor top-p, so that meters and keys come as
    often as the model learned them.
    """
    rng = np.random.default_rng(seed)
    primes, logits = start(stepper, prime, n, end_id)
    if checker is not None:
        return sample_checked(stepper, logits, rng, primes, n, max_len, end_id, temperature, top_k, top_p, checker)
    return sample_free(stepper, logits, rng, n, max_len, end_id, top_k, top_p)


def start(stepper: Stepper, prime: list, n: int, end_id: int) -> tuple[list[list[int]], np.ndarray]:
    """Each sequence's prime, and the logits after it (``[end_id] + prime`` fed to every row)."""
    if prime and isinstance(prime[0], list):  # one prime per tune
        return prime, feed_primes(stepper, prime, end_id)
    for tok in [end_id, *prime]:
        logits = stepper.step(np.full(n, tok, dtype=np.int64))
    return [prime] * n, logits


def sample_free(fast: Stepper, logits, rng, n, max_len, end_id, top_k, top_p) -> list[list[int]]:
    """:func:`sample` without a checker, from the logits after the primes: all tunes advance as one
    batch, which sheds the tunes that have ended once they are half of it."""
    uniforms = rng.random((max_len, n))
    if n == 1:  # one tune: Python scalars, no batch bookkeeping
        one: list[int] = []
        for t in range(max_len):
            tok = _draw_one(logits[0], float(uniforms[t, 0]), top_k, top_p)
            one.append(tok)
            if tok == end_id:
                break
            logits = fast.step(tok)
        return [one]
    out = np.empty((max_len, n), np.int64)
    length = np.full(n, max_len)
    live = np.arange(n)  # the tune in each row of fast
    done = np.zeros(n, dtype=bool)  # of each row of fast
    steps = 0
    for t in range(max_len):
        nxt = draw(logits, uniforms[t, live], top_k, top_p)
        out[t, live] = nxt
        steps = t + 1
        ended = ~done & (nxt == end_id)
        if ended.any():
            length[live[ended]] = t + 1
            done |= ended
            if done.all():
                break
            if _shed(done):
                keep = np.flatnonzero(~done)
                fast, live, nxt, done = fast.rows(keep), live[keep], nxt[keep], done[keep]
        logits = fast.step(nxt)
    return [out[: min(length[i], steps), i].tolist() for i in range(n)]


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


def draw(logits: np.ndarray, u: np.ndarray, top_k: int, top_p: float) -> np.ndarray:
    """One token per row from tempered ``logits`` (overwritten), by inverse CDF with uniforms ``u``.

    The same filtering as :func:`filter_logits`, cheaper: no normalization, and rows are sorted only
    when top-k or top-p asks for it.
    """
    if logits.shape[0] == 1:
        return np.array([_draw_one(logits[0], float(u[0]), top_k, top_p)])
    logits -= logits.max(axis=-1, keepdims=True)
    p = np.exp(logits, out=logits)
    vocab = p.shape[-1]
    if (top_k and top_k < vocab) or top_p < 1.0:
        order = np.argsort(-p, axis=-1)
        sorted_p = np.take_along_axis(p, order, axis=-1)
        cum = np.cumsum(sorted_p, axis=-1)
        keep = cum - sorted_p < top_p * cum[:, -1:]  # the most likely token is always kept
        if top_k and top_k < vocab:
            keep[:, top_k:] = False
        cum = np.cumsum(np.where(keep, sorted_p, 0.0), axis=-1)
        idx = (cum < u[:, None] * cum[:, -1:]).sum(axis=-1)
        return np.take_along_axis(order, np.minimum(idx, vocab - 1)[:, None], axis=-1)[:, 0]
    cum = np.cumsum(p, axis=-1)
    return np.minimum((cum < u[:, None] * cum[:, -1:]).sum(axis=-1), vocab - 1)


def _draw_one(logits: np.ndarray, u: float, top_k: int, top_p: float) -> int:
    """:func:`draw` for one sequence, in fewer and cheaper NumPy calls (this is the 1-tune hot path)."""
    logits -= logits.max()
    p = np.exp(logits, out=logits)
    vocab = p.shape[0]
    if (top_k and top_k < vocab) or top_p < 1.0:
        order = np.argsort(p)[::-1]
        desc = p[order]
        cum = np.cumsum(desc)
        kept = int(np.searchsorted(cum - desc, top_p * cum[-1]))  # mass before a token < top_p: kept
        kept = max(1, min(kept, top_k or vocab))
        pick = int(np.searchsorted(cum, u * cum[kept - 1], side="right"))
        return int(order[min(pick, kept - 1)])
    cum = np.cumsum(p)
    return min(int(np.searchsorted(cum, u * cum[-1], side="right")), vocab - 1)


def feed_primes(fast: Stepper, primes: list[list[int]], end_id: int) -> np.ndarray:
    """Runs each row of ``fast`` through ``[end_id] + primes[row]``, all rows a step at a time; a row whose
    prime ends first is put back where its prime ended. Returns the logits after each row's prime
    (the same, row by row, as feeding each prime alone: tested)."""
    longest = max(map(len, primes))
    saved: list = [None] * len(primes)
    logits = fast.logits
    for t in range(longest + 1):
        tokens = [end_id if t == 0 else p[t - 1] if t <= len(p) else end_id for p in primes]
        logits = fast.step(np.asarray(tokens, np.int64))
        for r, p in enumerate(primes):
            if len(p) == t and t < longest:
                saved[r] = ([a[r].copy() for a in fast.state], logits[r].copy())
    for r, kept in enumerate(saved):
        if kept is not None:
            for a, row in zip(fast.state, kept[0]):
                a[r] = row
            logits[r] = kept[1]
    return logits


def _limit(mask: np.ndarray, limits) -> None:
    """Writes -inf into ``mask`` (zeros, to be added to logits) for each token ``limits`` rule out; a
    token allowed next is never banned out of the way, so one is always left."""
    if limits.next is not None:
        mask[:] = -np.inf
        mask[[t for t in limits.next if t < len(mask)]] = 0.0
    banned = [t for t in limits.banned if t < len(mask)]
    if banned and np.isfinite(mask).sum() > len(banned):
        mask[banned] = -np.inf


def _shed(done: np.ndarray) -> bool:
    """Whether a batch drops the rows of its ended tunes now (``Stepper.rows``): once they are half of it.
    The others keep their uniforms, so they draw the tokens they would have drawn in the whole batch
    where each row's arithmetic is its own (float32 NumPy: tested)."""
    return 2 * int(done.sum()) >= len(done)


DEPTH = 8  # accepted boundaries a sequence remembers: how far back it can go


def sample_checked(fast: Stepper, logits, rng, prime, n, max_len, end_id, temperature, top_k, top_p, checker):
    """Sampling with a checker (see ``musegen.Checker``). Each sequence keeps snapshots of its state
    (length, its row of every array in ``fast.state``, logits, the checker's state) at its last
    accepted boundaries (``prime``: each sequence's own): a refused unit is drawn again from the last one, and after
    ``checker.retries`` refusals from the one before; a unit the checker leaves undecided is checked again
    after its next token. Sequences still in their header are drawn at
    the header temperature, unfiltered; the end of the header is a boundary too."""
    stats = checker.stats
    for key in ("units", "redraws", "backtracks", "kept_wrong"):
        stats.setdefault(key, 0)

    slot = np.arange(n)  # each sequence's row in fast (once done, it may have none)
    live = np.arange(n)  # the sequence in each row of fast

    def snapshot(r, length, state, wrong=False):
        return length, [a[slot[r]].copy() for a in fast.state], logits[slot[r]].copy(), state, wrong, limits[r]

    out: list[list[int]] = [[] for _ in range(n)]
    limits: list = [None] * n  # each sequence's Limits from its last check, if the checker gave any
    masks = np.zeros((n, logits.shape[1]), np.float32)  # ... as -inf on the logits of what they rule out
    limited = False

    def limit(r, given) -> None:
        nonlocal limited
        if given is limits[r]:
            return
        limits[r] = given
        masks[r] = 0.0
        if given is not None:
            limited = True
            _limit(masks[r], given)

    stacks = [[snapshot(r, 0, checker.initial)] for r in range(n)]
    tries, spent = [0] * n, [0] * n
    done = np.zeros(n, dtype=bool)
    pending = np.zeros(n, dtype=bool)  # the checker asked to see one more token of the unit
    header_t = checker.header_temperature
    header = np.array([header_t is not None and not checker.header_done(p) for p in prime], dtype=bool)
    for _ in range(max_len * (checker.retries + 2)):  # a bound on the work, whatever the checker says
        u = rng.random(n)[live]
        nxt = np.empty(len(live), np.int64)  # a token for each row of fast
        if limited:  # the fast step overwrites these logits: a snapshot has its own copy
            logits += masks[live]
        heading = header[live]
        rows = np.flatnonzero(heading)
        if len(rows):
            nxt[rows] = draw(logits[rows] * (temperature / header_t), u[rows], 0, 1.0)
        rows = np.flatnonzero(~heading)
        if len(rows):
            nxt[rows] = draw(logits[rows], u[rows], top_k, top_p)
        due = []
        for r in np.flatnonzero(~done):
            tok = int(nxt[slot[r]])
            out[r].append(tok)
            if limits[r] is not None and limits[r].next is not None:  # drawn: only the ban stays
                limit(r, Limits(banned=limits[r].banned))
            if checker.boundary(tok) or pending[r] or (header[r] and checker.header_done(prime[r] + out[r])):
                due.append(r)  # a unit ends, or the header does: both are checked
            elif tok == end_id or len(out[r]) >= max_len:
                done[r] = True
        accepted, refused = [], []
        if due:
            answers = checker.check([(prime[r] + out[r], stacks[r][-1][3]) for r in due])
            for r, (ok, state, *given) in zip(due, answers):
                pending[r] = ok is None and out[r][-1] != end_id and len(out[r]) < max_len
                if ok is not False or spent[r] >= checker.give_up:  # a refusal kept: the limits it gives
                    limit(r, given[0] if given else None)
                if pending[r]:  # undecided: the unit goes on for a token, then it is checked again
                    continue
                if not ok and spent[r] < checker.give_up:
                    spent[r] += 1
                    refused.append(r)
                    continue
                stats["units"] += 1
                stats["kept_wrong"] += not ok
                tries[r] = 0
                if out[r][-1] == end_id or len(out[r]) >= max_len:
                    done[r] = True
                else:
                    accepted.append((r, state, not ok))
                    if header[r] and checker.header_done(prime[r] + out[r]):
                        header[r] = False
        if done.all():
            break
        logits = fast.step(nxt)
        for r, state, wrong in accepted:  # the state after the boundary token: the new place to come back to
            stacks[r] = stacks[r][-DEPTH:] + [snapshot(r, len(out[r]), state, wrong)]
        for r in refused:
            if tries[r] < checker.retries or len(stacks[r]) == 1:
                tries[r] += 1
                stats["redraws"] += 1
            else:  # this unit will not come right: draw the one before it again too
                dropped = stacks[r].pop()
                tries[r] = 0
                stats["backtracks"] += 1
                stats["units"] -= 1
                stats["kept_wrong"] -= dropped[4]
            length, arrays, lg = stacks[r][-1][:3]
            limit(r, stacks[r][-1][5])
            del out[r][length:]
            for a, saved in zip(fast.state, arrays):
                a[slot[r]] = saved
            logits[slot[r]] = lg
            header[r] = header_t is not None and not checker.header_done(prime[r] + out[r])
        if _shed(done[live]):
            keep = np.flatnonzero(~done[live])
            fast, live = fast.rows(keep), live[keep]
            logits = fast.logits
            slot[live] = np.arange(len(live))
    stats.setdefault("refused", []).extend(spent)  # each tune's refused units, in order
    return out
