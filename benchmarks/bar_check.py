"""What the bar checker's judge costs: abc2midi asked about every bar of O'Neill's tunes, three ways, in one run.

    python benchmarks/bar_check.py                  # 100 tunes, about a minute on a 2-core CPU
    python benchmarks/bar_check.py --tunes 300 --rounds 5

While it samples, musegen asks abc2midi about each bar as soon as its bar line is drawn: the tune so
far, cut there (``musegen_abc.barcheck``). These are the same texts, from the embedded O'Neill's
corpus: each tune cut at every bar line, and whole. Each way answers them in calls of 1 to 3 texts
(one sampling step brings a few tunes to a bar line; the sequence of call sizes is the same for
every way), alternating, best of ``--rounds``:

- ``convert``: one conversion to MIDI a text (the checker before session 16, two at a time in threads);
- ``check``: :func:`musegen.abc2midi.check`, messages only, one abc2midi a call;
- ``stream``: :class:`musegen.abc2midi_stream.CheckStream`, one abc2midi kept running (the checker now).

Each way's bar counts must equal ``convert``'s, text for text: the run fails otherwise. Prints a
table and, last, one JSON line.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import sys
import time

import musegen
from musegen.abc2midi import check, convert, wrong_bars
from musegen.abc2midi_stream import CheckStream


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tunes", type=int, default=100, help="O'Neill's tunes, each cut at every bar line")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds; the best counts")
    args = parser.parse_args()

    tunes = [p.text for p in musegen.get_registry().get("corpus", "oneills").build({"limit": args.tunes}).load().pieces]
    texts = [t[: i + 1] for t in tunes for i, ch in enumerate(t) if ch == "|"] + tunes
    rng = random.Random(0)
    calls, k = [], 0
    while k < len(texts):
        size = rng.choice([1, 1, 2, 3])
        calls.append(texts[k : k + size])
        k += size

    stream = CheckStream()
    ways = {"convert": lambda call: [convert(t).messages for t in call], "check": check, "stream": stream.check}
    best = {name: float("inf") for name in ways}
    answers = {}
    for _ in range(args.rounds):
        for name, judge in ways.items():
            start = time.perf_counter()
            got = [wrong_bars(m) for call in calls for m in judge(call)]
            best[name] = min(best[name], time.perf_counter() - start)
            answers[name] = got
    stream.close()

    wrong = {name: sum(a != b for a, b in zip(got, answers["convert"])) for name, got in answers.items()}
    per_text = {name: 1e3 * seconds / len(texts) for name, seconds in best.items()}
    print(
        f"{platform.machine()}, {len(texts):,} texts ({len(tunes)} O'Neill's tunes cut at every bar line, "
        f"and whole) in {len(calls):,} calls of 1-3, best of {args.rounds} rounds; "
        f"stream failures: {stream.failures}"
    )
    print(f"{'way':10} {'ms a text':>10} {'x convert':>10} {'bar counts off':>15}")
    for name in ways:
        print(f"{name:10} {per_text[name]:10.3f} {per_text['convert'] / per_text[name]:10.2f} {wrong[name]:15d}")
    print(
        json.dumps(
            {
                "texts": len(texts),
                "calls": len(calls),
                "rounds": args.rounds,
                "ms_per_text": {k: round(v, 4) for k, v in per_text.items()},
                "stream_ratio_vs_convert": round(per_text["convert"] / per_text["stream"], 2),
                "check_ratio_vs_convert": round(per_text["convert"] / per_text["check"], 2),
                "bar_counts_off": wrong,
            }
        )
    )
    if any(wrong.values()):
        sys.exit(1)


if __name__ == "__main__":
    main()
