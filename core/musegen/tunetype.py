"""A tune's type (reel, jig, hornpipe, ...): its ``R:`` field with spellings made the same, or, where
it has none, inferred from its meter and rhythm."""

from __future__ import annotations

import re

from musegen.abcform import meter_length

SPELLINGS = {  # what corpora write -> the one name musegen uses
    "double jig": "jig",
    "single jig": "jig",
    "jigs": "jig",
    "slipjig": "slip jig",
    "slip-jig": "slip jig",
    "reels": "reel",
    "hornpipes": "hornpipe",
    "set-dance": "set dance",
    "barn dance": "barndance",
    "highland fling": "fling",
    "highland": "fling",
}
BY_METER = {"6/8": "jig", "9/8": "slip jig", "12/8": "slide", "2/4": "polka", "3/4": "waltz", "3/2": "air"}


def normalize_type(text: str) -> str | None:
    """``Reel``, ``REEL``, ``reels`` -> reel; ``double jig`` -> jig; ``slipjig`` -> slip jig; None when blank."""
    name = " ".join(re.sub(r"[^a-z\- ]", " ", text.lower()).split())
    if not name:
        return None
    return SPELLINGS.get(name, name)


def infer_type(meter: str, body: str) -> str | None:
    """The type a tune of this meter and rhythm most likely is. Common time, and 2/4 with six or more
    notes a bar (the old collections' reels): a reel, or a hornpipe where a quarter of the notes or more
    are dotted (``>``, ``<``, ``3/2``); 6/8 a jig, 9/8 a slip jig, 12/8 a slide, 2/4 otherwise a polka,
    3/4 a waltz; any other meter an air."""
    meter = meter.strip()
    notes = len(re.findall(r"[A-Ga-g]", body))
    bars = max(1, len(re.findall(r"\|", body)))
    if meter in ("C", "C|", "4/4", "2/2") or (meter == "2/4" and notes / bars >= 6):
        dotted = len(re.findall(r"[<>]|3/2", body))
        return "hornpipe" if notes and dotted >= notes / 4 else "reel"
    if meter in BY_METER:
        return BY_METER[meter]
    return None if meter_length(meter) is None else "air"


def tune_type(text: str) -> str | None:
    """The type of the ABC tune ``text``: its ``R:`` if it has one, else :func:`infer_type`."""
    given = re.search(r"^R:(.*)$", text, re.MULTILINE)
    if given and normalize_type(given.group(1)):
        return normalize_type(given.group(1))
    meter = re.search(r"^M:(.*)$", text, re.MULTILINE)
    key = re.search(r"^K:.*$", text, re.MULTILINE)
    body = text[key.end() :] if key else ""
    return infer_type(meter.group(1) if meter else "", body)
