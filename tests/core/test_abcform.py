"""The form reader on hand-made tunes: every way ABC writes a part's length."""

import pytest

from musegen.abcform import meter_length, read_form

REEL = """X:1
T:Reel
M:4/4
L:1/8
K:D
|:A2|dAFA dAFA|B2 AF E2 FE|dAFA dAFA|B2 AF D2 :|
|:fg|afdf afdf|g2 fd e2 fg|afdf afdf|g2 fe d2:|
"""


def tune(meter: str, body: str, unit: str | None = "L:1/8\n", key: str = "K:G") -> str:
    return f"X:1\nT:t\nM:{meter}\n{unit or ''}{key}\n{body}\n"


def test_a_reel_of_two_parts_with_pickups():
    form = read_form(REEL)
    assert form.parts == [4.0, 4.0] and form.bars == [4, 4] and form.regular and form.repeats
    assert (form.meter, form.key) == ("4/4", "D")


def test_first_and_second_endings_count_once():
    body = (
        "D|GAG GBd|ede gdB|GAG GBd|dBA GFE|GAG GBd|ede gdB|GAG GBd|1 ege dB:|2 ege d2||\n"
        "|:B|dBd gdB|ded gdB|dBd gdB|ded gdB|dBd gdB|ded gdB|dBd gdB|[1 ege dB:|[2 ege d2|]"
    )
    form = read_form(tune("6/8", body, unit=None))  # L: omitted: 1/8 for 6/8
    assert form.bars == [8, 8] and form.regular


def test_l_omitted_in_a_short_meter_is_a_sixteenth():
    body = "|:ABcd efga|ABcd efga|ABcd efga|ABcd efga::gfed cBAG|gfed cBAG|gfed cBAG|gfed cBAG:|"
    assert read_form(tune("2/4", body, unit=None)).bars == [4, 4]  # 8 sixteenths a bar


def test_triplets_and_broken_rhythm():
    body = "(3ABc d2 e4|A>B c>d e4|(3efg a2 a4|A<B e2 e4::a8|g8|f8|e8|]"
    form = read_form(tune("2/4", body, unit="L:1/16\n", key="K:Am"))
    assert form.parts == [4.0, 4.0] and form.regular


def test_chords_rests_grace_notes_and_symbols_take_their_time():
    body = '"G"[GBd]2 {a}g2 z2 !trill!f2|"C"[ce]4 [ce]>d c2|x8|Z|]'
    assert read_form(tune("4/4", body)).parts == [4.0]


def test_one_part_without_repeats_is_not_regular():
    form = read_form(tune("4/4", "ABcd efga|" * 8 + "]"))
    assert form.parts == [8.0] and not form.regular and not form.repeats


def test_parts_of_odd_lengths_are_not_regular():
    body = "|:ABcd efga|ABcd efga|ABcd efga:|\n|:gfed cBAG|gfed cBAG|gfed cBAG|gfed cBAG:|"
    form = read_form(tune("4/4", body))
    assert form.bars == [3, 4] and not form.regular


def test_a_meter_change_in_the_music():
    body = "|:ABcd efga|ABcd efga|[M:3/4]ABcd ef|ABcd ef:|\n|:[M:4/4]gfed cBAG|gfed cBAG|gfed cBAG|gfed cBAG:|"
    assert read_form(tune("4/4", body)).bars == [4, 4]


def test_tuplets_of_five_in_compound_meter_take_three():
    body = "(5ABcde fga|" + "ABc def|" * 3
    assert read_form(tune("6/8", body)).parts == [4.0]


@pytest.mark.parametrize("meter, length", [("6/8", 0.75), ("C", 1), ("C|", 1), ("2+3/8", 0.625), ("none", None)])
def test_meter_length(meter, length):
    assert meter_length(meter) == length


def test_the_corpus_reader_agrees_on_real_collections(shared_data):
    from musegen.abctext import read_text, split_tunes

    text = read_text((shared_data / "irish-train.abc").read_bytes())
    forms = [read_form(t.text) for t in split_tunes(text)]
    regular = sum(f.regular for f in forms) / len(forms)
    assert regular > 0.9  # reels, jigs and hornpipes of two 8-bar parts, nearly all


def test_reading_a_tune_bar_by_bar_gives_what_reading_it_whole_does():
    """read_progress keeps the reading of whole lines between calls: each answer must be a fresh one's."""
    from musegen.abcform import _Reading, read_progress
    from tests.conftest import TUNES

    for text in TUNES + [tune("6/8", "(3ABc d2|e>f g2:|\n|:[1 abc|d3:|[2 dcB|A3|]\n")]:
        for cut in [i + 1 for i, c in enumerate(text) if c in "|\n"]:
            fresh = _Reading()
            for line in text[:cut].split("\n"):
                fresh.feed(line)
            form, open_part, waiting = read_progress(text[:cut])
            assert (form.parts, form.repeats, open_part, waiting) == (
                fresh.form.parts,
                fresh.form.repeats,
                fresh.state.part,
                fresh.state.repeat_open,
            )


def test_a_zero_length_suffix_reads_as_a_half_not_an_error():
    tune = "X:1\nM:2/4\nL:1/8\nK:G\nA/0A/ B2 c2|d4|\n"
    assert read_form(tune).bars == read_form(tune.replace("A/0", "A/")).bars
