"""Each evaluation metric on small hand-made cases whose answers are known."""

import math
from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from musegen import Piece
from musegen_eval.novelty import Novelty, Substrings, nearest_similarity
from musegen_eval.stats import Stats, normalize_key, notes, overlap, total_variation
from musegen_eval.validity import Validity


def tune(body, m="4/4", k="C", title="t"):
    return Piece.from_abc(f"X:1\nT:{title}\nM:{m}\nL:1/4\nK:{k}\n{body}\n")


def test_total_variation_and_overlap():
    assert total_variation(Counter(a=1, b=1), Counter(a=1)) == pytest.approx(0.5)
    assert total_variation(Counter(a=3), Counter(a=1)) == 0
    assert total_variation(Counter(a=1), Counter(b=1)) == 1
    assert overlap([1, 1], [1, 0]) == pytest.approx(0.5)
    assert overlap([2, 2, 0], [1, 1, 0]) == pytest.approx(1.0)
    assert overlap([0, 0], [1, 1]) == 0


@pytest.mark.parametrize(
    "raw,key",
    [
        ("G", "G"),
        ("Gmaj", "G"),
        ("Amin", "Am"),
        ("Em", "Em"),
        ("ADor", "Ador"),
        ("F#m", "F#m"),
        ("Bb", "Bb"),
        ("D mix", "Dmix"),
        ("Dmix", "Dmix"),
        ("A minor", "Am"),
        ("G clef=treble", "G"),
        (None, "?"),
    ],
)
def test_normalize_key(raw, key):
    assert normalize_key(raw) == key


def test_notes_pitches_and_lengths():
    got = notes(tune("C D E2|F/2G/2 A3/2 z/2 c|"))
    assert [p for p, _ in got] == [60, 62, 64, 65, 67, 69, 72]
    assert [d for _, d in got] == [1, 1, 2, 0.5, 0.5, 1.5, 1]


def test_stats_identical_and_disjoint():
    a = [tune("CDEF|GABc|", "4/4", "C"), tune("GAB|cde|", "3/4", "G")]
    same = Stats().evaluate(a, a)
    assert same == {
        "meter_tv": 0,
        "key_tv": 0,
        "pitch_class_overlap": 1,
        "note_length_overlap": 1,
        "pitch_range_overlap": 1,
    }
    b = [tune("C4|C4|", "6/8", "Dm")]
    diff = Stats().evaluate(b, a)
    assert diff["meter_tv"] == 1 and diff["key_tv"] == 1
    assert diff["pitch_class_overlap"] == pytest.approx(3 / 14, abs=1e-4)  # only C vs 3 Cs among 14 notes
    assert diff["note_length_overlap"] == pytest.approx(0)  # whole notes vs quarter notes


def test_validity_counts():
    good = tune("CDEF|GABc|")
    broken = tune("CD[[EF|")
    long_bar = tune("CDEF|GABcd|cBAG|")
    unfinished = tune("CDEF|")
    unfinished.meta["complete"] = False
    got = Validity(None).evaluate([good, broken, long_bar, unfinished], [])
    assert got == {"tunes": 4, "converted_pct": 100.0, "clean_pct": 75.0, "bars_ok_pct": 50.0, "complete_pct": 75.0}


def test_substrings_and_similarity():
    s = Substrings(["zzABCDzz", "qqq"])
    assert s.longest_common("xxABCDyy") == 4
    assert s.longest_common("xyz") == 1
    assert s.longest_common("") == 0
    assert Substrings(["ab"]).longest_common("xaby") == 2 and Substrings(["abcdefghij"]).longest_common("hij") == 3
    # the match from the second character on, carried over from the first (11 characters), goes on in another text
    assert Substrings(["xabcdefghijk", "abcdefghijkLMNOPQRS"]).longest_common("xabcdefghijkLMNOPQRS") == 19


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text("ab|", max_size=30), min_size=1, max_size=4), st.text("ab|c", max_size=40))
def test_longest_common_is_the_longest_substring_of_one_corpus_text(corpus, text):
    longest = max(
        (
            k
            for body in corpus
            for k in range(len(text) + 1)
            for j in range(len(text) - k + 1)
            if text[j : j + k] in body
        ),
        default=0,
    )
    assert Substrings(corpus).longest_common(text) == longest
    corpus = ["CDEFGABcdefgabc'", "GGGGAAAABBBBcccc"]
    from collections import defaultdict

    index = defaultdict(set)
    for i, body in enumerate(corpus):
        for j in range(len(body) - 7):
            index[body[j : j + 8]].add(i)
    assert nearest_similarity(corpus[1], corpus, index) == 1.0
    assert nearest_similarity("zzzzzzzzzzzz", corpus, index) == 0.0
    near = "CDEFGABcdefgabc'" + "zz"  # ratio 32/34 = 0.941 to the first tune
    assert nearest_similarity(near, corpus, index) == pytest.approx(32 / 34)
    assert nearest_similarity(near, corpus, index, floor=0.94) == pytest.approx(32 / 34)
    assert nearest_similarity(near, corpus, index, floor=0.95) == 0.0  # bounded below 0.95: not compared
    assert nearest_similarity(corpus[1], corpus, index, floor=0.95) == 1.0


def test_novelty_copies_and_longest_run():
    ref = [tune("CDEF|GABc|defg|abc'b|"), tune("GGGG|AAAA|BBBB|cccc|")]
    copy = tune("CDEF|GABc|defg|abc'b|", title="copy")
    new = tune("EDCD|EEE2|DDD2|EGG2|", title="new")
    got = Novelty().evaluate([copy, new], ref)
    assert got["copies_pct"] == 50.0
    assert got["longest_copy_chars"] == len("CDEF|GABc|defg|abc'b|")


def test_lstm_nll_of_a_uniform_model_is_log_vocab():
    from musegen_lstm.config import LSTMConfig
    from musegen_lstm.fast.lstm import LSTMModel

    m = LSTMModel(LSTMConfig(embedding_dim=4, units=8), 7)
    net = m.build()
    w, b = net.get_layer("logits").get_weights()
    net.get_layer("logits").set_weights([np.zeros_like(w), np.zeros_like(b)])
    total, count = m.nll([[1, 2, 3, 0], [4, 5, 0], [6] * 300 + [0]], end_id=0)
    assert count == 4 + 3 + 301
    assert total / count == pytest.approx(math.log(7), rel=1e-5)
