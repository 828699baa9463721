"""Environment the lstm plugin sets before Keras or JAX is first imported (both read it then, once)."""

from __future__ import annotations

import os
import sys


def setup() -> None:
    """musegen's default Keras backend, TensorFlow kept quiet, JAX's GPU memory taken as needed, and one
    JAX CPU device per core; each only where not chosen already. Safe to call more than once."""
    os.environ.setdefault("KERAS_BACKEND", "jax")  # musegen's default backend, unless one was chosen already
    if os.environ["KERAS_BACKEND"] != "tensorflow":
        # Keras imports TensorFlow whenever it is installed (to seed it, to serialize), whatever the backend;
        # with its oneDNN setting left alone it prints log lines on import. It computes nothing here.
        os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    # The compiled sampler runs on JAX whatever the backend: on a GPU, JAX must not take 75% of its memory
    # up front (its default) beside PyTorch or TensorFlow. Every GPU number in RESULTS.md ran this way.
    os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
    _cpu_devices()


def _cpu_devices() -> None:
    """One JAX CPU device per core this process may use, unless the number was chosen already: on a CPU
    the jax backend's recurrence splits each batch's rows across them (:func:`musegen_lstm.jax_lstm.cpu_mesh`;
    XLA runs each small product on one core). Set ``JAX_NUM_CPU_DEVICES=1`` to keep one."""
    if os.environ["KERAS_BACKEND"] != "jax" or "JAX_NUM_CPU_DEVICES" in os.environ \
            or "xla_force_host_platform_device_count" in os.environ.get("XLA_FLAGS", ""):
        return
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    os.environ["JAX_NUM_CPU_DEVICES"] = str(cores)  # read when JAX is imported
    if "jax" in sys.modules:  # imported already: JAX takes it until its first computation, not after
        try:
            sys.modules["jax"].config.update("jax_num_cpu_devices", cores)
        except Exception:  # noqa: BLE001 — JAX has computed already: it keeps its devices
            pass
