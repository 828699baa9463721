"""ABC notation as text: split collections into tunes and normalize each one.

Used by ABC corpora and evaluators. Pure Python, no music library needed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

FIELD = re.compile(r"^([A-Za-z]):\s*(.*?)\s*$")
KEEP_FIELDS = ("X", "T", "M", "L", "K", "R", "Q")
BODY_FIELDS = set("IKLMmNPQRrsTUVWw")
NOTE = re.compile(r"[A-Ga-gz]")


@dataclass
class Tune:
    text: str
    source: str  # "file:line" where the tune started


class BadTune(ValueError):
    """A tune that cannot be used; the message says why."""


def split_tunes(text: str, source: str = "") -> list[Tune]:
    """Split a collection at ``X:`` lines; text before the first ``X:`` is file header and dropped."""
    tunes: list[Tune] = []
    current: list[str] | None = None
    start = 0
    for lineno, line in enumerate(text.splitlines(), 1):
        if re.match(r"^X:", line):
            if current is not None:
                tunes.append(Tune("\n".join(current), f"{source}:{start}"))
            current, start = [line], lineno
        elif current is not None:
            current.append(line)
    if current is not None:
        tunes.append(Tune("\n".join(current), f"{source}:{start}"))
    return tunes


def normalize(
    text: str, keep_fields: Iterable[str] = KEEP_FIELDS, keep_comments: bool = False, max_chars: int = 20_000
) -> str:
    """Return one tune in a canonical form, or raise :class:`BadTune`.

    ``X:1`` first; header fields in ``keep_fields`` only, written ``F:value``; ``%`` comment lines
    and other fields dropped; the tune ends at its first blank line after ``K:``, as ABC says;
    trailing spaces removed; one final newline.
    """
    keep = set(keep_fields)
    header: list[str] = []
    body: list[str] = []
    in_body = False
    has_key = has_notes = False
    for raw in text.splitlines():
        line = raw.rstrip()
        if not line.strip():
            if in_body and body:
                break
            continue
        if line.lstrip().startswith("%"):
            if keep_comments:
                (body if in_body else header).append(line)
            continue
        if not keep_comments and "%" in line and not in_body:
            line = line.split("%", 1)[0].rstrip()
        m = FIELD.match(line)
        if m and in_body and (m.group(1) not in BODY_FIELDS or line[2:3] in ("|", ":")):
            m = None  # music such as "A:|" (a note, then a repeat), not a field
        if m:
            name, value = m.group(1), m.group(2)
            if name == "X":
                continue
            if name not in keep:
                continue
            if name == "K":
                if not value:
                    raise BadTune("empty K: field")
                has_key = True
                if not in_body:
                    header.append(f"K:{value}")
                    in_body = True
                    continue
            (body if in_body else header).append(f"{name}:{value}")
            continue
        if not in_body:
            raise BadTune("music before the K: field")
        body.append(line)
        has_notes = has_notes or bool(NOTE.search(re.sub(r'"[^"]*"|![^!]*!', "", line)))
    if not has_key:
        raise BadTune("no K: field")
    if not has_notes:
        raise BadTune("no notes")
    # K: must close the header; T: must come right after X:
    titles = [h for h in header if h.startswith("T:")]
    others = [h for h in header if not h.startswith(("T:", "K:"))]
    key = [h for h in header if h.startswith("K:")]
    out = "\n".join(["X:1", *titles, *others, *key, *body]) + "\n"
    try:
        out.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise BadTune("undecodable characters") from exc
    if len(out) > max_chars:
        raise BadTune(f"longer than {max_chars} characters")
    return out


def body_of(text: str) -> str:
    """The music after the ``K:`` line, without whitespace (for de-duplication and novelty)."""
    _, sep, rest = text.partition("\nK:")
    rest = rest.split("\n", 1)[1] if sep and "\n" in rest else ""
    return re.sub(r"\s+", "", rest)


def field(text: str, name: str) -> str | None:
    """The value of the first ``name:`` header field, or None."""
    m = re.search(rf"^{name}:\s*(.*?)\s*$", text, re.MULTILINE)
    return m.group(1) if m else None


def read_text(data: bytes) -> str:
    """Decode a file's bytes: UTF-16 with its byte-order mark, UTF-8, else Latin-1; reject binary data."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            raise BadTune("not valid UTF-16 despite its byte-order mark") from None
    if b"\0" in data[:65536]:
        raise BadTune("binary file (NUL bytes)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")
