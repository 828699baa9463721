"""The sound of a tune: its General MIDI instrument and its tempo, set in its MIDI file with mido.

abc2midi plays every tune on piano at 120 quarter notes a minute. Dance tunes are fiddle, flute,
whistle and accordion music, each type at a pace of its own; a ``Q:`` in the tune says its own.
"""

from __future__ import annotations

import io
import re
from fractions import Fraction

from musegen.errors import MusegenError

INSTRUMENTS = {  # the names a musician would write -> General MIDI program (0-127)
    "piano": 0,
    "harpsichord": 6,
    "organ": 19,
    "accordion": 21,
    "concertina": 21,
    "harmonica": 22,
    "guitar": 24,
    "bass": 32,
    "fiddle": 40,
    "violin": 40,
    "viola": 41,
    "cello": 42,
    "harp": 46,
    "strings": 48,
    "trumpet": 56,
    "clarinet": 71,
    "flute": 73,
    "recorder": 74,
    "whistle": 78,
    "banjo": 105,
    "pipes": 109,
    "bagpipe": 109,
}
TEMPOS = {  # a tune type's pace where its tune has no Q: line, as ABC writes it: beat=beats a minute
    "reel": "1/2=100",
    "jig": "3/8=112",
    "slip jig": "3/8=120",
    "slide": "3/8=130",
    "hornpipe": "1/4=150",
    "barndance": "1/4=160",
    "polka": "1/4=130",
    "strathspey": "1/4=120",
    "fling": "1/4=140",
    "march": "1/4=110",
    "mazurka": "1/4=140",
    "waltz": "1/4=150",
    "set dance": "1/4=120",
    "air": "1/4=80",
}
DEFAULT_TEMPO = "1/4=120"
_TEMPO = re.compile(r"^\s*(?:(\d+)/(\d+)\s*=\s*)?(\d+(?:\.\d+)?)\s*$")
_Q = re.compile(r"^Q:", re.MULTILINE)


def program(name: str | int) -> int | None:
    """The GM program of an instrument setting: a name from :data:`INSTRUMENTS` or a number 0-127;
    None for ``auto`` (ABC tunes on fiddle, MIDI pieces on their own instruments)."""
    text = str(name).strip().lower()
    if text == "auto":
        return None
    if text.isdigit() and 0 <= int(text) <= 127:
        return int(text)
    if text in INSTRUMENTS:
        return INSTRUMENTS[text]
    raise MusegenError(
        f"unknown instrument '{name}': use auto, a General MIDI program 0-127, or one of "
        + ", ".join(sorted(INSTRUMENTS))
    )


def quarters_per_minute(tempo: str) -> float:
    """``3/8=112`` (ABC's ``Q:``: 112 dotted quarters a minute) -> 168; a bare number is quarters."""
    m = _TEMPO.match(str(tempo))
    if not m or float(m.group(3)) <= 0 or (m.group(2) and int(m.group(2)) == 0):
        raise MusegenError(
            f"tempo '{tempo}' is not a tempo: use auto, quarter notes a minute (120), or a beat "
            "and beats a minute as ABC's Q: writes them (3/8=112)"
        )
    beat = Fraction(int(m.group(1)), int(m.group(2))) if m.group(1) else Fraction(1, 4)
    qpm = float(m.group(3)) * float(beat * 4)
    if not 10 <= qpm <= 1000:
        raise MusegenError(f"tempo '{tempo}' is {qpm:g} quarter notes a minute; use 10 to 1000")
    return qpm


def tune_tempo(text: str, setting: str = "auto") -> float | None:
    """Quarters a minute to play an ABC tune at: the setting when it is not ``auto``, else None where the
    tune has a ``Q:`` (abc2midi already plays it so), else its type's pace."""
    if setting != "auto":
        return quarters_per_minute(setting)
    if _Q.search(text):
        return None
    from musegen.tunetype import tune_type

    return quarters_per_minute(TEMPOS.get(tune_type(text) or "", DEFAULT_TEMPO))


def voiced(midi: bytes, instrument: int | None, qpm: float | None) -> bytes:
    """``midi`` with every melodic channel on ``instrument`` (None: as it is) and its tempo changes scaled
    so that the first is ``qpm`` quarter notes a minute (None: as it is). Drums (channel 10) keep theirs."""
    if instrument is None and qpm is None:
        return midi
    import mido

    song = mido.MidiFile(file=io.BytesIO(midi))
    tempos = [m.tempo for t in song.tracks for m in t if m.type == "set_tempo"]
    scale = (60_000_000 / qpm) / (tempos[0] if tempos else 500_000) if qpm else 1.0
    channels = sorted({m.channel for t in song.tracks for m in t if hasattr(m, "channel") and m.channel != 9})
    for i, track in enumerate(song.tracks):
        kept = []
        for m in track:
            if m.type == "set_tempo" and qpm:
                m = m.copy(tempo=max(1, min(0xFFFFFF, round(m.tempo * scale))))
            elif m.type == "program_change" and instrument is not None and m.channel != 9:
                if kept or m.time:  # a change of instrument mid-tune: its time goes to the next message
                    kept.append(mido.MetaMessage("text", text="", time=m.time))
                continue
            kept.append(m)
        if qpm and not tempos and i == 0:
            kept.insert(0, mido.MetaMessage("set_tempo", tempo=round(60_000_000 / qpm), time=0))
        if instrument is not None and channels:
            where = next((k for k, m in enumerate(kept) if not m.is_meta), len(kept))
            used = {m.channel for m in kept if hasattr(m, "channel")}
            changes = [
                mido.Message("program_change", channel=c, program=instrument, time=0)
                for c in channels
                if c in used or (i == 0 and len(song.tracks) == 1)
            ]
            kept[where:where] = changes
        song.tracks[i] = mido.MidiTrack(kept)
    out = io.BytesIO()
    song.save(file=out)
    return out.getvalue()


def piece_sound(piece, instrument: str = "auto", tempo: str = "auto") -> bytes:
    """The piece's MIDI (abc2midi's for ABC tunes) on its instrument and at its tempo. Raises
    ``musegen.abc2midi.ConversionError`` for a tune abc2midi rejects."""
    midi = piece.to_midi()
    if piece.format == "abc":
        chosen = program(instrument)
        return voiced(midi, INSTRUMENTS["fiddle"] if chosen is None else chosen, tune_tempo(piece.text, tempo))
    return voiced(midi, program(instrument), quarters_per_minute(tempo) if tempo != "auto" else None)
