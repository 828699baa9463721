"""Write each piece as a standard MIDI file; a tune abc2midi rejects is reported by title."""

from __future__ import annotations

from pathlib import Path

from musegen import MusegenError, Piece, Rendered
from musegen.atomic import write_bytes


class MidiRenderer:
    formats = ("abc", "midi")

    def __init__(self, config):
        self.config = config

    def render(self, pieces: list[Piece], out_dir: Path) -> Rendered:
        out = Rendered()
        for i, piece in enumerate(pieces, 1):
            try:
                data = piece.to_midi()
            except MusegenError as exc:
                out.failed.append((piece.title or f"tune {i}", str(exc)))
                continue
            out.files.append(write_bytes(out_dir / f"{piece.file_stem(i)}.mid", data))
        return out
