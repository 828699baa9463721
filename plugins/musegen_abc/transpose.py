"""Transpose ABC tunes by semitones: key signatures, notes, accidentals and chord symbols.

Every note moves by the same number of letter steps as the tonic, and keeps its alteration relative
to the key signature, so bar-local accidentals carry over unchanged and each pitch moves by exactly
the interval asked (abc2midi agrees note for note; a test checks it). The new key is spelled with
the fewest sharps or flats. A tune this cannot transpose faithfully (no key, ``K:none`` or bagpipe
keys, explicit key accidentals, a note that would need a triple sharp) gives ``None``.
"""

from __future__ import annotations

import re

LETTERS = "CDEFGAB"
SEMITONES = (0, 2, 4, 5, 7, 9, 11)
FIFTHS = {"F": -1, "C": 0, "G": 1, "D": 2, "A": 3, "E": 4, "B": 5}  # major key signature of a natural tonic
MODES = {"": 0, "maj": 0, "ion": 0, "m": -3, "min": -3, "aeo": -3, "dor": -2, "phr": -4, "lyd": 1, "mix": -1, "loc": -5}
ACCIDENTALS = {"__": -2, "_": -1, "=": 0, "^": 1, "^^": 2}
SPELL = {v: k for k, v in ACCIDENTALS.items()}
KEY = re.compile(r"^(\s*)([A-Ga-g])([#b]?)(\s*)([A-Za-z]*)(.*)$")
NOTE = re.compile(r"(\^\^|__|\^|_|=)?([A-Ga-g])([',]*)")
CHORD_ROOT = re.compile(r"([A-G])(##|bb|#|b)?")


class Key:
    """A key signature: ``sharps`` > 0 sharps, < 0 flats; with the tonic's letter and alteration."""

    def __init__(self, letter: str, alteration: int, mode_offset: int):
        self.letter, self.alteration, self.mode_offset = letter, alteration, mode_offset
        self.sharps = FIFTHS[letter] + 7 * alteration + mode_offset

    def alteration_of(self, letter_index: int) -> int:
        """The alteration the signature gives a letter (0 = C ... 6 = B)."""
        order_sharp, order_flat = "FCGDAEB", "BEADGCF"
        letter = LETTERS[letter_index]
        if self.sharps > 0:
            return 1 if order_sharp.index(letter) < self.sharps else 0
        if self.sharps < 0:
            return -1 if order_flat.index(letter) < -self.sharps else 0
        return 0


def parse_key(value: str) -> tuple[Key, re.Match] | None:
    m = KEY.match(value)
    if not m:
        return None
    mode = m.group(5).lower()
    mode = mode if mode in ("m", "") else mode[:3]
    if mode not in MODES:
        return None
    rest = m.group(6)
    if any(tok[:1] in "^_=" for tok in rest.split()) or "exp" in rest.split():
        return None  # explicit key accidentals: rare, left alone
    key = Key(m.group(2).upper(), {"#": 1, "b": -1, "": 0}[m.group(3)], MODES[mode])
    return (key, m) if abs(key.sharps) <= 7 else None


def target_key(key: Key, semitones: int) -> tuple[Key, int]:
    """The transposed key, spelled with the fewest sharps or flats, and the letter steps it moved."""
    sharps = key.sharps + 7 * semitones
    sharps -= 12 * round(sharps / 12)
    if sharps == -6:
        sharps = 6  # F# rather than Gb
    tonic = sharps - key.mode_offset
    index = (tonic + 1) % 7
    letter, alteration = "FCGDAEB"[index], (tonic + 1) // 7
    new = Key(letter, alteration, key.mode_offset)
    old_pitch = SEMITONES[LETTERS.index(key.letter)] + key.alteration
    for steps in range(-11, 12):
        idx = LETTERS.index(key.letter) + steps
        if (
            idx % 7 == LETTERS.index(letter)
            and SEMITONES[idx % 7] + 12 * (idx // 7) + alteration - old_pitch == semitones
        ):
            return new, steps
    raise AssertionError("unreachable: a key always has a spelling at that interval")


def _key_text(match: re.Match, key: Key) -> str:
    acc = {1: "#", -1: "b", 0: ""}[key.alteration]
    letter = key.letter if match.group(2).isupper() else key.letter.lower()
    return f"{match.group(1)}{letter}{acc}{match.group(4)}{match.group(5)}{match.group(6)}"


class _Failed(Exception):
    pass


def _note(m: re.Match, old: Key, new: Key, steps: int) -> str:
    acc, letter, marks = m.groups()
    octave = (1 if letter.islower() else 0) + marks.count("'") - marks.count(",")
    index = octave * 7 + LETTERS.index(letter.upper()) + steps
    octave, li = divmod(index, 7)
    out = ""
    if acc is not None:
        relative = ACCIDENTALS[acc] - old.alteration_of(LETTERS.index(letter.upper()))
        alteration = new.alteration_of(li) + relative
        if alteration not in SPELL:
            raise _Failed
        out = SPELL[alteration]
    name = LETTERS[li]
    if octave <= 0:
        return out + name + "," * -octave
    return out + name.lower() + "'" * (octave - 1)


def _chord(text: str, semitones: int, steps: int) -> str:
    """Transpose the root and bass of a chord symbol such as ``"F#m7/C#"``; annotations stay."""
    if text[:1] in "^_<>@":
        return text

    def root(m: re.Match) -> str:
        li = LETTERS.index(m.group(1))
        pitch = SEMITONES[li] + {"##": 2, "#": 1, "": 0, None: 0, "b": -1, "bb": -2}[m.group(2)]
        nli = (li + steps) % 7
        alteration = (pitch + semitones - SEMITONES[nli] + 6) % 12 - 6
        if abs(alteration) > 2:
            raise _Failed
        return LETTERS[nli] + {2: "##", 1: "#", 0: "", -1: "b", -2: "bb"}[alteration]

    head, sep, bass = text.partition("/")
    head = CHORD_ROOT.sub(root, head, count=1) if CHORD_ROOT.match(head) else head
    if sep and CHORD_ROOT.match(bass):
        bass = CHORD_ROOT.sub(root, bass, count=1)
    return head + sep + bass


def _music(line: str, old: Key, new: Key, semitones: int, steps: int) -> tuple[str, Key, Key]:
    """One line of music; inline ``[K:...]`` fields change the keys for what follows."""
    out, i = [], 0
    while i < len(line):
        ch = line[i]
        if ch == "%":
            out.append(line[i:])
            break
        if ch == '"':
            end = line.find('"', i + 1)
            if end < 0:
                raise _Failed
            out.append('"' + _chord(line[i + 1 : end], semitones, steps) + '"')
            i = end + 1
            continue
        if ch in "!+":
            end = line.find(ch, i + 1)
            if end > i + 1 and re.fullmatch(r"[A-Za-z0-9.<>()]+", line[i + 1 : end]):
                out.append(line[i : end + 1])  # a decoration such as !trill!
                i = end + 1
                continue
            out.append(ch)
            i += 1
            continue
        if ch == "[" and re.match(r"\[[A-Za-z]:", line[i:]):
            end = line.find("]", i)
            if end < 0:
                raise _Failed
            field = line[i + 1 : end]
            if field.startswith("K:"):
                old, new, field = _key_field(field[2:], semitones, steps)
                field = "K:" + field
            out.append("[" + field + "]")
            i = end + 1
            continue
        m = NOTE.match(line, i)
        if m:
            out.append(_note(m, old, new, steps))
            i = m.end()
            continue
        out.append(ch)
        i += 1
    return "".join(out), old, new


def _key_field(value: str, semitones: int, steps: int) -> tuple[Key, Key, str]:
    """A key change inside the tune: its tonic moves by the same letter steps as the first key's."""
    parsed = parse_key(value)
    if parsed is None:
        raise _Failed
    key, match = parsed
    li = LETTERS.index(key.letter)
    pitch = SEMITONES[li] + key.alteration + semitones
    nli = li + steps
    alteration = pitch - SEMITONES[nli % 7] - 12 * (nli // 7)
    if abs(alteration) > 1:
        raise _Failed
    new = Key(LETTERS[nli % 7], alteration, key.mode_offset)
    if abs(new.sharps) > 7:
        raise _Failed
    return key, new, _key_text(match, new)


def transpose(text: str, semitones: int) -> str | None:
    """The tune ``text`` moved by ``semitones``, or None when it cannot be transposed faithfully."""
    if semitones == 0:
        return text
    lines = text.split("\n")
    try:
        k = next(i for i, line in enumerate(lines) if line.startswith("K:"))
    except StopIteration:
        return None
    parsed = parse_key(lines[k][2:])
    if parsed is None:
        return None
    old, match = parsed
    new, steps = target_key(old, semitones)
    out = lines[:k] + ["K:" + _key_text(match, new)]
    try:
        for line in lines[k + 1 :]:
            if re.match(r"^[A-Za-z]:", line) and not re.match(r"^[A-Ga-g]:[|:]", line):
                if line.startswith("K:"):
                    old, new, value = _key_field(line[2:], semitones, steps)
                    line = "K:" + value
                out.append(line)  # other fields (M:, L:, P:, w:, ...) are not music
                continue
            line, old, new = _music(line, old, new, semitones, steps)
            out.append(line)
    except _Failed:
        return None
    return "\n".join(out)
