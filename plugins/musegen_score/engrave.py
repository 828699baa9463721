"""The engraving worker: a process of its own that writes sheet music (SVG) with verovio.

    python -m musegen_score.engrave WIDTH SCALE [PHONE_WIDTH]

verovio is native code, and some damaged tunes crash it (an unclosed ``"``, a tune without ``K:``):
run here, a crash fails one job, never the caller. Each job (:mod:`musegen.worker`) is
``{"target": PATH, "phone": PATH, "format": "abc" | "midi", "via": "verovio" | "music21"}`` and the
tune's bytes; ``phone``, when there is a PHONE_WIDTH, gets the same music laid out narrow.
``via`` music21: the tune is read by music21 and handed to verovio as MusicXML (MIDI pieces always are).
The answer is ``{"ok": true, "notes": N}`` or ``{"ok": false, "why": "..."}``.
"""

from __future__ import annotations

import sys
from pathlib import Path


def musicxml(data: bytes, fmt: str) -> str:
    """The tune as MusicXML, read by music21 (pure Python: slower than verovio, and it does not crash)."""
    from music21 import converter
    from music21.musicxml.m21ToXml import GeneralObjectExporter

    score = converter.parse(data.decode("utf-8", "replace") if fmt == "abc" else data, format=fmt)
    return GeneralObjectExporter(piano_staves(score) if fmt == "midi" else score).parse().decode("utf-8")


MIDDLE_C = 60


def piano_staves(score):
    """A MIDI piece as a pianist reads it: in its key's signature, one staff for a melody, and for several
    voices a treble staff for the notes from middle C up and a bass staff below (MIDI has neither clefs
    nor key signatures, and a staff per track put four voices on one treble staff)."""
    from music21 import clef, key, layout, meter, note, stream

    notes = [(n.getOffsetInHierarchy(score), n) for n in score.recurse().notes]
    signature = key.KeySignature(score.analyze("key").sharps)
    starts = sorted(offset for offset, n in notes)
    ends = sorted(offset + n.quarterLength for offset, n in notes)
    melody = (
        all(len(n.pitches) == 1 for _, n in notes)
        and len(notes) == len(set(starts))
        and all(e <= s for e, s in zip(ends, starts[1:]))
    )
    staves = {"treble": stream.PartStaff()} if melody else {"treble": stream.PartStaff(), "bass": stream.PartStaff()}
    for offset, n in notes:
        for pitch in n.pitches:
            staff = "treble" if melody or pitch.midi >= MIDDLE_C else "bass"
            staves[staff].insert(offset, note.Note(pitch, quarterLength=n.quarterLength))
    out = stream.Score()
    for name, staff in staves.items():
        staff.insert(0, clef.bestClef(staff) if melody else clef.TrebleClef() if name == "treble" else clef.BassClef())
        staff.insert(0, key.KeySignature(signature.sharps))
        staff.insert(0, meter.TimeSignature("4/4"))
        out.insert(0, staff.chordify())  # notes at once as chords, tied where they overlap
    if not melody:
        out.insert(0, layout.StaffGroup(list(out.parts), symbol="brace"))
    return out


def engrave(toolkit, job: dict, data: bytes, width: int = 2100, phone_width: int = 0) -> dict:
    from musegen.atomic import write_text

    via = "music21" if job["format"] != "abc" else job.get("via", "verovio")
    source = data.decode("utf-8", "replace") if via == "verovio" else musicxml(data, job["format"])
    toolkit.setInputFrom("abc" if via == "verovio" else "musicxml")
    if not toolkit.loadData(source) or toolkit.getPageCount() < 1:
        return {"ok": False, "why": "verovio could not read it"}
    svg = toolkit.renderToSVG(1)
    notes = svg.count('class="note"')
    if notes == 0:
        return {"ok": False, "why": "no notes to engrave"}
    write_text(Path(job["target"]), svg, durable=False)
    if phone_width and job.get("phone"):  # fewer bars a line, so the notes stay readable on a small screen
        toolkit.setOptions({"pageWidth": phone_width})
        toolkit.redoLayout()
        write_text(Path(job["phone"]), toolkit.renderToSVG(1), durable=False)
        toolkit.setOptions({"pageWidth": width})
    return {"ok": True, "notes": notes, "via": via}


def main(argv: list[str]) -> int:
    import verovio

    from musegen.worker import serve

    verovio.enableLog(verovio.LOG_OFF)
    toolkit = verovio.toolkit()
    toolkit.setOptions(
        {
            "pageWidth": int(argv[0]),
            "scale": int(argv[1]),
            "pageHeight": 60000,
            "adjustPageHeight": True,
            "breaks": "auto",
            "header": "none",
            "footer": "none",
            "svgViewBox": True,
            "svgRemoveXlink": True,
        }
    )
    phone = int(argv[2]) if len(argv) > 2 else 0
    return serve(lambda job, data: engrave(toolkit, job, data, int(argv[0]), phone))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
