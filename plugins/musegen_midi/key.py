"""A piece's key (Krumhansl-Kessler profiles), and the move that takes its key signature to none.

The stats measure how many notes lie in a piece's key; the encoder can train on every piece moved to
C major or A minor (``encoder.normalize_key``), so that a model learns one scale instead of twelve.
"""

from __future__ import annotations

import numpy as np

MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])
SCALES = {"major": [0, 2, 4, 5, 7, 9, 11], "minor": [0, 2, 3, 5, 7, 8, 10, 11]}  # minor: natural, and its leading note
NAMES = {
    "major": ["C", "Db", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B"],
    "minor": ["C", "C#", "D", "Eb", "E", "F", "F#", "G", "G#", "A", "Bb", "B"],
}


def pitch_classes(score, weighted: bool = True) -> np.ndarray:
    """The piece's pitch-class histogram (12 bins), by duration or by note count."""
    notes = [n for t in score.tracks for n in t.notes]
    return np.bincount(
        [n.pitch % 12 for n in notes], weights=[max(1, n.duration) for n in notes] if weighted else None, minlength=12
    ).astype(float)


def best_key(histogram: np.ndarray) -> tuple[int, str]:
    """(tonic, mode) whose Krumhansl-Kessler profile correlates best with ``histogram``."""
    best, score = (0, "major"), -2.0
    for mode, profile in (("major", MAJOR), ("minor", MINOR)):
        for tonic in range(12):
            r = np.corrcoef(histogram, np.roll(profile, tonic))[0, 1] if histogram.std() > 0 else 0.0
            if r > score:
                best, score = (tonic, mode), r
    return best


def signature(score) -> int:
    """The piece's key signature as its major key's tonic (0 = C, no sharps or flats; A minor is 0 too)."""
    tonic, mode = best_key(pitch_classes(score))
    return tonic if mode == "major" else (tonic + 3) % 12


def shorter(semitones: int) -> int:
    """The same move of pitch classes the shorter way: -6 to 5 semitones."""
    shift = semitones % 12
    return shift - 12 if shift > 5 else shift


def shift_to_c(score) -> int:
    """Semitones (-6 to 5, the shorter way) that move the piece's key signature to none."""
    return shorter(-signature(score))


def key_name(score) -> str:
    """The piece's best-fitting key in words, e.g. ``"E minor"``; empty for a piece without notes."""
    histogram = pitch_classes(score)
    if not histogram.any():
        return ""
    tonic, mode = best_key(histogram)
    return f"{NAMES[mode][tonic]} {mode}"
