"""Bar checking while sampling: a bar that abc2midi finds too long or too short is drawn again.

abc2midi itself is the judge, so "a bar that fits the meter" means exactly what ``gen eval``
measures, pickups, repeats and endings included: at each bar line the tune so far is converted, and
the bar is refused when abc2midi reports more bar-length warnings than at the last accepted bar line.
Only warnings count: a tune cut at a bar line may have Error lines that its next bar would mend (a tie
to a note not drawn yet, a repeat not closed yet).
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


class BarChecker:
    """Checks bars (``bar_token`` closes one; ``None``: no bar checks) and says where the header of a
    tune ends (its ``K:`` line) for sampling it at ``header_temperature``."""

    def __init__(self, decode, bar_token: int | None, retries: int, header_temperature: float | None = None):
        self.decode, self.bar_token, self.retries = decode, bar_token, retries
        self.header_temperature = header_temperature
        self.accepted: dict[int, int] = {}
        self.pending: dict[int, int] = {}
        self.stats = {"bars": 0, "redraws": 0, "kept_wrong": 0}
        self._pool = ThreadPoolExecutor(max_workers=os.cpu_count() or 1)

    def boundary(self, token: int) -> bool:
        return token == self.bar_token

    def header_done(self, ids: list[int]) -> bool:
        """True once the tune has a complete ``K:`` line: its meter and key are chosen."""
        text = self.decode(ids)
        return text.endswith("\n") and ("\n" + text).rstrip("\n").rsplit("\n", 1)[-1].startswith("K:")

    def check(self, items: list[tuple[int, list[int]]]) -> list[bool]:
        counts = list(self._pool.map(lambda item: bar_warnings(self.decode(item[1])), items))
        out = []
        for (row, _), count in zip(items, counts):
            ok = count <= self.accepted.get(row, 0)
            if ok:
                self.accepted[row] = count
                self.stats["bars"] += 1
            else:
                self.pending[row] = count
                self.stats["redraws"] += 1
            out.append(ok)
        return out

    def give_up(self, row: int) -> None:
        """The bar refused last is kept: later bars are judged from there."""
        self.accepted[row] = self.pending.pop(row, self.accepted.get(row, 0))
        self.stats["redraws"] -= 1  # that refusal was not followed by a new draw
        self.stats["kept_wrong"] += 1
        self.stats["bars"] += 1

    def close(self) -> None:
        self._pool.shutdown()
