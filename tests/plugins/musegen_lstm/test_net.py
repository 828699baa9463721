"""musegen_lstm.fast.net: the embedding folded into the first LSTM equals Keras's graph, forward and backward."""

import pytest
from test_layer import LEFT, SCAN_PATHS

from conftest import run_python

pytestmark = pytest.mark.slow  # trains models or runs gen in processes

FOLDED = """
import numpy as np, keras
import musegen_lstm.fast.net as N
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
    from musegen_lstm.fast.layer import cpu_dtype

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
from musegen_lstm.fast.net import build
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
