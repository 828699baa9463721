"""Docstrings, comments and help texts under core/ and plugins/ say what and why: measurements (timings,
the machines they ran on, lab-log labels) belong in benchmarks/RESULTS.md."""

from __future__ import annotations

import io
import re
import tokenize

import pytest

from conftest import ROOT

LAB_NOTES = re.compile(
    r"\b(session|entry|round) \d+\b"  # a lab log's numbered entries
    r"|EPYC|Sapphire Rapids|Xeon|Ryzen|\bH100\b|\bH200\b|\bA100\b|\d-core\b"  # machines
    r"|\d[\d,.]* ?(ms|us|µs|ns)\b|(?<!past )\b\d[\d,.]* s\b"  # timings
    r"|characters/s|GFLOP/s|\d(\.\d+)?x (faster|slower|float)|microseconds|milliseconds",  # speeds
)
SOURCES = sorted(p for root in ("core", "plugins") for p in (ROOT / root).rglob("*.py"))


def texts(path):
    """Every string literal and comment of a module, with its line."""
    for tok in tokenize.generate_tokens(io.StringIO(path.read_text(encoding="utf-8")).readline):
        if tok.type in (tokenize.STRING, tokenize.COMMENT):
            yield tok.start[0], tok.string


def test_the_pattern_finds_lab_notes():
    for note in ("(RESULTS.md, session 12)", "on a 2-core AMD EPYC", "took 1.3 s", "7 ms against 76", "2.2x float32"):
        assert LAB_NOTES.search(note), note
    for fine in ("time signatures", "2 minutes of training", "mixed_float16", "bars 1-8", "notes held past 4 s"):
        assert not LAB_NOTES.search(fine), fine


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_lab_notes_in_docs_and_help(path):
    found = [
        f"{path.relative_to(ROOT)}:{line}: {m.group(0)!r}"
        for line, text in texts(path)
        for m in LAB_NOTES.finditer(text)
    ]
    assert not found, "\n".join(found)
