"""Statistics of MIDI pieces: polyphony, pitch-class entropy, pitch range, note density, malformed share."""

from __future__ import annotations

import math

import numpy as np
import symusic

from musegen import Piece


def piece_stats(p: Piece) -> dict | None:
    # imported here, not above: the encoder's module imports miditok, which imports PyTorch (1.1 s that
    # `gen eval` of an ABC run spent on building this evaluator, which it then skips)
    from musegen_midi.encoder import polyphony

    score = symusic.Score.from_midi(p.to_midi())
    notes = [n for t in score.tracks for n in t.notes]
    if not notes:
        return None
    pitches = np.array([n.pitch for n in notes])
    tpq = score.ticks_per_quarter or 480
    beats = max(1e-9, (max(n.end for n in notes) - min(n.time for n in notes)) / tpq)
    pc = np.bincount(pitches % 12, minlength=12) / len(pitches)
    entropy = -sum(x * math.log2(x) for x in pc if x > 0)
    poly = polyphony(p.to_midi())
    return {"polyphony": float(poly.mean()) if poly.size else 0.0, "max_polyphony": int(poly.max()) if poly.size else 0,
            "pitch_class_entropy": entropy, "pitch_range": int(pitches.max() - pitches.min()),
            "notes_per_beat": len(notes) / beats}


class MidiStats:
    formats = ("midi",)

    def __init__(self, config=None):
        self.config = config

    def evaluate(self, pieces: list[Piece], reference: list[Piece]) -> dict[str, float]:
        if not pieces:
            return {}
        rows = [r for r in (piece_stats(p) for p in pieces) if r]
        malformed = sum(1 for p in pieces if any(p.meta.get("repairs", {}).values()))
        out = {"tunes": len(pieces), "malformed_pct": round(100.0 * malformed / len(pieces), 2),
               "empty_pct": round(100.0 * (len(pieces) - len(rows)) / len(pieces), 2)}
        for key in ("polyphony", "max_polyphony", "pitch_class_entropy", "pitch_range", "notes_per_beat"):
            out[key] = round(float(np.mean([r[key] for r in rows])), 3) if rows else 0.0
        return out
