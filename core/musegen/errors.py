"""Errors that reach a user as one line (exit code 2), never as a traceback."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class MusegenError(Exception):
    """A problem with the user's input or environment, explained in one line."""


class UnknownComponent(MusegenError):
    """A component name that no installed plugin registered."""

    def __init__(self, kind: str, name: str, known: Iterable[str]):
        known = sorted(known)
        close = difflib.get_close_matches(name, known, n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        super().__init__(f"unknown {kind} '{name}'.{hint} Known {kind}s: {', '.join(known) or '(none)'}")
        self.kind, self.name, self.known = kind, name, known


def one_line(exc: BaseException) -> str:
    """Collapse an exception's message to a single readable line."""
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


def validation_message(exc, where: str = "") -> str:
    """Turn a pydantic ``ValidationError`` into one line naming each bad field."""
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err.get("loc", ()))
        loc = f"{where}.{loc}" if where and loc else (where or loc)
        msg = err.get("msg", "invalid value")
        if err.get("type") == "extra_forbidden":
            msg = "unknown option"
        parts.append(f"{loc}: {msg}" if loc else msg)
    return "invalid configuration: " + "; ".join(parts)
