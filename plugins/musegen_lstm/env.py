"""Environment the lstm plugin sets before Keras or JAX is first imported (both read it then, once)."""

from __future__ import annotations

import contextlib
import os
import re
import sys


def setup() -> None:
    """musegen's default Keras backend, TensorFlow kept quiet, JAX's and TensorFlow's GPU memory taken as
    needed, one JAX CPU device per core, and on jax and torch freed memory kept for reuse
    (:func:`_keep_freed_memory`); each only where not chosen already. Safe to call more than once."""
    os.environ.setdefault("KERAS_BACKEND", "jax")  # musegen's default backend, unless one was chosen already
    if os.environ["KERAS_BACKEND"] != "tensorflow":
        # Keras imports TensorFlow whenever it is installed (to seed it, to serialize), whatever the backend;
        # with its oneDNN setting left alone it prints log lines on import. It computes nothing here.
        os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    # TensorFlow's C++ INFO and WARNING lines (its CPU's instructions, "XLA service ... initialized",
    # "Compiled cluster using XLA!") say nothing a user can act on; its errors still print. The oneDNN
    # line its import prints before its logging reads this (TensorFlow 2.21): see quiet_import.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    # The compiled sampler runs on JAX whatever the backend: on a GPU, JAX must not take 75% of its memory
    # up front (its default) beside PyTorch or TensorFlow.
    os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
    # Nor TensorFlow nearly all of it (its default) at its first GPU op, which would leave JAX's sampler
    # none after training on the tensorflow backend (not yet run on a GPU). TensorFlow reads it then.
    os.environ.setdefault("TF_FORCE_GPU_ALLOW_GROWTH", "true")
    _cpu_devices()
    if os.environ["KERAS_BACKEND"] != "tensorflow":  # TensorFlow's steps ran no faster with it
        _keep_freed_memory()


_GLIBC_MALLOC_SETTINGS = (
    "GLIBC_TUNABLES",
    "MALLOC_ARENA_MAX",
    "MALLOC_MMAP_MAX_",
    "MALLOC_MMAP_THRESHOLD_",
    "MALLOC_TRIM_THRESHOLD_",
    "MALLOC_TOP_PAD_",
)
_M_TRIM_THRESHOLD, _M_TOP_PAD, _M_MMAP_MAX = -1, -2, -4  # glibc's malloc.h
KEEP = ((_M_MMAP_MAX, 0), (_M_TRIM_THRESHOLD, 2**31 - 1), (_M_TOP_PAD, 64 << 20))


def _keep_freed_memory() -> bool:
    """Make glibc's malloc keep the memory a process frees for its next allocations instead of handing
    it back to the kernel (:data:`KEEP`: no ``mmap``, no trimming, and a thread's heap kept when it
    empties). Returns whether it was set.

    Each training step XLA allocates its temporary buffers afresh (tens of MB a device) and frees them
    after. glibc served blocks that large with ``mmap`` (or a new heap for the thread) and gave them
    back on ``free``, so every step wrote to thousands of fresh pages, a large share of the step's time.
    Kept, the pages are reused. A thread's heap holds at most 64 MB, so larger blocks are still mapped
    afresh each step; one arena for all threads would keep them too, but made the int8 sampler's
    threads wait on each other: not done. The process keeps its peak memory until it
    exits. PyTorch's and NumPy's large blocks are kept the same way.

    Only with glibc; not where the environment sets glibc's malloc itself (``GLIBC_TUNABLES``,
    ``MALLOC_*``), nor with ``MUSEGEN_MALLOC=system``."""
    if os.environ.get("MUSEGEN_MALLOC") == "system" or any(k in os.environ for k in _GLIBC_MALLOC_SETTINGS):
        return False
    libc = glibc()
    if libc is None:
        return False
    import ctypes

    mallopt = libc.mallopt
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return all(mallopt(param, value) == 1 for param, value in KEEP)


def glibc():
    """This process's C library where it is glibc (on Linux), else None (musl's ``mallopt`` does nothing)."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    try:
        libc = ctypes.CDLL(None)
    except OSError:
        return None
    return libc if hasattr(libc, "gnu_get_libc_version") and hasattr(libc, "mallopt") else None


def _cpu_devices() -> None:
    """One JAX CPU device per core this process may use, unless the number was chosen already: on a CPU
    the jax backend's recurrence splits each batch's rows across them (:func:`musegen_lstm.fast.jax_lstm.cpu_mesh`;
    XLA runs each small product on one core). Set ``JAX_NUM_CPU_DEVICES=1`` to keep one."""
    if (
        os.environ["KERAS_BACKEND"] != "jax"
        or "JAX_NUM_CPU_DEVICES" in os.environ
        or "xla_force_host_platform_device_count" in os.environ.get("XLA_FLAGS", "")
    ):
        return
    cores = cpu_cores()
    os.environ["JAX_NUM_CPU_DEVICES"] = str(cores)  # read when JAX is imported
    if "jax" in sys.modules:  # imported already: JAX takes it until its first computation, not after
        try:
            sys.modules["jax"].config.update("jax_num_cpu_devices", cores)
        except Exception:  # noqa: BLE001 — JAX has computed already: it keeps its devices
            pass


def cpu_cores() -> int:
    """The cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


# Lines TensorFlow writes at import through absl's logger before its own logging starts, so whatever
# TF_CPP_MIN_LOG_LEVEL says: absl's note on it, and INFO lines ("I0000 00:00:... port.cc:153] oneDNN
# custom operations are on ..."), twice, on the tensorflow backend (TensorFlow 2.21)
_ABSL_NOTE = b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"
_ABSL_LINE = re.compile(rb"^([IWEF])\d{4} \d\d:\d\d:\d+\.\d+ +\d+ [^ \]]+:\d+\] ")


@contextlib.contextmanager
def quiet_import():
    """Around the first import of Keras on the tensorflow backend (which imports TensorFlow): the log
    lines TensorFlow's import writes to stderr before it reads ``TF_CPP_MIN_LOG_LEVEL`` are held back
    where that level says so (INFO at 1 and above, WARNING at 2 and above, as TensorFlow's own); every
    other line written meanwhile is written after, in its order. Elsewhere it does nothing."""
    level = os.environ.get("TF_CPP_MIN_LOG_LEVEL", "0")
    if os.environ.get("KERAS_BACKEND") != "tensorflow" or "tensorflow" in sys.modules or level not in ("1", "2", "3"):
        yield
        return
    import tempfile

    hidden = "IW"[: int(level)].encode()
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):  # no stderr to hold (closed, or None)
        yield
        return
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            held.seek(0)
            lines = held.read().splitlines(keepends=True)
            kept = [line for line in lines if not _hidden(line, hidden)]
            if kept:
                os.write(2, b"".join(kept))


def _hidden(line: bytes, levels: bytes) -> bool:
    if line.startswith(_ABSL_NOTE):
        return True
    match = _ABSL_LINE.match(line)
    return bool(match) and match.group(1) in levels


def check_backend(backend: str) -> None:
    """On the jax backend, JAX starts on the devices the environment asks for, or one line says why not
    (``JAX_PLATFORMS=cuda`` on a machine without a GPU, ``JAX_NUM_CPU_DEVICES=0``), not a traceback."""
    if backend != "jax":
        return
    import jax

    try:
        jax.devices()
    except Exception as exc:  # AssertionError, RuntimeError: whatever JAX raises while starting its backends
        from musegen import MusegenError

        asked = ", ".join(f"{k}={os.environ[k]}" for k in ("JAX_PLATFORMS", "JAX_NUM_CPU_DEVICES") if k in os.environ)
        why = " ".join(str(exc).split())[:160] or type(exc).__name__
        raise MusegenError(f"JAX cannot start ({why})" + (f"; check {asked}" if asked else "")) from None
