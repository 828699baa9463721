"""Checking ABC while it is sampled: abc2midi judges each bar as soon as its bar line is drawn.

abc2midi itself is the judge, so "a bar that fits the meter" means exactly what ``gen eval``
measures, pickups, repeats and endings included: at each bar line (and at the end of the tune) the
tune so far is converted, and the bar is refused when abc2midi reports more bar-length warnings than
at the last accepted boundary (the checker's state). Only warnings count: a tune cut at a bar line
may have Error lines that its next bar would mend (a tie to a note not drawn yet, a repeat not
closed yet). The header is checked when its ``K:`` line ends: it must say the meter (``M:``).
Conversions run in parallel threads (each is a process of its own).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

from musegen.abc2midi import convert

BAR_WARNING = "time units while the time signature"


def bar_warnings(text: str) -> int:
    """How many bars of ``text`` (a tune, or the start of one) abc2midi finds the wrong length."""
    return sum(BAR_WARNING in w for w in convert(text).warnings)


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
        self._pool = ThreadPoolExecutor(max_workers=os.cpu_count() or 1)

    def boundary(self, token: int) -> bool:
        return token in self.tokens

    def header_done(self, ids: list[int]) -> bool:
        """True once the tune has a whole ``K:`` line: its meter and key are chosen."""
        return any(line.startswith("K:") for line in self.decode(ids).split("\n")[:-1])

    def _one(self, item: tuple[list[int], int]) -> tuple[bool, int]:
        ids, warnings = item
        text = self.decode(ids)
        if ids[-1] != self.end_id and header_line(text) is not None:  # the header closes: it must say its meter
            return (not self.tokens or "\nM:" in "\n" + text), warnings
        count = bar_warnings(text)  # a bar line, or the end of the tune
        return count <= warnings, count

    def check(self, items: list[tuple[list[int], int]]) -> list[tuple[bool, int]]:
        return list(self._pool.map(self._one, items))

    def close(self) -> None:
        self._pool.shutdown()
