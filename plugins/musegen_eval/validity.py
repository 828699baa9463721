"""How many generated ABC tunes are playable: abc2midi's verdict on each one."""

from __future__ import annotations

from musegen import Piece
from musegen.abc2midi import convert


class Validity:
    formats = ("abc",)

    def __init__(self, config):
        self.config = config

    def evaluate(self, pieces: list[Piece], reference: list[Piece]) -> dict[str, float]:
        if not pieces:
            return {}
        results = [convert(p.text) for p in pieces]
        n = len(pieces)

        def pct(k):
            return round(100.0 * k / n, 2)

        return {
            "tunes": n,
            "converted_pct": pct(sum(r.midi is not None for r in results)),
            "clean_pct": pct(sum(r.clean for r in results)),
            "bars_ok_pct": pct(sum(r.bars_ok for r in results)),
            "complete_pct": pct(sum(bool(p.meta.get("complete", True)) for p in pieces)),
        }
