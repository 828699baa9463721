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


class WavRenderer:
    formats = ("abc", "midi")

    def __init__(self, config):
        self.config = config
        sf = Path(config.soundfont).expanduser() if config.soundfont else default_soundfont()
        if not sf.is_file():
            raise MusegenError(f"soundfont {sf} does not exist")
        import symusic

        try:
            self.synth = symusic.Synthesizer(str(sf), config.sample_rate, 0)
        except Exception as exc:
            raise MusegenError(f"cannot load soundfont {sf}: {exc}") from None
        self.soundfont = sf

    def audio(self, midi: bytes) -> np.ndarray:
        """Samples (frames × channels, float32) for one MIDI file."""
        import symusic

        score = symusic.Score.from_midi(midi)
        if score.note_num() == 0:
            return np.zeros((0, 2 if self.config.stereo else 1), np.float32)
        audio = np.asarray(self.synth.render(score, stereo=self.config.stereo), dtype=np.float32).T
        peak = float(np.abs(audio).max()) if audio.size else 0.0
        if peak > 1.0:
            audio = audio / peak
        return audio

    def render(self, pieces: list[Piece], out_dir: Path) -> Rendered:
        import soundfile

        out = Rendered()
        for i, piece in enumerate(pieces, 1):
            title = piece.title or f"tune {i}"
            try:
                audio = self.audio(piece.to_midi())
            except MusegenError as exc:
                out.failed.append((title, str(exc)))
                continue
            except Exception as exc:  # a MIDI file the synthesizer cannot read
                out.failed.append((title, f"synthesis failed: {exc}"))
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
        return out
