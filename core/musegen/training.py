"""The training loop a model may use instead of writing its own: it supplies a :class:`Network`.

:func:`fit` draws batches keyed by seed and step alone (so a resumed run sees the batches an
uninterrupted one would), pre-trains first where asked, evaluates on held-out data every
``train.eval_every`` steps, writes the ``best`` and ``last`` checkpoints (through the network's
``save``) and ``history.csv``, stops after ``train.patience`` evaluations without a better held-out
loss, honours Ctrl-C and SIGTERM between steps, and reports to a progress bar. It knows no array
library beyond NumPy: a Keras model plugs in through ``musegen_nets.KerasModel``.
"""

from __future__ import annotations

import csv
import io
import math
import time
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from musegen import interrupts
from musegen.atomic import write_text
from musegen.errors import MusegenError
from musegen.interfaces import TrainResult

if TYPE_CHECKING:
    from musegen.config import TrainConfig
    from musegen.interfaces import Progress, TrainData
    from musegen.rundir import RunDir

HISTORY = "history.csv"
COLUMNS = ["step", "train_loss", "valid_loss", "seconds"]


class Network(Protocol):
    """What :func:`fit` trains: one optimizer step, logits for held-out windows, checkpoints."""

    def train_step(self, x: np.ndarray, y: np.ndarray, step: int):
        """One optimizer step on ``x`` -> ``y`` (int32, batch x seq_len). Returns the mean loss in nats,
        or a value ``float()`` reads later: the loop reads it once the next step is dispatched, so
        that a device never waits for the host."""

    def logits(self, x: np.ndarray) -> np.ndarray:
        """Logits (batch x time x vocabulary) for ``x``, from a fresh state: for the held-out loss."""

    def sync(self) -> None:
        """Wait for every dispatched step; runs before evaluating and saving (a no-op for most)."""

    def save(self, run: RunDir, tag: str) -> Path:
        """Write checkpoint ``tag`` (``best`` or ``last``) atomically into ``run``."""


def fit(
    net: Network, data: TrainData, train: TrainConfig, run: RunDir, progress: Progress, start: int = 0
) -> TrainResult:
    """Train ``net`` from step ``start`` (0, or where the ``last`` checkpoint it was loaded from
    stopped) to ``train.total_steps``, and return what happened. The history rows after ``start``
    are dropped: a resumed run records what it does itself."""
    history = [h for h in read_history(run.file(HISTORY)) if h["step"] <= start] if start else []
    if start:
        progress.log(f"resuming at step {start} of {train.total_steps}")
    streams = [data.stream("train")]
    if train.pretrain_steps and data.pretrain:
        streams.insert(0, data.stream("pretrain"))
        progress.log(
            f"pre-training {train.pretrain_steps} steps on {len(data.pretrain)} pieces, "
            f"then {train.steps} steps on the corpus"
        )
    seq = min(train.seq_len, *(len(s) - 1 for s in streams))
    if seq < 2:
        raise MusegenError("the training corpus is too short: fewer than 3 tokens")
    if seq < train.seq_len:
        progress.log(f"corpus shorter than seq_len; training on windows of {seq}")
    valid = data.stream("valid")
    held_out = None
    if len(valid) > 2:
        held_out = windows(valid, min(seq, len(valid) - 1))[: max(1, train.eval_tokens // seq)]
    loop = _Loop(net, train, run, progress, streams, seq, held_out, history)
    t0 = time.perf_counter()
    progress.start(train.total_steps, start)
    with interrupts.deferred():  # Ctrl-C/SIGTERM: finish the step, save the last checkpoint, then stop
        step, loss, stopped = loop.steps(start, t0)
        if interrupts.requested():
            net.save(run, "last")
            write_history(run.file(HISTORY), loop.history)
            progress.log(f"interrupted at step {step}; the last checkpoint is saved")
    if not run.has_checkpoint():  # zero steps asked for: still leave a model to sample from
        net.save(run, "best")
        net.save(run, "last")
    return TrainResult(
        step, loop.best if held_out is not None else None, loss, time.perf_counter() - t0, stopped, loop.history
    )


class _Loop:
    def __init__(self, net, train, run, progress, streams, seq, held_out, history):
        self.net, self.train, self.run, self.progress = net, train, run, progress
        self.streams, self.seq, self.held_out, self.history = streams, seq, held_out, history
        scores = [h["valid_loss"] if h["valid_loss"] is not None else h["train_loss"] for h in history]
        self.best = min(scores) if scores else None
        self.since_best = len(scores) - 1 - scores.index(self.best) if scores else 0  # a resumed run keeps counting

    def batch(self, step: int) -> np.ndarray:
        """The windows of ``step``: they depend on (seed, step) alone, so resuming is exact."""
        train = self.train
        stream = self.streams[0] if step < train.pretrain_steps else self.streams[-1]
        rng = np.random.default_rng([train.seed, step])
        starts = rng.integers(0, len(stream) - self.seq, size=train.batch_size)
        return stream[starts[:, None] + np.arange(self.seq + 1)]

    def read(self, pending) -> float:
        done, value = pending
        value = float(value)  # waits for that step (the next one is queued already)
        if not math.isfinite(value):
            raise MusegenError(f"training diverged at step {done} (loss {value}); lower train.learning_rate")
        self.progress.update(done, loss=value)
        return value

    def steps(self, step: int, t0: float):
        train, net = self.train, self.net
        loss, pending, stopped = None, None, False  # pending: (step, loss not read yet) of the last step
        while step < train.total_steps:
            batch = self.batch(step)
            dispatched = net.train_step(batch[:, :-1], batch[:, 1:], step)
            step += 1
            if pending is not None:
                loss = self.read(pending)
            pending = (step, dispatched)
            if interrupts.requested():
                break
            if step % train.eval_every == 0 or step == train.total_steps:
                loss, pending = self.read(pending), None
                net.sync()
                if self.evaluate(step, loss, t0):
                    stopped = True
                    break
        if pending is not None:
            loss = self.read(pending)
        net.sync()
        return step, loss, stopped

    def evaluate(self, step: int, loss: float, t0: float) -> bool:
        """Held-out loss, checkpoints and history at ``step``; True when patience has run out."""
        train, run = self.train, self.run
        vloss = held_out_loss(self.net.logits, self.held_out, train.batch_size) if self.held_out is not None else None
        self.history.append(
            {
                "step": step,
                "train_loss": round(loss, 5),
                "valid_loss": None if vloss is None else round(vloss, 5),
                "seconds": round(time.perf_counter() - t0, 2),
            }
        )
        score = vloss if vloss is not None else loss
        if self.best is None or score < self.best:
            self.best, self.since_best = score, 0
            self.net.save(run, "best")
        else:
            self.since_best += 1
        self.net.save(run, "last")
        write_history(run.file(HISTORY), self.history)
        self.progress.update(step, loss=loss, valid=score)
        if train.patience and self.since_best >= train.patience and step > train.pretrain_steps:
            self.progress.log(
                f"stopping early at step {step}: no better held-out loss in {self.since_best} evaluations"
            )
            return True
        return False


def windows(stream: np.ndarray, length: int) -> np.ndarray:
    """Non-overlapping (input, target) windows of ``length`` covering ``stream``."""
    n = (len(stream) - 1) // length
    idx = np.arange(n)[:, None] * length + np.arange(length + 1)
    return stream[idx]


def held_out_loss(logits, wins: np.ndarray, batch_size: int) -> float:
    """Mean nats per token of ``wins`` under ``logits(x)``, a batch at a time."""
    total, count = 0.0, 0
    for i in range(0, len(wins), batch_size):
        b = wins[i : i + batch_size]
        nll = token_nll(logits(b[:, :-1]), b[:, 1:].astype(np.int64))
        total += float(nll.sum())
        count += nll.size
    return total / count


def token_nll(logits: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """``-log softmax(logits)[target]`` along the last axis, in float64: each token's negative log-likelihood."""
    logits = np.asarray(logits, dtype=np.float64)
    top = logits.max(axis=-1, keepdims=True)
    logz = np.log(np.exp(logits - top).sum(axis=-1)) + top[..., 0]
    return logz - np.take_along_axis(logits, targets[..., None], axis=-1)[..., 0]


def sequence_nll(logits, sequences: list[list[int]], end_id: int, batch_size: int = 16) -> tuple[float, int]:
    """Total nats and token count of ``sequences`` under ``logits(x)``, each scored from a fresh state
    after ``end_id`` (as tunes are sampled): what ``gen eval`` asks of a model's ``nll``. Rows are
    padded to multiples of 256, so that a compiled network sees few shapes."""
    total, count = 0.0, 0
    order = sorted(range(len(sequences)), key=lambda i: len(sequences[i]))
    for b in range(0, len(order), batch_size):
        group = [sequences[i] for i in order[b : b + batch_size]]
        width = -(-max(len(s) for s in group) // 256) * 256
        x = np.full((len(group), width), end_id, dtype=np.int32)
        y = np.zeros((len(group), width), dtype=np.int64)
        mask = np.zeros((len(group), width), dtype=bool)
        for r, seq in enumerate(group):
            x[r, 1 : len(seq)] = seq[:-1]
            y[r, : len(seq)] = seq
            mask[r, : len(seq)] = True
        total += float((token_nll(logits(x), y) * mask).sum())
        count += int(mask.sum())
    return total, count


def write_history(path: Path, rows: list[dict]) -> None:
    """``history.csv``: a row per evaluation (step, train and held-out loss, seconds since the start)."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    write_text(path, buf.getvalue())


def read_history(path: Path) -> list[dict]:
    """The rows of a run's ``history.csv`` (none if it has none); a corrupt one is an error, as it
    records the held-out losses that chose the best checkpoint."""
    if not path.is_file():
        return []
    rows = []
    try:
        for r in csv.DictReader(path.read_text(encoding="utf-8").splitlines()):
            rows.append(
                {
                    "step": int(r["step"]),
                    "train_loss": float(r["train_loss"]),
                    "valid_loss": float(r["valid_loss"]) if r["valid_loss"] else None,
                    "seconds": float(r["seconds"]),
                }
            )
    except (OSError, UnicodeDecodeError, KeyError, TypeError, ValueError, csv.Error) as exc:
        raise MusegenError(
            f"{path} is corrupt ({type(exc).__name__}: {exc}); it records the held-out losses "
            "that choose the best checkpoint"
        ) from None
    return rows
