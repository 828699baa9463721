"""Bar checking while sampling ABC: abc2midi judges each bar as it is drawn."""

from musegen_abc.barcheck import BarChecker, bar_warnings

HEAD = "X:1\nT:t\nM:6/8\nL:1/8\nK:D\n"


def test_bar_warnings_of_tunes_and_of_tunes_being_written():
    assert bar_warnings(HEAD + "A|dfa afd|gfe dcB|ABc def|e3 d2:|\n") == 0  # pickup completed by the last bar
    assert bar_warnings(HEAD + "A|dfa afd|gfe dc|ABc def|e3 d3|\n") == 1
    assert bar_warnings(HEAD + "A|dfa afd|gfe dcB|ABc def|e3 d3:|\n") == 1  # the pickup is not completed
    assert bar_warnings(HEAD + "A|dfa a2f-|") == 0  # a tie into a bar not drawn yet: an Error, no bar warning
    assert bar_warnings(HEAD + "A|dfa a2f2|") == 1


def test_checker_refuses_bars_that_add_mistakes_and_headers_without_a_meter():
    texts = {
        1: HEAD + "A|dfa afd|",
        2: HEAD + "A|dfa af|",
        3: HEAD + "A|dfa af|gfe dcB|",
        4: HEAD + "A|dfa af|gfe dc|",
        5: "X:1\nT:t\nL:1/8\nK:D\n",
        6: "X:1\nT:t\nM:3/4\nK:D\n",
    }
    checker = BarChecker(lambda ids: texts[ids[0]], bar_token=9, end_id=0, retries=2, header_temperature=1.0)
    try:
        assert checker.boundary(9) and checker.boundary(0) and not checker.boundary(8)
        assert checker.check([([1], 0), ([2], 0)]) == [(True, 0), (False, 1)]
        # kept with its short bar (state 1), a sequence is judged from there: the next good bar passes
        assert checker.check([([3], 1), ([4], 1)]) == [(True, 1), (False, 2)]
        assert checker.check([([5], 0), ([6], 0)]) == [(False, 0), (True, 0)]  # no M: line, then one
        assert checker.header_done([6])
    finally:
        checker.close()


def form_checker(texts: dict[int, str]) -> BarChecker:
    ids = {c: i for i, c in enumerate("|]:ABCDEFGabcdefg2 \n", start=1)}  # 0 ends a tune
    return BarChecker(
        lambda seq: texts[seq[0]], bar_token=ids["|"], end_id=0, retries=2, form=True, bars=False, tokens=ids
    )


def test_a_tune_held_to_its_form_ends_each_part_where_asked_and_ends_after_the_last():
    from musegen_abc.controls import Controls, prime_text

    start = prime_text(Controls("jig", "6/8", "D", (2, 2))) + "L:1/8\nT:t\n"
    texts = {
        1: start + "A|dfa afd|",
        2: start + "A|dfa afd|gfe dcB|",
        3: start + "A|dfa afd|gfe dcB||",
        4: start + "A|dfa afd|gfe dcB| d",
        5: start + "A|dfa afd:|",
        6: start + "A|dfa afd|gfe dcB:|B|dfa afd|gfe dc:|",
        7: start + "A|dfa afd|   |",
    }
    answers = form_checker(texts).check([([k], 0) for k in range(1, 8)])
    # a bar; the part's length reached (undecided: || or |] may follow); closed; not closed there; closed a
    # bar early; every part written; a bar of nothing but spaces
    assert [a[0] for a in answers] == [True, None, True, False, False, None, False]
    within, full, _, _, _, written, _ = [a[2] if len(a) > 2 else None for a in answers]
    ids = {c: i for i, c in enumerate("|]:ABCDEFGabcdefg2 \n", start=1)}
    assert 0 in within.banned  # no end in the middle of a part
    assert ids["|"] not in within.next and ids["A"] in within.next  # no || right after a bar line
    assert full.next == {ids["|"], ids["]"], ids[":"]}  # the part's length is reached: its bar line ends it
    assert written.next == {0}  # every part written: the tune ends (no ] after :|, which abc2midi refuses)
