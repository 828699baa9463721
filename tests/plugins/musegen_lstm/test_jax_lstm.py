"""musegen_lstm.fast.jax_lstm: the JAX CPU recurrence split over devices equals one device."""

import os
import subprocess
import sys

import numpy as np
import pytest
from test_layer import KERNEL_LEFT

from conftest import run_python

pytestmark = pytest.mark.slow  # trains models or runs gen in processes

SPLIT = """
import os, jax, jax.numpy as jnp, numpy as np
import musegen_lstm.fast.lstm  # one JAX CPU device per core unless JAX_NUM_CPU_DEVICES is set
from musegen_lstm.fast import jax_lstm as J
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
    unset = (
        'import os; os.environ.pop("JAX_NUM_CPU_DEVICES", None); os.environ.pop("XLA_FLAGS", None)\n'
        "from musegen import process; process.setup()  # what gen and musegen.train do first\n"
    )
    proc = run_python(
        unset + SPLIT.format(rows=16, dtype="float32"), env={"KERAS_BACKEND": "jax", "CUDA_VISIBLE_DEVICES": ""}
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.split()[0] == "True"
