"""Process-wide settings, applied on purpose and once: each plugin's ``setup_process`` hook.

Frameworks read some settings only when first imported (JAX its CPU devices, TensorFlow its log level), and
malloc's change the whole process; so nothing sets them on import. ``gen`` and ``musegen.train``/``generate``
apply them when they choose the Keras backend; a library user keeps the process as it is with
``MUSEGEN_PROCESS_SETUP=off``.
"""

from __future__ import annotations

import os

_done = False


def wanted() -> bool:
    """Whether this process takes musegen's settings (``MUSEGEN_PROCESS_SETUP=off`` says no)."""
    return os.environ.get("MUSEGEN_PROCESS_SETUP", "").strip().lower() not in ("off", "0", "no", "false")


def setup() -> bool:
    """Run every plugin's ``setup_process`` hook, the first time only and where wanted; returns whether it ran
    now. A hook that raises is reported by ``gen plugins`` and skipped."""
    global _done
    if _done or not wanted():
        return False
    _done = True
    from musegen.plugins import get_manager

    get_manager().setup_process()
    return True
