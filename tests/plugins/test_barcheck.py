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
    texts = {1: HEAD + "A|dfa afd|", 2: HEAD + "A|dfa af|", 3: HEAD + "A|dfa af|gfe dcB|",
             4: HEAD + "A|dfa af|gfe dc|", 5: "X:1\nT:t\nL:1/8\nK:D\n", 6: "X:1\nT:t\nM:3/4\nK:D\n"}
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
