"""musegen_lstm.fast.tf_lstm: the TensorFlow CPU recurrence split in shares equals one share."""

import pytest
from test_layer import TF_KERNEL_LEFT

from conftest import run_python

pytestmark = pytest.mark.slow  # trains models or runs gen in processes

TF_SPLIT = """
import numpy as np, tensorflow as tf
from musegen_lstm.fast import tf_lstm as T
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
