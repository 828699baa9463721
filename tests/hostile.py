"""A harness for hostile input: each case runs ``gen`` as a real process and must end with one clear
error line on stderr, its exit code (2 unless said), no traceback, and nothing lost."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tests.conftest import ROOT, TUNES


@dataclass
class Case:
    """``args(tmp, run)`` gives the command line (``run``: a fresh copy of a trained run, when ``run``);
    the error line must hold ``message``. ``quiet``: it is the only line on stderr (refused before any
    work started). ``after(tmp, run)`` checks that nothing was lost."""

    id: str
    args: Callable[[Path, Path | None], list[str]]
    message: str
    run: bool = False
    code: int = 2
    quiet: bool = True
    env: dict = field(default_factory=dict)
    after: Callable[[Path, Path | None], None] | None = None


def environment(**env) -> dict:
    """This process's environment with the repository on the Python path (for ``tests``), and ``env``."""
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PYTHONPATH": path, **env}


def gen(args: list[str], cwd: Path, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """``gen ARGS`` in a process of its own, in ``cwd``."""
    return subprocess.run(
        [sys.executable, "-m", "musegen", *args],
        cwd=cwd,
        env=environment(**(env or {})),
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def check_refused(case: Case, proc: subprocess.CompletedProcess) -> str:
    """The process ended as the case says; returns its error line."""
    where = f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    assert proc.returncode == case.code, where
    assert "Traceback" not in proc.stderr + proc.stdout and "Exception ignored" not in proc.stderr, where
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error: ")]
    assert len(errors) == 1 and lines[-1] == errors[0], where
    if case.quiet:
        assert lines == errors, where
    assert case.message in errors[0], errors[0]
    return errors[0]


def corpus(tmp: Path, name: str = "tunes.abc") -> Path:
    path = tmp / name
    path.write_text("\n".join(TUNES * 3), encoding="utf-8")
    return path


def midi_bytes() -> bytes:
    from musegen.abc2midi import convert

    return convert(TUNES[0]).midi


def crashing_midi() -> bytes:
    """A MIDI file with five stray bytes inside its track (its length field not changed): symusic 0.5.9's
    parser aborts the process on it (``free(): invalid pointer``)."""
    good = midi_bytes()
    at = len(good) // 2
    return good[:at] + b"\xdb\xea\x86/\x9f" + good[at:]
