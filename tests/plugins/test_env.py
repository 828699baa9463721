"""The process settings the lstm plugin makes before Keras and JAX start (musegen_lstm.env)."""

from __future__ import annotations

import pytest
from musegen_lstm.env import glibc

from conftest import run_python

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
