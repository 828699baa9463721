"""``abc-char``: each character of a tune's ABC text is a token; token 0 ends a tune.

With ``controls`` on, each tune's text starts with its control line (:mod:`musegen_abc.controls`):
the model learns tunes by their type, meter, key and form, and can be asked for them.
"""

from __future__ import annotations

from musegen import MusegenError, Piece
from musegen.abctext import field
from musegen_abc.config import CheckerConfig

END = "<end>"


class AbcCharEncoder:
    format = "abc"
    unit = "char"  # what one token is: gen eval's NLL is per char
    checker_config = CheckerConfig  # sample.checker.<name>: its checker's settings

    def __init__(self, config):
        self.config = config
        self.chars: list[str] = []
        self._index: dict[str, int] = {}
        self.table = None  # the corpus's controls (musegen_abc.controls.Table); None: a run without them
        self._learned: dict[str, str] = {}  # a tune's text -> as the model learns it, for the tunes fit() saw

    @property
    def vocab_size(self) -> int:
        return len(self.chars) + 1

    @property
    def end_id(self) -> int:
        return 0

    def fit(self, pieces: list[Piece]) -> None:
        chars: set[str] = set()
        for p in pieces:
            chars.update(p.text)
        if self.config.controls:
            from musegen_abc.controls import Table, with_line

            self._learned = {p.text: with_line(p.text) for p in pieces}  # encode() takes them from here
            for text in self._learned.values():
                chars.update(text)
            self.table = Table({})
        self.load_state({"chars": sorted(chars), **({"controls": {}} if self.config.controls else {})})

    def learn_controls(self, pieces: list[Piece]) -> None:
        """Count the controls of the corpus's own tunes (not pre-training's, not transposed copies): a
        control the user leaves out is drawn by these counts."""
        if self.table is not None:
            from musegen_abc.controls import Table

            self.table = Table.of([p.text for p in pieces])

    def state(self) -> dict:
        return {
            "end": END,
            "chars": "".join(self.chars),
            **({"controls": self.table.counts} if self.table is not None else {}),
        }

    def load_state(self, state: dict) -> None:
        if "controls" in state:
            from musegen_abc.controls import Table

            self.table = Table(dict(state["controls"]))
        self.chars = list(state["chars"])
        self._index = {c: i + 1 for i, c in enumerate(self.chars)}
        self._text_of = [""] + self.chars  # id -> its text; 0 (the end) has none

    def _ids(self, text: str, what: str) -> list[int]:
        out = []
        for pos, ch in enumerate(text):
            i = self._index.get(ch)
            if i is None:
                if self.config.unknown == "skip" and what == "tune":
                    continue
                raise MusegenError(
                    f"{what} has character {ch!r} at position {pos}, which the vocabulary of this run does not hold"
                )
            out.append(i)
        return out

    def encode(self, piece: Piece) -> list[int]:
        if self.table is not None:
            from musegen_abc.controls import with_line

            learned = self._learned.get(piece.text) or with_line(piece.text)
            return self._ids(learned, "tune") + [self.end_id]
        return self._ids(piece.text, "tune") + [self.end_id]

    def encode_prime(self, text: str) -> list[int]:
        """Ids of a prime; tunes always start ``X:1`` (corpora are normalized so), so every prime
        starts so, the empty one included: a sample can never miss the line abc2midi needs."""
        if not text:
            return self._ids("X:1\n", "prime") if "X" in self._index else []
        ids = self._ids(text, "prime")
        return ids if text.startswith("X:") else self._ids("X:1\n", "prime") + ids

    def choices(self) -> dict[str, list] | None:
        """What each control (type, meter, key, parts, bars) may be asked to be, the most common first; None:
        a run without controls."""
        return self.table.choices() if self.table is not None else None

    def primes(self, options) -> list[list[int]] | None:
        """One prime per tune: ``X:1``, the control line of what ``options`` asks for (type, meter, key,
        parts, bars; each left out drawn as the corpus has it, by ``options.seed``) and the header fields it
        decides, then ``options.prime`` (whose ``M:``, ``K:`` and ``R:`` count as asked). None: a run
        without controls."""
        if self.table is None:
            return None
        from musegen_abc.controls import Wanted, prime_text

        want, rest = Wanted.of(options), options.prime
        for name, letter in (("meter", "M"), ("key", "K"), ("type", "R")):
            value = field(rest, letter)
            if value and getattr(want, name) is None:
                setattr(want, name, value)
        rest = "\n".join(line for line in rest.split("\n") if line[:2] not in ("X:", "M:", "K:", "R:"))
        chosen = self.table.choose(want, options.tunes, options.seed)
        return [self._ids(prime_text(c) + rest, "prime") for c in chosen]

    def augment(self, pieces: list[Piece]) -> list[Piece]:
        """The pieces, then copies transposed by each of ``config.transpose`` semitones (a copy whose key
        would have more than ``transpose_max_accidentals`` sharps or flats, or that cannot be
        transposed faithfully, is left out)."""
        from musegen_abc.transpose import parse_key, transpose

        out = list(pieces)
        for shift in self.config.transpose:
            for p in pieces:
                moved = transpose(p.text, shift)
                key = parse_key(field(moved, "K") or "") if moved else None
                if key and abs(key[0].sharps) <= self.config.transpose_max_accidentals:
                    out.append(Piece.from_abc(moved, source=f"{p.meta.get('source', '?')} {shift:+d}"))
        if self.config.transpose_keys:
            out += self._to_corpus_keys(pieces)
        return out

    def _to_corpus_keys(self, pieces: list[Piece]) -> list[Piece]:
        """``transpose_keys`` copies of each tune, each in a key drawn from the keys of the pieces'
        tunes in the same mode, by their frequency (its own key included: then the copy is the tune
        as it is). Copies therefore have the corpus's key frequencies, and the whole set keeps them."""
        import random
        from collections import Counter, defaultdict

        from musegen_abc.transpose import LETTERS, SEMITONES, parse_key, transpose

        keys = [parse_key(field(p.text, "K") or "") for p in pieces]
        by_mode: dict[int, Counter] = defaultdict(Counter)
        for parsed in keys:
            if parsed:
                by_mode[parsed[0].mode_offset][(parsed[0].letter, parsed[0].alteration)] += 1
        rng = random.Random(0)
        out = []
        for p, parsed in zip(pieces, keys):
            if not parsed:
                continue
            key = parsed[0]
            tonics = by_mode[key.mode_offset]
            for _ in range(self.config.transpose_keys):
                letter, alteration = rng.choices(list(tonics), weights=list(tonics.values()))[0]
                shift = (
                    SEMITONES[LETTERS.index(letter)]
                    + alteration
                    - SEMITONES[LETTERS.index(key.letter)]
                    - key.alteration
                    + 6
                ) % 12 - 6
                moved = transpose(p.text, shift)
                if moved:
                    out.append(Piece.from_abc(moved, source=f"{p.meta.get('source', '?')} {shift:+d}"))
        return out

    def checker(self, options):
        """Bar checking (``options.check_bars``), the form asked for, and the header temperature while
        sampling, as ``options.checker`` sets them (:class:`CheckerConfig`): see :mod:`musegen_abc.barcheck`."""
        settings = CheckerConfig(**options.checker)  # checked already: pipeline.check_checker
        bars = options.check_bars and "|" in self._index
        form = self.table is not None and getattr(options, "check_form", True) and "|" in self._index
        header = settings.header_temperature if settings.header_temperature != options.temperature else None
        if not bars and not form and header is None:
            return None
        from musegen_abc.barcheck import BarChecker

        return BarChecker(
            self._drawn_text,
            self._index["|"] if bars or form else None,
            self.end_id,
            settings.bar_retries,
            header,
            form=form,
            bars=bars,
            tokens=self._index,
        )

    def _drawn_text(self, ids: list[int]) -> str:
        """The text of ids a model drew (each below ``vocab_size``): the bar checker's decoding, thousands
        of times a call (faster than :meth:`decode`'s, which takes any id)."""
        return "".join(map(self._text_of.__getitem__, ids))

    def valid(self, piece: Piece) -> bool:
        """abc2midi converts it with no Error line: what ``--valid-only`` keeps."""
        from musegen.abc2midi import convert

        return convert(piece.text).clean

    def decode(self, ids: list[int]) -> Piece:
        text = "".join(self.chars[i - 1] for i in ids if 0 < i <= len(self.chars))
        if not text.endswith("\n"):
            text += "\n"
        if self.table is None:
            return Piece.from_abc(text)
        from musegen_abc.controls import misses, parse_line, strip_line

        asked = parse_line(text)
        piece = Piece.from_abc(strip_line(text))
        if asked is None:
            return piece
        piece.meta["asked"] = asked.describe()
        piece.meta["missed"] = misses(piece.text, asked)
        return piece
