"""Hostile input across every command and option, each case a real ``gen`` process (tests/hostile.py)."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import struct

import pytest

from tests.hostile import Case, check_refused, corpus, crashing_midi, gen, midi_bytes

pytestmark = pytest.mark.slow  # trains models or runs gen in processes

TINY = ["--preset", "tiny", "--steps", "2"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    import musegen

    base = tmp_path_factory.mktemp("hostile")
    cfg = musegen.resolve("tiny", flags={"corpus": str(corpus(base)), "train.steps": 2})
    return musegen.train(cfg, base / "run").path


def manifest(run, edit):
    data = json.loads((run / "run.json").read_text())
    edit(data)
    (run / "run.json").write_text(json.dumps(data))
    return run


def midi_folder(tmp, files: dict[str, bytes]):
    folder = tmp / "midi"
    folder.mkdir(exist_ok=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return folder


def file(tmp, name, text):
    (tmp / name).write_text(text)
    return tmp / name


def fifo(tmp, name):
    os.mkfifo(tmp / name)
    return tmp / name


def zero_tpq(data: bytes) -> bytes:
    return data[:12] + struct.pack(">H", 0) + data[14:]


def still_a_run(tmp, run):
    """The run opens as before: generate, eval and --resume can use it."""
    from musegen.pipeline import run_config
    from musegen.rundir import RunDir

    opened = RunDir.open(run)
    run_config(opened.manifest(), opened)
    assert (run / "model.keras").is_file()


def nothing_made(name):
    def after(tmp, run):
        assert not (tmp / name).exists(), sorted(p.name for p in (tmp / name).iterdir())

    return after


def user_files_kept(tmp, run):
    assert (run / "notes.txt").read_text() == "mine"
    assert (run / "recordings" / "take1.wav").read_bytes() == b"RIFF"
    still_a_run(tmp, run)


def with_user_files(run):
    (run / "notes.txt").write_text("mine")
    (run / "recordings").mkdir()
    (run / "recordings" / "take1.wav").write_bytes(b"RIFF")
    return run


def held(run):
    """Hold the run's lock as another musegen process writing it would."""
    fd = os.open(run / ".musegen.lock", os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    held.fds.append(fd)
    return run


held.fds = []


CASES = [
    # --force never deletes what musegen did not write, and only after the new run's inputs are checked
    Case(
        "force_with_a_missing_corpus_keeps_the_old_run",
        lambda t, r: ["train", "--corpus", str(t / "none.abc"), *TINY, "--force", "--out", str(with_user_files(r))],
        "does not exist",
        run=True,
        after=user_files_kept,
    ),
    Case("force_with_an_empty_out", lambda t, r: ["train", "--out", "", "--force", *TINY], "--out is blank"),
    Case("out_blank_on_run", lambda t, r: ["run", "--out", "", *TINY], "--out is blank"),
    Case("generate_out_blank", lambda t, r: ["generate", str(r), "--out", ""], "--out is blank", run=True),
    # nothing writes a run.json that musegen would refuse to read
    Case(
        "resume_with_negative_steps",
        lambda t, r: ["train", "--resume", str(r), "--steps", "-1"],
        "--steps: invalid configuration: train.steps",
        run=True,
        after=still_a_run,
    ),
    Case(
        "resume_with_absurd_steps",
        lambda t, r: ["train", "--resume", str(r), "--steps", "10000000000000"],
        "less than or equal to",
        run=True,
        after=still_a_run,
    ),
    Case(
        "train_seed_negative",
        lambda t, r: ["train", "--corpus", str(corpus(t)), *TINY, "--seed", "-1", "--out", str(t / "new")],
        "seed: Input should be greater than or equal to 0",
        after=nothing_made("new"),
    ),
    Case(
        "train_seed_past_32_bits",
        lambda t, r: ["train", "--corpus", str(corpus(t)), *TINY, "--seed", "4294967296", "--out", str(t / "new")],
        "seed: Input should be less than or equal to 4294967295",
        after=nothing_made("new"),
    ),
    Case("generate_seed_negative", lambda t, r: ["generate", str(r), "--seed", "-1"], "seed", run=True),
    Case("generate_seed_past_32_bits", lambda t, r: ["generate", str(r), "--seed", "4294967296"], "seed", run=True),
    Case("eval_seed_negative", lambda t, r: ["eval", str(r), "--seed", "-1", "--samples", "1"], "seed", run=True),
    Case(
        "batch_size_of_1e23",
        lambda t, r: [
            "train",
            "--corpus",
            str(corpus(t)),
            *TINY,
            "--out",
            str(t / "new"),
            "--set",
            "train.batch_size=100000000000000000000000",
        ],
        "train.batch_size: Input should be less than or equal to 65536",
        after=nothing_made("new"),
    ),
    Case(
        "batch_size_as_float_1e23", lambda t, r: ["train", *TINY, "--set", "train.batch_size=1e23"], "train.batch_size"
    ),
    Case(
        "transpose_out_of_range",
        lambda t, r: ["train", "--corpus", str(corpus(t)), *TINY, "--set", "encoder.transpose=[20]"],
        "transpose.0: Input should be less than or equal to 12",
    ),
    Case(
        "config_corpora_a_number",
        lambda t, r: ["train", "--config", str(file(t, "c.toml", "corpora = 5\n"))],
        "'corpora' must be a table",
    ),
    Case(
        "config_corpus_options_a_number",
        lambda t, r: ["train", "--config", str(file(t, "c.toml", "[corpora]\noneills = 5\n"))],
        "'corpora.oneills' must be a table of options",
    ),
    Case(
        "config_corpus_a_list",
        lambda t, r: ["train", "--config", str(file(t, "c.toml", "corpus = [1]\n"))],
        "corpus: Input should be a valid string",
    ),
    Case(
        "config_not_toml",
        lambda t, r: ["train", "--config", str(file(t, "c.toml", "[train\nsteps=\n"))],
        "cannot read config file",
    ),
    Case("config_missing", lambda t, r: ["train", "--config", str(t / "none.toml")], "cannot read config file"),
    Case(
        "corpus_of_an_unknown_user",
        lambda t, r: ["train", "--corpus", "~nosuchuser0/x.abc", *TINY],
        "no such user's home folder",
    ),
    Case(
        "out_of_an_unknown_user",
        lambda t, r: ["train", "--corpus", str(corpus(t)), *TINY, "--out", "~nosuchuser0/run"],
        "no such user's home folder",
    ),
    Case(
        "generate_run_of_an_unknown_user", lambda t, r: ["generate", "~nosuchuser0/run"], "no such user's home folder"
    ),
    Case(
        "run_json_config_not_an_object",
        lambda t, r: ["generate", str(manifest(r, lambda m: m.update(config=5)))],
        "'config' is not an object",
        run=True,
    ),
    Case(
        "run_json_without_config",
        lambda t, r: ["generate", str(manifest(r, lambda m: m.pop("config")))],
        "'config' is missing",
        run=True,
    ),
    Case(
        "run_json_config_with_a_bad_value",
        lambda t, r: ["generate", str(manifest(r, lambda m: m["config"].update(train="fast")))],
        "run.json is corrupt: invalid configuration: train",
        run=True,
    ),
    Case(
        "run_json_without_a_model",
        lambda t, r: ["eval", str(manifest(r, lambda m: m["components"].pop("model")))],
        "components.model is missing",
        run=True,
    ),
    Case(
        "run_json_a_list",
        lambda t, r: ["train", "--resume", str(file(r, "run.json", "[1, 2]") and r)],
        "not a JSON object",
        run=True,
    ),
    Case(
        "history_unreadable_on_resume",
        lambda t, r: ["train", "--resume", str(file(r, "history.csv", "step,loss\nx,y\n") and r), "--steps", "3"],
        "history.csv is corrupt",
        run=True,
        quiet=False,
    ),
    Case(
        "jax_platform_cuda_without_a_gpu",
        lambda t, r: ["train", "--corpus", str(corpus(t)), *TINY, "--out", str(t / "new")],
        "JAX cannot start",
        env={"JAX_PLATFORMS": "cuda"},
        quiet=False,
        after=nothing_made("new"),
    ),
    Case(
        "jax_no_cpu_devices",
        lambda t, r: ["train", "--corpus", str(corpus(t)), *TINY, "--out", str(t / "new")],
        "JAX cannot start",
        env={"JAX_NUM_CPU_DEVICES": "0"},
        quiet=False,
        after=nothing_made("new"),
    ),
    # a folder another musegen is writing
    Case(
        "generate_into_a_folder_being_written",
        lambda t, r: ["generate", str(r), "--out", str(held(t))],
        "is being written by another musegen process",
        run=True,
    ),
    Case(
        "resume_a_run_being_trained",
        lambda t, r: ["train", "--resume", str(held(r))],
        "is being written by another musegen process",
        run=True,
        after=still_a_run,
    ),
    Case(
        "force_on_a_run_being_trained",
        lambda t, r: ["train", "--corpus", str(corpus(t)), *TINY, "--force", "--out", str(held(r))],
        "is being written by another musegen process",
        run=True,
        after=still_a_run,
    ),
    # paths
    Case("corpus_blank", lambda t, r: ["train", "--corpus", "", *TINY], "the corpus is blank"),
    Case("corpus_a_fifo", lambda t, r: ["train", "--corpus", str(fifo(t, "pipe.abc")), *TINY], "is not a regular file"),
    Case(
        "corpus_folder_with_only_a_fifo",
        lambda t, r: ["train", "--corpus", str(fifo(t, "pipe.abc").parent), *TINY],
        "holds no .abc files",
    ),
    Case(
        "corpus_markup_in_its_path",
        lambda t, r: ["train", "--corpus", str(t / "[/bold]x.abc"), *TINY],
        "[/bold]x.abc does not exist",
    ),
    Case("corpus_folder_without_tunes", lambda t, r: ["train", "--corpus", str(t), *TINY], "holds no .abc files"),
    # MIDI from the wild
    Case(
        "midi_crashing_the_parser",
        lambda t, r: [
            "train",
            "--encoder",
            "midi-events",
            *TINY,
            "--corpus",
            str(midi_folder(t, {"bad.mid": crashing_midi()})),
        ],
        "unreadable MIDI: the MIDI parser crashed on it",
    ),
    Case(
        "midi_with_0_ticks_per_quarter",
        lambda t, r: [
            "train",
            "--encoder",
            "midi-events",
            *TINY,
            "--corpus",
            str(midi_folder(t, {"z.mid": zero_tpq(midi_bytes())})),
        ],
        "0 ticks per quarter note",
    ),
    Case(
        "midi_that_is_text",
        lambda t, r: [
            "train",
            "--encoder",
            "midi-events",
            *TINY,
            "--corpus",
            str(midi_folder(t, {"t.mid": b"X:1\nT:not midi\n"})),
        ],
        "not a MIDI file",
    ),
    Case(
        "midi_eval_data_crashing_the_parser",
        lambda t, r: ["eval", str(r), "--samples", "1", "--data", str(midi_folder(t, {"bad.mid": crashing_midi()}))],
        "has no readable tunes",
        run=True,
    ),
    Case(
        "midi_valid_folder_for_an_abc_corpus",
        lambda t, r: [
            "train",
            "--corpus",
            str(corpus(t)),
            *TINY,
            "--out",
            str(t / "new"),
            "--valid",
            str(midi_folder(t, {"a.mid": midi_bytes()})),
        ],
        "holds midi pieces but the corpus holds abc",
        after=nothing_made("new"),
    ),
    # values out of range
    Case(
        "temperature_inf",
        lambda t, r: ["generate", str(r), "--temperature", "inf"],
        "temperature: Input should be a finite number",
        run=True,
    ),
    Case(
        "temperature_1e-300",
        lambda t, r: ["generate", str(r), "--temperature", "1e-300"],
        "temperature: Input should be greater than or equal to 0.01",
        run=True,
    ),
    Case(
        "top_p_nan",
        lambda t, r: ["generate", str(r), "--top-p", "nan"],
        "top_p: Input should be a finite number",
        run=True,
    ),
    Case("top_p_above_1", lambda t, r: ["generate", str(r), "--top-p", "1.5"], "top_p", run=True),
    Case("top_k_negative", lambda t, r: ["generate", str(r), "--top-k", "-1"], "top_k", run=True),
    Case("tunes_0", lambda t, r: ["generate", str(r), "--tunes", "0"], "tunes", run=True),
    Case("max_len_0", lambda t, r: ["generate", str(r), "--max-len", "0"], "max_len", run=True),
    Case(
        "sample_set_nan",
        lambda t, r: ["generate", str(r), "--set", "sample.temperature=nan"],
        "finite number",
        run=True,
    ),
    Case("learning_rate_inf", lambda t, r: ["train", *TINY, "--set", "train.learning_rate=inf"], "learning_rate"),
    Case("eval_samples_0", lambda t, r: ["eval", str(r), "--samples", "0"], "--samples", run=True),
    Case(
        "eval_data_missing",
        lambda t, r: ["eval", str(r), "--samples", "1", "--data", str(t / "none.abc")],
        "does not exist",
        run=True,
    ),
    Case(
        "run_with_a_missing_soundfont",
        lambda t, r: [
            "run",
            "--corpus",
            str(corpus(t)),
            *TINY,
            "--out",
            str(t / "new"),
            "--soundfont",
            "/nonexistent/missing.sf2",
        ],
        "soundfont /nonexistent/missing.sf2 does not exist",
        after=nothing_made("new"),
    ),
    Case("soundfont_a_folder", lambda t, r: ["generate", str(r), "--soundfont", str(t)], "is not a file", run=True),
    Case(
        "soundfont_not_a_soundfont",
        lambda t, r: ["generate", str(r), "--soundfont", str(file(t, "x.sf2", "not a soundfont"))],
        "is not a SoundFont",
        run=True,
    ),
    Case(
        "render_unknown", lambda t, r: ["generate", str(r), "--render", "abc,pdf"], "unknown renderer 'pdf'", run=True
    ),
    # the command line itself: one line, as every other error
    Case("unknown_option", lambda t, r: ["train", "--bogus"], "No such option: --bogus"),
    Case("steps_not_a_number", lambda t, r: ["train", "--steps", "many"], "Invalid value for '--steps'"),
    Case("unknown_command", lambda t, r: ["compose"], "No such command 'compose'"),
    Case("generate_without_a_run", lambda t, r: ["generate"], "Missing argument"),
    Case("unknown_backend", lambda t, r: ["--backend", "theano", "train"], "unknown backend 'theano'"),
    Case("unknown_preset", lambda t, r: ["train", "--preset", "huge"], "unknown preset 'huge'"),
    Case("set_without_a_value", lambda t, r: ["train", "--set", "train.steps"], "--set expects key=value"),
    Case("set_of_an_unknown_section", lambda t, r: ["train", "--set", "foo.bar=1"], "unknown section 'foo'"),
    Case("pretrain_without_steps", lambda t, r: ["train", "--pretrain", "ryans", *TINY], "pre-training needs both"),
    Case("components_of_an_unknown_kind", lambda t, r: ["components", "sequencer"], "unknown kind 'sequencer'"),
    Case("resume_a_missing_run", lambda t, r: ["train", "--resume", str(t / "nothing")], "does not exist"),
    Case(
        "generate_out_under_a_file",
        lambda t, r: ["generate", str(r), "--out", str(file(t, "f", "x")) + "/o"],
        "is not writable",
        run=True,
    ),
    Case(
        "encoder_for_another_format",
        lambda t, r: ["train", "--corpus", str(corpus(t)), *TINY, "--encoder", "midi-events"],
        "reads midi pieces but corpus",
        quiet=True,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_hostile_input(case, trained, tmp_path):
    run = None
    if case.run:
        run = tmp_path / "run"
        shutil.copytree(trained, run, ignore=shutil.ignore_patterns(".musegen.lock"))
    work = tmp_path / "work"
    work.mkdir()
    (work / "keep.txt").write_text("the user's")
    args = case.args(work, run)
    try:
        proc = gen(args, cwd=work, env=case.env, timeout=300)
    finally:
        while held.fds:
            os.close(held.fds.pop())
    check_refused(case, proc)
    assert (work / "keep.txt").read_text() == "the user's"  # nothing of the user's touched, in the folder it ran in
    if case.after:
        case.after(work, run)


def test_at_least_40_cases_each_named_once():
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids)) and len(ids) >= 40
