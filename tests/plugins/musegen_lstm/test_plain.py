"""The plain path (``model.fast=false``, musegen_lstm.plain) against the fast one, on every backend: one
checkpoint scores the same held-out loss and samples the same tunes either way, and training either way
follows the same losses (to float rounding, which Adam's first steps magnify where a gradient is near zero)."""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import pytest

from conftest import ROOT

pytestmark = pytest.mark.slow


def gen(*args, backend: str):
    proc = subprocess.run(
        [sys.executable, "-m", "musegen", "--backend", backend, *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def losses(run) -> list[float]:
    with open(run / "history.csv", newline="") as fh:
        return [float(row["valid_loss"]) for row in csv.DictReader(fh)]


@pytest.mark.parametrize("backend", ["jax", "torch", "tensorflow"])
def test_the_plain_path_trains_and_samples_as_the_fast_one(tmp_path, backend):
    pytest.importorskip({"jax": "jax", "torch": "torch", "tensorflow": "tensorflow"}[backend])
    train = ["train", "--preset", "tiny", "--steps", "16", "--set", "train.eval_every=4"]
    gen(*train, "--out", str(tmp_path / "fast"), backend=backend)
    gen(*train, "--set", "model.fast=false", "--out", str(tmp_path / "plain"), backend=backend)
    fast, plain = losses(tmp_path / "fast"), losses(tmp_path / "plain")
    assert len(fast) == len(plain) == 4
    assert fast == pytest.approx(plain, rel=3e-3)
    assert fast[-1] < fast[0]  # it learned something: the comparison is not of two untrained models

    nll = {}
    for path in ("true", "false"):
        out = gen(
            "eval",
            str(tmp_path / "fast"),
            "--samples",
            "2",
            "--max-len",
            "100",
            "--json",
            "--set",
            f"model.fast={path}",
            backend=backend,
        )
        nll[path] = json.loads(out.stdout)["nll_nats_per_char"]
    assert nll["true"] == pytest.approx(nll["false"], abs=2e-4)  # eval.json rounds to 4 places

    tunes = {}
    for run in ("fast", "plain"):
        for path in ("true", "false"):
            out = tmp_path / f"{run}-{path}"
            gen(
                "generate",
                str(tmp_path / run),
                "-n",
                "2",
                "--seed",
                "5",
                "--max-len",
                "200",
                "--set",
                f"model.fast={path}",
                "--render",
                "abc",
                "--out",
                str(out),
                backend=backend,
            )
            tunes[run, path] = (out / "tunes.abc").read_text()
    assert tunes["fast", "true"] == tunes["fast", "false"]  # one checkpoint, either sampler
    assert tunes["plain", "true"] == tunes["plain", "false"]
    assert tunes["fast", "true"].count("X:") == 2
