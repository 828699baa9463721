"""Write each tune as its own ``.abc`` file and all of them, renumbered, in one collection file."""

from __future__ import annotations

import re
from pathlib import Path

from musegen import Piece, Rendered
from musegen.atomic import write_text


class AbcRenderer:
    formats = ("abc",)

    def __init__(self, config):
        self.config = config

    def render(self, pieces: list[Piece], out_dir: Path) -> Rendered:
        out = Rendered()
        collection = []
        for i, piece in enumerate(pieces, 1):
            out.files.append(write_text(out_dir / f"{piece.file_stem(i)}.abc", piece.text, durable=False))
            collection.append(re.sub(r"^X:.*$", f"X:{i}", piece.text, count=1, flags=re.MULTILINE).rstrip("\n"))
        out.files.append(
            write_text(out_dir / Path(self.config.collection).name, "\n\n".join(collection) + "\n", durable=False)
        )
        return out
