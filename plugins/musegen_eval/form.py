"""Whether tunes have the form of a tune: parts of 4, 8 or 16 bars, repeats, an end of their own.

Each figure is given for the tunes measured and, under ``corpus_``, for the training corpus, and each
distribution (parts per tune, bars per part, bars per tune) is compared with the corpus's by overlap
(1.0: the same shares)."""

from __future__ import annotations

import statistics
from collections import Counter

from musegen import Piece
from musegen.abcform import Form, read_form


def overlap(a: Counter, b: Counter) -> float:
    """Histogram intersection of two distributions: the sum of the smaller share of each value."""
    na, nb = sum(a.values()), sum(b.values())
    if not na or not nb:
        return 0.0
    return sum(min(a[k] / na, b[k] / nb) for k in set(a) | set(b))


def distributions(forms: list[Form]) -> dict[str, Counter]:
    return {
        "parts": Counter(len(f.parts) for f in forms),
        "bars_per_part": Counter(b for f in forms for b in f.bars),
        "bars_per_tune": Counter(sum(f.bars) for f in forms),
    }


def summary(forms: list[Form], pieces: list[Piece]) -> dict:
    n = len(forms)
    dist = distributions(forms)
    out = {
        "form_regular_pct": round(100.0 * sum(f.regular for f in forms) / n, 1),
        "form_repeats_pct": round(100.0 * sum(f.repeats for f in forms) / n, 1),
        "form_ends_pct": round(100.0 * sum(bool(p.meta.get("complete", True)) for p in pieces) / n, 1),
        "form_parts_median": statistics.median(dist["parts"].elements()),
        "form_bars_per_tune_median": statistics.median(dist["bars_per_tune"].elements()),
    }
    if dist["bars_per_part"]:
        out["form_bars_per_part_median"] = statistics.median(dist["bars_per_part"].elements())
    for name, counts in dist.items():
        total = sum(counts.values()) or 1
        out[f"form_{name}_shares"] = {str(k): round(100.0 * v / total, 1) for k, v in sorted(counts.items())}
    return out


class FormEvaluator:
    formats = ("abc",)

    def __init__(self, config):
        self.config = config
        self._corpus: tuple[list[Piece], list[Form]] | None = None

    def corpus_forms(self, reference: list[Piece]) -> list[Form]:
        if self._corpus is None or self._corpus[0] is not reference:
            self._corpus = (reference, [read_form(p.text) for p in reference])
        return self._corpus[1]

    def evaluate(self, pieces: list[Piece], reference: list[Piece]) -> dict:
        if not pieces:
            return {}
        forms = [read_form(p.text) for p in pieces]
        out = summary(forms, pieces)
        if reference:
            corpus = self.corpus_forms(reference)
            theirs, ours = distributions(corpus), distributions(forms)
            for name in ours:
                out[f"form_{name}_overlap"] = round(overlap(ours[name], theirs[name]), 3)
            out["corpus_form_regular_pct"] = round(100.0 * sum(f.regular for f in corpus) / len(corpus), 1)
        return out
