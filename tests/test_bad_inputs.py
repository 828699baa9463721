"""Every row of the README's bad-input table: one line on stderr, exit code 2, no traceback."""

import shutil

import pytest
from typer.testing import CliRunner

from musegen.cli import app

runner = CliRunner()
TINY = ["--preset", "tiny", "--steps", "2"]


@pytest.fixture(scope="module")
def good_run(tmp_path_factory):
    from tests.conftest import TUNES

    base = tmp_path_factory.mktemp("bad")
    corpus = base / "tunes.abc"
    corpus.write_text("\n".join(TUNES))
    out = base / "run"
    r = runner.invoke(app, ["train", "--corpus", str(corpus), *TINY, "--out", str(out)])
    assert r.exit_code == 0, r.output
    return out


def case_empty(tmp):
    (tmp / "empty.abc").write_text("")
    return ["run", "--corpus", str(tmp / "empty.abc"), *TINY], "has no readable tunes"


def case_binary(tmp):
    (tmp / "x.abc").write_bytes(bytes(range(256)) * 10)
    return ["run", "--corpus", str(tmp / "x.abc"), *TINY], "binary file (NUL bytes)"


def case_long_line(tmp):
    (tmp / "long.abc").write_text("X:1\nT:t\nK:C\n" + "C" * 50_000_000 + "\n")
    return ["run", "--corpus", str(tmp / "long.abc"), *TINY], "longer than 20000 characters"


def case_unknown_component(tmp):
    return ["run", "--model", "transformer", *TINY], "unknown model 'transformer'"


def case_invalid_set(tmp):
    return ["run", "--set", "train.batch_size=zero", *TINY], "train.batch_size"


def case_negative_steps(tmp):
    return ["run", "--steps", "-5", "--preset", "tiny"], "train.steps: Input should be greater than or equal to 0"


def case_missing_out_parent(tmp):
    (tmp / "file").write_text("x")
    return ["run", *TINY, "--out", str(tmp / "file" / "run")], "is not writable"


def case_missing_run(tmp):
    return ["generate", str(tmp / "nope")], "does not exist"


def case_not_a_run(tmp):
    return ["generate", str(tmp)], "run.json is missing"


def case_corrupt_manifest(tmp, run):
    (run / "run.json").write_text('{"config": ')
    return ["generate", str(run)], "run.json is corrupt"


def case_corrupt_model(tmp, run):
    (run / "model.keras").write_bytes(b"PK\x03\x04 not a zip any more")
    return ["generate", str(run)], "model.keras is corrupt"


def case_bad_prime(tmp, run):
    return ["generate", str(run), "--prime", "T:\u00a7"], "prime has character"


def case_missing_soundfont(tmp, run):
    return ["generate", str(run), "--soundfont", str(tmp / "none.sf2")], "none.sf2 does not exist"


def case_existing_run(tmp, run):
    return ["train", *TINY, "--out", str(run)], "already holds a run"


CASES = [case_empty, case_binary, case_long_line, case_unknown_component, case_invalid_set, case_negative_steps,
         case_missing_out_parent, case_missing_run, case_not_a_run]
RUN_CASES = [case_corrupt_manifest, case_corrupt_model, case_bad_prime, case_missing_soundfont, case_existing_run]


def check(args, message):
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    assert message in lines[0], lines[0]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.__name__[5:])
def test_bad_input(case, tmp_path):
    args, message = case(tmp_path)
    if args[0] == "run" and "--out" not in args:
        args += ["--out", str(tmp_path / "out")]
    check(args, message)


@pytest.mark.parametrize("case", RUN_CASES, ids=lambda c: c.__name__[5:])
def test_bad_input_on_a_run(case, good_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(good_run, run)
    check(*case(tmp_path, run))
