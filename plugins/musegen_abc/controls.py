"""Controls: what a tune is (type, meter, key) and its form (the bars of each part), as one line.

Each training tune carries its controls as a comment line after ``X:``, such as ``%jig 6/8 G 8+8``,
so that the model learns to write the tune its line asks for. When sampling, each tune's prime ends
with the line the user asked for (what they left out drawn as the corpus has it), the checker holds
the tune to it (:func:`refusal`), and the encoder takes the line out again.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from dataclasses import dataclass

from musegen import MusegenError
from musegen.abcform import read_form, read_progress
from musegen.abctext import field
from musegen.tunetype import normalize_type, tune_type

MODE_NAMES = {0: "", -3: "m", -2: "dor", -4: "phr", 1: "lyd", -1: "mix", -5: "loc"}
MOVED = re.compile(r"^[A-Za-z]:(?![|:])")  # a header field written after K: (with_line), not music like "A:|"
LINE = re.compile(r"^%(\S+) (\S+) (\S+) (\d+(?:\+\d+)*)$", re.MULTILINE)


def meter_name(text: str | None) -> str | None:
    """``C`` -> 4/4, ``C|`` -> 2/2, ``6/8`` as it is; None when there is none."""
    value = "".join((text or "").split())
    return {"C": "4/4", "c": "4/4", "C|": "2/2", "c|": "2/2"}.get(value, value) or None


def key_name(text: str | None) -> str | None:
    """``D Major`` -> D, ``Edor``/``E Dorian`` -> Edor, ``F#m``/``F# minor`` -> F#m; None if not a key."""
    from musegen_abc.transpose import parse_key

    parsed = parse_key(text or "")
    if not parsed:
        return None
    key = parsed[0]
    return f"{key.letter}{ {1: '#', -1: 'b', 0: ''}[key.alteration] }{MODE_NAMES[key.mode_offset]}"


@dataclass(frozen=True)
class Controls:
    """One tune's controls: its type, meter, key, and the bars of each of its parts."""

    type: str
    meter: str
    key: str
    bars: tuple[int, ...]

    def line(self) -> str:
        form = "+".join(map(str, self.bars)) or "0"
        return f"%{self.type.replace(' ', '-')} {self.meter} {self.key} {form}\n"

    def describe(self) -> str:
        """``jig in G, 6/8, 2 parts of 8 bars``."""
        bars = set(self.bars)
        form = (
            f"{len(self.bars)} part{'s' * (len(self.bars) != 1)} of {self.bars[0]} bars"
            if len(bars) == 1
            else f"parts of {'+'.join(map(str, self.bars))} bars"
        )
        return f"{self.type} in {self.key}, {meter_name(self.meter) or self.meter}, {form}"


def parse_line(text: str) -> Controls | None:
    """The controls of the first control line in ``text``, or None."""
    m = LINE.search(text)
    if not m:
        return None
    bars = tuple(int(b) for b in m.group(4).split("+") if int(b))
    return Controls(m.group(1).replace("-", " "), m.group(2), m.group(3), bars)


def strip_line(text: str) -> str:
    """A tune as the model wrote it (:func:`with_line`'s order) in the usual order: without its control
    line, and with its titles and other header fields moved back before ``K:``."""
    if not LINE.search(text):
        return text
    lines = LINE.sub("", text, count=1).replace("\n\n", "\n", 1).split("\n")
    key = next((i for i, line in enumerate(lines) if line.startswith("K:")), None)
    if key is None:
        return "\n".join(lines)
    end = key + 1
    while end < len(lines) and MOVED.match(lines[end]):
        end += 1
    moved = lines[key + 1 : end]
    titles = [line for line in moved if line.startswith("T:")]
    others = [line for line in moved if not line.startswith("T:")]
    at = 1 if lines and lines[0].startswith("X:") else 0
    return "\n".join([*lines[:at], *titles, *lines[at:key], *others, lines[key], *lines[end:]])


def of_tune(text: str) -> Controls:
    """A corpus tune's controls, read from its header and its notes."""
    return Controls(
        tune_type(text) or "other",
        "".join((field(text, "M") or "").split()) or "none",
        key_name(field(text, "K")) or "none",
        tuple(read_form(text).bars),
    )


def with_line(text: str) -> str:
    """A tune as the model learns it: ``X:``, its control line, the fields the controls decide (``R:``,
    added if missing, ``M:``, ``K:`` spelled as :func:`key_name` does), then its other header fields and
    its titles, then its music. So a
    prime can hold everything asked for (:func:`prime_text`) and the model writes the rest after it."""
    controls = of_tune(text)
    if controls.type != "other":
        text = with_type(text, controls.type)
    lines = text.split("\n")
    at = 1 if lines and lines[0].startswith("X:") else 0
    key = next((i for i, line in enumerate(lines) if line.startswith("K:")), None)
    if key is None:
        return "\n".join([*lines[:at], controls.line().rstrip("\n"), *lines[at:]])
    header = lines[at:key]
    if controls.key != "none" and "=" not in lines[key]:
        lines[key] = f"K:{controls.key}"  # one spelling of each key: the one a prime writes
    decided = [line for line in header if line[:2] in ("R:", "M:")]
    titles = [line for line in header if line.startswith("T:")]
    others = [line for line in header if line[:2] not in ("R:", "M:", "T:")]
    return "\n".join(
        [*lines[:at], controls.line().rstrip("\n"), *decided, lines[key], *others, *titles, *lines[key + 1 :]]
    )


def prime_text(asked: Controls) -> str:
    """The start of a tune asked for: ``X:``, its control line and the fields it decides."""
    typed = f"R:{asked.type}\n" if asked.type != "other" else ""
    meter = f"M:{asked.meter}\n" if asked.meter != "none" else ""
    return f"X:1\n{asked.line()}{typed}{meter}K:{asked.key}\n"


@dataclass
class Wanted:
    """What a user asked for; None where they left it to the corpus."""

    type: str | None = None
    meter: str | None = None
    key: str | None = None
    parts: int | None = None
    bars: int | None = None

    @classmethod
    def of(cls, options) -> Wanted:
        return cls(*(getattr(options, name, None) for name in ("type", "meter", "key", "parts", "bars")))

    def given(self) -> bool:
        return any(v is not None for v in vars(self).values())

    def flags(self) -> str:
        return " ".join(f"--{k} {v}" for k, v in vars(self).items() if v is not None)


def _choices(values) -> str:
    counts = Counter(values)
    return ", ".join(str(v) for v, _ in sorted(counts.items(), key=lambda kv: (-kv[1], str(kv[0]))))


class Table:
    """The controls of a corpus's tunes, with their counts: what a left-out control is drawn from."""

    def __init__(self, counts: dict[str, int]):
        if not isinstance(counts, dict):
            raise TypeError(f"controls must be a table of counts, not {type(counts).__name__}")
        self.counts = {
            line: n
            for line, n in counts.items()
            if isinstance(line, str) and type(n) is int and n > 0 and parse_line(line)
        }
        if len(self.counts) != len(counts):  # a run.json edited or damaged: refused as a whole
            raise ValueError("controls hold a line or a count that is not one")
        self.rows = [(parse_line(line), n) for line, n in self.counts.items()]

    @classmethod
    def of(cls, texts: list[str]) -> Table:
        return cls(dict(Counter(of_tune(t).line() for t in texts)))

    def _values(self, name: str, rows=None) -> list:
        out = []
        for c, n in rows if rows is not None else self.rows:
            value = {"parts": len(c.bars), "bars": c.bars, "meter": meter_name(c.meter) or c.meter}.get(
                name, getattr(c, name, None)
            )
            out += [value] * n
        return out

    def choices(self) -> dict[str, list]:
        """Each control's values in the corpus, the most common first (a form's menus)."""
        out = {}
        for name in ("type", "meter", "key", "parts", "bars"):
            values = self._values(name)
            if name == "bars":
                values = [b for bars in values for b in bars]
            out[name] = [v for v, _ in sorted(Counter(values).items(), key=lambda kv: (-kv[1], str(kv[0])))]
        return out

    def check(self, want: Wanted) -> Wanted:
        """``want`` with its values spelled as the corpus spells them; a value the corpus never uses, or
        a type and meter that contradict each other, is an error that names the choices."""
        want = Wanted(**vars(want))
        if want.type is not None:
            want.type = normalize_type(want.type) or want.type
            if want.type not in self._values("type"):
                raise MusegenError(
                    f"--type {want.type}: the corpus has no tune of that type; choose from "
                    f"{_choices(self._values('type'))}"
                )
        if want.meter is not None:
            want.meter = meter_name(want.meter) or want.meter
            if want.meter not in self._values("meter"):
                raise MusegenError(
                    f"--meter {want.meter}: the corpus has no tune in that meter; choose from "
                    f"{_choices(self._values('meter'))}"
                )
        if want.key is not None:
            spelled = key_name(want.key)
            if spelled is None or spelled not in self._values("key"):
                raise MusegenError(
                    f"--key {want.key}: the corpus has no tune in that key; choose from {_choices(self._values('key'))}"
                )
            want.key = spelled
        if want.parts is not None and want.parts not in self._values("parts"):
            raise MusegenError(
                f"--parts {want.parts}: the corpus has no tune of that many parts; choose from "
                f"{_choices(self._values('parts'))}"
            )
        if want.bars is not None and not any(want.bars in bars for bars in self._values("bars")):
            lengths = [b for bars in self._values("bars") for b in bars]
            raise MusegenError(
                f"--bars {want.bars}: no part in the corpus is that long; choose from {_choices(lengths)}"
            )
        if want.type is not None and want.meter is not None:
            meters = [meter_name(c.meter) for c, n in self.rows for _ in range(n) if c.type == want.type]
            if want.meter not in meters:
                raise MusegenError(
                    f"--type {want.type} --meter {want.meter} contradict each other: the corpus's "
                    f"{want.type}s are in {_choices(meters)}"
                )
        return want

    def _matching(self, want: Wanted, use: tuple[str, ...]):
        def ok(c: Controls) -> bool:
            if "type" in use and want.type is not None and c.type != want.type:
                return False
            if "meter" in use and want.meter is not None and meter_name(c.meter) != want.meter:
                return False
            if "key" in use and want.key is not None and c.key != want.key:
                return False
            if "form" in use and want.parts is not None and len(c.bars) != want.parts:
                return False
            return not ("form" in use and want.bars is not None and set(c.bars) != {want.bars})

        return [(c, n) for c, n in self.rows if ok(c)]

    def choose(self, want: Wanted, n: int, seed: int | None) -> list[Controls]:
        """Controls for ``n`` tunes: what ``want`` gives, the rest drawn by the corpus's frequencies among
        its tunes that agree with ``want`` (if none agree in every control, in as many as can)."""
        if not self.rows:
            raise MusegenError("this run holds no controls to draw tunes from")
        want = self.check(want)
        rows = []
        for use in (
            ("type", "meter", "key", "form"),
            ("type", "meter", "form"),
            ("type", "meter", "key"),
            ("type", "meter"),
            ("meter",),
            (),
        ):
            rows = self._matching(want, use)
            if rows:
                break
        rng = random.Random(seed)
        drawn = rng.choices([c for c, _ in rows], weights=[w for _, w in rows], k=n)
        return [self._fill(want, c) for c in drawn]

    @staticmethod
    def _fill(want: Wanted, c: Controls) -> Controls:
        bars = c.bars
        parts = want.parts if want.parts is not None else len(bars)
        if want.bars is not None:
            bars = (want.bars,) * max(1, parts)
        elif len(bars) != parts:
            common = Counter(bars).most_common(1)
            bars = (common[0][0] if common else 8,) * parts
        meter = c.meter if want.meter is None or meter_name(c.meter) == want.meter else want.meter  # as spelled
        return Controls(want.type or c.type, meter, want.key or c.key, tuple(bars))


def misses(text: str, asked: Controls, header: bool = False) -> list[str]:
    """How a finished tune differs from what was asked (empty: it is what was asked); its type is its
    ``R:``, else inferred from its rhythm. ``header``: only the header is written yet."""
    out = []
    meter, key = meter_name(field(text, "M")), key_name(field(text, "K"))
    if meter != meter_name(asked.meter):
        out.append(f"meter {meter or 'none'}, asked {asked.meter}")
    if key != asked.key and asked.key != "none":
        out.append(f"key {key or 'none'}, asked {asked.key}")
    written = normalize_type(field(text, "R") or "") or (tune_type(text) if not header else None)
    if written and written != asked.type:
        out.append(f"type {written}, asked {asked.type}")
    bars = tuple(read_form(text).bars)
    if bars != asked.bars:
        out.append(f"form {'+'.join(map(str, bars)) or 'none'}, asked {'+'.join(map(str, asked.bars))}")
    return out


def refusal(text: str, at_end: bool, header: bool = False) -> str | None:
    """Why the tune ``text`` (as far as it is written) cannot become what its control line asks, or
    None. ``header``: the header just closed (its meter, key and type are checked); else ``text`` ends
    at a bar line, or at the end of the tune (``at_end``), and its form so far is checked."""
    asked = parse_line(text)
    if asked is None:
        return None
    if header:
        wrong = [m for m in misses(text, asked, header=True) if not m.startswith("form")]
        return "; ".join(wrong) or None
    return form_check(text, at_end, asked)[0]


def form_check(text: str, at_end: bool, asked: Controls | None = None) -> tuple[str | None, str]:
    """(why the form of ``text`` so far cannot become the form asked, or None; where the tune is):

    ``start`` the first bar of a part (or a second ending, which is not counted); ``open`` within a
    part, two bars or more from its end; ``last`` its last bar; ``full`` the part is as long as asked but
    its bar line has not ended it yet (``full-repeat``: and it opened with ``|:``, so only ``:|`` can);
    ``done`` every part is written; ``ending`` every part is written
    and a second ending may follow (the last part's first ending has just closed)."""
    asked = asked or parse_line(text)
    if asked is None:
        return None, "start"
    target = asked.bars
    if at_end:
        bars = tuple(read_form(text).bars)
        return (None if bars == target else f"form {bars}, asked {target}"), "done"
    form, open_part, repeat_open = read_progress(text)
    closed = form.bars
    if len(closed) > len(target) or closed != list(target[: len(closed)]):
        return f"parts {closed}, asked {target}", "start"
    if len(closed) == len(target):
        if open_part >= 0.5:
            return "music after the last part", "done"
        last_part = text[text.rfind("|:") + 1 :] if "|:" in text else text
        first_ending = re.search(r"(\|\s*|\[)1", last_part) is not None
        return None, "ending" if first_ending and text.rstrip().endswith(":|") else "done"
    length = target[len(closed)]
    if open_part >= length + 0.5:
        return "part longer than asked", "open"
    if open_part >= length - 0.5:
        return None, "full" if not repeat_open else "full-repeat"
    return None, "start" if open_part < 0.5 else "last" if open_part >= length - 1.5 else "open"


def with_type(text: str, type_: str) -> str:
    """``text`` with an ``R:`` line of ``type_`` after its title, unless it has one."""
    if field(text, "R") is not None or "\nK:" not in "\n" + text:
        return text
    lines = text.split("\n")
    at = max((i for i, line in enumerate(lines) if line.startswith(("X:", "T:"))), default=-1) + 1
    if at > next(i for i, line in enumerate(lines) if line.startswith("K:")):
        at = 0
    return "\n".join([*lines[:at], f"R:{type_}", *lines[at:]])
