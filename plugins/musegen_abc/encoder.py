"""``abc-char``: each character of a tune's ABC text is a token; token 0 ends a tune."""

from __future__ import annotations

from musegen import MusegenError, Piece

END = "<end>"


class AbcCharEncoder:
    format = "abc"

    def __init__(self, config):
        self.config = config
        self.chars: list[str] = []
        self._index: dict[str, int] = {}

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
        self.load_state({"chars": sorted(chars)})

    def state(self) -> dict:
        return {"end": END, "chars": "".join(self.chars)}

    def load_state(self, state: dict) -> None:
        self.chars = list(state["chars"])
        self._index = {c: i + 1 for i, c in enumerate(self.chars)}

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
        return self._ids(piece.text, "tune") + [self.end_id]

    def encode_prime(self, text: str) -> list[int]:
        """Ids of a prime; tunes always start ``X:1``, so a prime without it gets it added."""
        if not text:
            return []
        ids = self._ids(text, "prime")
        return ids if text.startswith("X:") else self._ids("X:1\n", "prime") + ids

    def decode(self, ids: list[int]) -> Piece:
        text = "".join(self.chars[i - 1] for i in ids if 0 < i <= len(self.chars))
        if not text.endswith("\n"):
            text += "\n"
        return Piece.from_abc(text)
