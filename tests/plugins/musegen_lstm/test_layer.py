"""musegen_lstm.fast.layer: the fused LSTM against Keras's own, forward and backward, in each precision."""

import pytest

from conftest import run_python

pytestmark = pytest.mark.slow  # trains models or runs gen in processes

FUSED = """
import numpy as np, keras
from musegen_lstm.fast.layer import LSTM
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
KERNEL_LEFT = (
    "import musegen_lstm.fast.jax_lstm as J\nJ.COLUMNS_ABOVE = 0  # the layout of units > 512, at small sizes\n"
)
TF_KERNEL_LEFT = (
    "import musegen_lstm.fast.tf_lstm as T\nT.COLUMNS_ABOVE = 0  # the layout of units > 512, at small sizes\n"
)
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
import musegen_lstm.fast.layer as L
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
    from musegen_lstm.fast.layer import cpu_dtype

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
import musegen_lstm.fast.layer as L
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
    script = script.replace("import musegen_lstm.fast.layer as L", ON_GPU, 1)
    proc = run_python(script, env={"KERAS_BACKEND": "torch", "CUDA_VISIBLE_DEVICES": ""})
    assert proc.returncode == 0, proc.stderr[-3000:]
    path, dtype, out, grad = proc.stdout.split()
    assert path == ran
    assert dtype == ("float32" if policy == "float32" else policy.split("_")[1])
    # float16 has 11 bits; the bfloat16 layer's outputs are rounded to 8 on the way out
    assert float(out) < (0.05 if policy == "mixed_bfloat16" else 5e-3 if policy == "mixed_float16" else 1e-5)
    assert float(grad) < (0.05 if policy == "mixed_bfloat16" else 5e-3 if policy == "mixed_float16" else 1e-4)
