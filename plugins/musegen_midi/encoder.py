"""``midi-events``: all voices of a piece in one stream of MIDILike events (miditok).

Decoding repairs what a model gets wrong — note-offs for notes never started, notes never released,
velocity tokens out of place, time running past ``max_beats`` — and counts each repair in
``piece.meta["repairs"]``; it never raises on a token sequence.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import symusic
from miditok import MIDILike, TokenizerConfig

from musegen import MusegenError, Piece

SPECIAL = ("PAD_None", "BOS_None", "EOS_None", "MASK_None")


def merge_tracks(score: symusic.Score) -> symusic.Score:
    """One track holding every note of every (non-drum) track: several voices, one stream."""
    out = symusic.Score(score.ticks_per_quarter)
    out.time_signatures = score.time_signatures
    track = symusic.Track(program=0, is_drum=False)
    notes = [n for t in score.tracks if not t.is_drum for n in t.notes]
    notes.sort(key=lambda n: (n.time, n.pitch))
    for n in notes:
        track.notes.append(n)
    out.tracks.append(track)
    return out


class MidiEventsEncoder:
    format = "midi"
    unit = "event"  # what one token is: gen eval's NLL is per event

    def __init__(self, config):
        self.config = config
        self.tokenizer = MIDILike(TokenizerConfig(
            pitch_range=(config.pitch_low, config.pitch_high),
            beat_res={(0, 4): config.positions_per_beat, (4, 12): 4},
            num_velocities=config.velocities, use_programs=False, use_time_signatures=False,
            special_tokens=list(SPECIAL),
        ))
        self.id_to_token = {i: t for t, i in self.tokenizer.vocab.items()}

    @property
    def vocab_size(self) -> int:
        return len(self.tokenizer.vocab)

    @property
    def end_id(self) -> int:
        return self.tokenizer.vocab["EOS_None"]

    def fit(self, pieces: list[Piece]) -> None:
        """The vocabulary is fixed by the settings; nothing to learn from the corpus."""

    def state(self) -> dict:
        from importlib.metadata import version

        return {"tokenizer": "MIDILike", "miditok": version("miditok"), "vocab_size": self.vocab_size}

    def load_state(self, state: dict) -> None:
        if state.get("vocab_size") != self.vocab_size:
            raise MusegenError(f"this run's MIDI vocabulary had {state.get('vocab_size')} events, the tokenizer now has {self.vocab_size}")

    def augment(self, pieces: list[Piece]) -> list[Piece]:
        """Training copies transposed by each of ``config.transpose`` semitones (notes kept in range)."""
        out = list(pieces)
        for shift in self.config.transpose:
            for p in pieces:
                score = symusic.Score.from_midi(p.midi)
                pitches = [n.pitch for t in score.tracks for n in t.notes]
                if pitches and self.config.pitch_low <= min(pitches) + shift and max(pitches) + shift < self.config.pitch_high:
                    out.append(Piece.from_midi(score.shift_pitch(shift).dumps_midi(), title=f"{p.title} {shift:+d}"))
        return out

    def encode(self, piece: Piece) -> list[int]:
        try:
            score = merge_tracks(symusic.Score.from_midi(piece.to_midi()))
        except Exception as exc:
            raise MusegenError(f"cannot read MIDI of '{piece.title}': {exc}") from None
        seq = self.tokenizer.encode(score)
        seq = seq[0] if isinstance(seq, list) else seq
        return list(seq.ids) + [self.end_id]

    def encode_prime(self, text: str) -> list[int]:
        """A prime as event names separated by spaces, e.g. ``"NoteOn_60 Velocity_79"``."""
        ids = []
        for name in text.split():
            if name not in self.tokenizer.vocab:
                raise MusegenError(f"prime event '{name}' is not in the midi-events vocabulary (e.g. NoteOn_60, TimeShift_1.0.24)")
            ids.append(self.tokenizer.vocab[name])
        return ids

    def repair(self, ids: list[int]) -> tuple[list[int], Counter]:
        """A well-formed MIDILike sequence from any ids, and a count of each repair made."""
        vocab, fixes = self.tokenizer.vocab, Counter()
        tpb = self.config.positions_per_beat
        limit = self.config.max_beats * tpb
        out: list[int] = []
        sounding: dict[str, list[float]] = {}  # pitch -> onsets of its sounding notes (voices may share a pitch)
        longest = self.config.max_note_beats * tpb
        now = 0.0
        velocity_due = False
        velocities = sorted((t for t in vocab if t.startswith("Velocity_")), key=lambda t: int(t.split("_")[1]))
        default_velocity = velocities[len(velocities) // 2]
        for i in ids:
            name = self.id_to_token.get(int(i))
            if name is None:
                fixes["unknown_id"] += 1
                continue
            kind, _, value = name.partition("_")
            if velocity_due and kind != "Velocity":
                out.append(vocab[default_velocity])
                fixes["missing_velocity"] += 1
            velocity_due = False
            if name in SPECIAL:
                fixes["special_token"] += 1 if name != "EOS_None" else 0
                continue
            if kind == "NoteOn":
                if sum(map(len, sounding.values())) >= self.config.max_voices:
                    fixes["too_many_voices"] += 1  # a model that forgets its note-offs
                    continue
                sounding.setdefault(value, []).append(now)
                velocity_due = True
            elif kind == "NoteOff":
                if not sounding.get(value):
                    fixes["orphan_note_off"] += 1
                    continue
                sounding[value].pop(0)
            elif kind == "Velocity":
                if not out or not self.id_to_token[out[-1]].startswith("NoteOn_"):
                    fixes["orphan_velocity"] += 1
                    continue
            elif kind == "TimeShift":
                beat, pos, res = (int(x) for x in value.split("."))
                now += beat * tpb + pos * tpb / res
                if now > limit:
                    fixes["past_time_limit"] += 1
                    break
                for pitch, onsets in sounding.items():  # release notes the model forgot, before time moves on
                    while onsets and now - onsets[0] > longest:
                        onsets.pop(0)
                        out.append(vocab[f"NoteOff_{pitch}"])
                        fixes["held_too_long"] += 1
            out.append(int(i))
        if velocity_due:
            out.append(vocab[default_velocity])
            fixes["missing_velocity"] += 1
        left = sorted((p for p, onsets in sounding.items() for _ in onsets), key=int)
        if left:
            fixes["unreleased_note"] += len(left)
            out.append(vocab[f"TimeShift_1.0.{tpb}"])
            out.extend(vocab[f"NoteOff_{p}"] for p in left)
        return out, fixes

    def decode(self, ids: list[int]) -> Piece:
        clean, fixes = self.repair(ids)
        try:
            score = self.tokenizer.decode([clean])
            data = score.dumps_midi()
        except Exception:  # should not happen after repair; still never raise
            fixes["decode_failed"] += 1
            data = symusic.Score(480).dumps_midi()
            score = None
        piece = Piece.from_midi(data, title="")
        piece.meta["repairs"] = dict(fixes)
        piece.meta["events"] = len(ids)
        piece.meta["notes"] = int(sum(len(t.notes) for t in score.tracks)) if score is not None else 0
        return piece


def polyphony(midi: bytes) -> np.ndarray:
    """Number of notes sounding at each note onset."""
    score = symusic.Score.from_midi(midi)
    notes = [(n.time, n.end) for t in score.tracks for n in t.notes if n.duration > 0]
    if not notes:
        return np.zeros(0)
    starts = np.array([s for s, _ in notes])
    ends = np.array([e for _, e in notes])
    onsets = np.unique(starts)
    return np.array([int(((starts <= t) & (ends > t)).sum()) for t in onsets])
