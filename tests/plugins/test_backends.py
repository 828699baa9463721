"""The lstm model on each Keras backend, each in a fresh process (a backend is fixed per process)."""

import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import TUNES, run_python

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
def corpus(tmp_path_factory):
    path = tmp_path_factory.mktemp("corpus") / "tunes.abc"
    path.write_text("\n".join(TUNES), encoding="utf-8")
    return str(path)


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


STEPS_SETUP = """
import numpy as np, keras
from musegen import TrainConfig
from musegen_lstm.config import LSTMConfig
from musegen_lstm.lstm import LSTMModel
from musegen_lstm.steps import KerasSteps, steps
def model(precision="float32"):
    keras.utils.set_random_seed(3)
    m = LSTMModel(LSTMConfig(embedding_dim=6, units=8, dropout=0.3, precision=precision), 11)
    m.build()
    m._compile(TrainConfig(steps=6, learning_rate=1e-2, clipnorm=0.02, schedule="cosine", warmup_steps=2))
    return m.net
rng = np.random.default_rng(0)
batches = [rng.integers(0, 11, size=(4, 10)).astype("int32") for _ in range(5)]
"""
"""model(precision): one small model, the same at each call (dropout, clipping, a warm-up schedule),
and five batches: for training steps compared with Keras's own train_on_batch."""

STEPS = (
    STEPS_SETUP
    + """
a, b = model(), model()
ours, theirs = steps(a, 7), KerasSteps(b, 7)  # theirs: Keras's own train_on_batch
la = [ours(x[:, :-1], x[:, 1:], i) for i, x in enumerate(batches)]
lb = [theirs(x[:, :-1], x[:, 1:], i) for i, x in enumerate(batches)]
ours.sync()
print(type(ours).__name__, max(abs(float(p) - float(q)) for p, q in zip(la, lb)),
      max(float(np.abs(p - q).max()) for p, q in zip(a.get_weights(), b.get_weights())),
      int(keras.ops.convert_to_numpy(a.optimizer.iterations)), len(set(round(float(p), 6) for p in la)))
"""
)


@pytest.mark.parametrize("backend,kind", [("jax", "JaxSteps"), ("torch", "TorchSteps"), ("tensorflow", "KerasSteps")])
def test_training_steps_that_do_not_wait_equal_keras_train_on_batch(backend, kind):
    """Same losses and weights as train_on_batch, with dropout, gradient clipping and a warm-up schedule;
    the optimizer's state is back in Keras's variables after sync()."""
    proc = run_python(STEPS, env={"KERAS_BACKEND": backend, "CUDA_VISIBLE_DEVICES": ""})
    assert proc.returncode == 0, proc.stderr[-3000:]
    ran, loss, weights, iterations, distinct = proc.stdout.split()
    assert ran == kind
    assert float(loss) < 1e-5 and float(weights) < 1e-5
    assert iterations == "5" and int(distinct) == 5  # five real steps, each on its own batch


LOSS_SCALE = (
    STEPS_SETUP
    + """
def scaled():
    net = model("mixed_float16")
    net.optimizer.dynamic_growth_steps = 2  # before the first step: jax and tensorflow compile it in
    return net
def run(net, step):
    losses, weights = [], [net.get_weights()]
    for i, x in enumerate(batches):
        if i in (2, 3):  # step 2 overflows (its scaled loss is inf); step 3 on, a scale of 2^10
            step.sync()
            net.optimizer.dynamic_scale.assign(3e38 if i == 2 else 1024.0)
        losses.append(float(step(x[:, :-1], x[:, 1:], i)))
        step.sync()
        weights.append(net.get_weights())
    return losses, weights
a, b = scaled(), scaled()
la, wa = run(a, steps(a, 7))
lb, wb = run(b, KerasSteps(b, 7))  # Keras's own train_on_batch: scale_loss, then the optimizer's apply
moved = lambda w, k: max(float(np.abs(p - q).max()) for p, q in zip(w[k], w[k + 1]))
print(type(a.optimizer).__name__, max(abs(p - q) for p, q in zip(la, lb)),
      max(float(np.abs(p - q).max()) for p, q in zip(wa[-1], wb[-1])),
      int(keras.ops.convert_to_numpy(a.optimizer.iterations)), int(keras.ops.convert_to_numpy(b.optimizer.iterations)),
      float(keras.ops.convert_to_numpy(a.optimizer.dynamic_scale)), moved(wa, 2), min(moved(wa, k) for k in (1, 3, 4)))
"""
)


@pytest.mark.parametrize("backend", ["jax", "torch", "tensorflow"])
def test_mixed_float16_trains_with_a_dynamic_loss_scale(backend):
    """Under mixed_float16 the steps scale the loss as Keras's train_on_batch does (same losses and
    weights): a step whose gradients overflow moves no weight and halves the scale, two clean steps in
    a row double it, and the skipped step still counts in iterations (a resumed run starts there)."""
    proc = run_python(LOSS_SCALE, env={"KERAS_BACKEND": backend, "CUDA_VISIBLE_DEVICES": ""})
    assert proc.returncode == 0, proc.stderr[-3000:]
    kind, loss, weights, ours, theirs, scale, skipped, others = proc.stdout.split()
    assert kind == "LossScale"
    assert float(loss) < 1e-5 and float(weights) < 1e-5
    assert ours == theirs == "5"  # Keras's own LossScaleOptimizer would count 4
    assert float(scale) == 2048.0  # 2^10, doubled after steps 3 and 4
    assert float(skipped) == 0.0 and float(others) > 1e-4


GRADIENTS = """
import sys, numpy as np, keras
from musegen_lstm.config import LSTMConfig
from musegen_lstm.net import build
sys.path.insert(0, "benchmarks")
from loss_scale import gradients  # what benchmarks/loss_scale.py measures with
rng = np.random.default_rng(0)
x, y = rng.integers(0, 40, size=(32, 400)), rng.integers(0, 40, size=(32, 400))  # the paper's batch and sequence
keras.utils.set_random_seed(1)
nets = {p: build(LSTMConfig(embedding_dim=16, units=32, precision=p), 40) for p in ("float32", "mixed_float16")}
nets["mixed_float16"].set_weights(nets["float32"].get_weights())
exact = gradients(nets["float32"], x, y, 1.0)
lstm = [k for k, v in enumerate(nets["float32"].trainable_variables) if "lstm" in v.path]
from musegen_lstm.loss_scale import LossScale
for scale in (1.0, LossScale(keras.optimizers.Adam()).initial_scale):  # the scale training starts with
    g = gradients(nets["mixed_float16"], x, y, scale)
    print(max(np.linalg.norm(g[k] - exact[k]) / np.linalg.norm(exact[k]) for k in lstm))
"""


@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_the_loss_scale_keeps_float16_gradients_precise(backend):
    """Why mixed_float16 needs its loss scale: the gradients reaching the LSTM are a mean over
    32 x 400 characters, within float16's subnormals, and lose most of their precision crossing
    float16; the initial scale (2^15) lifts them into range. Here (32 units, random tokens) the LSTM's
    weight gradients come 14x (torch) and 21x (jax) closer to float32's; at the paper's 1024 units,
    initialized, on a batch of its corpus: 5.28-5.54e-3 off against 2.00-3.30e-5 (jax;
    benchmarks/loss_scale.py)."""
    proc = run_python(GRADIENTS, env={"KERAS_BACKEND": backend, "CUDA_VISIBLE_DEVICES": ""})
    assert proc.returncode == 0, proc.stderr[-3000:]
    unscaled, scaled = (float(v) for v in proc.stdout.split())
    assert unscaled > 2e-4  # float16's 11 bits, and fewer in its subnormals
    assert scaled < unscaled / 5, (unscaled, scaled)


IN_PLACE = """
import numpy as np, keras
from musegen import SampleConfig
from musegen_lstm.config import LSTMConfig
from musegen_lstm.jax_sampling import sample
from musegen_lstm.lstm import LSTMModel
keras.utils.set_random_seed(5)
m = LSTMModel(LSTMConfig(embedding_dim=6, units=16, layers=2, sampler="jax"), 9)
m.build()
m.net.set_weights([w * 3 for w in m.net.get_weights()])  # sharper distributions: tunes that end
w = m.weights()
ours = m.sample([1, 2], SampleConfig(tunes=6, max_len=40, temperature=0.8, seed=2), end_id=0)
copied = sample(m.numpy_lstm(), [1, 2], 6, 40, 0, 0.8, 0, 1.0, 2)
print(type(w.layers[1][1]).__module__.split(".")[0], ours == copied, len({len(t) for t in ours}))
"""


@pytest.mark.parametrize("backend,kind", [("jax", "jax"), ("torch", "torch"), ("tensorflow", "numpy")])
def test_compiled_sampler_reads_the_weights_in_place_and_draws_the_same_tunes(backend, kind):
    proc = run_python(IN_PLACE, env={"KERAS_BACKEND": backend, "CUDA_VISIBLE_DEVICES": ""})
    assert proc.returncode == 0, proc.stderr[-3000:]
    arrays, same, lengths = proc.stdout.split()
    assert arrays in (kind, "jaxlib") and same == "True"  # jax arrays, torch tensors through DLPack, NumPy
    assert int(lengths) > 1  # tunes of several lengths: the test covers their ends


PREPARED = """
import numpy as np, keras
from musegen import TrainConfig
from musegen_lstm.config import LSTMConfig
from musegen_lstm.lstm import LSTMModel
from musegen_lstm.sampling import Prepared
from musegen_lstm.steps import steps
keras.utils.set_random_seed(5)
m = LSTMModel(LSTMConfig(embedding_dim=6, units=16), 9)
m.build()
m._compile(TrainConfig())
first = m.prepared()
kept = m.prepared() is first
stepper = steps(m.net, 0)
x = np.random.default_rng(0).integers(0, 9, size=(4, 11)).astype("int32")
stepper(x[:, :-1], x[:, 1:], 0)
stepper.sync()
after = m.prepared()
fresh = Prepared(m.numpy_lstm())
same = all(np.array_equal(a[1], b[1]) for a, b in zip(after.weights, fresh.weights))
moved = not np.array_equal(after.weights[0][1], first.weights[0][1])
m.net.set_weights([w * 2 for w in m.net.get_weights()])
doubled = not np.array_equal(m.prepared().weights[0][1], after.weights[0][1])
other = m.prepared(int8=True) is not m.prepared()
q = m.prepared(int8=True)
int8_kept = m.prepared(int8=True) is q
stepper(x[:, :-1], x[:, 1:], 1)
stepper.sync()
int8_moved = m.prepared(int8=True) is not q
print(kept, same, moved, doubled, other, int8_kept, int8_moved)
"""


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_samplers_prepared_weights_are_kept_until_the_weights_change(backend):
    """Training steps (in place on torch, new arrays on jax) and set_weights make the NumPy sampler lay
    its weights out again; TensorFlow's variables say nothing of their changes: there the weights are
    kept while the variables hold the same values (read by buffer, see the next test)."""
    proc = run_python(PREPARED, env={"KERAS_BACKEND": backend, "CUDA_VISIBLE_DEVICES": ""})
    assert proc.returncode == 0, proc.stderr[-3000:]
    kept, same, moved, doubled, other, int8_kept, int8_moved = proc.stdout.split()
    assert kept == same == moved == doubled == other == int8_kept == int8_moved == "True"


TF_WRITES = """
import numpy as np, tensorflow as tf
from musegen_lstm.config import LSTMConfig
from musegen_lstm.lstm import LSTMModel
m = LSTMModel(LSTMConfig(embedding_dim=6, units=16), 9)
m.build()
emb = m.net.get_layer("embedding").embeddings
first = m.prepared()
emb.assign(emb.numpy())  # the same values written: a new buffer
rewritten_kept = m.prepared() is first
emb.value.scatter_add(tf.IndexedSlices(tf.ones((1, 6)), tf.constant([3])))  # copy-on-read mode from now
second = m.prepared()
moved = second is not first and not np.array_equal(second.weights[0][0], first.weights[0][0])
copy_on_read_kept = m.prepared() is second  # reads are copies now: the values compared
emb.value.scatter_add(tf.IndexedSlices(tf.ones((1, 6)), tf.constant([4])))  # in place, in that mode
third = m.prepared()
moved_again = third is not second and not np.array_equal(third.weights[0][0], second.weights[0][0])
print(rewritten_kept, moved, copy_on_read_kept, moved_again)
"""


def test_tensorflow_writes_of_every_kind_are_seen_by_the_samplers_kept_weights():
    """On TensorFlow the kept weights are checked by buffer first, then by value: the same values
    written again keep them; a sparse update (after which TensorFlow's reads are copies and its writes
    in place) is seen, and so is the next one."""
    proc = run_python(TF_WRITES, env={"KERAS_BACKEND": "tensorflow", "CUDA_VISIBLE_DEVICES": ""})
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.split() == ["True"] * 4


FUSED = """
import numpy as np, keras
from musegen_lstm.layer import LSTM
rng = np.random.default_rng(0)
x = rng.normal(size=(3, 9, 5)).astype("float32")
target = rng.normal(size=(3, 9, 6)).astype("float32")
ours, theirs = LSTM(6, return_sequences=True), keras.layers.LSTM(6, return_sequences=True)
ours.build(x.shape)
theirs.build(x.shape)
theirs.set_weights([w + rng.normal(size=w.shape).astype("float32") * 0.5 for w in ours.get_weights()])
ours.set_weights(theirs.get_weights())
backend = keras.backend.backend()
if backend == "jax":
    import jax
    def grads(layer):
        def loss(tv):
            y, _ = layer.stateless_call(tv, [v.value for v in layer.non_trainable_variables], x)
            return (y * target).sum()
        return [np.asarray(g) for g in jax.grad(loss)([v.value for v in layer.trainable_variables])]
elif backend == "torch":
    import torch
    def grads(layer):
        (layer(torch.tensor(x)) * torch.tensor(target)).sum().backward()
        return [v.value.grad.numpy() for v in layer.trainable_variables]
else:
    import tensorflow as tf
    def grads(layer):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(layer(x) * target)
        return [np.asarray(g) for g in tape.gradient(loss, [v.value for v in layer.trainable_variables])]
out = max(float(np.abs(keras.ops.convert_to_numpy(ours(x)) - keras.ops.convert_to_numpy(theirs(x))).max()), 0.0)
grad = max(float(np.abs(a - b).max()) for a, b in zip(grads(ours), grads(theirs)))
print(ours.path.replace(" ", "_"), out, grad)
"""


SCAN_PATHS = {"jax": "musegen-jax-scan", "tensorflow": "musegen-tf-xla-loops"}  # the CPU loops' paths
KERNEL_LEFT = "import musegen_lstm.jax_lstm as J\nJ.COLUMNS_ABOVE = 0  # the layout of units > 512, at small sizes\n"
TF_KERNEL_LEFT = "import musegen_lstm.tf_lstm as T\nT.COLUMNS_ABOVE = 0  # the layout of units > 512, at small sizes\n"
LEFT = {"jax-columns": KERNEL_LEFT, "tensorflow-columns": TF_KERNEL_LEFT}


@pytest.mark.parametrize(
    "backend,path",
    [
        ("jax", "musegen-jax-scan"),
        ("jax-columns", "musegen-jax-scan,_kernel_on_the_left"),
        ("torch", "torch-native"),
        ("tensorflow", "musegen-tf-xla-loops"),
        ("tensorflow-columns", "musegen-tf-xla-loops,_kernel_on_the_left"),
    ],
)
def test_fused_cpu_lstm_equals_keras_lstm_forward_and_backward(backend, path):
    script = LEFT.get(backend, "") + FUSED
    proc = run_python(script, env={"KERAS_BACKEND": backend.split("-")[0], "CUDA_VISIBLE_DEVICES": ""})
    assert proc.returncode == 0, proc.stderr[-3000:]
    ran, out, grad = proc.stdout.split()
    assert ran.replace(" ", "_") == path
    assert float(out) < 1e-5 and float(grad) < 1e-4


MIXED = """
import numpy as np, keras
import musegen_lstm.layer as L
if {no_bf16}:
    L._cpu_has_bfloat16 = L._torch_has_bfloat16 = lambda: False  # a CPU without bfloat16 instructions
rng = np.random.default_rng(0)
x = rng.normal(size=(3, 9, 5)).astype("float32")
target = rng.normal(size=(3, 9, 6)).astype("float32") * {small}  # a loss this much smaller
ours, wide = L.LSTM(6, return_sequences=True, dtype={policy!r}), keras.layers.LSTM(6, return_sequences=True)
ours.build(x.shape)
wide.build(x.shape)
wide.set_weights([w + rng.normal(size=w.shape).astype("float32") * 0.5 for w in ours.get_weights()])
ours.set_weights(wide.get_weights())
if keras.backend.backend() == "jax":
    import jax
    def grads(layer):
        def loss(tv):
            y, _ = layer.stateless_call(tv, [v.value for v in layer.non_trainable_variables], x)
            return (y.astype("float32") * target).sum()
        return [np.asarray(g) for g in jax.grad(loss)([v.value for v in layer.trainable_variables])]
elif keras.backend.backend() == "torch":
    import torch
    def grads(layer):
        (layer(torch.tensor(x)).float() * torch.tensor(target)).sum().backward()
        return [v.value.grad.numpy() for v in layer.trainable_variables]
else:
    import tensorflow as tf
    def grads(layer):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(tf.cast(layer(x), "float32") * target)
        return [np.asarray(g) for g in tape.gradient(loss, [v.value for v in layer.trainable_variables])]
y = ours(x)
numpy = lambda a: keras.ops.convert_to_numpy(keras.ops.cast(a, "float32"))
out = float(np.abs(numpy(y) - numpy(wide(x))).max())
grad = max(float(np.abs(a - b).max() / np.abs(b).max()) for a, b in zip(grads(ours), grads(wide)))
print(ours.path.replace(" ", "_"), keras.backend.standardize_dtype(y.dtype), out, grad)
"""


@pytest.mark.parametrize(
    "backend,policy,no_bf16",
    [
        ("torch", "mixed_bfloat16", False),
        ("torch", "mixed_bfloat16", True),
        ("torch", "mixed_float16", False),
        ("jax", "mixed_bfloat16", False),
        ("jax", "mixed_bfloat16", True),
        ("jax", "mixed_float16", False),
        ("tensorflow", "mixed_bfloat16", False),
        ("tensorflow", "mixed_bfloat16", True),
        ("tensorflow", "mixed_float16", False),
    ],
)
def test_fused_cpu_lstm_in_a_mixed_precision(backend, policy, no_bf16):
    """On a CPU a mixed precision never falls back to Keras's per-step loop: bfloat16 where the CPU has
    the instructions (PyTorch's kernel; JAX's scan and TensorFlow's loops in bfloat16 products), float32
    otherwise (float16 always). Results are float32 Keras's to the precision's rounding, in the layer's
    compute type."""
    from musegen_lstm.layer import cpu_dtype

    script = MIXED.format(policy=policy, no_bf16=no_bf16, small=1.0)
    proc = run_python(script, env={"KERAS_BACKEND": backend, "CUDA_VISIBLE_DEVICES": ""})
    assert proc.returncode == 0, proc.stderr[-3000:]
    ran, dtype, out, grad = proc.stdout.split()
    compute = policy.split("_")[1]
    inner = "float32" if no_bf16 else cpu_dtype(compute, backend)
    if backend != "torch":
        scan = SCAN_PATHS[backend]
        assert ran == scan + ",_" + ("bfloat16_products" if inner == "bfloat16" else "float32")
    else:
        assert ran == "torch-native,_" + inner
    assert dtype == compute
    # rounding of the outputs to 8 (bfloat16) or 11 (float16) bits, and of the computation when bfloat16
    assert float(out) < (0.05 if compute == "bfloat16" else 5e-3)
    assert float(grad) < (0.05 if compute == "bfloat16" else 5e-3)  # relative to each gradient's largest


ON_GPU = """
import torch
import musegen_lstm.layer as L
class OnGpu:  # all _torch asks of a CUDA tensor (is_cuda); the tensor itself goes on to the kernel, on this CPU
    is_cuda = True
    def __init__(self, t):
        self.t = t
run, kernel = L._torch, L.torch_lstm
L._FUSED["torch"] = lambda layer, seq, state: run(layer, OnGpu(seq), state)
L.torch_lstm = lambda layer, path, x, *rest: kernel(layer, path, getattr(x, "t", x), *rest)
torch.backends.cudnn.is_available = lambda: True
"""


@pytest.mark.parametrize(
    "policy,ran,small",
    [
        ("mixed_bfloat16", "cudnn,_float16", 1.0),
        ("mixed_float16", "cudnn,_float16", 1.0),
        ("float32", "cudnn", 1.0),
        ("mixed_bfloat16", "cudnn,_float16", 1e-6),
    ],
)
def test_cudnn_lstm_computes_in_float16_under_a_mixed_precision(policy, ran, small):
    """On a GPU the torch backend's LSTM runs cuDNN in float16 under either mixed precision (what
    torch.autocast runs it in: cuDNN's bfloat16 LSTM has no persistent kernel and ran 3.1x slower on
    an H200), in float32 otherwise; the layer still gives its compute type. The GPU is faked (the
    kernel runs on this CPU in the type a GPU would get); results are float32 Keras's to float16 rounding.
    ``small``: a loss a million times smaller (gradients of 1e-6, float16's subnormals, where the
    paper model's are): the gradients cross float16 scaled, and come out as precise as with 1."""
    script = MIXED.format(policy=policy, no_bf16=False, small=small)
    script = script.replace("import musegen_lstm.layer as L", ON_GPU, 1)
    proc = run_python(script, env={"KERAS_BACKEND": "torch", "CUDA_VISIBLE_DEVICES": ""})
    assert proc.returncode == 0, proc.stderr[-3000:]
    path, dtype, out, grad = proc.stdout.split()
    assert path == ran
    assert dtype == ("float32" if policy == "float32" else policy.split("_")[1])
    # float16 has 11 bits; the bfloat16 layer's outputs are rounded to 8 on the way out
    assert float(out) < (0.05 if policy == "mixed_bfloat16" else 5e-3 if policy == "mixed_float16" else 1e-5)
    assert float(grad) < (0.05 if policy == "mixed_bfloat16" else 5e-3 if policy == "mixed_float16" else 1e-4)


SPLIT = """
import os, jax, jax.numpy as jnp, numpy as np
import musegen_lstm.lstm  # one JAX CPU device per core unless JAX_NUM_CPU_DEVICES is set
from musegen_lstm import jax_lstm as J
B = {rows}
k = jax.random.split(jax.random.PRNGKey(0), 8)
table, rk = jax.random.normal(k[0], (20, 64)) * 0.3, jax.random.normal(k[1], (16, 64)) * 0.3
kern, bias = jax.random.normal(k[2], (5, 64)) * 0.3, jax.random.normal(k[3], (64,)) * 0.1
dense, x = jax.random.normal(k[4], (16, 20)) * 0.3, jax.random.normal(k[5], (B, 7, 5))
tok, h0 = jax.random.randint(k[6], (B, 7), 0, 20), jax.random.normal(k[7], (B, 16)) * 0.3
def loss(table, rk, dense, kern, bias, h0):
    out, h, c = J.lstm(x, kern, rk, bias, h0, h0 * 0.5, dtype={dtype!r})
    return (jnp.sum(jnp.sin(J.lstm_from_table(tok, table, rk, {dtype!r}) @ dense)) + jnp.sum(jnp.cos(out))
            + jnp.sum(h * c))
grad = lambda: jax.jit(jax.value_and_grad(loss, argnums=tuple(range(6))))(table, rk, dense, kern, bias, h0)
split, path = grad(), J.path(B, 16, {dtype!r})
J.cpu_mesh = lambda batch, units: None  # the same computation on one device
whole = grad()
diff = max(float(jnp.max(jnp.abs(a - b)) / jnp.max(jnp.abs(b)))
           for a, b in zip(jax.tree.leaves(split), jax.tree.leaves(whole)))
print(len(jax.devices()) == len(os.sched_getaffinity(0)), diff, path.replace(" ", "_"))
"""


@pytest.mark.parametrize("columns", [False, True])
@pytest.mark.parametrize("rows,devices,split", [(32, "2", True), (12, "2", False), (32, "1", False)])
def test_jax_cpu_recurrence_split_over_devices_equals_one_device(rows, devices, split, columns):
    """JAX's scans (jax_lstm) give the same loss and gradients split over one CPU device per core (at
    least MIN_ROWS rows each; never in columns) as on one device."""
    env = {"KERAS_BACKEND": "jax", "JAX_NUM_CPU_DEVICES": devices, "CUDA_VISIBLE_DEVICES": ""}
    proc = run_python(KERNEL_LEFT * columns + SPLIT.format(rows=rows, dtype="float32"), env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    _, diff, path = proc.stdout.split()
    # 32 rows on 2 devices: 16 each; 12 rows would leave 6 (under MIN_ROWS, not worth a core)
    assert path == (
        "musegen-jax-scan"
        + ",_kernel_on_the_left" * columns
        + ",_rows_split_over_2_CPU_devices" * (split and not columns)
    )
    assert float(diff) < 1e-5  # loss and every gradient (relative), lstm() and lstm_from_table() alike


@pytest.mark.parametrize("columns", [False, True])
def test_jax_cpu_recurrence_in_bfloat16_products_split_over_devices(columns):
    """bfloat16 products (mixed_bfloat16 on a CPU that has them) run in both layouts (rows split over two
    devices, columns whole), and give one device's loss and gradients; only the kernels' gradients,
    rounded to bfloat16 on each device before they are summed, differ by more than float32 rounding."""
    env = {"KERAS_BACKEND": "jax", "JAX_NUM_CPU_DEVICES": "2", "CUDA_VISIBLE_DEVICES": ""}
    proc = run_python(KERNEL_LEFT * columns + SPLIT.format(rows=32, dtype="bfloat16"), env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    _, diff, path = proc.stdout.split()
    assert path == (
        "musegen-jax-scan"
        + ",_kernel_on_the_left" * columns
        + ",_rows_split_over_2_CPU_devices" * (not columns)
        + ",_bfloat16_products"
    )
    assert float(diff) < 1e-2


TF_SPLIT = """
import numpy as np, tensorflow as tf
from musegen_lstm import tf_lstm as T
T._cores = lambda: {cores}  # this many cores, whatever the machine has
rng = np.random.default_rng(0)
c = lambda *shape: tf.constant(rng.normal(size=shape).astype("float32") * 0.3)
table, rk, kern, bias, dense, h0 = c(20, 64), c(16, 64), c(5, 64), c(64), c(16, 20), c({rows}, 16)
x, tok = c({rows}, 7, 5), tf.constant(rng.integers(0, 20, ({rows}, 7)).astype("int32"))
weights = [table, rk, kern, bias, h0]
def loss(table, rk, kern, bias, h0, x, tok):
    out, h, cl = T.lstm(x, kern, rk, bias, h0, h0 * 0.5, {dtype!r})
    return (tf.reduce_sum(tf.sin(T.lstm_from_table(tok, table, rk, {dtype!r}) @ dense)) + tf.reduce_sum(tf.cos(out))
            + tf.reduce_sum(h * cl))
def grads(x, tok):
    with tf.GradientTape() as tape:
        tape.watch(weights)
        value = loss(*weights, x, tok)
    return [value, *tape.gradient(value, weights)]
# eagerly, and traced with the batch and the time steps unknown (the XLA loops take the shapes they get)
traced = tf.function(grads, input_signature=[tf.TensorSpec([None, None, 5]), tf.TensorSpec([None, None], tf.int32)])
path, split, unknown = T.path({rows}, 16, {dtype!r}), grads(x, tok), traced(x, tok)
T.shares = lambda batch, units: 1  # the same computation in one share
whole = grads(x, tok)
diff = lambda a, b: max(float(tf.reduce_max(tf.abs(p - q)) / tf.reduce_max(tf.abs(q))) for p, q in zip(a, b))
print(diff(split, whole), diff(unknown, whole), path.replace(" ", "_"))
"""


@pytest.mark.parametrize("columns", [False, True])
@pytest.mark.parametrize("rows,cores,split", [(32, 2, True), (12, 2, False), (32, 1, False)])
def test_tensorflow_cpu_recurrence_split_in_shares_equals_one_share(rows, cores, split, columns):
    """TensorFlow's XLA loops (tf_lstm) give the same loss and gradients split in one share of the rows
    per core (at least MIN_ROWS each; never in columns) as whole, and traced with unknown shapes."""
    script = TF_KERNEL_LEFT * columns + TF_SPLIT.format(rows=rows, cores=cores, dtype="float32")
    proc = run_python(script, env={"KERAS_BACKEND": "tensorflow", "CUDA_VISIBLE_DEVICES": ""})
    assert proc.returncode == 0, proc.stderr[-3000:]
    split_diff, unknown_diff, path = proc.stdout.split()
    assert path == (
        "musegen-tf-xla-loops"
        + ",_kernel_on_the_left" * columns
        + ",_rows_split_in_2_concurrent_shares" * (split and not columns)
    )
    assert float(split_diff) < 1e-5 and float(unknown_diff) < 1e-5


@pytest.mark.parametrize("columns", [False, True])
def test_tensorflow_cpu_recurrence_in_bfloat16_products_split_in_shares(columns):
    """bfloat16 recurrent products (mixed_bfloat16 on a CPU that has them) run in both layouts and in
    two shares, with one share's loss and gradients to float32 rounding (the shares' products are the
    same products; only the order of the kernels' gradient sums differs)."""
    script = TF_KERNEL_LEFT * columns + TF_SPLIT.format(rows=32, cores=2, dtype="bfloat16")
    proc = run_python(script, env={"KERAS_BACKEND": "tensorflow", "CUDA_VISIBLE_DEVICES": ""})
    assert proc.returncode == 0, proc.stderr[-3000:]
    split_diff, unknown_diff, path = proc.stdout.split()
    assert path == (
        "musegen-tf-xla-loops"
        + ",_kernel_on_the_left" * columns
        + ",_rows_split_in_2_concurrent_shares" * (not columns)
        + ",_bfloat16_products"
    )
    assert float(split_diff) < 1e-5 and float(unknown_diff) < 1e-5


SPLIT_TRAINING = """
import sys, numpy as np, musegen, jax
from musegen.pipeline import load_run
cfg = musegen.resolve("tiny", flags={{"corpus": {corpus!r}, "train.steps": 4, "train.batch_size": 16}},
                      sets={{"model.dropout": 0.3, "model.units": 24}})
musegen.train(cfg, sys.argv[1])
model = load_run(sys.argv[1], tag="last")[3]
np.savez(sys.argv[1] + "/w.npz", *[np.asarray(x) for x in model.net.get_weights()])
model.net(np.zeros((16, 8), "int32"))  # the path a 16-row training step's forward pass takes
print(len(jax.devices()), model.net.get_layer("lstm_0").path.replace(" ", "_"))
"""


def test_jax_training_split_over_two_cpu_devices_equals_one_device(corpus, tmp_path):
    code, weights = SPLIT_TRAINING.format(corpus=corpus), []
    for devices in ("1", "2"):
        out = str(tmp_path / devices)
        proc = subprocess.run(
            [sys.executable, "-c", code, out],
            capture_output=True,
            text=True,
            timeout=600,
            env={**os.environ, "KERAS_BACKEND": "jax", "JAX_NUM_CPU_DEVICES": devices, "CUDA_VISIBLE_DEVICES": ""},
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
        split = "musegen-jax-scan,_rows_split_over_2_CPU_devices"
        assert proc.stdout.split()[-2:] == [devices, split if devices == "2" else "musegen-jax-scan"]
        with np.load(out + "/w.npz") as w:
            weights.append([w[k] for k in sorted(w.files)])
    # the same batches and dropout masks, half the rows on each core: the same weights after 4 steps
    assert max(float(np.max(np.abs(a - b))) for a, b in zip(*weights)) < 1e-4


def test_jax_backend_makes_one_cpu_device_per_core():
    unset = 'import os; os.environ.pop("JAX_NUM_CPU_DEVICES", None); os.environ.pop("XLA_FLAGS", None)\n'
    proc = run_python(
        unset + SPLIT.format(rows=16, dtype="float32"), env={"KERAS_BACKEND": "jax", "CUDA_VISIBLE_DEVICES": ""}
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.split()[0] == "True"


FOLDED = """
import numpy as np, keras
import musegen_lstm.net as N
from musegen_lstm.config import LSTMConfig
rng = np.random.default_rng(0)
keras.utils.set_random_seed(0)  # the same initial weights every run: bfloat16's error depends on them
net = N.build(LSTMConfig(embedding_dim={embedding}, units=6, layers=2, dropout=0.2, precision={precision!r}), {vocab})
net.set_weights([w + rng.normal(size=w.shape).astype("float32") * 0.5 for w in net.get_weights()])
tokens = rng.integers(0, {vocab}, size=(3, 9)).astype("int32")
target = rng.normal(size=(3, 9, {vocab})).astype("float32")
graph = lambda x: super(N.Net, net).call(x)  # Keras's own graph: embedding, then the LSTM's input product
backend = keras.backend.backend()
if backend == "jax":
    import jax
    def grads(f):
        def loss(tv):
            with keras.StatelessScope(state_mapping=list(zip(net.trainable_variables, tv))):
                return (f(tokens).astype("float32") * target).sum()
        return [np.asarray(g) for g in jax.grad(loss)([v.value for v in net.trainable_variables])]
elif backend == "torch":
    import torch
    def grads(f):
        for v in net.trainable_variables:
            v.value.grad = None
        (f(torch.tensor(tokens)).float() * torch.tensor(target)).sum().backward()
        return [v.value.grad.numpy().copy() for v in net.trainable_variables]
else:
    import tensorflow as tf
    def grads(f):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(f(tokens) * target)
        grads = tape.gradient(loss, [v.value for v in net.trainable_variables])
        return [np.asarray(tf.convert_to_tensor(g)) for g in grads]
calls = []
if backend in N._FOLDS:
    fold = N._FOLDS[backend]
    def counted(*args):
        out = fold(*args)
        calls.extend([] if out is None else [1])
        return out
    N._FOLDS[backend] = counted
out = float(np.abs(keras.ops.convert_to_numpy(net(tokens)) - keras.ops.convert_to_numpy(graph(tokens))).max())
pairs = list(zip(grads(net), grads(graph)))
grad = max(float(np.abs(a - b).max()) for a, b in pairs)
relative = max(float(np.abs(a - b).max() / np.abs(b).max()) for a, b in pairs)
print(net.folded(), len(calls), out, grad, net.get_layer("lstm_0").path.replace(" ", "_"), relative)
"""


@pytest.mark.parametrize(
    "backend,vocab,embedding,folded",
    [
        ("jax", 11, 5, "True"),
        ("jax", 7, 9, "True"),
        ("jax-columns", 7, 9, "True"),
        ("torch", 7, 9, "True"),
        ("torch", 11, 5, "False"),  # one-hot rows only pay when the vocabulary is smaller
        ("tensorflow", 11, 5, "True"),
        ("tensorflow-columns", 7, 9, "True"),
    ],
)
def test_embedding_folded_into_the_lstm_equals_keras_graph_forward_and_backward(backend, vocab, embedding, folded):
    """On a CPU the first LSTM reads embedding @ kernel + bias from a table: the same outputs and gradients."""
    ran, calls, out, grad, _, _ = _folded(backend, vocab, embedding, "float32")
    assert ran == folded and (int(calls) > 0) == (folded == "True")  # the fold ran where it says it does
    assert float(out) < 1e-5 and float(grad) < 1e-4


@pytest.mark.parametrize("backend", ["jax", "torch", "tensorflow"])
def test_embedding_folded_in_mixed_bfloat16(backend):
    """The fold runs under mixed_bfloat16 too (bfloat16 where the CPU has it; torch: the one-hot rows
    padded), with the outputs and gradients of Keras's graph to bfloat16's rounding."""
    from musegen_lstm.layer import cpu_dtype

    ran, calls, out, _, path, grad = _folded(backend, 17, 40, "mixed_bfloat16")
    assert ran == "True" and int(calls) > 0
    inner = cpu_dtype("bfloat16", backend)
    if backend != "torch":
        scan = SCAN_PATHS[backend]
        assert path == scan + ",_" + ("bfloat16_products" if inner == "bfloat16" else "float32")
    else:
        assert path == "torch-native,_" + inner
    assert float(out) < 0.05 and float(grad) < 0.05  # gradients: relative to each one's largest


DENSE_EMBEDDING = """
import numpy as np, keras
from musegen_lstm.net import build
from musegen_lstm.config import LSTMConfig
net = build(LSTMConfig(embedding_dim=8, units=16), 5)
net.compile(optimizer=keras.optimizers.Adam(1e-3), loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
before = np.array(net.get_layer("embedding").embeddings.numpy())
x = np.random.default_rng(0).integers(0, 5, size=(32, 41)).astype("int32")  # each id about 260 times a batch
net.train_on_batch(x[:, :-1], x[:, 1:])
print(net.folded(), float(np.abs(net.get_layer("embedding").embeddings.numpy() - before).max()))
"""


def test_tensorflow_embedding_gets_a_dense_adam_step():
    """On TensorFlow the folded embedding's gradient is dense, as on jax and torch: Adam's first step
    moves each weight by at most its learning rate. (Keras 3's Adam, given TensorFlow's per-character
    sparse gradient, squares each character's gradient instead of their sum: up to sqrt(260) times it.)"""
    proc = run_python(DENSE_EMBEDDING, env={"KERAS_BACKEND": "tensorflow", "CUDA_VISIBLE_DEVICES": ""})
    assert proc.returncode == 0, proc.stderr[-3000:]
    folded, moved = proc.stdout.split()
    assert folded == "True"
    assert 0.9e-3 < float(moved) <= 1.0001e-3


def _folded(backend, vocab, embedding, precision):
    script = FOLDED.replace("{vocab}", str(vocab)).replace("{embedding}", str(embedding))
    script = script.replace("{precision!r}", repr(precision))
    proc = run_python(
        LEFT.get(backend, "") + script, env={"KERAS_BACKEND": backend.split("-")[0], "CUDA_VISIBLE_DEVICES": ""}
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout.split()


DATA_PARALLEL = """
import numpy as np, musegen, keras
from musegen.pipeline import load_run
cfg = lambda d: musegen.resolve("tiny", flags={{"corpus": {corpus!r}, "train.steps": 5, "train.distribute": d}})
musegen.train(cfg("none"), {out!r} + "/one")
musegen.train(cfg("data-parallel"), {out!r} + "/two")
layer = keras.layers.Dense(2)  # built under the distribution the run set: replicated on every device
layer.build((1, 3))
w = lambda p: [np.asarray(x) for x in load_run(p, tag="last")[3].net.get_weights()]
from musegen_lstm.steps import steps
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
cfg = musegen.resolve("tiny", flags={{"corpus": {corpus!r}, "train.steps": 3, "train.distribute": "data-parallel"}})
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


def test_data_parallel_needs_jax(corpus):
    import musegen

    with pytest.raises(musegen.MusegenError, match="needs the jax backend"):
        musegen.resolve("tiny", flags={"corpus": corpus, "backend": "torch", "train.distribute": "data-parallel"})
