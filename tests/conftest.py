from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

os.environ.setdefault("KERAS_BACKEND", "jax")  # in-process tests run on musegen's default backend

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"

TUNES = [
    """X:1
T:Little Jig
M:6/8
L:1/8
N:a note that is dropped
K:D
A|dfa afd|gfe dcB|ABc def|e3 d2:|
""",
    """X:2
T:Small Reel
M:4/4
L:1/8
K:G
% a comment line
GABc dBAG|FGAB cAFD|GABc dBAG|FDEF G4|]
""",
    """X:3
T:Short Air
M:3/4
L:1/4
K:Am
ABc|dcB|A3|e2d|c2B|A3|]
""",
    """X:4
T:Two Step
M:2/4
L:1/8
K:F
FA cA|Bd cA|GB AG|F2 F2|]
""",
]


@pytest.fixture
def corpus_file(tmp_path) -> Path:
    """A small hand-made ABC collection of four well-formed tunes."""
    path = tmp_path / "tunes.abc"
    path.write_text("\n".join(TUNES * 3), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> str:
    """The four hand-made tunes as a corpus file, shared by a module's tests."""
    path = tmp_path_factory.mktemp("corpus") / "tunes.abc"
    path.write_text("\n".join(TUNES), encoding="utf-8")
    return str(path)


@pytest.fixture
def shared_data() -> Path:
    if not (SHARED_DATA / "irish-train.abc").is_file():
        pytest.skip("../shared/data is not present (fresh clone)")
    return SHARED_DATA


def run_python(code: str, env: dict | None = None, timeout: int = 600) -> subprocess.CompletedProcess:
    """Run Python code in a fresh interpreter (a Keras backend is fixed once per process)."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=full_env, timeout=timeout, cwd=ROOT
    )


def train_tiny(out: Path) -> Path:
    """A run of the tiny preset (O'Neill's, seconds of training) in ``out``, one ABC tune sampled."""
    from typer.testing import CliRunner

    from musegen.cli import app

    result = CliRunner().invoke(
        app, ["run", "--preset", "tiny", "--steps", "4", "--tunes", "1", "--render", "abc", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    return out
