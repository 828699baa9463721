"""abc2midi kept running in its checking mode, tunes streamed to it: the bar checker's judge.

abc2midi reads a file of tunes one tune at a time: when the blank line after a tune comes, it judges
that tune and prints its messages before it reads on. So one abc2midi reading a pipe answers call
after call, without a process started for each (most of a check's cost). Each call
writes its tunes laid out as :class:`musegen.abc2midi.Shared` lays them out for one process (a
separator tune after each, which closes what the tune left open and whose last line draws a marked
``Error``), and reads messages until the last separator's mark; each message goes to the tune its
line number falls in, renumbered from that tune's first line. abc2midi writes to a pseudo-terminal,
a line at a time (into a pipe its lines would wait in a buffer until it exits), and runs in a folder
of its own (:func:`musegen.abc2midi.scratch`: it writes ``barloc.txt`` there for tunes with chords).

Every text's messages are those :func:`musegen.abc2midi.check` gives, columns aside (abc2midi counts
a header field's column on from the text before), and one abc2midi's memory stays flat however many
tunes it reads; its speed against a process a check is in benchmarks/RESULTS.md.

Whatever goes wrong (a message without a line number or out of place, abc2midi gone: a note length of
``/3`` stops it, exit status 1; no mark within the time limit) ends that abc2midi and answers the call
through :func:`musegen.abc2midi.check`; the next call starts another, and after three failures in a
row the stream is given up. Texts that cannot share a file (:func:`musegen.abc2midi.shareable`), and
platforms without pseudo-terminals or ``/dev/stdin``, go through ``check`` too.
"""

from __future__ import annotations

import functools
import os
import select
import subprocess
import time
import weakref

from musegen.abc2midi import MESSAGE, WHERE, Shared, check, executable, messages_of, run_checking, scratch, shareable

FAILURES = 3  # failures in a row before the stream is given up


class CheckStream:
    """:func:`musegen.abc2midi.check`, answered by one abc2midi kept running (started at the first
    call). ``close()`` ends it; so does leaving a ``with`` block, or the object's collection."""

    def __init__(self, timeout: float = 20.0):
        self.timeout = timeout
        self.failures = 0
        self.given_up = not _can_stream()
        self._proc: subprocess.Popen | None = None
        self._end = None  # weakref.finalize of the running abc2midi
        self._output = -1  # the pseudo-terminal's reading end
        self._line = 1  # the line number abc2midi gives the next line it reads
        self._buffer = b""

    def check(self, texts: list[str]) -> list[list[str]]:
        """abc2midi's ``Error`` and ``Warning`` lines for each text, as :func:`musegen.abc2midi.check`."""
        out: list[list[str] | None] = [None] * len(texts)
        shared = [i for i, text in enumerate(texts) if shareable(text)]
        if shared and not self.given_up:
            streamed = self._streamed([texts[i] for i in shared])
            if streamed is not None:
                for i, messages in zip(shared, streamed):
                    out[i] = messages
        rest = [i for i, messages in enumerate(out) if messages is None]
        for i, messages in zip(rest, check([texts[i] for i in rest], self.timeout) if rest else []):
            out[i] = messages
        return out

    def close(self) -> None:
        if self._end is not None:
            self._end()
        self._proc, self._end = None, None

    def __enter__(self) -> CheckStream:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _streamed(self, texts: list[str]) -> list[list[str]] | None:
        try:
            if self._proc is None:
                self._start()
            out = self._exchange(texts)
            self.failures = 0
            return out
        except _Lost:
            self.close()
            self.failures += 1
            self.given_up = self.failures >= FAILURES
            return None
        except BaseException:  # an interrupt, say: what abc2midi has read is not known any more
            self.close()
            raise

    def _start(self) -> None:
        try:
            output, terminal = os.openpty()
        except OSError as exc:
            raise _Lost(str(exc)) from None
        try:
            proc = subprocess.Popen(
                [executable(), "/dev/stdin", "-c"],
                stdin=subprocess.PIPE,
                stdout=terminal,
                stderr=terminal,
                cwd=scratch(),
            )
        except OSError as exc:
            os.close(output)
            raise _Lost(str(exc)) from None
        finally:
            os.close(terminal)
        self._proc, self._output, self._line, self._buffer = proc, output, 1, b""
        self._end = weakref.finalize(self, _end, proc, output)

    def _exchange(self, texts: list[str]) -> list[list[str]]:
        shared = Shared(texts, self._line)
        self._line = shared.next_line
        pending = shared.data.encode("utf-8", "replace")
        deadline = time.monotonic() + self.timeout
        into = self._proc.stdin.fileno()
        while True:
            for message in self._messages():
                where = WHERE.match(message)
                if where is not None and int(where.group(1)) < shared.starts[0]:
                    continue  # an earlier call's last separator, judged after its mark
                if not shared.place(message):
                    raise _Lost(message)
            if shared.ended and not pending:  # the mark can come before the blank line after it is written
                return shared.out
            left = deadline - time.monotonic()
            if left <= 0:
                raise _Lost(f"no answer in {self.timeout:g} s")
            readable, writable, _ = select.select([self._output], [into] if pending else [], [], left)
            if writable:  # at most PIPE_BUF bytes: a write that select allows never waits
                try:
                    pending = pending[os.write(into, pending[: select.PIPE_BUF]) :]
                except OSError:  # EPIPE: abc2midi is gone
                    raise _Lost("abc2midi ended") from None
            if readable:
                try:
                    chunk = os.read(self._output, 65536)
                except OSError:  # EIO: nothing holds the terminal any more
                    chunk = b""
                if not chunk:
                    raise _Lost("abc2midi ended")
                self._buffer += chunk

    def _messages(self) -> list[str]:
        """The whole lines read so far that are messages (a pseudo-terminal ends lines with \\r\\n)."""
        *lines, self._buffer = self._buffer.split(b"\n")
        return [
            m.group(0).strip() for line in lines if (m := MESSAGE.match(line.decode("utf-8", "replace").rstrip("\r")))
        ]


class _Lost(Exception):
    """The stream cannot be trusted: answer through one process a call."""


def _end(proc: subprocess.Popen, output: int) -> None:
    proc.kill()
    proc.wait()
    try:
        proc.stdin.close()
    except OSError:  # its last bytes not taken: abc2midi is gone anyway
        pass
    os.close(output)


@functools.cache
def _can_stream() -> bool:
    """Pseudo-terminals, ``/dev/stdin``, and an abc2midi that marks the separator where it should."""
    if not hasattr(os, "openpty") or not os.path.exists("/dev/stdin"):
        return False
    try:  # a container may have no /dev/pts
        for fd in os.openpty():
            os.close(fd)
    except OSError:
        return False
    shared = Shared(["X:1\nT:t\nM:2/4\nL:1/8\nK:C\nCDEF|\n"])
    code, printed = run_checking(shared.data, 20.0)
    return code == 0 and all(shared.place(m) for m in messages_of(code, printed, 20.0)) and shared.ended
