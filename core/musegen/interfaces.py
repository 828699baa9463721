"""What each kind of component provides. Plugins may subclass these or just match their shape."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from musegen.piece import Format, Piece

if TYPE_CHECKING:
    from musegen.config import SampleConfig, TrainConfig
    from musegen.rundir import RunDir


@dataclass
class Loaded:
    """What a corpus could read: pieces, and the items it skipped with the reason for each."""

    pieces: list[Piece]
    skipped: list[tuple[str, str]] = field(default_factory=list)
    name: str = ""


class Corpus(Protocol):
    def load(self) -> Loaded: ...


class Encoder(Protocol):
    """Turns pieces into token ids and back (see ``hookspecs.register_encoders``). Optional, each used where
    present: ``augment(pieces)``, ``checker(options)``, ``checker_config``, ``valid(piece)``, ``primes(options)``,
    ``choices()``, ``learn_controls(pieces)``."""

    format: Format
    vocab_size: int
    end_id: int

    def fit(self, pieces: list[Piece]) -> None: ...
    def encode(self, piece: Piece) -> list[int]: ...
    def encode_prime(self, text: str) -> list[int]: ...
    def decode(self, ids: list[int]) -> Piece: ...
    def state(self) -> dict: ...
    def load_state(self, state: dict) -> None: ...


@dataclass(frozen=True)
class Limits:
    """What a sequence may draw after a check: its next token only one of ``next`` (None: any), and
    none of ``banned`` until its next check (the end token while a tune's form is not complete, say)."""

    next: frozenset[int] | None = None
    banned: frozenset[int] = frozenset()


class Checker(Protocol):
    """Checks a sequence unit by unit while a model samples it, so that the model can draw a refused
    unit again (each bar of an ABC tune, say). Encoders may make one: ``encoder.checker(options)``;
    models may take one: ``model.sample(prime, options, end_id, checker=...)``.

    The model calls ``check`` for the sequences that just drew a token for which ``boundary(token)``
    is true (the end token may be one) or that just finished their header, with their ids so far (prime
    included) and the state ``check``
    returned at their last accepted boundary (``initial`` at first); ``check`` answers ``(ok, state)``
    for each. A refused unit is drawn again from the last accepted boundary; after ``retries``
    refusals the model goes back one more boundary, and after ``give_up`` draws in all keeps what it
    has. ``ok`` None leaves the unit undecided: the model draws one more token and asks again (an
    ABC bar line ``|`` may be the start of ``||``). An answer may carry a third item, :class:`Limits`
    on what the sequence may draw next (for a refusal: if it is kept after ``give_up``); a model that
    cannot apply them just draws, and the checker refuses what breaks them. While a sequence is in its header
    (until ``header_done(ids)``) the model draws it at
    ``header_temperature`` without top-k or top-p (``None``: no header). The model counts what it
    did in ``stats``: ``units``, ``redraws``, ``backtracks``, ``kept_wrong``.
    """

    retries: int
    give_up: int
    initial: object
    header_temperature: float | None
    stats: dict

    def boundary(self, token: int) -> bool: ...
    def check(self, items: list[tuple[list[int], object]]) -> list[tuple[bool, object]]: ...
    def header_done(self, ids: list[int]) -> bool: ...
    def close(self) -> None: ...


@dataclass
class TrainData:
    """Token ids for a model: one list per piece, each already ending with the encoder's ``end_id``.

    ``pretrain`` holds pieces of other corpora that a model trains on first, for
    ``TrainConfig.pretrain_steps`` steps, before ``train`` (fine-tuning); it may be empty, and a
    model that cannot pre-train may ignore it.
    """

    train: list[list[int]]
    valid: list[list[int]]
    end_id: int
    vocab_size: int
    pretrain: list[list[int]] = field(default_factory=list)

    def stream(self, which: str = "train"):
        """All pieces of a split ("train", "valid" or "pretrain") as one array, starting with ``end_id``."""
        import numpy as np

        pieces = {"train": self.train, "valid": self.valid, "pretrain": self.pretrain}[which]
        out = [self.end_id]
        for p in pieces:
            out.extend(p)
        return np.asarray(out, dtype=np.int32)


@dataclass
class TrainResult:
    steps: int
    best_valid_loss: float | None
    last_train_loss: float | None
    seconds: float
    stopped_early: bool = False
    history: list[dict] = field(default_factory=list)


class Progress(Protocol):
    """A progress sink that models report to; the CLI shows it as a bar."""

    def start(self, total: int, done: int = 0) -> None: ...
    def update(self, done: int, **metrics: float) -> None: ...
    def log(self, message: str) -> None: ...


class NullProgress:
    def start(self, total: int, done: int = 0) -> None:
        pass

    def update(self, done: int, **metrics: float) -> None:
        pass

    def log(self, message: str) -> None:
        pass


class Model(Protocol):
    """A model of token ids: it never sees music, so it works with any encoder.

    A plugin registers the class; musegen calls ``cls(config, vocab_size)`` to train one and
    ``cls.load(config, vocab_size, run, tag)`` to open a trained one. The conventions:

    - Token ids: the encoder's ``encode`` ends every piece with ``end_id``; ``TrainData.stream(split)``
      is a split's pieces one after another, starting with ``end_id``.
    - ``fit(data, train, run, progress)`` honours ``train.total_steps`` (``pretrain_steps`` on
      ``data.pretrain``, then ``steps`` on ``data.train``), ``seed``, and where they apply
      ``batch_size``, ``seq_len``, ``learning_rate``, ``schedule``, ``warmup_steps``, ``clipnorm``,
      ``eval_every`` (a held-out evaluation and both checkpoints), ``eval_tokens`` and ``patience``;
      it reports through ``progress`` and returns a :class:`TrainResult`. :func:`musegen.training.fit`
      does all of that for a model that gives one training step and logits.
    - Checkpoints: ``save(run, tag)`` writes ``best`` (the lowest held-out loss: what ``gen generate``
      samples) and ``last`` (for ``--resume``) as files of ``run.file(name)``, atomically
      (:mod:`musegen.atomic`). The core asks the run whether a checkpoint exists; it knows no file name.
    - Ctrl-C and SIGTERM: train inside ``musegen.interrupts.deferred()``, ask ``interrupts.requested()``
      between steps, and save ``last`` before returning.
    - ``sample(prime, options, end_id)`` returns ``options.tunes`` lists of new ids: the prime left
      out, ``end_id`` last where the piece ended, at most ``options.max_len`` ids. The same
      ``options.seed`` gives the same pieces; it honours ``temperature``, and ``top_k``/``top_p``
      where it can. The encoder's ``decode`` then receives prime + new ids, without the final ``end_id``.

    Capabilities are declared, never guessed:

    - ``can_resume = True``: ``load(..., "last")`` then ``fit`` with a new total continues where training
      stopped (its step count, optimizer state and place in the data). Without it ``gen train --resume``
      exits 2, and the run's files are untouched.
    - ``can_pretrain = True``: ``fit`` trains on ``data.pretrain`` first. Without it a run that asks for
      pre-training exits 2 before writing anything.
    - ``prime_per_tune = True``: ``sample`` takes one prime per tune (a list of lists) in one call.
    - a ``checker`` keyword on ``sample``: it draws again the units a :class:`Checker` refuses (ABC bars).
      Without it, a run that asks for checking says in one line that none was done.
    - an ``nll(sequences, end_id) -> (total nats, units scored)`` method, each sequence scored after
      ``end_id``: ``gen eval``'s held-out likelihood, per the encoder's ``unit``. Without it ``gen eval``
      says so in one line.
    """

    can_resume: bool = False
    can_pretrain: bool = False
    prime_per_tune: bool = False

    def fit(self, data: TrainData, train: TrainConfig, run: RunDir, progress: Progress) -> TrainResult: ...
    def sample(self, prime: list[int], options: SampleConfig, end_id: int) -> list[list[int]]: ...
    def save(self, run: RunDir, tag: str) -> Path: ...

    @classmethod
    def load(cls, config, vocab_size: int, run: RunDir, tag: str = "best") -> Model: ...


@dataclass
class Rendered:
    files: list[Path] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (title, reason)
    skipped: str = ""  # why the renderer wrote nothing for any piece (e.g. ABC text for MIDI pieces)


class Renderer(Protocol):
    formats: tuple[str, ...]

    def render(self, pieces: list[Piece], out_dir: Path) -> Rendered: ...


class Evaluator(Protocol):
    formats: tuple[str, ...]

    def evaluate(self, pieces: list[Piece], reference: list[Piece]) -> dict[str, float]: ...
