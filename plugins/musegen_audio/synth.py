"""The synthesis worker: a process of its own that turns MIDI into WAV files with a SoundFont.

    python -m musegen_audio.synth SOUNDFONT SAMPLE_RATE STEREO(0|1)
        [COMPRESSED(ogg|flac|none) [KEEP_WAV(0|1) [COMPRESSED_STEREO(0|1)]]]

Synthesis is native code (symusic): run here, a crash or an abort in it fails one tune, never the
caller. The worker is a plain program reading jobs on stdin — not a ``multiprocessing`` child, which
would import the caller's ``__main__`` again (a script without an ``if __name__ == "__main__"``
guard would then start over inside every worker).

Each job (:mod:`musegen.worker`) is ``{"target": PATH}`` and the bytes of a MIDI file; the worker
writes the WAV file atomically at ``PATH`` (and beside it the same sound as ``.ogg`` or ``.flac``, with
soundfile) and answers ``{"ok": true, "seconds": S, "also": ["ogg"]}`` or
``{"ok": false, "why": "..."}``.
"""

from __future__ import annotations

import sys
import wave
from pathlib import Path

import numpy as np

BLOCK = 1 << 16  # frames per write of a compressed file
SILENT = 1e-4  # peak below this (full scale 1.0): nothing audible was played


def render_wav(
    synth,
    midi: bytes,
    target: Path,
    sample_rate: int,
    stereo: bool,
    compressed: str = "none",
    keep_wav: bool = True,
    compressed_stereo: bool = True,
) -> dict:
    import symusic

    from musegen.atomic import atomic_path

    score = symusic.Score.from_midi(midi)
    if score.note_num() == 0:
        return {"ok": False, "why": "silent: no notes to play"}
    audio = np.asarray(synth.render(score, stereo=stereo), dtype=np.float32)  # (channels, frames)
    peak = max(float(audio.max(initial=0.0)), -float(audio.min(initial=0.0)))
    if peak < SILENT:
        return {"ok": False, "why": "silent: no notes to play"}
    audio *= 32767.0 / max(peak, 1.0)  # full scale, never clipped
    pcm = audio.T.astype("<i2")  # interleaved frames
    with_wav = keep_wav or compressed == "none"
    if with_wav:
        with atomic_path(target, durable=False) as tmp:  # samples can be drawn again: no fsync
            with wave.open(str(tmp), "wb") as out:
                out.setnchannels(pcm.shape[1])
                out.setsampwidth(2)
                out.setframerate(sample_rate)
                out.writeframes(pcm.data)
    also = []
    if compressed != "none":
        import soundfile

        small = target.with_suffix(f".{compressed}")
        if not compressed_stereo and pcm.shape[1] == 2:
            pcm = ((pcm[:, 0].astype(np.int32) + pcm[:, 1]) // 2).astype("<i2")  # mono: half the encoding
        channels = 1 if pcm.ndim == 1 else pcm.shape[1]
        subtype = "VORBIS" if compressed == "ogg" else "PCM_16"
        with atomic_path(small, durable=False) as tmp:
            with soundfile.SoundFile(str(tmp), "w", sample_rate, channels, subtype, format=compressed.upper()) as out:
                for start in range(0, len(pcm), BLOCK):  # libvorbis overflows its stack on one long write
                    out.write(pcm[start : start + BLOCK])
        also.append(compressed)
    return {"ok": True, "seconds": round(pcm.shape[0] / sample_rate, 2), "also": also}


def main(argv: list[str]) -> int:
    import symusic

    from musegen.worker import serve

    soundfont, sample_rate, stereo = argv[0], int(argv[1]), argv[2] == "1"
    compressed = argv[3] if len(argv) > 3 else "none"
    keep_wav = len(argv) <= 4 or argv[4] == "1"
    compressed_stereo = len(argv) <= 5 or argv[5] == "1"
    synth = symusic.Synthesizer(soundfont, sample_rate, 0)

    def handle(job: dict, midi: bytes) -> dict:
        try:
            return render_wav(
                synth, midi, Path(job["target"]), sample_rate, stereo, compressed, keep_wav, compressed_stereo
            )
        except Exception as exc:  # a MIDI file the synthesizer cannot read, a full disk, ...
            return {"ok": False, "why": f"synthesis failed: {' '.join(str(exc).split())[:200]}"}

    return serve(handle)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
