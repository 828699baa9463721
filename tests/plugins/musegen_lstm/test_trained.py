"""Sampling a trained run without Keras: the checkpoint reader, and the model that samples from it."""

import json
import textwrap
import zipfile

import numpy as np
import pytest
from test_lstm import pattern_data
from typer.testing import CliRunner

from musegen import MusegenError, NullProgress, RunDir, TrainConfig
from musegen.cli import app
from musegen_lstm.choose import LSTM
from musegen_lstm.config import LSTMConfig
from musegen_lstm.fast.checkpoint import read
from musegen_lstm.fast.lstm import LSTMModel
from musegen_lstm.fast.trained import Trained
from tests.conftest import TUNES, run_python

pytestmark = pytest.mark.slow  # trains models or runs gen in processes


def arrays(net):
    return [net.embedding, *[a for layer in net.layers for a in layer], net.dense_w, net.dense_b]


def fitted(tmp_path, **config) -> tuple[RunDir, LSTMModel]:
    run = RunDir.create(tmp_path)
    m = LSTMModel(LSTMConfig(embedding_dim=4, units=8, **config), 6)
    m.fit(pattern_data(), TrainConfig(steps=4, batch_size=4, seq_len=12, eval_every=2), run, NullProgress())
    return run, m


@pytest.fixture(scope="module")
def abc_run(tmp_path_factory):
    """A tiny run trained by `gen train` on ABC tunes."""
    base = tmp_path_factory.mktemp("trained")
    corpus = base / "tunes.abc"
    corpus.write_text("\n".join(TUNES * 3), encoding="utf-8")
    r = CliRunner().invoke(
        app, ["train", "--corpus", str(corpus), "--preset", "tiny", "--steps", "4", "--out", str(base / "run")]
    )
    assert r.exit_code == 0, r.output
    return base / "run"


@pytest.mark.parametrize("layers,dropout", [(1, 0.0), (3, 0.2)])
def test_reader_gives_the_keras_models_weights(tmp_path, layers, dropout):
    """Three LSTM layers of the same size (only their order tells them apart) with dropout between them."""
    run, m = fitted(tmp_path, layers=layers, dropout=dropout)
    got, want = read(run.file("model.keras"), 6), LSTMModel.load(m.config, 6, run).numpy_lstm()
    assert len(got.layers) == layers
    for a, b in zip(arrays(got), arrays(want), strict=True):
        assert a.dtype == np.float32 and np.array_equal(a, b)
    assert read(run.file("model.keras"), 7) is None  # another vocabulary: not this model


def test_a_fresh_process_samples_a_run_without_keras_and_the_same_tunes(abc_run):
    """Opened by ``load_run``, the run samples (bar checker on and off, filtered, int8) before Keras is
    imported; then the Keras model of the same checkpoint samples the same tunes."""
    code = textwrap.dedent(f"""
        import json, sys
        from musegen import SampleConfig, pipeline
        loaded = pipeline.load_run({str(abc_run)!r})
        model = loaded[3]
        opts = [dict(tunes=2, seed=3, max_len=60), dict(tunes=1, seed=3, max_len=60, check_bars=False),
                dict(tunes=3, seed=5, max_len=60, temperature=0.8, top_p=0.9)]
        fast = [[p.text for p in pipeline.sample_run(loaded, o)] for o in opts]
        int8 = pipeline.load_run({str(abc_run)!r}, model_options={{"sampler": "numpy-int8"}})[3]
        fast_int8 = int8.sample([], SampleConfig(tunes=2, seed=3, max_len=60), 0)
        print(json.dumps({{"type": type(model).__name__, "keras": "keras" in sys.modules}}))
        slow = [[p.text for p in pipeline.sample_run(loaded[:3] + (model.keras_model(),), o)] for o in opts]
        slow_int8 = int8.keras_model().sample([], SampleConfig(tunes=2, seed=3, max_len=60), 0)
        print(json.dumps({{"same": fast == slow, "same_int8": fast_int8 == slow_int8, "keras": "keras" in sys.modules,
                          "type": type(model.keras_model()).__name__, "tunes": sum(map(len, fast))}}))
    """)
    proc = run_python(code)
    assert proc.returncode == 0, proc.stderr[-3000:]
    before, after = (json.loads(line) for line in proc.stdout.strip().splitlines()[-2:])
    assert before == {"type": "Trained", "keras": False}
    assert after == {"same": True, "same_int8": True, "keras": True, "type": "LSTMModel", "tunes": 6}


def test_gen_generate_imports_no_keras(abc_run, tmp_path):
    """`gen generate` with the bar checker on, writing ABC, MIDI and WAV: Keras is never imported."""
    code = textwrap.dedent(f"""
        import sys
        from musegen.cli import main
        sys.argv = ["gen", "generate", {str(abc_run)!r}, "-n", "2", "--max-len", "80", "-o", {str(tmp_path)!r}]
        try:
            main()
        except SystemExit as e:
            assert not e.code, e.code
        print("keras" in sys.modules)
    """)
    proc = run_python(code)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip().splitlines()[-1] == "False"
    assert len(list(tmp_path.glob("0?-*.abc"))) == 2 and (tmp_path / "tunes.abc").is_file()


def test_gen_eval_of_an_abc_run_imports_neither_keras_nor_torch(abc_run):
    """Scoring, sampling and every evaluator of an ABC run without Keras, and without the MIDI evaluator's
    miditok (which imports PyTorch)."""
    code = textwrap.dedent(f"""
        import json, sys
        from musegen.cli import main
        sys.argv = ["gen", "eval", {str(abc_run)!r}, "--samples", "3", "--max-len", "80", "--json"]
        try:
            main()
        except SystemExit as e:
            assert not e.code, e.code
        print(json.dumps(sorted(m for m in ("keras", "torch", "miditok", "tensorflow") if m in sys.modules)))
    """)
    proc = run_python(code)
    assert proc.returncode == 0, proc.stderr[-2000:]
    result, imported = (json.loads(line) for line in proc.stdout.strip().splitlines()[-2:])
    assert imported == [] and result["nll_nats_per_char"] > 0 and result["tunes_scored"] > 0


@pytest.mark.parametrize("layers", [1, 2])
def test_scoring_without_keras_gives_the_keras_models_nll(tmp_path, layers):
    """Sequences of many lengths, more than a batch of them: rows leave the batch as they are scored."""
    from musegen_lstm.fast import scoring

    run, m = fitted(tmp_path, layers=layers)
    loaded = LSTM.load(m.config, 6, run)
    rng = np.random.default_rng(layers)
    sequences = [[*rng.integers(1, 6, int(n)).tolist(), 0] for n in rng.integers(0, 40, scoring.BATCH + 9)]
    total, count = loaded.nll(sequences, 0)
    want_total, want_count = m.nll(sequences, 0)
    assert count == want_count == sum(map(len, sequences))
    assert total == pytest.approx(want_total, rel=1e-5)
    assert loaded.nll([], 0) == (0.0, 0) and "_keras" not in vars(loaded)


def test_anything_but_sampling_and_scoring_loads_the_keras_model(tmp_path):
    run, m = fitted(tmp_path)
    loaded = LSTM.load(m.config, 6, run)
    assert isinstance(loaded, Trained) and "_keras" not in vars(loaded)
    assert loaded.nll([[1, 2, 3, 4, 5, 0]], 0) == pytest.approx(m.nll([[1, 2, 3, 4, 5, 0]], 0), rel=1e-5)
    assert "_keras" not in vars(loaded) and loaded.count_params() == m.count_params()
    assert isinstance(vars(loaded)["_keras"], LSTMModel)
    assert isinstance(LSTM.load(m.config, 6, run, "last"), LSTMModel)  # the checkpoint to train on: Keras's
    assert isinstance(LSTM(m.config, 6), LSTMModel)  # building one to train: Keras's


def test_a_checkpoint_the_reader_does_not_know_goes_to_keras_and_its_errors(tmp_path):
    run, m = fitted(tmp_path)
    with pytest.raises(MusegenError, match="predicts 6 tokens but the run's vocabulary has 7"):
        LSTM.load(m.config, 7, run)
    path = run.file("model.keras")
    with zipfile.ZipFile(path) as z:
        parts = {name: z.read(name) for name in z.namelist()}
    config = json.loads(parts["config.json"])
    config["config"]["layers"][2]["class_name"] = "GRU"  # not a layer musegen's model has
    with zipfile.ZipFile(tmp_path / "other.keras", "w") as z:
        for name, data in {**parts, "config.json": json.dumps(config).encode()}.items():
            z.writestr(name, data)
    assert read(path, 6) is not None and read(tmp_path / "other.keras", 6) is None
    path.write_bytes(b"PK\x03\x04 truncated")
    assert read(path, 6) is None
    with pytest.raises(MusegenError, match="model.keras is corrupt"):
        LSTM.load(m.config, 6, run)
