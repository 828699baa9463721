"""The form of an ABC tune: its parts and how many bars each lasts, read from the notes themselves.

A part ends at ``:|``, ``::``, ``||``, ``|]``, or at a ``|:`` that opens a new one. Its bars are
counted by duration against the meter (``M:``) and unit (``L:``), so a pickup and the partial bar that
closes the part make one bar. A second ending (``[2``, ``:|2``) replaces the first when the part is
played again: it is not counted. Pure Python: no abc2midi, no music library.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from fractions import Fraction

REGULAR_BARS = (4, 8, 16)  # what a part of a reel, jig or hornpipe lasts
_FIELD = re.compile(r"^([A-Za-z]):(.*)$")
_BAR = re.compile(r"\[?(?::*\|+\]?:*|:{2,}|\[\|)(?:\s*\[?\d+(?:[,-]\d+)*)?|\[\d+")  # bar lines, with endings
_LENGTH = re.compile(r"(\d*)(/*)(\d*)")
_TUPLET = re.compile(r"\((\d)(?::(\d*))?(?::(\d*))?")


@dataclass
class Form:
    """A tune's parts (bars of each, by duration), whether it repeats, and its meter and key."""

    parts: list[float] = field(default_factory=list)
    repeats: bool = False
    meter: str = ""
    key: str = ""

    @property
    def bars(self) -> list[int]:
        """Each part's length in whole bars, rounded (a pickup and the closing partial bar make one)."""
        return [int(p + 0.5) for p in self.parts]

    @property
    def regular(self) -> bool:
        """Two or more parts, each 4, 8 or 16 bars long."""
        return len(self.parts) >= 2 and all(b in REGULAR_BARS for b in self.bars)


def meter_length(meter: str) -> Fraction | None:
    """A bar's length in whole notes: ``6/8`` -> 3/4, ``C`` -> 1, ``C|`` -> 1; None for free meter."""
    meter = meter.strip()
    if meter in ("C", "c"):
        return Fraction(1)
    if meter in ("C|", "c|"):
        return Fraction(1)
    m = re.match(r"^\(?([\d+]+)\)?\s*/\s*(\d+)", meter)
    if not m:
        return None
    top = sum(int(x) for x in m.group(1).split("+") if x)
    return Fraction(top, int(m.group(2))) if top and int(m.group(2)) else None


def default_unit(bar: Fraction | None) -> Fraction:
    """ABC's default ``L:``: 1/16 for meters under 3/4, else 1/8."""
    return Fraction(1, 16) if bar is not None and bar < Fraction(3, 4) else Fraction(1, 8)


def _fraction(text: str) -> Fraction | None:
    m = re.match(r"^\s*(\d+)\s*/\s*(\d+)", text)
    return Fraction(int(m.group(1)), int(m.group(2))) if m and int(m.group(2)) else None


def _multiplier(num: str, slashes: str, den: str) -> float:
    """A note's length suffix: ``2`` -> 2, ``/`` -> 1/2, ``//`` -> 1/4, ``3/2`` -> 3/2, ``/4`` -> 1/4.
    A model's ``/0`` is read as ``/``: a form is read from any text, never a division by zero."""
    value = float(num) if num else 1.0
    if slashes:
        value /= int(den) if den and int(den) else 2 ** len(slashes)
    return value


def read_form(text: str) -> Form:
    """The form of one tune (see the module's docstring)."""
    reading = _Reading()
    for raw in text.splitlines():
        reading.feed(raw)
    reading.state.end()
    return reading.done()


def read_progress(text: str) -> tuple[Form, float, bool]:
    """The form of the start of a tune, as it is being written: the parts it has closed, the bars so far
    of the part it is in (a second ending, which is not counted, adds none), and whether a ``|:`` waits
    for its ``:|``. Called at each bar line of a tune being sampled, so the reading of its whole lines
    is kept and only new text is read."""
    cut = text.rfind("\n") + 1
    reading = _reading_of(text[:cut]).copy()
    reading.feed(text[cut:])
    return reading.done(), float(reading.state.part), reading.state.repeat_open


_READINGS: dict[str, _Reading] = {}  # text that ends with a line break -> its reading


def _reading_of(lines: str) -> _Reading:
    """The reading of ``lines`` (whole lines), from the reading of all but the last one where it is kept."""
    if lines in _READINGS:
        return _READINGS[lines]
    if not lines:
        return _Reading()
    cut = lines.rfind("\n", 0, len(lines) - 1) + 1
    reading = _reading_of(lines[:cut]).copy() if cut else _Reading()
    reading.feed(lines[cut:-1])
    if len(_READINGS) > 50_000:  # a bound on the memory, far above one sampling call's tunes
        _READINGS.clear()
    _READINGS[lines] = reading
    return reading


class _Reading:
    """A tune read line by line: its header's meter, unit and key, then its music (:class:`_Reader`)."""

    def __init__(self):
        self.header_done, self.meter, self.unit, self.key = False, "", None, ""
        self.form = Form()
        self.state = _Reader(self.form)

    def copy(self) -> _Reading:
        new = copy.copy(self)
        new.form = Form(list(self.form.parts), self.form.repeats)
        new.state = copy.copy(self.state)
        new.state.form = new.form
        new.state.tuplet = list(self.state.tuplet)
        return new

    def done(self) -> Form:
        self.form.meter, self.form.key = self.meter, self.key
        return self.form

    def feed(self, raw: str) -> None:
        line = raw.split("%", 1)[0].rstrip() if not raw.startswith("%%") else ""
        if not line.strip():
            return
        m = _FIELD.match(line)
        state = self.state
        if m and (not self.header_done or m.group(1) in "KLMPQRTWwNnIVm"):
            name, value = m.group(1), m.group(2).strip()
            if name == "M":
                self.meter = value
                state.set_meter(value)
            elif name == "L":
                self.unit = _fraction(value)
                state.unit = self.unit
            elif name == "K":
                self.key = self.key or value
                if not self.header_done:
                    self.header_done = True
                    state.unit = self.unit or default_unit(state.bar)
            return
        if self.header_done:
            state.line(line)


class _Reader:
    """Walks the music, adding each note's share of a bar to the current part."""

    def __init__(self, form: Form):
        self.form = form
        self._bar: Fraction | None = None
        self._unit: Fraction | None = None
        self.scale = 0.0  # a unit note's share of a bar
        self.compound = False  # 6/8, 9/8, 12/8: beats of three
        self.part = 0.0  # bars so far in the current part (floats: Fractions made reading much slower)
        self.alternate = False  # inside a second (or later) ending: not counted
        self.repeat_open = False  # a |: is waiting for its :|
        self.tuplet: list = []  # notes left in a tuplet and the factor they take
        self.broken = 1.0  # factor for the next note after > or <
        self.last_note: list | None = None  # [multiplier] of the last note, for a following > or <

    @property
    def bar(self) -> Fraction | None:
        return self._bar

    @bar.setter
    def bar(self, value: Fraction | None) -> None:
        self._bar = value
        self.scale = float(self._unit / value) if value and self._unit else 0.0

    @property
    def unit(self) -> Fraction | None:
        return self._unit

    @unit.setter
    def unit(self, value: Fraction | None) -> None:
        self._unit = value
        self.scale = float(value / self._bar) if value and self._bar else 0.0

    def add(self, length: float) -> None:
        if not self.alternate:
            self.part += length * self.scale

    def close(self) -> None:
        if self.part >= 0.5:
            self.form.parts.append(round(self.part, 9))  # 1/3 + 1/3 + 1/3 is 1
            self.part = 0.0
        # else: a pickup before a |:, carried into the part it leads into
        self.alternate = False

    def end(self) -> None:
        if 0 < self.part < 0.5 and self.form.parts:  # a last partial bar after the final part's end
            self.form.parts[-1] = round(self.form.parts[-1] + self.part, 9)
        else:
            self.close()

    def barline(self, token: str) -> None:
        ending = re.search(r"(\d+)", token)
        symbol = re.sub(r"[\s\d,\-\[]", "", token) if not token.startswith("[|") else "[|"
        if ":" in symbol:
            self.form.repeats = True
        if symbol.startswith(":") and symbol.endswith(":"):  # :: or :|: or :||:
            self.close()
            self.repeat_open = True
        elif symbol.startswith(":"):  # :| or :|] (a repeat ends, maybe with an ending after)
            if ending and int(ending.group(1)) >= 2:
                self.alternate = True  # the part goes on in its second ending, not counted
            else:
                self.close()
            self.repeat_open = False
        elif symbol.endswith(":"):  # |: opens a part
            self.close()
            self.repeat_open = True
        elif symbol in ("||", "|]", "[|"):
            self.close()
        if ending and not symbol.startswith(":"):
            self.alternate = int(ending.group(1)) >= 2

    def line(self, line: str) -> None:
        i, n = 0, len(line)
        while i < n:
            c = line[i]
            if c == '"':  # a chord symbol or annotation
                j = line.find('"', i + 1)
                i = n if j < 0 else j + 1
            elif c in "!+" and line.find(c, i + 1) > i:  # a decoration: !trill!, +fermata+
                i = line.find(c, i + 1) + 1
            elif c == "{":  # grace notes take no time
                j = line.find("}", i + 1)
                i = n if j < 0 else j + 1
            elif c == "[" and i + 2 < n and line[i + 1].isalpha() and line[i + 2] == ":":  # [M:6/8], [K:D]
                j = line.find("]", i)
                j = n if j < 0 else j
                self.inline(line[i + 1 : j])
                i = j + 1
            elif c in "|:" or (c == "[" and i + 1 < n and (line[i + 1] in "|" or line[i + 1].isdigit())):
                m = _BAR.match(line, i)
                if m is None or m.end() == i:
                    i += 1
                    continue
                self.barline(m.group(0))
                i = m.end()
            elif c == "[":  # a chord: its length is its first note's, times a suffix after ]
                j = line.find("]", i)
                j = n if j < 0 else j
                inner = re.search(r"[A-Ga-gzx][,']*(\d*)(/*)(\d*)", line[i + 1 : j])
                first = _multiplier(*inner.groups()) if inner else 1.0
                m = _LENGTH.match(line, j + 1)
                i = m.end() if m else j + 1
                self.note(first * (_multiplier(*m.groups()) if m else 1))
            elif c == "(" and i + 1 < n and line[i + 1].isdigit():
                m = _TUPLET.match(line, i)
                p = int(m.group(1))
                q = int(m.group(2)) if m.group(2) else self._tuplet_q(p)
                r = int(m.group(3)) if m.group(3) else p
                if p:
                    self.tuplet = [r, q / p]
                i = m.end()
            elif c in "><":
                j = i
                while j < n and line[j] == c:
                    j += 1
                k = j - i
                long_, short = 2 - 0.5**k, 0.5**k
                first, second = (long_, short) if c == ">" else (short, long_)
                if self.last_note is not None:
                    self.add(self.last_note[0] * (first - 1))  # the note before lengthens or shortens
                self.broken = second
                i = j
            elif c in "ABCDEFGabcdefgzx":
                j = i + 1
                while j < n and line[j] in ",'":
                    j += 1
                m = _LENGTH.match(line, j)
                self.note(_multiplier(*m.groups()))
                i = m.end()
            elif c == "Z" or c == "X":  # whole bars of rest
                m = re.match(r"[ZX](\d*)", line[i:])
                bars = int(m.group(1)) if m.group(1) else 1
                if self.bar is not None and self.unit is not None:
                    self.add(bars * float(self.bar / self.unit))
                i += len(m.group(0))
            elif c == "\\":
                i += 1
            else:  # accidentals (^ _ =) are part of the next note; spaces, ties, slurs, decorations
                i += 1

    def note(self, length: float) -> None:
        length *= self.broken
        self.broken = 1.0
        if self.tuplet:
            length *= self.tuplet[1]
            self.tuplet[0] -= 1
            if self.tuplet[0] <= 0:
                self.tuplet = []
        self.add(length)
        self.last_note = [length]

    def _tuplet_q(self, p: int) -> int:
        """ABC's default: (2 (4 (8 in the time of 3, (3 (6 of 2, others of 3 in compound meters else 2."""
        if p in (2, 4, 8):
            return 3
        if p in (3, 6):
            return 2
        return 3 if self.compound else 2

    def set_meter(self, meter: str) -> None:
        self.bar = meter_length(meter)
        top = re.match(r"\s*(\d+)\s*/", meter)
        self.compound = bool(top) and int(top.group(1)) % 3 == 0 and int(top.group(1)) > 3

    def inline(self, field_text: str) -> None:
        name, _, value = field_text.partition(":")
        if name == "M":
            self.set_meter(value)
        elif name == "L":
            self.unit = _fraction(value) or self.unit
