"""``midi-events``: all voices of a piece in one stream of miditok events: REMI, TSD or MIDILike.

REMI and TSD give each note its duration, so no note can be left hanging; MIDILike pairs each note-on
with a note-off that may come hundreds of events later. Decoding repairs what a model gets wrong
(events out of order, notes never released, more voices than ``max_voices``, time past
``max_beats``) and counts each repair in ``piece.meta["repairs"]``; it never raises on a sequence.
``fit`` learns from the corpus how many voices sound at once and each voice's pitch range: the checker
(:mod:`musegen_midi.check`) refuses a note that breaks them while a model samples. With
``normalize_key`` every piece is encoded in C major or A minor, and decoded in a key signature drawn
from the corpus's (:mod:`musegen_midi.key`).
"""

from __future__ import annotations

import zlib
from collections import Counter

import numpy as np
import symusic
from miditok import REMI, TSD, MIDILike, TokenizerConfig

from musegen import MusegenError, Piece
from musegen_midi.key import key_name, shift_to_c, shorter, signature

SPECIAL = ("PAD_None", "BOS_None", "EOS_None", "MASK_None")
TOKENIZERS = {"MIDILike": MIDILike, "TSD": TSD, "REMI": REMI}


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
        self.limits: dict | None = None  # learned by fit(): voices at once, each voice's pitch range
        self.keys: dict[str, int] | None = None  # learned by fit() with normalize_key: pieces per key signature
        if config.normalize_key and config.transpose:
            raise MusegenError(
                "encoder.normalize_key moves every piece to C major or A minor, so encoder.transpose's "
                "copies would all be the same piece again: set one of them"
            )
        self._make(config.tokenization)

    def _make(self, tokenization: str) -> None:
        config = self.config
        self.tokenization = tokenization
        self.tokenizer = TOKENIZERS[tokenization](
            TokenizerConfig(
                pitch_range=(config.pitch_low, config.pitch_high),
                beat_res={(0, 4): config.positions_per_beat, (4, 12): 4},
                num_velocities=config.velocities,
                use_programs=False,
                use_time_signatures=False,
                special_tokens=list(SPECIAL),
            )
        )
        self.id_to_token = {i: t for t, i in self.tokenizer.vocab.items()}

    @property
    def vocab_size(self) -> int:
        return len(self.tokenizer.vocab)

    @property
    def end_id(self) -> int:
        return self.tokenizer.vocab["EOS_None"]

    def fit(self, pieces: list[Piece]) -> None:
        """The vocabulary is fixed by the settings; from the corpus it learns the limits its checker holds
        samples to (:func:`musegen_midi.check.learn`)."""
        from musegen_midi.check import learn

        scores = []
        for p in pieces:
            try:
                scores.append(symusic.Score.from_midi(p.to_midi()))
            except Exception:  # noqa: BLE001 — symusic raises RuntimeError and others; encode() reports the piece
                continue
        if self.config.normalize_key:  # the limits hold in the key the model writes in
            signatures = [signature(s) for s in scores]
            self.keys = dict(sorted(Counter(map(str, signatures)).items()))
            scores = [s.shift_pitch(shorter(-g)) for s, g in zip(scores, signatures)]
        self.limits = learn(scores)

    def state(self) -> dict:
        from importlib.metadata import version

        return {
            "tokenizer": self.tokenization,
            "miditok": version("miditok"),
            "vocab_size": self.vocab_size,
            **({"limits": self.limits} if self.limits else {}),
            **({"keys": self.keys} if self.keys else {}),
        }

    def load_state(self, state: dict) -> None:
        if state.get("tokenizer", "MIDILike") != self.tokenization:  # a run keeps the scheme it was trained on
            self._make(state.get("tokenizer", "MIDILike"))
        self.limits = state.get("limits")
        self.keys = state.get("keys")
        if state.get("vocab_size") != self.vocab_size:
            raise MusegenError(
                f"this run's MIDI vocabulary had {state.get('vocab_size')} events, "
                f"the tokenizer now has {self.vocab_size}"
            )

    def augment(self, pieces: list[Piece]) -> list[Piece]:
        """Training copies transposed by each of ``config.transpose`` semitones (notes kept in range)."""
        out = list(pieces)
        for shift in self.config.transpose:
            for p in pieces:
                score = symusic.Score.from_midi(p.midi)
                pitches = [n.pitch for t in score.tracks for n in t.notes]
                if (
                    pitches
                    and self.config.pitch_low <= min(pitches) + shift
                    and max(pitches) + shift < self.config.pitch_high
                ):
                    out.append(Piece.from_midi(score.shift_pitch(shift).dumps_midi(), title=f"{p.title} {shift:+d}"))
        return out

    def encode(self, piece: Piece) -> list[int]:
        try:
            score = merge_tracks(symusic.Score.from_midi(piece.to_midi()))
        except Exception as exc:
            raise MusegenError(f"cannot read MIDI of '{piece.title}': {exc}") from None
        if self.config.normalize_key:
            score = score.shift_pitch(shift_to_c(score))
        seq = self.tokenizer.encode(score)
        seq = seq[0] if isinstance(seq, list) else seq
        return list(seq.ids) + [self.end_id]

    def encode_prime(self, text: str) -> list[int]:
        """A prime as event names separated by spaces, e.g. ``"NoteOn_60 Velocity_79"``."""
        ids = []
        for name in text.split():
            if name not in self.tokenizer.vocab:
                raise MusegenError(
                    f"prime event '{name}' is not in the midi-events vocabulary "
                    f"({self.tokenization}: e.g. {', '.join(list(self.tokenizer.vocab)[4:7])})"
                )
            ids.append(self.tokenizer.vocab[name])
        return ids

    def checker(self, options):
        """Voices and pitch ranges held to the corpus's while sampling (REMI, TSD): :mod:`musegen_midi.check`."""
        if not options.check_bars or not self.limits or self.tokenization == "MIDILike":
            return None
        from musegen_midi.check import NoteChecker

        return NoteChecker(self, self.limits)

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

    def valid(self, piece: Piece) -> bool:
        """Decoding needed no repair: what ``--valid-only`` keeps."""
        return not any(piece.meta.get("repairs", {}).values())

    def decode(self, ids: list[int]) -> Piece:
        if self.tokenization == "MIDILike":
            clean, fixes = self.repair(ids)
        else:
            clean, fixes = self._known(ids)
        try:
            score = self.tokenizer.decode([clean])
            if self.tokenization != "MIDILike":
                score = self._held(score, fixes)
            if self.config.normalize_key and self.keys:
                score = self._from_c(score, ids)
            data = score.dumps_midi()
        except Exception:  # should not happen after repair; still never raise
            fixes["decode_failed"] += 1
            data = symusic.Score(480).dumps_midi()
            score = None
        piece = Piece.from_midi(data, title="")
        piece.meta["repairs"] = dict(fixes)
        piece.meta["events"] = len(ids)
        piece.meta["notes"] = int(sum(len(t.notes) for t in score.tracks)) if score is not None else 0
        piece.meta["key"] = key_name(score) if score is not None else ""
        return piece

    def _from_c(self, score: symusic.Score, ids: list[int]) -> symusic.Score:
        """The piece moved from C to a key signature drawn as often as the corpus has it: the same events
        always give the same key."""
        signatures = [int(k) for k in self.keys]
        counts = np.array(list(self.keys.values()), dtype=float)
        rng = np.random.default_rng(zlib.crc32(np.asarray(ids, dtype=np.int64).tobytes()))
        drawn = signatures[rng.choice(len(signatures), p=counts / counts.sum())]
        return score.shift_pitch(shorter(drawn))  # the shorter way, as encoding moved it

    def _known(self, ids: list[int]) -> tuple[list[int], Counter]:
        """REMI/TSD: the ids of whole notes (pitch, velocity, duration, in that order) and of time events;
        an unknown or special id, an event out of that order (the note it breaks goes with it) and a note
        left unfinished are dropped and counted."""
        fixes, out, note = Counter(), [], []
        follows = {"Pitch": "Velocity", "Velocity": "Duration"}
        for i in ids:
            name = self.id_to_token.get(int(i))
            if name is None or name in SPECIAL:
                if name != "EOS_None":
                    fixes["unknown_id" if name is None else "special_token"] += 1
                continue
            kind = name.partition("_")[0]
            if note:  # inside a note: only its next event
                if kind == follows[self.id_to_token[note[-1]].partition("_")[0]]:
                    note.append(int(i))
                    if kind == "Duration":
                        out.extend(note)
                        note = []
                    continue
                fixes["out_of_order"] += 1
                note = []
            if kind == "Pitch":
                note = [int(i)]
            elif kind in ("Velocity", "Duration"):
                fixes["out_of_order"] += 1
            else:  # Bar, Position, TimeShift
                out.append(int(i))
        if note:
            fixes["unfinished_note"] += 1
        return out, fixes

    def _held(self, score: symusic.Score, fixes: Counter) -> symusic.Score:
        """REMI/TSD: notes past ``max_beats`` dropped, longer than ``max_note_beats`` shortened, and one that
        would sound beside ``max_voices`` others dropped; each counted. A note sounding while another of
        its pitch does (two voices in unison) goes to a track of its own: on one MIDI channel the first
        note-off would end both."""
        tpq = score.ticks_per_quarter
        tracks: list[tuple[symusic.Track, dict[int, int]]] = []  # each with the end of its last note of each pitch
        ends: list[int] = []
        for n in sorted((n for t in score.tracks for n in t.notes), key=lambda n: (n.time, n.pitch)):
            if n.time > self.config.max_beats * tpq:
                fixes["past_time_limit"] += 1
                break
            ends = [e for e in ends if e > n.time]
            if len(ends) >= self.config.max_voices:
                fixes["too_many_voices"] += 1
                continue
            if n.duration > self.config.max_note_beats * tpq:
                fixes["held_too_long"] += 1
                n = symusic.Note(n.time, int(self.config.max_note_beats * tpq), n.pitch, n.velocity)
            ends.append(n.end)
            free = next((t for t in tracks if t[1].get(n.pitch, 0) <= n.time), None)
            if free is None:
                free = (symusic.Track(program=0, is_drum=False), {})
                tracks.append(free)
            free[0].notes.append(n)
            free[1][n.pitch] = n.end
        out = symusic.Score(tpq)
        for track, _ in tracks or [(symusic.Track(program=0, is_drum=False), {})]:
            out.tracks.append(track)
        return out


def polyphony(midi: bytes) -> np.ndarray:
    """Number of notes sounding at each note onset of a MIDI file (:func:`musegen_midi.stats.polyphony`)."""
    from musegen_midi.stats import polyphony as of_score

    return of_score(symusic.Score.from_midi(midi))
