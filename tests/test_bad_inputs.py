"""Every row of the bad-input table in docs/errors.md: one line on stderr, exit code 2, no traceback."""

import json
import os
import shutil
import subprocess
from contextlib import contextmanager

import pytest
from typer.testing import CliRunner

from musegen.cli import app

pytestmark = pytest.mark.slow  # trains models or runs gen in processes

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


def case_resume_with_other_settings(tmp, run):
    return ["train", "--resume", str(run), "--set", "model.units=64"], "only --steps can change (remove --set)"


def case_run_from_another_encoder(tmp, run):
    manifest = json.loads((run / "run.json").read_text())
    manifest["components"]["encoder"] = {"name": "midi-events", "plugin": "musegen_midi", "config": {}}
    (run / "run.json").write_text(json.dumps(manifest))
    return ["generate", str(run)], "the saved vocabulary does not fit encoder 'midi-events'"


def case_eval_data_of_another_format(tmp, run):
    from tests.plugins.test_midi import chord_piece

    (tmp / "midi").mkdir()
    (tmp / "midi" / "a.mid").write_bytes(chord_piece().midi)
    return [
        "eval",
        str(run),
        "--data",
        str(tmp / "midi"),
        "--samples",
        "1",
    ], "holds midi pieces but this run's encoder reads abc"


def case_generate_set_of_a_trained_setting(tmp, run):
    return [
        "generate",
        str(run),
        "--set",
        "model.units=64",
    ], "model.units is fixed by the trained run; only model.fast, model.sampler can change when sampling"


def case_generate_set_outside_sampling(tmp, run):
    return [
        "generate",
        str(run),
        "--set",
        "train.steps=5",
    ], "takes sample.<setting>, sample.checker.<setting>, model.<setting>"


def case_generate_set_unknown_sample_option(tmp, run):
    return ["generate", str(run), "--set", "sample.tempo=5"], "tempo: unknown option"


CASES = [
    case_empty,
    case_binary,
    case_long_line,
    case_unknown_component,
    case_invalid_set,
    case_negative_steps,
    case_missing_out_parent,
    case_missing_run,
    case_not_a_run,
]
RUN_CASES = [
    case_corrupt_manifest,
    case_corrupt_model,
    case_bad_prime,
    case_missing_soundfont,
    case_existing_run,
    case_resume_with_other_settings,
    case_run_from_another_encoder,
    case_eval_data_of_another_format,
    case_generate_set_of_a_trained_setting,
    case_generate_set_outside_sampling,
    case_generate_set_unknown_sample_option,
]


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


@contextmanager
def mounted_tmpfs(path, options):
    """A tmpfs of our own (read-only, or tiny to fill up); skips where this machine forbids mounting."""
    path.mkdir()
    if (
        os.geteuid() != 0
        or subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], capture_output=True).returncode
        != 0
    ):
        pytest.skip("cannot mount a tmpfs here (needs root in a machine that allows it)")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


def test_read_only_output_directory(tmp_path, corpus_file):
    with mounted_tmpfs(tmp_path / "ro", "ro,size=64k") as ro:
        check(["run", "--corpus", str(corpus_file), *TINY, "--out", str(ro / "run")], "Read-only file system")


def test_disk_full_while_writing_a_checkpoint(tmp_path, corpus_file):
    with mounted_tmpfs(tmp_path / "small", "size=160k") as small:
        out = small / "run"
        # 96 units: run.json fits, a checkpoint of about 200 kB does not
        result = runner.invoke(
            app, ["train", "--corpus", str(corpus_file), *TINY, "--set", "model.units=96", "--out", str(out)]
        )
        assert result.exit_code == 2 and "Traceback" not in result.output, result.output
        errors = [line for line in result.output.splitlines() if line.startswith("error: ")]
        assert len(errors) == 1 and f"cannot write {out / 'model.keras'}: No space left on device" in errors[0]
        assert not out.exists() or not list(out.iterdir()), "a run without a checkpoint was left behind"
