"""Pre-training on other corpora, then fine-tuning on the corpus, in one run."""

import json

import pytest
from typer.testing import CliRunner

from musegen.cli import app
from tests.conftest import TUNES

pytestmark = pytest.mark.slow  # trains models or runs gen in processes

runner = CliRunner()

OTHER = """X:1
T:Small Reel
M:4/4
L:1/8
K:G
~G2BG dGBG|~A2 Bc d2 e2|
"""  # the same title as one of the held-out tunes below: dropped

EXTRA = """X:2
T:Pipe Tune
M:2/4
L:1/8
K:Amix
A>B ~c2|e2 a2|A>B c2|B4|]
"""


def test_pretrain_then_finetune(tmp_path):
    corpus, valid, other = tmp_path / "tunes.abc", tmp_path / "valid.abc", tmp_path / "other.abc"
    corpus.write_text("\n".join(TUNES[:1] + TUNES[2:]))
    valid.write_text(TUNES[1])
    other.write_text(OTHER + "\n" + EXTRA * 3)
    out = tmp_path / "run"
    r = runner.invoke(
        app,
        [
            "train",
            "--corpus",
            str(corpus),
            "--valid",
            str(valid),
            "--preset",
            "tiny",
            "--pretrain",
            str(other),
            "--pretrain-steps",
            "4",
            "--steps",
            "2",
            "--out",
            str(out),
        ],
    )
    assert r.exit_code == 0, r.output
    assert "pre-training 4 steps on 1 pieces, then 2 steps on the corpus" in r.output.replace("\n", " ")
    manifest = json.loads((out / "run.json").read_text())
    assert manifest["result"]["steps"] == 6
    assert manifest["corpus"]["pretrain"]["dropped_same_title_as_held_out"] == 1
    assert manifest["corpus"]["pretrain"]["corpora"][0]["tunes"] == 1  # EXTRA thrice, de-duplicated
    assert "~" in manifest["encoder_state"]["chars"]  # only the pre-training tune has it
    steps = [int(line.split(",")[0]) for line in (out / "history.csv").read_text().splitlines()[1:]]
    assert steps == [2, 4, 6]


def test_pretrain_needs_corpora_and_steps(tmp_path):
    corpus = tmp_path / "tunes.abc"
    corpus.write_text("\n".join(TUNES))
    for extra in (["--pretrain-steps", "4"], ["--pretrain", "ryans"]):
        r = runner.invoke(
            app, ["train", "--corpus", str(corpus), "--preset", "tiny", *extra, "--out", str(tmp_path / "r")]
        )
        assert r.exit_code == 2 and "pre-training needs both pretrain corpora" in r.output
    r = runner.invoke(
        app,
        [
            "train",
            "--corpus",
            str(corpus),
            "--preset",
            "tiny",
            "--pretrain",
            "nonesuch",
            "--pretrain-steps",
            "2",
            "--out",
            str(tmp_path / "r"),
        ],
    )
    assert r.exit_code == 2 and "unknown corpus 'nonesuch'" in r.output


def test_zero_pretrain_steps_turns_a_configured_pretraining_off(tmp_path):
    """A preset or config file that pre-trains, and --pretrain-steps 0 (or --set train.pretrain_steps=0)
    on the command line: a run without pre-training, not an error. Naming corpora too still is one."""
    corpus, other, cfg = tmp_path / "tunes.abc", tmp_path / "other.abc", tmp_path / "pre.toml"
    corpus.write_text("\n".join(TUNES))
    other.write_text(EXTRA)
    cfg.write_text(f"pretrain = [{str(other)!r}]\n[train]\npretrain_steps = 4\n")
    base = ["train", "--corpus", str(corpus), "--preset", "tiny", "--config", str(cfg), "--steps", "2"]
    for k, zero in enumerate((["--pretrain-steps", "0"], ["--set", "train.pretrain_steps=0"])):
        out = tmp_path / f"run{k}"
        r = runner.invoke(app, [*base, *zero, "--out", str(out)])
        assert r.exit_code == 0, r.output
        manifest = json.loads((out / "run.json").read_text())
        assert manifest["result"]["steps"] == 2 and "pretrain" not in manifest["corpus"]
        assert "~" not in manifest["encoder_state"]["chars"]  # only the pre-training tune has it
    r = runner.invoke(app, [*base, "--pretrain-steps", "0", "--pretrain", str(other), "--out", str(tmp_path / "r")])
    assert r.exit_code == 2 and "pre-training needs both pretrain corpora" in r.output


def test_transposed_copies_for_the_pretrain_corpora_only(tmp_path):
    corpus, other = tmp_path / "tunes.abc", tmp_path / "other.abc"
    corpus.write_text("\n".join(TUNES))
    other.write_text(EXTRA)
    counts = {}
    for augment in ("all", "pretrain"):
        out = tmp_path / augment
        r = runner.invoke(
            app,
            [
                "train",
                "--corpus",
                str(corpus),
                "--preset",
                "tiny",
                "--steps",
                "1",
                "--pretrain",
                str(other),
                "--pretrain-steps",
                "1",
                "--set",
                "encoder.transpose=[2]",
                "--set",
                f"train.augment={augment}",
                "--out",
                str(out),
            ],
        )
        assert r.exit_code == 0, r.output
        info = json.loads((out / "run.json").read_text())["corpus"]
        counts[augment] = (info["tunes_train"], info["pretrain"]["tunes_with_copies"])
    assert counts == {"all": (6, 2), "pretrain": (3, 2)}  # 3 training tunes (1 held out), 1 pretraining tune


def test_a_model_that_cannot_pretrain_is_refused_before_anything_is_written(tmp_path):
    pytest.importorskip("musegen_markov", reason="pip install -e examples/musegen-markov")
    corpus, other = tmp_path / "tunes.abc", tmp_path / "other.abc"
    corpus.write_text("\n".join(TUNES))
    other.write_text(OTHER)
    out = tmp_path / "run"
    r = runner.invoke(
        app,
        [
            "train",
            "--model",
            "markov",
            "--corpus",
            str(corpus),
            "--preset",
            "tiny",
            "--pretrain",
            str(other),
            "--pretrain-steps",
            "4",
            "--out",
            str(out),
        ],
    )
    assert r.exit_code == 2 and "model 'markov' cannot pre-train" in r.output, r.output
    assert not out.exists()
