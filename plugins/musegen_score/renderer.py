"""Write each tune's sheet music as SVG, engraved by verovio in worker processes (``engrave.py``):
``NN-title.svg`` for screens and paper, ``NN-title.phone.svg`` laid out narrow for phones.

ABC goes to verovio as it is; a tune verovio cannot read, or one that crashes it, is tried again
through music21 as MusicXML. MIDI pieces always go that way.
"""

from __future__ import annotations

import sys
from pathlib import Path

from musegen import Piece, Rendered
from musegen.worker import Pooled


class ScoreRenderer(Pooled):
    formats = ("abc", "midi")

    crashed = "the engraver crashed on this tune"

    def __init__(self, config):
        self.config = config

    def worker_command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "musegen_score.engrave",
            str(self.config.width),
            str(self.config.scale),
            str(self.config.phone_width),
        ]

    def render(self, pieces: list[Piece], out_dir: Path) -> Rendered:
        def one(i: int, piece: Piece, pool):
            target = out_dir / f"{piece.file_stem(i)}.svg"
            data = piece.text.encode() if piece.format == "abc" else piece.midi or b""
            phone = out_dir / f"{piece.file_stem(i)}.phone.svg"
            job = {"target": str(target), "phone": str(phone), "format": piece.format}
            reply = pool.run(job, data)
            if not reply["ok"] and piece.format == "abc":  # verovio's own reading failed: music21's
                second = pool.run({**job, "via": "music21"}, data)
                reply = (
                    second
                    if second["ok"]
                    else {"ok": False, "why": f"{reply['why']}; through MusicXML: {second['why']}"}
                )
            made = [target] + ([phone] if self.config.phone_width else [])
            return piece.title or f"tune {i}", made if reply["ok"] else None, reply.get("why", "")

        return self.render_each(pieces, one)
