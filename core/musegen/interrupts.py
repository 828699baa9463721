"""Ctrl-C and SIGTERM: stop promptly wherever they land; during training, between two steps.

A signal that lands in the middle of a compiled training step can leave a model's arrays half
updated (JAX donates buffers), so a model loop asks :func:`requested` between steps instead of
being interrupted wherever it happens to be (:func:`deferred`).

Elsewhere the signal raises ``KeyboardInterrupt``. Python drops one raised inside a garbage-collection
callback (JAX registers one) with an "Exception ignored" line, and the program would go on as if
nothing had happened; so the command line (:func:`install`) raises it again every half second until
something catches it and says so (:func:`caught`).
"""

from __future__ import annotations

import _thread
import contextlib
import signal
import sys
import threading

_flag = threading.Event()  # inside deferred(): a stop was asked for, honoured after this step
_unanswered = threading.Event()  # a KeyboardInterrupt was raised that nothing has caught yet
_reraised = threading.Event()  # the watchdog has asked for it to be raised again
_stop = threading.Event()  # the program is ending: the watchdog stops
_watchdog: threading.Thread | None = None
AGAIN = 0.5  # seconds between raises of an interrupt nothing has caught


def requested() -> bool:
    """True once SIGINT or SIGTERM arrived inside :func:`deferred`."""
    return _flag.is_set()


def pending() -> bool:
    """True while an interrupt has been raised that nothing has caught (:func:`caught`)."""
    return _unanswered.is_set()


def caught() -> None:
    """Say that a ``KeyboardInterrupt`` was caught and is being handled: stop raising it again."""
    _unanswered.clear()


def interrupt(signum=None, frame=None):
    """A signal handler: raise ``KeyboardInterrupt`` now, and again until it is :func:`caught`."""
    if _reraised.is_set():  # the watchdog's raise again, perhaps overtaken by the catch it was waiting for
        _reraised.clear()
        if not _unanswered.is_set():
            return
    _unanswered.set()
    _start_watchdog()
    raise KeyboardInterrupt


def install() -> None:
    """SIGINT and SIGTERM (a scheduler stopping the job) both stop the program, even when the first
    ``KeyboardInterrupt`` is swallowed. For the command line; a library user keeps their own handlers."""
    if threading.current_thread() is threading.main_thread():
        for s in (signal.SIGINT, signal.SIGTERM):
            signal.signal(s, interrupt)
        if not getattr(sys.unraisablehook, "musegen", False):
            sys.unraisablehook = _quiet(sys.unraisablehook)


def finish() -> None:
    """The program is ending, its interrupt handled or none came: stop raising it again, and let a late
    signal not interrupt the interpreter's own shutdown (JAX's clean-up there does not survive one)."""
    _stop.set()
    if _watchdog is not None:
        _watchdog.join(timeout=2 * AGAIN)
    if threading.current_thread() is threading.main_thread():
        for s in (signal.SIGINT, signal.SIGTERM):
            signal.signal(s, signal.SIG_IGN)


def _quiet(hook):
    """Python's "Exception ignored in ... KeyboardInterrupt" report of a swallowed interrupt is noise here:
    it is raised again until caught."""

    def unraisable(info):
        if not isinstance(info.exc_value, KeyboardInterrupt):
            hook(info)

    unraisable.musegen = True
    return unraisable


def _start_watchdog() -> None:
    global _watchdog
    if _watchdog is None or not _watchdog.is_alive():
        _watchdog = threading.Thread(target=_again, name="musegen-interrupt", daemon=True)
        _watchdog.start()


def _again() -> None:
    while not _stop.wait(AGAIN):
        if _unanswered.is_set():
            _reraised.set()
            _thread.interrupt_main(signal.SIGINT)


@contextlib.contextmanager
def handled(handler, signals=(signal.SIGINT, signal.SIGTERM)):
    """``handler`` answers Ctrl-C and SIGTERM inside the block; the handlers before it come back after."""
    previous = {s: signal.signal(s, handler) for s in signals}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


@contextlib.contextmanager
def deferred():
    """Turn SIGINT/SIGTERM into a request that the training loop honours between steps.

    A second Ctrl-C stops at once, as usual. An interrupt raised before and swallowed stops here, before
    the first step. Outside the main thread this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    if _unanswered.is_set():
        raise KeyboardInterrupt
    _flag.clear()

    def handler(signum, frame):
        if _flag.is_set():
            interrupt()
        _flag.set()

    try:
        with handled(handler):
            yield
    finally:
        if _flag.is_set():
            _flag.clear()
            raise KeyboardInterrupt
