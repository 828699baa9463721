"""Checking ABC while it is sampled: abc2midi judges each bar as soon as its bar line is drawn.

abc2midi itself is the judge, so "a bar that fits the meter" means exactly what ``gen eval``
measures, pickups, repeats and endings included: at each bar line (and at the end of the tune) the
tune so far is converted, and the bar is refused when abc2midi reports more bar-length warnings than
at the last accepted boundary (the checker's state). Only warnings count: a tune cut at a bar line
may have Error lines that its next bar would mend (a tie to a note not drawn yet, a repeat not
closed yet). The header is checked when its ``K:`` line ends: it must say the meter (``M:``).
A tune with a control line (:mod:`musegen_abc.controls`) is also held to it: its header to the
meter, key and type asked, its parts to the bars asked, and its end to the end of its last part.
The tunes a sampling step brings to a bar line are checked together, by one abc2midi that the checker
keeps running (:mod:`musegen.abc2midi_stream`) until it is closed.
"""

from __future__ import annotations

import re

from musegen.abc2midi import check, wrong_bars
from musegen.abc2midi_stream import CheckStream
from musegen.interfaces import Limits
from musegen_abc.controls import form_check, refusal


def bar_warnings(text: str) -> int:
    """How many bars of ``text`` (a tune, or the start of one) abc2midi finds the wrong length."""
    return bar_warnings_of([text])[0]


def bar_warnings_of(texts: list[str], judge=check) -> list[int]:
    """:func:`bar_warnings` of each text, from ``judge``'s messages (:func:`musegen.abc2midi.check`: in
    as few abc2midi processes as it can)."""
    return [wrong_bars(messages) for messages in judge(texts)]


SPACES = re.compile(r"[ \t]{4,}")


def blank_bar(text: str) -> str | None:
    """Why the bar that ``text`` ends with (at its bar line) is no bar: nothing but spaces between two bar
    lines, or a run of four spaces or more. Such bars pass every other check, and a model that draws
    one after bars were refused draws more."""
    start = max(text.rfind("|", 0, len(text) - 1), text.rfind("\n", 0, len(text) - 1))
    bar = text[start + 1 : -1]
    if SPACES.search(bar):
        return "a run of spaces"
    if bar.strip(" \t") == "" and " " in bar and text[start] == "|" and text[start - 1 : start] not in (":", "|", "]"):
        return "an empty bar"
    return None


def header_line(text: str) -> str | None:
    """The ``K:`` line that ``text`` ends with when that line closes the header, else None."""
    if not text.endswith("\n"):
        return None
    lines = text.rstrip("\n").split("\n")
    first_key = next((i for i, line in enumerate(lines) if line.startswith("K:")), None)
    return lines[first_key] if first_key == len(lines) - 1 else None


def _limits(ids: dict[str, int], end: int) -> dict[str, Limits]:
    """What a tune held to its form may draw after a check, by where it is (``controls.form_check``): no
    end before the last part is done, no bar line that would end a part early (``||``, ``|]``, ``|:``
    after a bar line, a repeat sign ``:`` before its last bar), a bar line that ends a part where it is
    as long as asked, and the end of the tune once every part is written."""
    ban = frozenset({end})
    some = lambda chars: frozenset(ids[c] for c in chars if c in ids)  # noqa: E731
    every = frozenset(ids.values())
    go_on = every - some("|]:")  # after a bar line within a part: not the rest of a double bar line or repeat
    return {
        "start": Limits(banned=ban),
        "open": Limits(next=go_on, banned=ban | some(":")),
        "last": Limits(next=go_on, banned=ban),
        "close": Limits(next=some("|]:"), banned=ban),
        "end": Limits(next=frozenset({end}) | some("]")),
        "stop": Limits(next=frozenset({end})),
    }


class BarChecker:
    """The ``musegen.Checker`` of ABC tunes: bar lines and the end of the tune are its boundaries, and
    the header's end. ``bar_token`` None: no bar checks; ``form``: tunes held to their control lines."""

    initial = 0  # bar-length warnings so far

    def __init__(
        self,
        decode,
        bar_token: int | None,
        end_id: int,
        retries: int,
        header_temperature: float | None = None,
        form: bool = False,
        bars: bool = True,
        tokens: dict[str, int] | None = None,
    ):
        self.decode, self.retries, self.header_temperature, self.end_id = decode, retries, header_temperature, end_id
        self.tokens = {bar_token, end_id} if bar_token is not None else set()
        self.bars, self.form = bars and bar_token is not None, form
        # refusals of one tune at most, all its bars together; a form to hold to takes more
        self.give_up = (12 if form else 4) * retries + 8
        self.stats: dict = {}
        self._judge = CheckStream() if self.bars else None
        self.limits = _limits(tokens or {}, end_id)

    def boundary(self, token: int) -> bool:
        return token in self.tokens

    def header_done(self, ids: list[int]) -> bool:
        """True once the tune has a whole ``K:`` line: its meter and key are chosen."""
        return any(line.startswith("K:") for line in self.decode(ids).split("\n")[:-1])

    def check(self, items: list[tuple[list[int], int]]) -> list[tuple[bool | None, int]]:
        texts = [self.decode(ids) for ids, _ in items]
        answers: list[tuple[bool | None, int]] = []
        bars = []  # a bar line, or the end of the tune: abc2midi counts the bars of the wrong length
        for (ids, warnings), text in zip(items, texts):
            at_end = ids[-1] == self.end_id
            if not at_end and header_line(text) is not None:  # the header closes: it must say its meter
                has_meter = "\nM:" in "\n" + text
                ok = not self.tokens or (has_meter and not (self.form and refusal(text, False, header=True)))
                answers.append((ok, warnings))
                continue
            why, where = form_check(text, at_end) if self.form else (None, "")
            if not why and (self.bars or self.form) and not at_end:
                why = blank_bar(text)
            if why:
                answers.append((False, warnings))
                continue
            if where == "full":  # as long as asked: this bar line must end the part (|| |] |:)
                answers.append((None, warnings, self.limits["close"]) if text[-1] == "|" else (False, warnings))
                continue
            if where == "full-repeat":  # as long as asked, opened with |: : only a :| ends it, drawn before |
                answers.append((False, warnings))
                continue
            if where == "done" and not at_end:  # every part written: the tune ends (with |] after a plain |)
                plain = text.endswith("|") and text[-2:-1] not in ("|", ":", "]")
                answers.append((None, warnings, self.limits["end" if plain else "stop"]))
                continue
            limits = self.limits.get(where) if self.form and not at_end else None
            if self.bars:
                bars.append(len(answers))
                answers.append((False, warnings, limits))
            else:
                answers.append((True, warnings, limits))
        if bars:
            for k, count in zip(bars, bar_warnings_of([texts[k] for k in bars], self._judge.check)):
                answers[k] = (count <= items[k][1], count, answers[k][2])
        return [answer[:2] if answer[2:] == (None,) else answer for answer in answers]

    def close(self) -> None:
        """Ends the abc2midi that judged the bars."""
        if self._judge is not None:
            self._judge.close()
