"""Synthesize each piece to a WAV file with a SoundFont, in worker processes (see ``synth.py``)."""

from __future__ import annotations

import importlib.util
import json
import os
import queue
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from musegen import MusegenError, Piece, Rendered


def default_soundfont() -> Path:
    spec = importlib.util.find_spec("pretty_midi")
    if spec is None or spec.origin is None:
        raise MusegenError("the wav renderer needs pretty_midi's TimGM6mb.sf2 (pip install pretty_midi) or --soundfont PATH")
    return Path(spec.origin).parent / "TimGM6mb.sf2"


class Worker:
    """One synthesis process; a job that kills it fails that job, and the next job starts a new one."""

    def __init__(self, command, timeout: float):
        self.command, self.timeout = command, timeout  # command(): the argv that starts a worker
        self.proc: subprocess.Popen | None = None

    def run(self, midi: bytes, target: Path) -> dict:
        if self.proc is None or self.proc.poll() is not None:
            self.proc = subprocess.Popen(self.command(), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=subprocess.DEVNULL)
        try:
            self.proc.stdin.write(json.dumps({"target": str(target), "size": len(midi)}).encode() + b"\n" + midi)
            self.proc.stdin.flush()
            line = self._readline()
        except (BrokenPipeError, OSError):
            line = b""
        if not line:
            self.close()
            return {"ok": False, "why": "the synthesizer crashed on this tune"}
        return json.loads(line)

    def _readline(self) -> bytes:
        import select

        ready, _, _ = select.select([self.proc.stdout], [], [], self.timeout)
        if not ready:  # hung: stop it, fail this tune
            self.proc.kill()
            return b""
        return self.proc.stdout.readline()

    def close(self) -> None:
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.stdin.close()
                try:
                    self.proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
            self.proc = None


class WavRenderer:
    """Tunes are synthesized by ``config.jobs`` worker processes at once (default: one per CPU core)."""

    formats = ("abc", "midi")

    def __init__(self, config):
        self.config = config
        sf = Path(config.soundfont).expanduser() if config.soundfont else default_soundfont()
        if not sf.is_file():
            raise MusegenError(f"soundfont {sf} does not exist")
        self.soundfont = sf

    def worker_command(self) -> list[str]:
        return [sys.executable, "-m", "musegen_audio.synth", str(self.soundfont), str(self.config.sample_rate),
                "1" if self.config.stereo else "0"]

    def render(self, pieces: list[Piece], out_dir: Path) -> Rendered:
        jobs = max(1, min(len(pieces), self.config.jobs or os.cpu_count() or 1))
        idle: queue.SimpleQueue[Worker] = queue.SimpleQueue()
        workers = [Worker(self.worker_command, self.config.timeout) for _ in range(jobs)]
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
                reply = worker.run(midi, target)
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
