"""What a MIDI piece sounds like in numbers, beside real pieces: voices, key, range, held notes, density.

Per piece, reported for the median piece (``gen eval`` shows the held-out real pieces beside them):
mean and max polyphony (notes sounding at each onset), the share of notes in the piece's best-fitting
key (Krumhansl-Kessler profiles), pitch range, the share of notes held past 4 seconds, notes per beat.
Over all pieces: the pitch-class histogram's overlap with the training corpus's, and the share of
pieces whose decoding needed a repair.
"""

from __future__ import annotations

import numpy as np
import symusic

from musegen import Piece
from musegen_midi.key import SCALES, best_key, pitch_classes

HELD = 4.0  # seconds: a note held longer is (almost always) a note a model forgot to end


def polyphony(score: symusic.Score) -> np.ndarray:
    """Number of notes sounding at each note onset."""
    notes = [(n.time, n.end) for t in score.tracks for n in t.notes if n.duration > 0]
    if not notes:
        return np.zeros(0)
    starts, ends = np.array([s for s, _ in notes]), np.array([e for _, e in notes])
    return np.array([int(((starts <= t) & (ends > t)).sum()) for t in np.unique(starts)])


def piece_stats(p: Piece) -> dict | None:
    score = symusic.Score.from_midi(p.to_midi())
    notes = [n for t in score.tracks for n in t.notes]
    if not notes:
        return None
    pitches = np.array([n.pitch for n in notes])
    tpq = score.ticks_per_quarter or 480
    beats = max(1e-9, (max(n.end for n in notes) - min(n.time for n in notes)) / tpq)
    counts = pitch_classes(score, weighted=False)
    tonic, mode = best_key(pitch_classes(score))
    in_key = sum(counts[(tonic + d) % 12] for d in SCALES[mode]) / counts.sum()
    seconds = score.to("second")
    held = sum(n.duration > HELD for t in seconds.tracks for n in t.notes) / len(notes)
    pc = counts / counts.sum()
    poly = polyphony(score)
    return {
        "polyphony": float(poly.mean()) if poly.size else 0.0,
        "max_polyphony": int(poly.max()) if poly.size else 0,
        "in_key_pct": 100.0 * in_key,
        "held_past_4s_pct": 100.0 * held,
        "pitch_class_entropy": float(-(pc[pc > 0] * np.log2(pc[pc > 0])).sum()),
        "pitch_range": int(pitches.max() - pitches.min()),
        "notes_per_beat": len(notes) / beats,
        "monophonic": bool(poly.size and poly.max() <= 1),
        "pitch_classes": counts,
    }


class MidiStats:
    formats = ("midi",)

    def __init__(self, config=None):
        self.config = config
        self._corpus: tuple[int, np.ndarray] | None = None  # (id of the reference list, its pitch classes)

    def corpus_classes(self, reference: list[Piece]) -> np.ndarray:
        if self._corpus is None or self._corpus[0] != id(reference):
            total = sum(
                (pitch_classes(symusic.Score.from_midi(p.to_midi()), weighted=False) for p in reference), np.zeros(12)
            )
            self._corpus = (id(reference), total / max(1.0, total.sum()))
        return self._corpus[1]

    def evaluate(self, pieces: list[Piece], reference: list[Piece]) -> dict[str, float]:
        if not pieces:
            return {}
        rows = [r for r in (piece_stats(p) for p in pieces) if r]
        repaired = sum(1 for p in pieces if any(p.meta.get("repairs", {}).values()))
        ended = sum(1 for p in pieces if p.meta.get("complete", True))  # ended by the model, not cut at max_len
        out = {
            "tunes": len(pieces),
            "repaired_pct": round(100.0 * repaired / len(pieces), 2),
            "ended_pct": round(100.0 * ended / len(pieces), 2),
            "empty_pct": round(100.0 * (len(pieces) - len(rows)) / len(pieces), 2),
        }
        for key in (
            "polyphony",
            "max_polyphony",
            "in_key_pct",
            "held_past_4s_pct",
            "pitch_class_entropy",
            "pitch_range",
            "notes_per_beat",
        ):
            out[key] = round(float(np.median([r[key] for r in rows])), 3) if rows else 0.0
        out["monophonic_pct"] = round(100.0 * sum(r["monophonic"] for r in rows) / max(1, len(rows)), 2)
        if reference:
            total = sum((r["pitch_classes"] for r in rows), np.zeros(12))  # a piece without notes adds none
            mine = total / max(1.0, total.sum())
            out["pitch_class_overlap"] = round(float(np.minimum(mine, self.corpus_classes(reference)).sum()), 3)
        return out
