"""Ctrl-C and SIGTERM during training: finish the current step, save, then stop.

A signal that lands in the middle of a compiled training step can leave a model's arrays half
updated (JAX donates buffers), so a model loop asks :func:`requested` between steps instead of
being interrupted wherever it happens to be.
"""

from __future__ import annotations

import contextlib
import signal
import threading

_flag = threading.Event()


def requested() -> bool:
    """True once SIGINT or SIGTERM arrived inside :func:`deferred`."""
    return _flag.is_set()


@contextlib.contextmanager
def deferred():
    """Turn SIGINT/SIGTERM into a request that the training loop honours between steps.

    A second Ctrl-C stops at once, as usual. Outside the main thread this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _flag.clear()

    def handler(signum, frame):
        if _flag.is_set():
            raise KeyboardInterrupt
        _flag.set()

    old = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)
        if _flag.is_set():
            _flag.clear()
            raise KeyboardInterrupt
