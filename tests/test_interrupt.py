"""Ctrl-C and SIGTERM during training keep the last checkpoint and say how to resume."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.slow  # trains models or runs gen in processes


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signal_saves_checkpoint_and_resume_continues(sig, corpus_file, tmp_path):
    out = tmp_path / "run"
    cmd = [
        sys.executable,
        "-m",
        "musegen",
        "train",
        "--corpus",
        str(corpus_file),
        "--preset",
        "tiny",
        "--steps",
        "100000",
        "--out",
        str(out),
    ]
    proc = subprocess.Popen(
        cmd,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "KERAS_BACKEND": ""},
    )
    deadline = time.time() + 400  # a loaded CI machine can take minutes to import and compile
    while not (out / "history.csv").is_file() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
    assert (out / "history.csv").is_file(), "training never reached its first checkpoint"
    time.sleep(1.0)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert f"gen train --resume {out}" in err
    assert (out / "last.keras").is_file()
    steps_done = int([line for line in (out / "history.csv").read_text().splitlines()[1:]][-1].split(",")[0])
    assert steps_done >= 2

    resumed = subprocess.run(
        [sys.executable, "-m", "musegen", "train", "--resume", str(out), "--steps", str(steps_done + 4)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "KERAS_BACKEND": ""},
        timeout=300,
    )
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads((out / "run.json").read_text())["result"]["steps"] >= steps_done + 4
