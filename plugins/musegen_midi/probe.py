"""The MIDI reader's worker: a file from the wild is parsed here first, where a crash of the native
parser (a track length past the file's end once made it segfault) costs that file, not the run.

    python -m musegen_midi.probe

Each job (:mod:`musegen.worker`) is the bytes of a file; the answer is ``{"ok": true}`` when symusic
reads it with at least one note and a usable time base, else ``{"ok": false, "why": "..."}``.
"""

from __future__ import annotations

import sys


def check(job: dict, data: bytes) -> dict:
    import symusic

    if not data.startswith(b"MThd"):
        return {"ok": False, "why": "not a MIDI file (no MThd header)"}
    score = symusic.Score.from_midi(data)
    if score.ticks_per_quarter <= 0:
        return {"ok": False, "why": f"{score.ticks_per_quarter} ticks per quarter note"}
    if score.note_num() == 0:
        return {"ok": False, "why": "no notes"}
    return {"ok": True}


if __name__ == "__main__":
    from musegen.worker import serve

    sys.exit(serve(check))
