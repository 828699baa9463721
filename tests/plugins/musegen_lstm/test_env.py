"""The process settings the lstm plugin makes before Keras and JAX start (musegen_lstm.env)."""

from __future__ import annotations

import pytest

from conftest import run_python
from musegen_lstm.env import glibc

pytestmark = pytest.mark.slow  # trains models or runs gen in processes

# A worker thread (as XLA's device threads are) mallocs, fills and frees a 40 MB block ten times, as
# XLA does a training step's temporary buffers at 256 units; prints the page faults of the last nine.
REUSE = """
import ctypes, resource, threading
import musegen_lstm.env as env
print(env._keep_freed_memory())
libc = ctypes.CDLL(None)
libc.malloc.restype, libc.malloc.argtypes, libc.free.argtypes = ctypes.c_void_p, [ctypes.c_size_t], [ctypes.c_void_p]
faults = []
def work():
    for i in range(10):
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        block = libc.malloc(40 * 2**20)
        ctypes.memset(block, i, 40 * 2**20)
        libc.free(block)
        faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
t = threading.Thread(target=work)
t.start(); t.join()
print(sum(faults[1:]))
"""


@pytest.mark.skipif(glibc() is None, reason="glibc's malloc only")
@pytest.mark.parametrize("setting", ["", "system", "tunables"])
def test_freed_memory_is_kept_for_reuse_unless_the_environment_says_otherwise(setting):
    """A thread's 40 MB block freed and allocated again reuses its pages (glibc had given them back and
    mapped fresh ones each time: 10,240 faults); MUSEGEN_MALLOC=system, or glibc's own settings in the
    environment, leave malloc as it is."""
    env = {"MUSEGEN_MALLOC": "system" if setting == "system" else ""}
    if setting == "tunables":
        env["MALLOC_ARENA_MAX"] = "4"
    proc = run_python(REUSE, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    kept, faults = proc.stdout.split()
    assert kept == str(setting == "")
    if setting == "":
        assert int(faults) < 9 * 1000  # a few pages a round at most
    else:
        assert int(faults) > 9 * 9000  # 10,240 pages of 4 KB each round


# The GPU memory settings, unset and then chosen by the user, in a process where neither framework started
GPU_MEMORY = """
import os
import musegen_lstm.env as env
names = ("XLA_PYTHON_CLIENT_PREALLOCATE", "TF_FORCE_GPU_ALLOW_GROWTH")
for name in names:
    os.environ.pop(name, None)
env.setup()
print(*(os.environ.get(name) for name in names))
os.environ.update({name: "chosen" for name in names})
env.setup()
print(*(os.environ[name] for name in names))
"""


@pytest.mark.parametrize("backend", ["jax", "tensorflow", "torch"])
def test_neither_jax_nor_tensorflow_takes_the_gpus_memory_up_front_unless_the_user_chose(backend):
    """Whatever the backend, the compiled sampler runs on JAX beside it: JAX must not take 75% of a GPU
    at start, nor TensorFlow nearly all of it at its first GPU op; a value the user set stays."""
    proc = run_python(GPU_MEMORY, env={"KERAS_BACKEND": backend})
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.split("\n")[:2] == ["false true", "chosen chosen"]


@pytest.mark.parametrize("backend", ["jax", "tensorflow", "torch"])
def test_tensorflows_info_and_warning_lines_are_off_unless_the_user_chose(backend):
    """TensorFlow's C++ log level 2 (errors only) by default, on every backend (Keras imports TensorFlow
    whenever it is installed); a level the user set stays."""
    proc = run_python(
        GPU_MEMORY.replace('"TF_FORCE_GPU_ALLOW_GROWTH"', '"TF_CPP_MIN_LOG_LEVEL"'), env={"KERAS_BACKEND": backend}
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.split("\n")[:2] == ["false 2", "chosen chosen"]


# TensorFlow compiles a function with XLA (as the tensorflow backend's training steps do), which logs
# "XLA service ... initialized" at INFO
XLA_COMPILE = """
import os
os.environ.pop("TF_CPP_MIN_LOG_LEVEL", None)
os.environ.update({{"KERAS_BACKEND": "tensorflow", **{chosen}}})
import musegen_lstm.env as env
env.setup()
import tensorflow as tf
print(tf.function(lambda x: x * 2, jit_compile=True)(tf.constant([1.0, 2.0])).numpy().tolist())
"""


@pytest.mark.parametrize("chosen", [{}, {"TF_CPP_MIN_LOG_LEVEL": "0"}])
def test_tensorflow_compiling_with_xla_prints_no_info_lines_by_default(chosen):
    pytest.importorskip("tensorflow")
    proc = run_python(XLA_COMPILE.format(chosen=chosen))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip() == "[2.0, 4.0]"
    assert ("XLA service" in proc.stderr) == bool(chosen), proc.stderr[-3000:]


# Lines written to stderr while quiet_import holds it: absl's pre-init note and lines of each level as
# TensorFlow 2.21 writes them at import, and a Python warning; prints nothing itself.
HELD = """
import os, sys
os.environ.update({{"KERAS_BACKEND": "tensorflow", "TF_CPP_MIN_LOG_LEVEL": "{level}"}})
import musegen_lstm.env as env
with env.quiet_import():
    os.write(2, b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\\n")
    os.write(2, b"I0000 00:00:1795762900.631307   10215 port.cc:153] oneDNN custom operations are on.\\n")
    print("a Python warning", file=sys.stderr)
    os.write(2, b"W0000 00:00:1795762900.731307   10215 some.cc:12] a warning\\n")
    os.write(2, b"E0000 00:00:1795762900.831307   10215 util.cc:131] an error\\n")
print("after", file=sys.stderr)
"""


@pytest.mark.parametrize("level,shown", [("0", "NIPWE"), ("1", "PWE"), ("2", "PE"), ("3", "PE")])
def test_quiet_import_holds_back_the_lines_the_log_level_hides(level, shown):
    """TensorFlow's import writes absl lines before it reads TF_CPP_MIN_LOG_LEVEL: quiet_import drops
    those the level hides (INFO from 1, WARNING from 2; errors always shown, as lines it cannot
    parse), and writes every other line after, in order."""
    proc = run_python(HELD.format(level=level))
    assert proc.returncode == 0, proc.stderr[-3000:]
    marks = {"absl::InitializeLog": "N", "port.cc": "I", "a Python warning": "P", "a warning": "W", "an error": "E"}
    lines = proc.stderr.splitlines()
    assert lines[-1] == "after"
    assert "".join(next(m for k, m in marks.items() if k in line) for line in lines[:-1]) == shown


def test_importing_the_lstm_plugin_on_tensorflow_prints_nothing():
    """On the tensorflow backend, with musegen's process settings (its default log level), importing the plugin
    (Keras, and
    with it TensorFlow) writes nothing to stderr: its oneDNN lines are held back."""
    pytest.importorskip("tensorflow")
    code = (
        "import os; os.environ.pop('TF_CPP_MIN_LOG_LEVEL', None); from musegen import process; process.setup(); "
        "import musegen_lstm.fast.lstm"
    )
    proc = run_python(code, env={"KERAS_BACKEND": "tensorflow"})
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr[-3000:]
