"""Tune types: R: spellings made the same, and the type inferred where a tune has no R:."""

import pytest

from musegen.tunetype import infer_type, normalize_type, tune_type


@pytest.mark.parametrize(
    "given, name",
    [
        ("Reel", "reel"),
        ("REEL", "reel"),
        ("reels", "reel"),
        ("double jig", "jig"),
        ("Jig", "jig"),
        ("slipjig", "slip jig"),
        ("Slip Jig", "slip jig"),
        ("Highland Fling", "fling"),
        ("  ", None),
    ],
)
def test_spellings_are_made_the_same(given, name):
    assert normalize_type(given) == name


@pytest.mark.parametrize(
    "meter, body, name",
    [
        ("6/8", "|:dfa afd|gfe dcB:|", "jig"),
        ("9/8", "|:dfa afd fed:|", "slip jig"),
        ("12/8", "dfa afd dfa afd|", "slide"),
        ("C|", "|:dAFA dAFA|B2AF E2FE:|", "reel"),
        ("4/4", "|:d>AF>A d>AF>A|B>AF>E D2D2:|", "hornpipe"),
        ("2/4", "dAFA dAFA|B2AF E2FE|dAFA dAFA|", "reel"),
        ("2/4", "|:d2 A2|B2 A2:|", "polka"),
        ("3/4", "d2 c2 B2|", "waltz"),
        ("5/4", "d2 c2 B2 A2 G2|", "air"),
        ("none", "dcBA|", None),
    ],
)
def test_types_inferred_from_meter_and_rhythm(meter, body, name):
    assert infer_type(meter, body) == name


def test_a_tune_s_own_r_field_wins():
    assert tune_type("X:1\nT:t\nR:double jig\nM:4/4\nK:D\nABcd efga|\n") == "jig"
    assert tune_type("X:1\nT:t\nM:6/8\nK:D\nABc def|\n") == "jig"
