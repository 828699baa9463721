"""Synthesize each piece to a WAV file with a SoundFont (symusic's synthesizer, soundfile writer)."""

from __future__ import annotations

import importlib.util
import io
from pathlib import Path

import numpy as np

from musegen import MusegenError, Piece, Rendered
from musegen.atomic import atomic_path


def default_soundfont() -> Path:
    spec = importlib.util.find_spec("pretty_midi")
    if spec is None or spec.origin is None:
        raise MusegenError("the wav renderer needs pretty_midi's TimGM6mb.sf2 (pip install pretty_midi) or --soundfont PATH")
    return Path(spec.origin).parent / "TimGM6mb.sf2"


_SYNTH = {}


def synthesize(soundfont: str, sample_rate: int, stereo: bool, midi: bytes) -> np.ndarray:
    """Samples (frames × channels, float32) for one MIDI file. Runs in a worker process."""
    import symusic

    key = (soundfont, sample_rate)
    if key not in _SYNTH:
        _SYNTH[key] = symusic.Synthesizer(soundfont, sample_rate, 0)
    score = symusic.Score.from_midi(midi)
    if score.note_num() == 0:
        return np.zeros((0, 2 if stereo else 1), np.float32)
    audio = np.asarray(_SYNTH[key].render(score, stereo=stereo), dtype=np.float32).T
    peak = float(np.abs(audio).max()) if audio.size else 0.0
    return audio / peak if peak > 1.0 else audio


class WavRenderer:
    """Synthesis is native code: it runs in a worker process, so a crash there fails one tune, not the run."""

    formats = ("abc", "midi")

    def __init__(self, config):
        self.config = config
        sf = Path(config.soundfont).expanduser() if config.soundfont else default_soundfont()
        if not sf.is_file():
            raise MusegenError(f"soundfont {sf} does not exist")
        self.soundfont = sf

    def _pool(self):
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        return ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))

    def render(self, pieces: list[Piece], out_dir: Path) -> Rendered:
        from concurrent.futures.process import BrokenProcessPool

        import soundfile

        out = Rendered()
        pool = self._pool()
        try:
            for i, piece in enumerate(pieces, 1):
                title = piece.title or f"tune {i}"
                try:
                    midi = piece.to_midi()
                except MusegenError as exc:
                    out.failed.append((title, str(exc)))
                    continue
                try:
                    audio = pool.submit(synthesize, str(self.soundfont), self.config.sample_rate,
                                        self.config.stereo, midi).result(timeout=300)
                except BrokenProcessPool:
                    out.failed.append((title, "the synthesizer crashed on this tune"))
                    pool.shutdown(cancel_futures=True)
                    pool = self._pool()
                    continue
                except Exception as exc:  # a MIDI file the synthesizer cannot read, or a bad soundfont
                    out.failed.append((title, f"synthesis failed: {' '.join(str(exc).split())[:200]}"))
                    continue
                if audio.size == 0 or float(np.abs(audio).max()) < 1e-4:
                    out.failed.append((title, "silent: no notes to play"))
                    continue
                target = out_dir / f"{piece.file_stem(i)}.wav"
                buf = io.BytesIO()
                soundfile.write(buf, audio, self.config.sample_rate, format="WAV", subtype="PCM_16")
                with atomic_path(target) as tmp:
                    tmp.write_bytes(buf.getvalue())
                out.files.append(target)
        finally:
            pool.shutdown(cancel_futures=True)
        return out
