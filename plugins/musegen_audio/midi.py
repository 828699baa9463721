"""Write each piece as a standard MIDI file on its instrument and at its tempo (``sound.py``); a tune
abc2midi rejects is reported by title."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from musegen import MusegenError, Piece, Rendered
from musegen.atomic import write_bytes
from musegen_audio.sound import piece_sound


class MidiRenderer:
    formats = ("abc", "midi")

    def __init__(self, config):
        self.config = config

    def render(self, pieces: list[Piece], out_dir: Path) -> Rendered:
        def one(piece: Piece):
            try:
                return piece_sound(piece, self.config.instrument, self.config.tempo), None
            except MusegenError as exc:
                return None, str(exc)

        out = Rendered()
        # abc2midi runs in a process per tune: threads keep every core busy
        with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
            for i, (piece, (data, why)) in enumerate(zip(pieces, pool.map(one, pieces)), 1):
                if data is None:
                    out.failed.append((piece.title or f"tune {i}", why))
                else:
                    out.files.append(write_bytes(out_dir / f"{piece.file_stem(i)}.mid", data, durable=False))
        return out
