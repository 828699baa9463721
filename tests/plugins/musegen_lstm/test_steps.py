"""musegen_lstm.fast.steps: training steps that do not wait, against Keras's train_on_batch, on each backend."""

import pytest

from conftest import run_python

pytestmark = pytest.mark.slow  # trains models or runs gen in processes

STEPS_SETUP = """
import numpy as np, keras
from musegen import TrainConfig
from musegen_lstm.config import LSTMConfig
from musegen_lstm.fast.lstm import LSTMModel
from musegen_lstm.fast.steps import KerasSteps, steps
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
