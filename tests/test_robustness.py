"""Runs survive interruption, kills and a closed network."""

import os
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest
from typer.testing import CliRunner

import musegen
from musegen.cli import app
from tests.conftest import ROOT

pytestmark = pytest.mark.slow  # trains models or runs gen in processes


def weights(run_dir, tag="last"):
    from musegen.pipeline import load_run

    _, _, _, model = load_run(run_dir, tag=tag)
    return [np.asarray(w) for w in model.net.get_weights()]


@pytest.mark.parametrize("dropout", [0.0, 0.3])
def test_interrupted_then_resumed_equals_uninterrupted(dropout, corpus_file, tmp_path):
    sets = {"train.eval_every": 4, "model.dropout": dropout}  # dropout: its masks must continue where they stopped
    straight = musegen.train(
        musegen.resolve("tiny", flags={"corpus": str(corpus_file), "train.steps": 8}, sets=sets), tmp_path / "straight"
    )
    half = musegen.train(
        musegen.resolve("tiny", flags={"corpus": str(corpus_file), "train.steps": 4}, sets=sets), tmp_path / "resumed"
    )
    musegen.resume(half.path, steps=8)
    for a, b in zip(weights(straight.path), weights(tmp_path / "resumed")):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_sigkill_while_writing_checkpoints_leaves_a_loadable_one(corpus_file, tmp_path):
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
        "--set",
        "train.eval_every=1",
        "--out",
        str(out),
    ]
    proc = subprocess.Popen(
        cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, "KERAS_BACKEND": ""}
    )
    deadline = time.time() + 120
    while time.time() < deadline and not (out / "history.csv").is_file():
        time.sleep(0.1)
    time.sleep(2.0)  # checkpoints are being written at every step now
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert len(weights(out, "last")) == len(weights(out, "best")) > 0
    (out / ".last.keras.abc123.tmp.keras").write_bytes(b"half")  # as a kill mid-write leaves it
    r = CliRunner().invoke(app, ["train", "--resume", str(out), "--steps", "1"])
    assert r.exit_code == 0, r.output
    assert not list(out.glob(".*.tmp*"))


def test_nothing_is_fetched_from_the_network(corpus_file, tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("musegen tried to open a network connection")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    out = tmp_path / "run"
    r = CliRunner().invoke(
        app,
        ["run", "--corpus", str(corpus_file), "--preset", "tiny", "--steps", "2", "--tunes", "2", "--out", str(out)],
    )
    assert r.exit_code == 0, r.output
    assert (out / "samples" / "tunes.abc").is_file() and (out / "model.keras").is_file()
