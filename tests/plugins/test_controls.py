from collections import Counter

import pytest

from musegen import MusegenError
from musegen_abc.controls import (
    Controls,
    Table,
    Wanted,
    key_name,
    meter_name,
    misses,
    of_tune,
    parse_line,
    prime_text,
    refusal,
    strip_line,
    with_line,
    with_type,
)

JIG = """X:1
T:A Jig
M:6/8
L:1/8
K:G
D|GAB c2d|e3 d2B|GAB c2d|e3 d2B|GAB c2d|e3 d2B|GAB c2A|G3 G2:|
|:B|def g2d|e3 d2B|def g2d|e3 d2B|def g2d|e3 d2B|GAB c2A|G3 G2:|
"""
REEL = """X:1
T:A Reel
R:Reel
M:C|
L:1/8
K:D Mixolydian
ABcd efge|ABcd efge|ABcd efge|ABcd e4||
"""


def test_meters_and_keys_are_spelled_one_way():
    assert [meter_name(m) for m in ("C", "C|", " 6/8 ", "", None)] == ["4/4", "2/2", "6/8", None, None]
    spelled = [key_name(k) for k in ("D Major", "Dmaj", "Edor", "E Dorian", "F#m", "F# minor", "Bb", "Ador", "HP")]
    assert spelled == ["D", "D", "Edor", "Edor", "F#m", "F#m", "Bb", "Ador", None]


def test_a_tunes_controls_come_from_its_header_and_notes_and_survive_a_line():
    jig, reel = of_tune(JIG), of_tune(REEL)
    assert jig == Controls("jig", "6/8", "G", (8, 8))
    assert reel == Controls("reel", "C|", "Dmix", (4,))  # the meter as the corpus spells it, for primes
    assert reel.describe() == "reel in Dmix, 2/2, 1 part of 4 bars"
    assert jig.line() == "%jig 6/8 G 8+8\n"
    slip = Controls("slip jig", "9/8", "Ador", (8, 8, 8))
    assert parse_line(slip.line()) == slip
    assert jig.describe() == "jig in G, 6/8, 2 parts of 8 bars"
    assert prime_text(jig) == "X:1\n%jig 6/8 G 8+8\nR:jig\nM:6/8\nK:G\n"
    assert with_line(JIG).startswith(prime_text(jig))  # a prime is the start of a tune as it was learned


def test_the_line_goes_after_x_and_comes_out_again():
    text = with_line(JIG)
    # the fields the line decides come right after it (the type added), the others and the title after K:
    assert text.split("\n")[:7] == ["X:1", "%jig 6/8 G 8+8", "R:jig", "M:6/8", "K:G", "L:1/8", "T:A Jig"]
    assert strip_line(text) == with_type(JIG, "jig")
    assert strip_line(with_line(REEL)) == REEL.replace("K:D Mixolydian", "K:Dmix")  # a key spelled one way
    assert strip_line(JIG) == JIG


def test_a_type_is_written_into_a_tune_without_one():
    typed = with_type(JIG, "jig")
    assert typed.split("\n")[:3] == ["X:1", "T:A Jig", "R:jig"]
    assert with_type(REEL, "jig") == REEL  # it has an R: of its own


def table() -> Table:
    return Table(
        {
            Controls("jig", "6/8", "G", (8, 8)).line(): 6,
            Controls("jig", "6/8", "D", (8, 8, 8)).line(): 2,
            Controls("reel", "4/4", "Dmix", (8, 8)).line(): 3,
            Controls("waltz", "3/4", "G", (16,)).line(): 1,
        }
    )


@pytest.mark.parametrize(
    "want, message",
    [
        (Wanted(type="jog"), "--type jog: the corpus has no tune of that type; choose from jig, reel, waltz"),
        (Wanted(meter="5/4"), "--meter 5/4: the corpus has no tune in that meter; choose from 6/8, 4/4, 3/4"),
        (Wanted(key="C#"), "--key C#: the corpus has no tune in that key; choose from G, Dmix, D"),
        (Wanted(key="xyz"), "--key xyz"),
        (Wanted(parts=5), "--parts 5: the corpus has no tune of that many parts; choose from 2, 3, 1"),
        (Wanted(bars=12), "--bars 12: no part in the corpus is that long; choose from 8, 16"),
        (Wanted(type="jig", meter="3/4"), "--type jig --meter 3/4 contradict each other: the corpus's jigs are in 6/8"),
    ],
)
def test_a_control_the_corpus_never_uses_names_the_choices(want, message):
    with pytest.raises(MusegenError) as err:
        table().choose(want, 1, 0)
    assert str(err.value).startswith(message)


def test_spellings_a_musician_types_are_understood():
    chosen = table().choose(Wanted(type="Jigs", key="d", meter="6/8"), 4, 0)
    assert set(chosen) == {Controls("jig", "6/8", "D", (8, 8, 8))}
    with pytest.raises(MusegenError, match="contradict"):
        table().choose(Wanted(type="Jigs", meter="C"), 1, 0)
    assert {c.key for c in table().choose(Wanted(type="REEL", key="D mixolydian"), 5, 0)} == {"Dmix"}


def test_left_out_controls_follow_the_corpus():
    drawn = Counter(c.line() for c in table().choose(Wanted(), 1200, 3))
    assert abs(drawn[Controls("jig", "6/8", "G", (8, 8)).line()] / 1200 - 6 / 12) < 0.05
    assert abs(drawn[Controls("waltz", "3/4", "G", (16,)).line()] / 1200 - 1 / 12) < 0.03
    jigs = Counter(c.key for c in table().choose(Wanted(type="jig"), 800, 1))
    assert set(jigs) == {"G", "D"} and abs(jigs["G"] / 800 - 0.75) < 0.06


def test_given_controls_win_and_the_form_is_made_of_them():
    chosen = table().choose(Wanted(type="jig", key="G", parts=3, bars=8), 10, 0)
    assert set(chosen) == {Controls("jig", "6/8", "G", (8, 8, 8))}
    assert {c.bars for c in table().choose(Wanted(type="waltz", parts=2), 5, 0)} == {(16, 16)}
    assert {c.bars for c in table().choose(Wanted(type="reel", bars=16), 5, 0)} == {(16, 16)}
    assert table().choose(Wanted(), 7, 5) == table().choose(Wanted(), 7, 5)  # the seed decides


def test_misses_says_how_a_tune_differs_from_what_was_asked():
    assert misses(JIG, Controls("jig", "6/8", "G", (8, 8))) == []
    assert misses(JIG, Controls("reel", "4/4", "D", (8, 8, 8))) == [
        "meter 6/8, asked 4/4",
        "key G, asked D",
        "type jig, asked reel",
        "form 8+8, asked 8+8+8",
    ]
    assert misses(REEL, Controls("jig", "2/2", "Dmix", (4,))) == ["type reel, asked jig"]


def head(asked: Controls) -> str:
    return f"X:1\n{asked.line()}T:T\nM:6/8\nL:1/8\nK:G\n"


def test_the_checker_rule_holds_the_header_to_the_controls():
    assert refusal(head(Controls("jig", "6/8", "G", (8, 8))), False, header=True) is None
    assert "key G, asked D" in refusal(head(Controls("jig", "6/8", "D", (8, 8))), False, header=True)
    assert "meter 6/8" in refusal(head(Controls("reel", "4/4", "G", (8, 8))), False, header=True)
    assert refusal("X:1\nT:no controls\nM:6/8\nK:G\n", False, header=True) is None


def test_the_checker_rule_holds_each_part_to_its_bars_and_ends_the_tune_after_the_last():
    start = head(Controls("jig", "6/8", "G", (2, 2)))
    assert refusal(start + "D|GAB c2d|", False) is None
    assert refusal(start + "D|GAB c2d|e3 d2B|", False) is None  # a pickup and two bars: it may end here
    assert refusal(start + "D|GAB c2d|e3 d2B|GAB c2d|", False) == "part longer than asked"
    assert refusal(start + "D|GAB c2d:|", False).startswith("parts [1]")  # a part closed a bar early
    assert refusal(start + "D|GAB c2d|e3 d2:|", False) is None
    assert refusal(start + "D|GAB c2d|e3 d2:|", True).startswith("form (2,)")  # ends before its last part
    whole = start + "D|GAB c2d|e3 d2:||:B|def g2d|e3 d2:|"
    assert refusal(whole, True) is None
    assert refusal(whole + "GAB c2d|", False) == "music after the last part"
    assert refusal(whole + "B|", False) is None  # a pickup is not a bar


@pytest.mark.parametrize(
    "counts", [[], {"%jig 6/8 G 8+8\n": None}, {"%jig 6/8 G 8+8\n": -1}, {"not a line": 3}, {"%jig 6/8 G 8+8\n": True}]
)
def test_a_damaged_table_of_controls_is_refused_whole(counts):
    with pytest.raises((TypeError, ValueError)):
        Table(counts)
    with pytest.raises(MusegenError, match="no controls"):
        Table({}).choose(Wanted(), 1, 0)
