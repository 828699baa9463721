"""Mutated MIDI files and run.json contents through musegen's loaders, in a process of their own: every
one must end as a loaded input (exit 0) or one clear refusal (exit 2), never a crash or a traceback."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import ROOT
from tests.hostile import corpus, midi_bytes

pytestmark = pytest.mark.slow  # trains models or runs gen in processes

# Each input goes through gen's own code path in one driver process, which exits 1 on any exception
# that is not musegen's one-line error (and dies of a signal where native code crashes).
DRIVER = """
import sys
from typer.testing import CliRunner
from musegen.cli import app
worst = 0
for args in [line.split("\\t") for line in open(sys.argv[1]).read().splitlines()]:
    result = CliRunner().invoke(app, args)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    if result.exit_code not in (0, 2) or "Traceback" in result.output:
        print(args, result.exit_code, result.output, file=sys.stderr)
        sys.exit(1)
    worst = max(worst, result.exit_code)
sys.exit(worst)
"""


def drive(tmp_path, commands: list[list[str]]) -> subprocess.CompletedProcess:
    (tmp_path / "commands.tsv").write_text("\n".join("\t".join(c) for c in commands))
    return subprocess.run(
        [sys.executable, "-c", DRIVER, str(tmp_path / "commands.tsv")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )


def mutate(data: bytes, rng: random.Random) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        kind, at = rng.random(), rng.randrange(len(out))
        if kind < 0.35:
            out[at] = rng.randrange(256)
        elif kind < 0.55:
            out[at : at + 4] = rng.choice([0xFFFFFF00, 0xFFFFFFFF, 0x7FFFFFFF, 0, 1]).to_bytes(4, "big")
        elif kind < 0.75:
            del out[at:]
        else:
            out[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        if not out:
            out = bytearray(b"MThd")
    return bytes(out)


@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1))
def test_mutated_midi_files_are_loaded_or_skipped(tmp_path, seed):
    rng = random.Random(seed)
    good = midi_bytes()
    folder = tmp_path / f"midi-{seed}"
    folder.mkdir()
    for i in range(40):
        (folder / f"{i:02d}.mid").write_bytes(mutate(good, rng))
    out = tmp_path / f"run-{seed}"
    proc = drive(
        tmp_path,
        [
            [
                "train",
                "--encoder",
                "midi-events",
                "--corpus",
                str(folder),
                "--preset",
                "tiny",
                "--steps",
                "1",
                "--out",
                str(out),
            ]
        ],
    )
    assert proc.returncode in (0, 2), proc.stderr[-3000:]


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)


def paths(obj, prefix=()):
    yield prefix
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from paths(v, (*prefix, k))


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_mutated_run_json_is_opened_or_refused(tmp_path_factory, data):
    import musegen

    base = tmp_path_factory.mktemp("fuzzrun")
    if not hasattr(test_mutated_run_json_is_opened_or_refused, "run"):
        cfg = musegen.resolve("tiny", flags={"corpus": str(corpus(base)), "train.steps": 2})
        test_mutated_run_json_is_opened_or_refused.run = musegen.train(cfg, base / "good").path
    good = test_mutated_run_json_is_opened_or_refused.run
    manifest = json.loads((good / "run.json").read_text())
    commands = []
    for i in range(12):
        m = json.loads(json.dumps(manifest))
        where = data.draw(st.sampled_from(sorted((p for p in paths(m) if p), key=str)))
        parent = m
        for key in where[:-1]:
            parent = parent[key]
        if data.draw(st.booleans()):
            parent.pop(where[-1])
        else:
            parent[where[-1]] = data.draw(JSON)
        run = base / f"run{i}"
        shutil.copytree(good, run, ignore=shutil.ignore_patterns(".musegen.lock"))
        (run / "run.json").write_text(json.dumps(m))
        commands.append(["generate", str(run), "-n", "1", "--max-len", "50", "--render", "abc"])
        if i % 4 == 0:
            commands.append(["train", "--resume", str(run), "--steps", "3"])
        if i % 4 == 1:
            commands.append(["eval", str(run), "--samples", "1", "--max-len", "50"])
    proc = drive(base, commands)
    assert proc.returncode in (0, 2), proc.stderr[-3000:]
