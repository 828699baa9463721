"""``Piece``: one tune as it travels between encoders, renderers and evaluators."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

Format = Literal["abc", "midi"]

_TITLE = re.compile(r"^T:\s*(.*?)\s*$", re.MULTILINE)


@dataclass
class Piece:
    """A tune in the format its encoder produced.

    ``format`` is ``"abc"`` (``text`` holds ABC notation) or ``"midi"`` (``midi`` holds the bytes of
    a standard MIDI file). Any piece can give MIDI with :meth:`to_midi`; ABC pieces go through the
    abc2midi program that the ``symusic`` wheel bundles.
    """

    format: Format
    text: str = ""
    midi: bytes | None = None
    title: str = ""
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.title and self.format == "abc":
            m = _TITLE.search(self.text)
            self.title = m.group(1) if m else ""

    @classmethod
    def from_abc(cls, text: str, **meta) -> Piece:
        return cls(format="abc", text=text, meta=meta)

    @classmethod
    def from_midi(cls, data: bytes, title: str = "", **meta) -> Piece:
        return cls(format="midi", midi=data, title=title, meta=meta)

    def file_stem(self, index: int) -> str:
        """File-name stem for the ``index``-th piece of a set: ``03-the-kesh-jig``. Never a path."""
        from musegen.rundir import safe_name

        return f"{index:02d}-{safe_name(self.title)}"

    def to_midi(self) -> bytes:
        """Return this piece as MIDI file bytes, converting ABC when needed.

        Raises :class:`musegen.abc2midi.ConversionError` when abc2midi rejects the tune: writes no
        MIDI, or prints an ``Error`` line (its MIDI would then be damaged).
        """
        if self.midi is not None:
            return self.midi
        from musegen import abc2midi

        result = abc2midi.convert(self.text)
        if not result.clean:
            raise abc2midi.ConversionError(self.title or "untitled", result.messages)
        self.midi = result.midi
        return self.midi
