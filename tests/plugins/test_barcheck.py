"""Bar checking while sampling ABC: abc2midi judges each bar as it is drawn."""

from musegen_abc.barcheck import BarChecker, bar_warnings

HEAD = "X:1\nT:t\nM:6/8\nL:1/8\nK:D\n"


def test_bar_warnings_of_tunes_and_of_tunes_being_written():
    assert bar_warnings(HEAD + "A|dfa afd|gfe dcB|ABc def|e3 d2:|\n") == 0  # pickup completed by the last bar
    assert bar_warnings(HEAD + "A|dfa afd|gfe dc|ABc def|e3 d3|\n") == 1
    assert bar_warnings(HEAD + "A|dfa afd|gfe dcB|ABc def|e3 d3:|\n") == 1  # the pickup is not completed
    assert bar_warnings(HEAD + "A|dfa a2f-|") == 0  # a tie into a bar not drawn yet: an Error, no bar warning
    assert bar_warnings(HEAD + "A|dfa a2f2|") == 1


def test_checker_refuses_only_new_mistakes_and_remembers_kept_ones():
    texts = {1: "A|dfa afd|", 2: "A|dfa af|", 3: "A|dfa af|gfe dcB|", 4: "A|dfa af|gfe dc|"}
    checker = BarChecker(lambda ids: HEAD + texts[ids[0]], bar_token=9, retries=2)
    try:
        assert checker.boundary(9) and not checker.boundary(8)
        assert checker.check([(0, [1]), (1, [2])]) == [True, False]
        checker.give_up(1)  # row 1 keeps its short bar: the next bars are judged from there
        assert checker.check([(1, [3]), (0, [4])]) == [True, False]
        assert checker.stats == {"bars": 3, "redraws": 1, "kept_wrong": 1}
    finally:
        checker.close()
