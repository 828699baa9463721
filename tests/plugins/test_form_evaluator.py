"""The ``form`` evaluator: shares and distributions beside the corpus's."""

from collections import Counter

from musegen import Piece
from musegen_eval.form import FormEvaluator, overlap
from tests.core.test_abcform import REEL, tune

ONE_PART = tune("4/4", "ABcd efga|" * 8 + "]")


def test_form_figures_beside_the_corpus():
    cut = Piece.from_abc(ONE_PART)
    cut.meta["complete"] = False  # cut at max_len
    generated = [Piece.from_abc(REEL), cut]
    corpus = [Piece.from_abc(REEL)] * 3
    out = FormEvaluator(None).evaluate(generated, corpus)
    assert out["form_regular_pct"] == 50.0 and out["corpus_form_regular_pct"] == 100.0
    assert out["form_ends_pct"] == 50.0 and out["form_repeats_pct"] == 50.0
    assert out["form_parts_shares"] == {"1": 50.0, "2": 50.0}
    assert out["form_parts_overlap"] == 0.5  # half the tunes have the corpus's two parts
    assert out["form_bars_per_part_shares"] == {"4": 66.7, "8": 33.3}
    assert out["form_bars_per_tune_overlap"] == 1.0  # both 8 bars in all


def test_overlap_is_a_histogram_intersection():
    assert overlap(Counter({1: 1, 2: 1}), Counter({2: 4})) == 0.5
    assert overlap(Counter(), Counter({2: 1})) == 0.0
