"""A user's paths to corpus files: expanded, checked, and folders walked into their files.

Only regular files are read (a FIFO or a device would block a read forever), and a folder's
symlinked subfolders are followed, each real folder once (a link back up cannot loop).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from musegen.errors import MusegenError


def user_path(text: str | os.PathLike, what: str = "path") -> Path:
    """``text`` as a path, ``~`` expanded; an empty one or an unknown ``~user`` fails in one line."""
    text = os.fspath(text)
    if not text.strip():
        raise MusegenError(f"{what} is blank: give a path")
    try:
        return Path(text).expanduser()
    except RuntimeError:  # ~nosuchuser/...
        raise MusegenError(f"{what} {text}: no such user's home folder") from None


def is_regular(path: Path) -> bool:
    try:
        return stat.S_ISREG(path.stat().st_mode)
    except OSError:
        return False


def corpus_files(path: Path, suffixes: tuple[str, ...], skipped: list | None = None) -> list[Path]:
    """The files with one of ``suffixes`` (lower case, with the dot) under the folder ``path``, sorted,
    following symlinked folders; ``skipped`` gets ``(path, why)`` for each such name that is not a
    regular file, or a link whose target is missing."""
    found, seen = [], set()
    for top, dirs, names in os.walk(path, followlinks=True):
        real = os.path.realpath(top)
        if real in seen:  # a link to a folder already read
            dirs[:] = []
            continue
        seen.add(real)
        dirs.sort()
        for name in names:
            f = Path(top, name)
            if f.suffix.lower() not in suffixes:
                continue
            if is_regular(f):
                found.append(f)
            elif skipped is not None:
                skipped.append((str(f), "not a regular file" if f.exists() else "a link to nothing"))
    return sorted(found)


def corpus_path(text: str, suffixes: tuple[str, ...], skipped: list | None = None) -> list[Path]:
    """The files a corpus path names: the file itself, or a folder's files (:func:`corpus_files`)."""
    path = user_path(text, "the corpus path")
    if not path.exists():
        raise MusegenError(f"corpus path '{text}' does not exist")
    if path.is_dir():
        files = corpus_files(path, suffixes, skipped)
        if not files:
            raise MusegenError(f"corpus folder {path} holds no {' or '.join(suffixes)} files")
        return files
    if not is_regular(path):
        raise MusegenError(f"corpus path {path} is not a regular file (a pipe or a device cannot be read as a corpus)")
    return [path]
