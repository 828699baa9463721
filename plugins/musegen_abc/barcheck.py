"""Checking ABC while it is sampled: abc2midi judges each bar as soon as its bar line is drawn.

abc2midi itself is the judge, so "a bar that fits the meter" means exactly what ``gen eval``
measures, pickups, repeats and endings included: at each bar line (and at the end of the tune) the
tune so far is converted, and the bar is refused when abc2midi reports more bar-length warnings than
at the last accepted boundary (the checker's state). Only warnings count: a tune cut at a bar line
may have Error lines that its next bar would mend (a tie to a note not drawn yet, a repeat not
closed yet). The header is checked when its ``K:`` line ends: it must say the meter (``M:``).
The tunes a sampling step brings to a bar line are checked together, by one abc2midi that the checker
keeps running (:mod:`musegen.abc2midi_stream`) until it is closed.
"""

from __future__ import annotations

from musegen.abc2midi import check, wrong_bars
from musegen.abc2midi_stream import CheckStream


def bar_warnings(text: str) -> int:
    """How many bars of ``text`` (a tune, or the start of one) abc2midi finds the wrong length."""
    return bar_warnings_of([text])[0]


def bar_warnings_of(texts: list[str], judge=check) -> list[int]:
    """:func:`bar_warnings` of each text, from ``judge``'s messages (:func:`musegen.abc2midi.check`: in
    as few abc2midi processes as it can)."""
    return [wrong_bars(messages) for messages in judge(texts)]


def header_line(text: str) -> str | None:
    """The ``K:`` line that ``text`` ends with when that line closes the header, else None."""
    if not text.endswith("\n"):
        return None
    lines = text.rstrip("\n").split("\n")
    first_key = next((i for i, line in enumerate(lines) if line.startswith("K:")), None)
    return lines[first_key] if first_key == len(lines) - 1 else None


class BarChecker:
    """The ``musegen.Checker`` of ABC tunes: bar lines and the end of the tune are its boundaries, and
    the header's end (``bar_token`` None: no bar checks, only the header's temperature)."""

    initial = 0  # bar-length warnings so far

    def __init__(self, decode, bar_token: int | None, end_id: int, retries: int,
                 header_temperature: float | None = None):
        self.decode, self.retries, self.header_temperature, self.end_id = decode, retries, header_temperature, end_id
        self.tokens = {bar_token, end_id} if bar_token is not None else set()
        self.give_up = 4 * retries + 8  # refusals of one tune at most, all its bars together
        self.stats: dict = {}
        self._judge = CheckStream()

    def boundary(self, token: int) -> bool:
        return token in self.tokens

    def header_done(self, ids: list[int]) -> bool:
        """True once the tune has a whole ``K:`` line: its meter and key are chosen."""
        return any(line.startswith("K:") for line in self.decode(ids).split("\n")[:-1])

    def check(self, items: list[tuple[list[int], int]]) -> list[tuple[bool, int]]:
        texts = [self.decode(ids) for ids, _ in items]
        answers: list[tuple[bool, int]] = []
        bars = []  # a bar line, or the end of the tune: abc2midi counts the bars of the wrong length
        for (ids, warnings), text in zip(items, texts):
            if ids[-1] != self.end_id and header_line(text) is not None:  # the header closes: it must say its meter
                answers.append(((not self.tokens or "\nM:" in "\n" + text), warnings))
            else:
                bars.append(len(answers))
                answers.append((False, warnings))
        for k, count in zip(bars, bar_warnings_of([texts[k] for k in bars], self._judge.check)):
            answers[k] = (count <= answers[k][1], count)
        return answers

    def close(self) -> None:
        """Ends the abc2midi that judged the bars."""
        self._judge.close()
