"""What a sampled MIDI piece is held to, learned from its corpus: voices at once, each voice's range, length.

:func:`learn` measures the corpus. :class:`NoteChecker` (``musegen.Checker``) reads a REMI or TSD
stream note by note while a model samples it, and refuses a note that would sound beside more voices
than the corpus's pieces have, or that lies outside the range its voice has in the corpus; the model
draws it again. In REMI it also ends a piece at a bar line once it is as long as nearly every piece of
the corpus (``LONGEST``), so that a model that does not end a piece by itself still writes a whole one.
"""

from __future__ import annotations

import numpy as np

from musegen import Limits

RANGE_SLACK = 0
"""Semitones a voice may go past the corpus's range for it."""

LONGEST = 95
"""A piece ends at the bar line past this percentile of the corpus's lengths in bars."""


def chords(score) -> list[list[int]]:
    """For each onset of ``score``, the pitches sounding then (the new notes included), low to high."""
    notes = sorted((n.time, n.end, n.pitch) for t in score.tracks for n in t.notes if n.duration > 0)
    if not notes:
        return []
    starts = np.array([n[0] for n in notes])
    ends = np.array([n[1] for n in notes])
    pitches = np.array([n[2] for n in notes])
    return [sorted(pitches[(starts <= t) & (ends > t)].tolist()) for t in np.unique(starts)]


def learn(scores) -> dict:
    """``voices``: the most notes sounding at once in the median piece (4 for the chorales, 1 for folk
    tunes: a piece with a doubled part does not raise it); ``ranges[v]``: for chords of ``v`` notes,
    the lowest and highest pitch of each voice, bass first; ``low``/``high``: the corpus's range;
    ``bars``: the :data:`LONGEST` percentile of its lengths in 4-beat bars."""
    most, ranges, low, high, bars = [], {}, 127, 0, []
    for score in scores:
        piece = chords(score)
        if not piece:
            continue
        most.append(max(map(len, piece)))
        bars.append(score.end() / max(score.ticks_per_quarter, 1) / 4)
        for chord in piece:
            low, high = min(low, chord[0]), max(high, chord[-1])
            per_voice = ranges.setdefault(str(len(chord)), [[127, 0] for _ in chord])
            for r, pitch in enumerate(chord):
                per_voice[r] = [min(per_voice[r][0], pitch), max(per_voice[r][1], pitch)]
    if not most:
        return {}
    voices = int(np.median(most))
    ranges = {v: r for v, r in ranges.items() if int(v) <= voices}
    longest = int(np.ceil(np.percentile(bars, LONGEST)))
    return {"voices": voices, "low": low, "high": high, "ranges": ranges, "bars": longest}


class NoteChecker:
    """``musegen.Checker`` for REMI and TSD streams: a unit is one note (its time events, pitch, velocity,
    duration), checked at its duration event, or in REMI a bar line (past the corpus's length, the piece
    must end there). Its state: (ids read, time in beats, bar start, sounding notes as (end, pitch))."""

    retries, give_up, header_temperature = 8, 64, None

    def __init__(self, encoder, limits: dict):
        self.limits = limits
        self.voices, self.low, self.high = limits["voices"], limits["low"] - RANGE_SLACK, limits["high"] + RANGE_SLACK
        self.names = encoder.id_to_token
        self.res = encoder.config.positions_per_beat
        self.duration_ids = {i for i, t in self.names.items() if t.startswith("Duration_")}
        self.bar_ids = {i for i, t in self.names.items() if t.startswith("Bar_")} if limits.get("bars") else set()
        self.end = Limits(next=frozenset({encoder.end_id}))
        self.initial = (0, 0.0, -4.0, ())
        self.stats = {"name": "voice check", "units_are": "notes and bar lines" if self.bar_ids else "notes"}
        if self.bar_ids:
            self.stats["ended_at_length"] = 0  # pieces ended here, not by the model

    def boundary(self, token: int) -> bool:
        return token in self.duration_ids or token in self.bar_ids

    def header_done(self, ids: list[int]) -> bool:
        return True

    def close(self) -> None:
        pass

    def check(self, items):
        return [self._check(ids, state) for ids, state in items]

    def _check(self, ids: list[int], state):
        read, now, bar, sounding = state
        pitch, ok = None, True
        for i in ids[read:]:
            kind, _, value = self.names.get(int(i), "_").partition("_")
            if kind == "Bar":
                bar += 4.0  # no time signatures: miditok's REMI bars are 4 beats
                now = bar
            elif kind == "Position":
                now = bar + int(value) / self.res
            elif kind == "TimeShift":
                now += _beats(value)
            elif kind == "Pitch":
                pitch = int(value)
            elif kind == "Duration" and pitch is not None:
                ok = self._fits(pitch, now, sounding)
                sounding = tuple(s for s in sounding if s[0] > now + 1e-9) + ((now + _beats(value), pitch),)
        state = (len(ids), now, bar, sounding)
        if int(ids[-1]) in self.bar_ids and bar / 4.0 >= self.limits["bars"]:  # as many bars as the corpus's
            self.stats["ended_at_length"] += 1
            return ok, state, self.end
        return ok, state

    def _fits(self, pitch: int, now: float, sounding: tuple) -> bool:
        chord = sorted([p for end, p in sounding if end > now + 1e-9] + [pitch])
        if len(chord) > self.voices or not self.low <= pitch <= self.high:
            return False
        lows_highs = self.limits["ranges"].get(str(len(chord)))
        if not lows_highs:
            return True
        lo, hi = lows_highs[chord.index(pitch)]
        return lo - RANGE_SLACK <= pitch <= hi + RANGE_SLACK


def _beats(value: str) -> float:
    """A miditok time value ``beats.positions.resolution`` in beats."""
    beats, positions, res = (int(x) for x in value.split("."))
    return beats + positions / res
