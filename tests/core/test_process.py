"""Process settings are applied on purpose (musegen.process), never by importing musegen or a plugin."""

from __future__ import annotations

import pytest

from conftest import run_python

pytestmark = pytest.mark.slow  # trains models or runs gen in processes

# Environment variables the default plugins' setup_process sets when the user has not (and Keras's import
# does not: it sets TF_FORCE_GPU_ALLOW_GROWTH itself)
MUSEGEN_SETS = ("JAX_NUM_CPU_DEVICES", "XLA_PYTHON_CLIENT_PREALLOCATE", "TF_ENABLE_ONEDNN_OPTS")

IMPORT_EVERYTHING = """
import os, pkgutil, importlib
names = {names!r}
for name in names:
    os.environ.pop(name, None)
import musegen, musegen.cli
for package in ("musegen", "musegen_lstm", "musegen_nets", "musegen_abc", "musegen_midi", "musegen_web"):
    module = importlib.import_module(package)
    for info in pkgutil.walk_packages(module.__path__, package + "."):
        if not info.name.endswith("__main__"):
            importlib.import_module(info.name)
print("imported", sorted(n for n in names if n in os.environ))
{after}
print("after", sorted(n for n in names if n in os.environ))
"""


def test_importing_every_module_sets_nothing_and_setup_sets_the_plugins_settings():
    after = "from musegen import process; print(process.setup(), process.setup())"
    proc = run_python(IMPORT_EVERYTHING.format(names=MUSEGEN_SETS, after=after), env={"KERAS_BACKEND": "jax"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.splitlines()
    assert lines[0] == "imported []"
    assert lines[1] == "True False"  # once a process
    assert lines[2] == f"after {sorted(MUSEGEN_SETS)}"


def test_a_library_user_can_keep_the_process_as_it_is():
    """musegen.train and generate choose the backend (pipeline.use_backend); with MUSEGEN_PROCESS_SETUP=off
    that is all they change."""
    after = "from musegen import pipeline; pipeline.use_backend('jax'); print(os.environ['KERAS_BACKEND'])"
    for setting, applied in (("off", []), ("", sorted(MUSEGEN_SETS))):
        proc = run_python(
            IMPORT_EVERYTHING.format(names=MUSEGEN_SETS, after=after),
            env={"KERAS_BACKEND": "jax", "MUSEGEN_PROCESS_SETUP": setting},
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert proc.stdout.splitlines()[1:] == ["jax", f"after {applied}"]
