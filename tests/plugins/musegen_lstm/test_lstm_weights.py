"""musegen_lstm.fast.lstm: the weights the samplers read, in place and kept until they change, on each backend."""

import pytest

from conftest import run_python

pytestmark = pytest.mark.slow  # trains models or runs gen in processes

BACKENDS = ["jax", "torch", "tensorflow"]


IN_PLACE = """
import numpy as np, keras
from musegen import SampleConfig
from musegen_lstm.config import LSTMConfig
from musegen_lstm.fast.jax_sampling import sample
from musegen_lstm.fast.lstm import LSTMModel
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
from musegen_lstm.fast.lstm import LSTMModel
from musegen_lstm.fast.sampling import Prepared
from musegen_lstm.fast.steps import steps
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
from musegen_lstm.fast.lstm import LSTMModel
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
