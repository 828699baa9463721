"""What a page says of each tune: its title, type, meter, key and form, abc2midi's verdict, its files."""

from __future__ import annotations

from pathlib import Path

from musegen import Piece

AUDIO = ("ogg", "flac", "wav")  # the page plays the first of these a tune has: compressed first
FILES = ("abc", "mid", "wav", "ogg", "flac", "svg", "phone.svg")


def redrawn_units(fmt: str) -> str:
    """What the encoder's checker draws again in pieces of this format."""
    return "notes" if fmt == "midi" else "bars"


def verdicts(pieces: list[Piece]) -> list[tuple[str, str]]:
    """Each piece's ``(kind, words)``: kind ``clean``, ``fixed`` (clean after the bar checker drew bars
    again) or ``wrong`` (abc2midi rejects it, or bars are kept the wrong length, or it never ended)."""
    from musegen.abc2midi import check as abc2midi_check
    from musegen.abc2midi import clean, wrong_bars

    abc = [i for i, p in enumerate(pieces) if p.format == "abc"]
    messages = dict(zip(abc, abc2midi_check([pieces[i].text for i in abc]) if abc else []))
    out = []
    for i, p in enumerate(pieces):
        if not p.meta.get("complete", True):
            out.append(("wrong", "never ended: cut at the longest length"))
        elif i in messages and not clean(messages[i]):
            first = next((m for m in messages[i] if m.startswith("Error")), "Error")
            out.append(("wrong", "abc2midi rejects it: " + first.split(":", 1)[-1].strip()))
        elif i in messages and wrong_bars(messages[i]):
            n = wrong_bars(messages[i])
            out.append(("wrong", f"plays, but {n} bar{'s are' if n != 1 else ' is'} the wrong length"))
        elif p.format == "midi" and any(p.meta.get("repairs", {}).values()):
            out.append(("wrong", "decoded with repairs"))
        elif p.meta.get("redrawn"):
            n = p.meta["redrawn"]
            out.append(("fixed", f"{redrawn_units(p.format)} fixed: {n} redraw{'s' * (n != 1)}"))
        else:
            out.append(("clean", "clean"))
    return out


def describe(piece: Piece) -> dict:
    """The tune's type, meter, key and form (``8+8, repeated``), as far as its notation says."""
    if piece.format != "abc":
        notes = piece.meta.get("notes")
        key = piece.meta.get("key", "")  # the encoder's reading of the notes
        return {"type": "MIDI piece", "meter": "", "key": key, "form": f"{notes} notes" if notes else ""}
    from musegen.abcform import read_form
    from musegen.abctext import field
    from musegen.tunetype import tune_type

    form = read_form(piece.text)
    bars = "+".join(map(str, form.bars)) + (" bar" if form.bars == [1] else " bars") if form.bars else ""
    return {
        "type": tune_type(piece.text) or "",
        "meter": field(piece.text, "M") or "",
        "key": field(piece.text, "K") or "",
        "form": bars + (", repeated" if bars and form.repeats else ""),
    }


def tune_files(folder: Path, stem: str) -> dict[str, str]:
    """The files of one tune in ``folder``, by suffix: ``{"abc": "01-the-kesh.abc", ...}``."""
    return {ext: f"{stem}.{ext}" for ext in FILES if (folder / f"{stem}.{ext}").is_file()}


def tune_entries(pieces: list[Piece], folder: Path) -> list[dict]:
    """Everything a page shows of each piece, in order; files are named as the renderers name them."""
    out = []
    for i, (piece, (kind, words)) in enumerate(zip(pieces, verdicts(pieces)), 1):
        stem = piece.file_stem(i)
        files = tune_files(folder, stem)
        entry = {
            "index": i,
            "title": piece.title or f"Tune {i}",
            "format": piece.format,
            **describe(piece),
            "verdict": kind,
            "verdict_words": words,
            "files": files,
            "audio": next((files[a] for a in AUDIO if a in files), None),
            "abc": piece.text if piece.format == "abc" else "",
            "asked": piece.meta.get("asked", ""),
            "missed": list(piece.meta.get("missed", [])),
        }
        out.append(entry)
    return out
