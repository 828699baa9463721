"""Synthesize each piece to a WAV file with a SoundFont, in worker processes (see ``synth.py``)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from musegen import MusegenError, Piece, Rendered
from musegen.files import is_regular, user_path
from musegen.worker import Pooled
from musegen_audio.sound import piece_sound


def default_soundfont() -> Path:
    spec = importlib.util.find_spec("pretty_midi")
    if spec is None or spec.origin is None:
        raise MusegenError(
            "the wav renderer needs pretty_midi's TimGM6mb.sf2 (pip install pretty_midi) or --soundfont PATH"
        )
    return Path(spec.origin).parent / "TimGM6mb.sf2"


def check_soundfont(path: Path) -> Path:
    """``path`` if it is a SoundFont file (RIFF, form ``sfbk``: .sf2 and .sf3), else a one-line error."""
    if not path.exists():
        raise MusegenError(f"soundfont {path} does not exist")
    if not is_regular(path):
        raise MusegenError(f"soundfont {path} is not a file")
    try:
        with open(path, "rb") as fh:
            head = fh.read(12)
    except OSError as exc:
        raise MusegenError(f"soundfont {path} cannot be read: {exc.strerror or exc}") from None
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"sfbk":
        raise MusegenError(f"soundfont {path} is not a SoundFont (.sf2/.sf3 files start with RIFF....sfbk)")
    return path


class WavRenderer(Pooled):
    """Tunes are synthesized by ``config.jobs`` worker processes at once (default: one per CPU core); each
    is written as a WAV file and, for the listening page, compressed (``config.compressed``)."""

    formats = ("abc", "midi")

    crashed = "the synthesizer crashed on this tune"

    def __init__(self, config):
        self.config = config
        sf = user_path(config.soundfont, "soundfont") if config.soundfont else default_soundfont()
        self.soundfont = check_soundfont(sf)

    def worker_command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "musegen_audio.synth",
            str(self.soundfont),
            str(self.config.sample_rate),
            "1" if self.config.stereo else "0",
            self.config.compressed,
            "1" if self.config.keep_wav else "0",
            "1" if self.config.compressed_stereo and self.config.stereo else "0",
        ]

    def render(self, pieces: list[Piece], out_dir: Path) -> Rendered:
        def one(i: int, piece: Piece, pool):
            title = piece.title or f"tune {i}"
            try:
                midi = piece_sound(piece, self.config.instrument, self.config.tempo)  # abc2midi: a process of its own
            except MusegenError as exc:
                return title, None, str(exc)
            target = out_dir / f"{piece.file_stem(i)}.wav"
            reply = pool.run({"target": str(target)}, midi)
            if not reply["ok"]:
                return title, [], reply.get("why", "")
            kept = [target] if self.config.keep_wav or self.config.compressed == "none" else []
            return title, kept + [target.with_suffix(f".{x}") for x in reply.get("also", [])], ""

        return self.render_each(pieces, one, threads_per_worker=2)  # abc2midi for the next tunes meanwhile
