"""The GRU example (examples/musegen-gru): a Keras model plugin written to the model contract, found through
its entry point, trained, stopped by a real SIGINT, resumed to the very weights of an uninterrupted run,
scored by gen eval and sampled with temperature, top-p, a seed and the bar checker."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.slow  # trains models or runs gen in processes

TRAIN = [
    "--model",
    "gru",
    "--preset",
    "tiny",
    "--steps",
    "240",
    "--set",
    "train.eval_every=5",
    "--set",
    "train.batch_size=4",
    "--set",
    "train.seq_len=48",
]
ENV = {**os.environ, "KERAS_BACKEND": ""}


@pytest.fixture
def gru_installed():
    pytest.importorskip("musegen_gru", reason="pip install -e examples/musegen-gru")


def gen(*args, timeout=400) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "musegen", *args], cwd=ROOT, capture_output=True, text=True, env=ENV, timeout=timeout
    )


def weights(path: Path) -> list[np.ndarray]:
    code = (
        "import keras, numpy, sys; m = keras.saving.load_model(sys.argv[1]); numpy.savez(sys.argv[2], *m.get_weights())"
    )
    out = path.with_suffix(".npz")
    subprocess.run(
        [sys.executable, "-c", code, str(path), str(out)], check=True, env={**ENV, "KERAS_BACKEND": "jax"}, timeout=300
    )
    with np.load(out) as saved:
        return [saved[k] for k in sorted(saved.files, key=lambda k: int(k.split("_")[1]))]


def test_gru_example_is_one_screen():
    assert len((ROOT / "examples" / "musegen-gru" / "musegen_gru.py").read_text().splitlines()) <= 60


def test_gru_trains_is_interrupted_resumes_exactly_is_scored_and_sampled(gru_installed, corpus_file, tmp_path):
    whole, stopped = tmp_path / "whole", tmp_path / "stopped"
    done = gen("train", "--corpus", str(corpus_file), *TRAIN, "--out", str(whole))
    assert done.returncode == 0, done.stderr
    assert json.loads((whole / "run.json").read_text())["components"]["model"]["name"] == "gru"

    proc = subprocess.Popen(
        [sys.executable, "-m", "musegen", "train", "--corpus", str(corpus_file), *TRAIN, "--out", str(stopped)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=ENV,
    )
    deadline = time.time() + 400
    while not (stopped / "history.csv").is_file() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)  # a real Ctrl-C, mid-training
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and "Traceback" not in err, err
    assert f"gen train --resume {stopped}" in err
    at = int(err.split("interrupted at step ")[1].split(";")[0])
    assert 5 <= at < 240

    resumed = gen("train", "--resume", str(stopped))
    assert resumed.returncode == 0 and f"resuming at step {at} of 240" in resumed.stderr + resumed.stdout, (
        resumed.stderr
    )
    for tag in ("last", "best"):
        a, b = weights(whole / f"{tag}-gru.keras"), weights(stopped / f"{tag}-gru.keras")
        assert len(a) == len(b) > 0 and all(np.array_equal(x, y) for x, y in zip(a, b)), tag
    rows = lambda run: [line.split(",")[:3] for line in (run / "history.csv").read_text().splitlines()]  # noqa: E731
    assert rows(whole) == rows(stopped) and len(rows(whole)) == 1 + 240 // 5

    scored = gen("eval", str(stopped), "--samples", "2", "--json", "--max-len", "200")
    assert scored.returncode == 0, scored.stderr
    report = json.loads(scored.stdout.strip().splitlines()[-1])
    assert 0 < report["nll_nats_per_char"] < 5

    def sample(out):
        return gen(
            "generate",
            str(stopped),
            "--tunes",
            "3",
            "--seed",
            "7",
            "--temperature",
            "0.9",
            "--top-p",
            "0.95",
            "--render",
            "abc",
            "--set",
            "sample.max_len=300",
            "--out",
            str(out),
        )

    first, again = sample(tmp_path / "a"), sample(tmp_path / "b")
    assert first.returncode == 0 and again.returncode == 0, first.stderr + again.stderr
    said = first.stdout + first.stderr
    assert "bar check:" in said and "samples without a checker" not in said
    tunes = [sorted(p.read_text() for p in (tmp_path / d).glob("0*.abc")) for d in "ab"]
    assert len(tunes[0]) == 3 and tunes[0] == tunes[1]  # the same seed, the same tunes


def test_the_tutorials_keras_model_trains_and_samples_with_the_bar_checker(corpus_file, tmp_path):
    """docs/plugins.md step 7, as printed there, installed through an entry point and run by gen run."""
    from tests.test_third_party import run_doc_step

    out, proc = run_doc_step(
        tmp_path,
        "## 7.",
        "## The rules",
        "gru",
        "--corpus",
        str(corpus_file),
        "--steps",
        "6",
        "--set",
        "model.units=16",
        "--set",
        "sample.max_len=200",
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (out / "best.keras").is_file() and (out / "last.keras").is_file() and (out / "history.csv").is_file()
    assert len(list((out / "samples").glob("0*.abc"))) == 2
    assert "bar check:" in proc.stdout + proc.stderr
