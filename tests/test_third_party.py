"""Third-party plugins through the ``musegen`` entry-point group (examples/musegen-markov)."""

import json
import sys

import pytest
from typer.testing import CliRunner

from musegen.abctext import field
from musegen.cli import app
from musegen.plugins import Manager

pytestmark = pytest.mark.slow  # trains models or runs gen in processes

runner = CliRunner()


@pytest.fixture
def markov_installed():
    pytest.importorskip("musegen_markov", reason="pip install -e examples/musegen-markov")


def test_markov_is_found_through_its_entry_point(markov_installed):
    manager = Manager()
    info = manager.info["markov"]
    assert info.source == "entry point (musegen-markov)" and not info.error
    comp = manager.registry.get("model", "markov")
    assert comp.plugin == "markov"
    result = runner.invoke(app, ["plugins"])
    assert "musegen-markov" in result.output and "model:markov" in result.output


def test_gen_run_with_the_markov_model(markov_installed, corpus_file, tmp_path, monkeypatch):
    out = tmp_path / "run"
    result = runner.invoke(
        app,
        [
            "run",
            "--model",
            "markov",
            "--corpus",
            str(corpus_file),
            "--preset",
            "tiny",
            "--tunes",
            "3",
            "--out",
            str(out),
            "--set",
            "sample.max_len=400",
        ],
    )
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "run.json").read_text())
    assert manifest["components"]["model"] == {"name": "markov", "plugin": "markov", "config": {"order": 2}}  # tiny
    assert (out / "best-markov.json").is_file()
    tunes = sorted((out / "samples").glob("0*.abc"))
    assert len(tunes) == 3
    # each tune is asked for a type, meter, key and form drawn from the corpus's, and its header says them:
    # the controls work through the encoder alone, with a model that knows nothing of them
    assert "asked for: " in result.output
    assert "bar check not done: model 'markov' samples without a checker" in result.output  # said, not ignored
    asked = {("jig", "6/8", "D"), ("reel", "4/4", "G"), ("waltz", "3/4", "Am"), ("polka", "2/4", "F")}
    assert all(tuple(field(t.read_text(), f) for f in "RMK") in asked for t in tunes), [t.read_text() for t in tunes]

    # a model that does not declare can_resume: --resume is refused, and its checkpoints are left alone
    before = {f.name: f.read_bytes() for f in out.iterdir() if f.is_file() and not f.name.startswith(".")}
    resumed = runner.invoke(app, ["train", "--resume", str(out), "--steps", "5"])
    assert resumed.exit_code == 2 and "model 'markov' cannot resume training" in resumed.output, resumed.output
    assert {f.name: f.read_bytes() for f in out.iterdir() if f.is_file() and not f.name.startswith(".")} == before
    # scored per the encoder's unit; a model without nll is named in one line, not silently left out
    scored = runner.invoke(app, ["eval", str(out), "--samples", "2", "--json", "--max-len", "200"])
    assert scored.exit_code == 0 and json.loads(scored.output.strip().splitlines()[-1])["nll_nats_per_char"] > 0, (
        scored.output
    )
    from musegen_markov import MarkovModel

    monkeypatch.delattr(MarkovModel, "nll")
    unscored = runner.invoke(app, ["eval", str(out), "--samples", "2", "--json", "--max-len", "200"])
    assert unscored.exit_code == 0, unscored.output
    assert "held-out NLL not measured: model 'markov' cannot score tunes" in unscored.output
    assert not any(k.startswith("nll") for k in json.loads(unscored.output.strip().splitlines()[-1]))


def test_a_plugin_model_takes_its_own_part_of_a_preset(markov_installed):
    from musegen.config import resolve

    assert resolve("tiny", flags={"model": "markov"}).options["model"] == {"order": 2}  # from the plugin
    assert resolve("default", flags={"model": "markov"}).options["model"] == {}  # no part in that preset
    assert resolve("tiny", flags={"model": "markov"}, sets={"model.order": 3}).options["model"] == {"order": 3}
    assert resolve("tiny").options["model"] == {"embedding_dim": 8, "units": 16}  # registry.toml's, for lstm


def test_the_tutorials_first_model_trains_and_samples(corpus_file, tmp_path):
    """docs/plugins.md step 2, as printed there, installed through an entry point and run by gen run."""
    out, proc = run_doc_step(tmp_path, "## 2.", "## 3.", "markov", "--corpus", str(corpus_file))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (out / "best-markov.json").is_file() and (out / "last-markov.json").is_file()
    assert len(list((out / "samples").glob("0*.abc"))) == 2


def run_doc_step(tmp_path, start: str, end: str, model: str, *args: str):
    """The first Python block of docs/plugins.md between ``start`` and ``end``, installed through an entry point
    as model ``doc-<model>``, run by ``gen run --preset tiny`` for 2 tunes: (run folder, finished process)."""
    import os
    import re
    import subprocess

    from tests.conftest import ROOT

    text = (ROOT / "docs" / "plugins.md").read_text()
    step = text[text.index(start) : text.index(end)]
    source = re.search(r"```python\n(.*?)```", step, re.DOTALL).group(1)
    _fake_dist(tmp_path, f"musegen_doc_{model}", source.replace(f'register("{model}"', f'register("doc-{model}"'))
    out = tmp_path / "run"
    env = {**os.environ, "KERAS_BACKEND": "", "PYTHONPATH": f"{tmp_path}:{ROOT}"}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "musegen",
            "run",
            "--model",
            f"doc-{model}",
            "--preset",
            "tiny",
            "--tunes",
            "2",
            "--render",
            "abc",
            "--out",
            str(out),
            *args,
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=400,
    )
    return out, proc


def _fake_dist(tmp_path, name, module_source):
    (tmp_path / f"{name}.py").write_text(module_source)
    info = tmp_path / f"{name}-0.0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.0.1\n")
    (info / "entry_points.txt").write_text(f"[musegen]\n{name} = {name}\n")


def test_broken_plugin_is_reported_and_others_still_load(tmp_path, monkeypatch):
    _fake_dist(tmp_path, "musegen_broken_demo", "raise RuntimeError('boom at import')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    manager = Manager()
    assert "boom at import" in manager.info["musegen_broken_demo"].error
    assert manager.registry.get("model", "lstm").plugin == "musegen_lstm"


def test_plugin_adds_components_and_commands(tmp_path, monkeypatch):
    source = """
import musegen, typer

@musegen.hookimpl
def register_renderers(register):
    register("txt-demo", "musegen_demo_plugin:Txt", summary="demo")

@musegen.hookimpl
def register_commands(app):
    @app.command("hello-demo")
    def hello():
        typer.echo("hello from a plugin")
"""
    _fake_dist(tmp_path, "musegen_demo_plugin", source)
    monkeypatch.syspath_prepend(str(tmp_path))
    manager = Manager()
    assert manager.registry.get("renderer", "txt-demo").plugin == "musegen_demo_plugin"
    import typer

    demo_app = typer.Typer()

    @demo_app.command()
    def noop():
        pass

    manager.add_commands(demo_app)
    assert "hello from a plugin" in runner.invoke(demo_app, ["hello-demo"]).output
    sys.modules.pop("musegen_demo_plugin", None)


def test_registry_can_disable_a_plugin(monkeypatch):
    import musegen.plugins as plugins

    original = plugins.registry_file()
    patched = {**original, "plugins": {**original["plugins"], "disabled": ["musegen_eval"]}}
    monkeypatch.setattr(plugins, "registry_file", lambda: patched)
    manager = Manager()
    assert "musegen_eval" not in manager.info
    assert not manager.registry.has("evaluator", "validity")


def test_valid_only_resamples_until_every_tune_is_valid(markov_installed, corpus_file, tmp_path):
    import musegen
    from musegen.abc2midi import convert

    out = tmp_path / "run"
    r = runner.invoke(
        app,
        [
            "train",
            "--model",
            "markov",
            "--corpus",
            str(corpus_file),
            "--preset",
            "tiny",
            "--set",
            "model.order=2",
            "--set",
            "encoder.controls=false",
            "--out",
            str(out),
        ],
    )
    assert r.exit_code == 0, r.output  # without controls: valid means abc2midi-clean and ended, nothing more
    opts = {"tunes": 8, "seed": 3, "max_len": 400, "temperature": 0.8}
    plain = musegen.generate(out, opts)
    invalid = sum(not (p.meta["complete"] and convert(p.text).clean) for p in plain)
    assert invalid > 0  # a loose order-2 model at temperature 0.8 writes broken tunes
    pieces = musegen.generate(out, {**opts, "valid_only": True, "max_rounds": 30})
    assert len(pieces) == 8
    assert all(p.meta["complete"] and convert(p.text).clean for p in pieces)
    stats = pieces[0].meta["valid_only"]
    assert stats["kept"] == 8 and stats["rejected"] == stats["drawn"] - 8 >= invalid
    assert stats["rejection_pct"] == round(100 * stats["rejected"] / stats["drawn"], 1)
