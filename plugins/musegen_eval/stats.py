"""Style statistics of ABC tunes against a reference corpus.

Meters and keys are compared by total-variation distance (0: same distribution, 1: disjoint).
Pitch classes, note lengths and per-tune pitch ranges are compared by the overlapped area of their
normalized histograms (1: identical, 0: disjoint), as in MGEval.
"""

from __future__ import annotations

import functools
import os
import tempfile
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from musegen import Piece
from musegen.abc2midi import convert
from musegen.abctext import field

LENGTHS = (1 / 8, 1 / 6, 1 / 4, 1 / 3, 3 / 8, 1 / 2, 2 / 3, 3 / 4, 1, 1.5, 2, 3, 4)  # in quarter notes
RANGE_BINS = np.arange(0, 50, 2)


def total_variation(a: Counter, b: Counter) -> float:
    na, nb = sum(a.values()), sum(b.values())
    if not na or not nb:
        return 1.0
    keys = set(a) | set(b)
    return 0.5 * sum(abs(a[k] / na - b[k] / nb) for k in keys)


def overlap(p: np.ndarray, q: np.ndarray) -> float:
    p, q = np.asarray(p, float), np.asarray(q, float)
    if p.sum() == 0 or q.sum() == 0:
        return 0.0
    return float(np.minimum(p / p.sum(), q / q.sum()).sum())


MODES = {
    "maj": "",
    "ion": "",
    "min": "m",
    "aeo": "m",
    "mix": "mix",
    "dor": "dor",
    "phr": "phr",
    "lyd": "lyd",
    "loc": "loc",
}


def normalize_key(value: str | None) -> str:
    """Canonical key names: ``Gmaj`` → ``G``, ``A minor`` → ``Am``, ``D mix`` → ``Dmix``."""
    tokens = (value or "").split()
    if not tokens:
        return "?"
    first = tokens[0]
    tonic = first[:1].upper() + (first[1:2] if first[1:2] in ("#", "b") else "")
    mode = first[len(tonic) :] or (tokens[1] if len(tokens) > 1 else "")
    mode = mode.lower()
    if mode[:3] in MODES:
        return tonic + MODES[mode[:3]]
    return tonic + ("m" if mode.startswith("m") else "")


def notes(piece: Piece) -> list[tuple[int, float]]:
    """(MIDI pitch, duration in quarters) of every note, through abc2midi; empty when it fails."""
    pitches, durations = _notes(piece)
    return list(zip(pitches.tolist(), durations.tolist()))


def _notes(piece: Piece) -> tuple[np.ndarray, np.ndarray]:
    """:func:`notes` as two arrays: pitches and durations."""
    return _abc_notes(piece.text) if piece.midi is None else _midi_notes(piece.midi)


@functools.lru_cache(maxsize=4096)
def _abc_notes(text: str) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_notes` of an ABC text, kept (read-only arrays): ``gen eval`` reads the training tunes'
    notes for the samples' statistics, for the held-out tunes' and for the plot, and each conversion is
    a run of abc2midi."""
    result = convert(text)
    if result.midi is None:
        arrays = np.zeros(0, np.int64), np.zeros(0)
    else:
        arrays = _midi_notes(result.midi)
    for a in arrays:
        a.flags.writeable = False
    return arrays


def _midi_notes(midi: bytes) -> tuple[np.ndarray, np.ndarray]:
    import symusic

    score = symusic.Score.from_midi(midi)
    tpq = score.ticks_per_quarter or 480
    pitches = [n.pitch for track in score.tracks for n in track.notes]
    ticks = np.array([n.duration for track in score.tracks for n in track.notes], np.float64)
    # abc2midi shortens each note by a few ticks for articulation; round back to the written length
    return np.array(pitches, np.int64), np.round(ticks / tpq * 48) / 48


CONVERSIONS = 2
"""abc2midi runs :func:`features` keeps going at once (each tune its own process, waited for without the
GIL): two beat one; more gained nothing."""


def features(pieces: list[Piece]) -> dict:
    meters, keys = Counter(), Counter()
    pcs, lengths, ranges = np.zeros(12), np.zeros(len(LENGTHS)), np.zeros(len(RANGE_BINS))
    with ThreadPoolExecutor(CONVERSIONS) as pool:
        notes_of = list(pool.map(_notes, pieces))
    for p, (pitches, durations) in zip(pieces, notes_of):
        meters[field(p.text, "M") or "?"] += 1
        keys[normalize_key(field(p.text, "K"))] += 1
        if not len(pitches):
            continue
        np.add.at(pcs, pitches % 12, 1)
        np.add.at(lengths, np.abs(durations[:, None] - np.array(LENGTHS)).argmin(axis=1), 1)
        ranges[min(len(RANGE_BINS) - 1, int(pitches.max() - pitches.min()) // 2)] += 1
    return {"meters": meters, "keys": keys, "pitch_classes": pcs, "note_lengths": lengths, "pitch_ranges": ranges}


class Stats:
    formats = ("abc",)

    def __init__(self, config=None):
        self.config = config
        self._ref_cache: tuple[list[Piece], dict] | None = None

    def reference_features(self, reference: list[Piece]) -> dict:
        if self._ref_cache is None or self._ref_cache[0] is not reference:  # the list itself kept: no id reused
            self._ref_cache = (reference, features(reference))
        return self._ref_cache[1]

    def report(self, pieces: list[Piece], reference: list[Piece], out_dir) -> list:
        """Figures for a report: distributions of generated vs corpus tunes."""
        from musegen.atomic import atomic_path

        target = out_dir / "eval-stats.png"
        with atomic_path(target) as tmp:
            plot(pieces, reference, tmp)
        return [target]

    def evaluate(self, pieces: list[Piece], reference: list[Piece]) -> dict[str, float]:
        if not pieces or not reference:
            return {}
        a, b = features(pieces), self.reference_features(reference)
        return {
            "meter_tv": round(total_variation(a["meters"], b["meters"]), 4),
            "key_tv": round(total_variation(a["keys"], b["keys"]), 4),
            "pitch_class_overlap": round(overlap(a["pitch_classes"], b["pitch_classes"]), 4),
            "note_length_overlap": round(overlap(a["note_lengths"], b["note_lengths"]), 4),
            "pitch_range_overlap": round(overlap(a["pitch_ranges"], b["pitch_ranges"]), 4),
        }


def _bars(ax, labels, series: dict[str, np.ndarray], title: str):
    width = 0.8 / len(series)
    x = np.arange(len(labels))
    for i, (name, values) in enumerate(series.items()):
        total = values.sum() or 1
        ax.bar(x + i * width, values / total, width, label=name)
    ax.set_xticks(x + width * (len(series) - 1) / 2, labels, rotation=45, fontsize=7)
    ax.set_title(title, fontsize=9)


def _matplotlib_home() -> None:
    """Where the user's config and cache folders cannot be written, matplotlib prints two warnings and
    makes a ``/tmp/matplotlib-*`` folder of its own; give it one in musegen's scratch folder instead,
    which goes with the process (and is swept if the process is killed)."""
    if os.environ.get("MPLCONFIGDIR"):
        return
    for var, default in (("XDG_CONFIG_HOME", "~/.config"), ("XDG_CACHE_HOME", "~/.cache")):
        folder = Path(os.environ.get(var) or default).expanduser() / "matplotlib"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            tempfile.TemporaryFile(dir=folder).close()
        except (OSError, RuntimeError):
            from musegen.abc2midi import scratch

            os.environ["MPLCONFIGDIR"] = str(Path(scratch()) / "matplotlib")
            return


def plot(pieces: list[Piece], reference: list[Piece], path) -> None:
    """One PNG: meters, keys, pitch classes and note lengths of generated vs corpus tunes."""
    _matplotlib_home()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    a, b = features(pieces), features(reference)
    fig, axes = plt.subplots(2, 2, figsize=(11, 7))
    for ax, key, title in ((axes[0, 0], "meters", "meter (M:)"), (axes[0, 1], "keys", "key (K:)")):
        labels = [k for k, _ in (b[key] + a[key]).most_common(12)]
        _bars(
            ax,
            labels,
            {
                "generated": np.array([a[key][k] for k in labels], float),
                "corpus": np.array([b[key][k] for k in labels], float),
            },
            title,
        )
    names = ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"]
    _bars(axes[1, 0], names, {"generated": a["pitch_classes"], "corpus": b["pitch_classes"]}, "pitch class")
    lengths = ["1/32", "1/24", "1/16", "1/12", "3/32", "1/8", "1/6", "3/16", "1/4", "3/8", "1/2", "3/4", "1"]
    _bars(
        axes[1, 1], lengths, {"generated": a["note_lengths"], "corpus": b["note_lengths"]}, "note length (whole notes)"
    )
    axes[0, 0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
