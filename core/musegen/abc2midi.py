"""ABC → MIDI through the ``abc2midi`` program bundled in the ``symusic`` wheel.

abc2midi exits 0 even when it fails, and prints its diagnostics on stdout, so this module checks the
output file and parses the ``Error``/``Warning`` lines itself. Each tune runs in its own process: a
crash in native code cannot take the caller down.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from musegen.errors import MusegenError

_MSG = re.compile(r"^(Error|Warning)\b.*$", re.MULTILINE)


class ConversionError(MusegenError):
    def __init__(self, title: str, messages: list[str]):
        errors = [m for m in messages if m.startswith("Error")]
        first = errors[0] if errors else "no MIDI written"
        super().__init__(f"abc2midi rejected '{title}': {first}")
        self.title, self.messages = title, messages


@dataclass
class Conversion:
    """The outcome of converting one tune: MIDI bytes (or None) and abc2midi's messages."""

    midi: bytes | None
    messages: list[str] = field(default_factory=list)

    @property
    def errors(self) -> list[str]:
        return [m for m in self.messages if m.startswith("Error")]

    @property
    def warnings(self) -> list[str]:
        return [m for m in self.messages if m.startswith("Warning")]

    @property
    def clean(self) -> bool:
        """Converted, with no ``Error`` line."""
        return self.midi is not None and not self.errors

    @property
    def bars_ok(self) -> bool:
        """Clean, and no bar whose length disagrees with the meter."""
        return self.clean and not any("time units while the time signature" in w for w in self.warnings)


@functools.cache
def executable() -> str:
    """Path of the abc2midi program: symusic's bundled copy, else one on PATH."""
    spec = importlib.util.find_spec("symusic")
    if spec and spec.origin:
        exe = Path(spec.origin).parent / "bin" / "abc2midi"
        if exe.is_file() and os.access(exe, os.X_OK):
            return str(exe)
    found = shutil.which("abc2midi")
    if found:
        return found
    raise MusegenError("abc2midi not found: install musegen's dependencies (pip install symusic==0.5.9)")


def convert(text: str, timeout: float = 20.0) -> Conversion:
    """Convert one ABC tune to MIDI bytes. Never raises for bad music; see ``Conversion``."""
    with tempfile.TemporaryDirectory(prefix="musegen-abc-") as tmp:
        src, dst = Path(tmp, "tune.abc"), Path(tmp, "tune.mid")
        src.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8", errors="replace")
        try:
            proc = subprocess.run([executable(), str(src), "-o", str(dst)], capture_output=True, timeout=timeout, cwd=tmp)
        except subprocess.TimeoutExpired:
            return Conversion(None, [f"Error: abc2midi took longer than {timeout:g} s"])
        out = (proc.stdout + proc.stderr).decode("utf-8", "replace")
        messages = [m.group(0).strip() for m in _MSG.finditer(out)]
        if proc.returncode < 0:
            messages.append(f"Error: abc2midi crashed (signal {-proc.returncode})")
        midi = dst.read_bytes() if dst.is_file() and dst.stat().st_size > 0 else None
        if midi is None and not any(m.startswith("Error") for m in messages):
            messages.append("Error: no MIDI written")
        return Conversion(midi, messages)
