"""The lstm model end to end on each Keras backend, each in a fresh process (a backend is fixed per process)."""

import json
import re

import pytest

from conftest import run_python

pytestmark = pytest.mark.slow  # trains models or runs gen in processes

BACKENDS = ["jax", "torch", "tensorflow"]


TRAIN = """
import json, musegen
cfg = musegen.resolve("tiny", flags={{"corpus": {corpus!r}, "backend": {backend!r}}}, sets={{"train.steps": 4}})
run = musegen.train(cfg, {out!r})
import keras
assert keras.backend.backend() == {backend!r}, keras.backend.backend()
pieces = musegen.generate(run.path, {{"tunes": 2, "seed": 1, "max_len": 60}})
print(json.dumps({{"tunes": [p.text for p in pieces], "result": run.manifest()["result"]}}))
"""


SAMPLE = """
import json, musegen
pieces = musegen.generate({out!r}, {{"tunes": 2, "seed": 1, "max_len": 60}}, backend={backend!r})
import keras
assert keras.backend.backend() == {backend!r}
print(json.dumps({{"tunes": [p.text for p in pieces]}}))
"""


@pytest.fixture(scope="module")
def runs(corpus, tmp_path_factory):
    """Train a tiny model on every backend; returns {backend: (run dir, output)}."""
    out = {}
    for backend in BACKENDS:
        pytest.importorskip({"jax": "jax", "torch": "torch", "tensorflow": "tensorflow"}[backend])
        run_dir = str(tmp_path_factory.mktemp(backend) / "run")
        proc = run_python(TRAIN.format(corpus=corpus, backend=backend, out=run_dir), env={"KERAS_BACKEND": ""})
        assert proc.returncode == 0, f"{backend}: {proc.stderr[-3000:]}"
        out[backend] = (run_dir, {**json.loads(proc.stdout.strip().splitlines()[-1]), "stderr": proc.stderr})
    return out


@pytest.mark.parametrize("backend", BACKENDS)
def test_trains_and_samples_on_each_backend(runs, backend):
    _, result = runs[backend]
    assert result["result"]["steps"] == 4
    assert result["result"]["best_valid_loss"] > 0
    assert len(result["tunes"]) == 2 and all(t.endswith("\n") for t in result["tunes"])


@pytest.mark.parametrize("backend", BACKENDS)
def test_training_and_sampling_print_none_of_tensorflows_log_lines(runs, backend):
    """Keras imports TensorFlow on every backend; on the tensorflow backend it also trains. None of its
    C++ log lines ("I0000 ... port.cc:153] oneDNN custom operations are on", "E0000 ... oneDNN supports
    DT_INT32 only on platforms with AVX-512") reaches the user."""
    stderr = runs[backend][1]["stderr"]
    assert not re.search(r"^[IWEF]\d{4} \d\d:\d\d:", stderr, re.M) and "absl" not in stderr, stderr[-3000:]


@pytest.mark.parametrize(
    "saved,loaded", [("jax", "torch"), ("jax", "tensorflow"), ("torch", "jax"), ("tensorflow", "jax")]
)
def test_model_saved_on_one_backend_samples_the_same_on_another(runs, saved, loaded):
    run_dir, result = runs[saved]
    proc = run_python(SAMPLE.format(out=run_dir, backend=loaded), env={"KERAS_BACKEND": ""})
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads(proc.stdout.strip().splitlines()[-1])["tunes"] == result["tunes"]


EVALUATE = """
import json
from musegen.evaluation import evaluate_run
nll = {{}}
for name, path in {runs!r}.items():
    result, *_ = evaluate_run(path, None, 2, seed=1, sample={{"max_len": 60}}, log=lambda m: None, backend={backend!r})
    nll[name] = result["nll_nats_per_char"]
import keras
assert keras.backend.backend() == {backend!r}
print(json.dumps(nll))
"""


def test_runs_from_several_backends_are_measured_in_one_process(runs):
    """benchmarks/quality.py measures a torch-trained paper run beside jax runs: evaluate_run(backend=...)."""
    both = {name: runs[name][0] for name in ("jax", "torch")}
    one = run_python(EVALUATE.format(runs=both, backend="jax"), env={"KERAS_BACKEND": ""})
    assert one.returncode == 0, one.stderr[-3000:]
    own = run_python(EVALUATE.format(runs={"torch": both["torch"]}, backend="torch"), env={"KERAS_BACKEND": ""})
    assert own.returncode == 0, own.stderr[-3000:]
    measured, native = (json.loads(p.stdout.strip().splitlines()[-1]) for p in (one, own))
    assert set(measured) == {"jax", "torch"}
    assert measured["torch"] == pytest.approx(native["torch"], abs=2e-3)  # same weights, other backend


RESUME = """
import numpy as np, musegen
from musegen.pipeline import load_run
sets = {{"train.eval_every": 3, "model.dropout": 0.3}}
def cfg(steps):
    flags = {{"corpus": {corpus!r}, "backend": {backend!r}, "train.steps": steps}}
    return musegen.resolve("tiny", flags=flags, sets=sets)
musegen.train(cfg(6), {out!r} + "/straight")
musegen.train(cfg(3), {out!r} + "/resumed")
musegen.resume({out!r} + "/resumed", steps=6)
w = lambda p: [np.asarray(x) for x in load_run(p, tag="last")[3].net.get_weights()]
print(max(float(np.max(np.abs(a - b))) for a, b in zip(w({out!r} + "/straight"), w({out!r} + "/resumed"))))
"""


@pytest.mark.parametrize("backend", BACKENDS)
def test_resumed_run_with_dropout_equals_uninterrupted_on_each_backend(corpus, backend, tmp_path):
    proc = run_python(RESUME.format(corpus=corpus, backend=backend, out=str(tmp_path)), env={"KERAS_BACKEND": ""})
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert float(proc.stdout.strip().splitlines()[-1]) == 0.0  # same batches, same dropout masks, same weights


DATA_PARALLEL = """
import numpy as np, musegen, keras
from musegen.pipeline import load_run
flags = {{"corpus": {corpus!r}, "train.steps": 5}}
cfg = lambda d: musegen.resolve("tiny", flags=flags, sets={{"model.distribute": d}})
musegen.train(cfg("none"), {out!r} + "/one")
musegen.train(cfg("data-parallel"), {out!r} + "/two")
layer = keras.layers.Dense(2)  # built under the distribution the run set: replicated on every device
layer.build((1, 3))
w = lambda p: [np.asarray(x) for x in load_run(p, tag="last")[3].net.get_weights()]
from musegen_lstm.fast.steps import steps
batch = steps(load_run({out!r} + "/two", tag="last")[3].net, 0).place(np.zeros((4, 7), "int32"))
print(len(layer.kernel.value.sharding.device_set), batch.sharding.shard_shape(batch.shape)[0],
      max(float(np.max(np.abs(a - b))) for a, b in zip(w({out!r} + "/one"), w({out!r} + "/two"))))
"""


def test_data_parallel_training_on_two_host_devices_equals_one_device(corpus, tmp_path):
    env = {"KERAS_BACKEND": "jax", "XLA_FLAGS": "--xla_force_host_platform_device_count=2"}
    proc = run_python(DATA_PARALLEL.format(corpus=corpus, out=str(tmp_path)), env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    devices, rows, diff = proc.stdout.split()
    assert devices == "2" and rows == "2"  # weights on both devices, each step's batch split between them
    assert float(diff) < 1e-4  # the same batches, split in two: the same weights


DATA_PARALLEL_ONE = """
import warnings, musegen, keras
flags = {{"corpus": {corpus!r}, "train.steps": 3}}
cfg = musegen.resolve("tiny", flags=flags, sets={{"model.distribute": "data-parallel"}})
with warnings.catch_warnings(record=True) as seen:
    warnings.simplefilter("always")
    musegen.train(cfg, {out!r})
print(sum("mix of local" in str(w.message) for w in seen), keras.distribution.distribution() is None)
"""


def test_data_parallel_on_one_device_trains_as_usual(corpus, tmp_path):
    env = {"KERAS_BACKEND": "jax", "JAX_NUM_CPU_DEVICES": "1"}  # else one JAX device per core (lstm.py)
    proc = run_python(DATA_PARALLEL_ONE.format(corpus=corpus, out=str(tmp_path / "run")), env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.split() == ["0", "True"]  # no distribution set, so no Keras warning about one


def test_data_parallel_needs_jax_and_the_fast_path(corpus, tmp_path):
    """The lstm model refuses, before anything is written: keras.distribution is set up by its fast path."""
    import musegen

    for backend, fast in (("torch", True), ("jax", False)):
        flags = {"corpus": corpus, "backend": backend}
        cfg = musegen.resolve("tiny", flags=flags, sets={"model.distribute": "data-parallel", "model.fast": fast})
        with pytest.raises(musegen.MusegenError, match="needs the jax backend and the fast path"):
            musegen.train(cfg, tmp_path / "run")
        assert not (tmp_path / "run").exists()
