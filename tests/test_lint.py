"""The code passes the project's lint (ruff check) and is formatted as ruff formats it, at 120 columns."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from conftest import ROOT


@pytest.mark.parametrize("command", [["check"], ["format", "--check"]], ids=["check", "format"])
def test_ruff_is_clean(command):
    ruff = shutil.which("ruff")
    assert ruff, "ruff is not installed: it is one of the test extras (pip install -e '.[test]')"
    proc = subprocess.run([ruff, *command, "."], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
