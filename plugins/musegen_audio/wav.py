"""Synthesize each piece to a WAV file with a SoundFont, in worker processes (see ``synth.py``)."""

from __future__ import annotations

import importlib.util
import os
import queue
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from musegen import MusegenError, Piece, Rendered
from musegen.files import is_regular, user_path
from musegen.worker import Worker


def default_soundfont() -> Path:
    spec = importlib.util.find_spec("pretty_midi")
    if spec is None or spec.origin is None:
        raise MusegenError("the wav renderer needs pretty_midi's TimGM6mb.sf2 (pip install pretty_midi) or --soundfont PATH")
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


class WavRenderer:
    """Tunes are synthesized by ``config.jobs`` worker processes at once (default: one per CPU core)."""

    formats = ("abc", "midi")

    def __init__(self, config):
        self.config = config
        sf = user_path(config.soundfont, "soundfont") if config.soundfont else default_soundfont()
        self.soundfont = check_soundfont(sf)

    def worker_command(self) -> list[str]:
        return [sys.executable, "-m", "musegen_audio.synth", str(self.soundfont), str(self.config.sample_rate),
                "1" if self.config.stereo else "0"]

    def render(self, pieces: list[Piece], out_dir: Path) -> Rendered:
        jobs = max(1, min(len(pieces), self.config.jobs or os.cpu_count() or 1))
        idle: queue.SimpleQueue[Worker] = queue.SimpleQueue()
        workers = [Worker(self.worker_command, self.config.timeout, "the synthesizer crashed on this tune")
                   for _ in range(jobs)]
        for w in workers:
            idle.put(w)

        def one(i: int, piece: Piece):
            title = piece.title or f"tune {i}"
            try:
                midi = piece.to_midi()  # abc2midi, in a process of its own too
            except MusegenError as exc:
                return title, None, str(exc)
            target = out_dir / f"{piece.file_stem(i)}.wav"
            worker = idle.get()
            try:
                reply = worker.run({"target": str(target)}, midi)
            finally:
                idle.put(worker)
            return title, target if reply["ok"] else None, reply.get("why", "")

        out = Rendered()
        try:
            with ThreadPoolExecutor(max_workers=2 * jobs) as pool:  # abc2midi for the next tunes meanwhile
                for title, target, why in pool.map(one, range(1, len(pieces) + 1), pieces):
                    if target is not None:
                        out.files.append(target)
                    else:
                        out.failed.append((title, why))
        finally:
            for w in workers:
                w.close()
        return out
