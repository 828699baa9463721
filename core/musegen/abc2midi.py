"""ABC → MIDI through the ``abc2midi`` program bundled in the ``symusic`` wheel.

abc2midi exits 0 even when it fails, and prints its diagnostics on stdout, so this module checks the
output file and parses the ``Error``/``Warning`` lines itself. Each tune runs in its own process: a
crash in native code cannot take the caller down. :func:`check` asks only for the messages, of many
tunes at once; :mod:`musegen.abc2midi_stream` keeps one abc2midi running for them (the sampler's bar
checker asks thousands of times a run).
"""

from __future__ import annotations

import atexit
import bisect
import fcntl
import functools
import importlib.util
import os
import re
import select
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from musegen.errors import MusegenError

MESSAGE = re.compile(r"^(Error|Warning)\b.*$", re.MULTILINE)
WHERE = re.compile(r"^(?:Error|Warning) in line-char (\d+)-")  # where abc2midi says a message is
BAR_WARNING = "time units while the time signature"  # in the warning about a bar of the wrong length


class ConversionError(MusegenError):
    def __init__(self, title: str, messages: list[str]):
        errors = [m for m in messages if m.startswith("Error")]
        first = errors[0] if errors else "no MIDI written"
        super().__init__(f"abc2midi rejected '{title}': {first}")
        self.title, self.messages = title, messages


@dataclass
class Conversion:
    """The outcome of converting one tune: MIDI bytes (or None) and abc2midi's messages."""

    midi: bytes | None
    messages: list[str] = field(default_factory=list)

    @property
    def errors(self) -> list[str]:
        return [m for m in self.messages if m.startswith("Error")]

    @property
    def warnings(self) -> list[str]:
        return [m for m in self.messages if m.startswith("Warning")]

    @property
    def clean(self) -> bool:
        """Converted, with no ``Error`` line."""
        return self.midi is not None and clean(self.messages)

    @property
    def bars_ok(self) -> bool:
        """Clean, and no bar whose length disagrees with the meter."""
        return self.midi is not None and bars_ok(self.messages)


def clean(messages: list[str]) -> bool:
    """No ``Error`` line among a tune's messages (:func:`check`'s, say). Of a tune that starts with its
    ``X:`` line it says what :attr:`Conversion.clean` says: abc2midi writes no MIDI only with an
    ``Error`` (3,760 tunes of O'Neill's, Ryan's and irish-train.abc, every one the same)."""
    return not any(m.startswith("Error") for m in messages)


def bars_ok(messages: list[str]) -> bool:
    """:func:`clean`, and no bar whose length disagrees with the meter (as :attr:`Conversion.bars_ok`)."""
    return clean(messages) and not wrong_bars(messages)


def wrong_bars(messages: list[str]) -> int:
    """How many bars of a tune (or of the start of one) abc2midi finds the wrong length: its warnings."""
    return sum(m.startswith("Warning") and BAR_WARNING in m for m in messages)


@functools.cache
def executable() -> str:
    """Path of the abc2midi program: symusic's bundled copy, else one on PATH."""
    spec = importlib.util.find_spec("symusic")
    if spec and spec.origin:
        exe = Path(spec.origin).parent / "bin" / "abc2midi"
        if exe.is_file() and os.access(exe, os.X_OK):
            return str(exe)
    found = shutil.which("abc2midi")
    if found:
        return found
    raise MusegenError("abc2midi not found: install musegen's dependencies (pip install symusic==0.5.9)")


def convert(text: str, timeout: float = 20.0) -> Conversion:
    """Convert one ABC tune to MIDI bytes. Never raises for bad music; see ``Conversion``."""
    with tempfile.TemporaryDirectory(prefix="tune-", dir=scratch()) as tmp:  # swept if killed
        src, dst = Path(tmp, "tune.abc"), Path(tmp, "tune.mid")
        src.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8", errors="replace")
        code, printed = _run([executable(), str(src), "-o", str(dst)], None, timeout, cwd=tmp)
        messages = messages_of(code, printed, timeout)
        if code is None:
            return Conversion(None, messages)
        midi = dst.read_bytes() if dst.is_file() and dst.stat().st_size > 0 else None
        if midi is None and clean(messages):
            messages.append("Error: no MIDI written")
        return Conversion(midi, messages)


def check(texts: list[str], timeout: float = 20.0) -> list[list[str]]:
    """abc2midi's ``Error`` and ``Warning`` lines for each of ``texts`` (tunes, or the starts of tunes),
    from its checking mode (``-c``: the messages of :func:`convert`, no MIDI written), in as few
    processes as it can. Texts that can share a file (:func:`shareable`) go through one process, as
    one file on its standard input (:class:`Shared`), and each message goes back to the text its line
    number falls in. Where that cannot be done (a message without a line number, a crash) and for the
    other texts, one process each. Starting a process is most of the cost, so sharing one is several
    times faster; each text's messages are :func:`convert`'s, but for a few columns (abc2midi counts a
    header field's column on from the text before)."""
    out: list[list[str] | None] = [None] * len(texts)
    shared = [i for i, t in enumerate(texts) if shareable(t)]
    if len(shared) > 1:
        together = _check_together([texts[i] for i in shared], timeout)
        if together is not None:
            for i, messages in zip(shared, together):
                out[i] = messages
    for i, text in enumerate(texts):
        if out[i] is None:
            code, printed = run_checking(text if text.endswith("\n") else text + "\n", timeout)
            out[i] = messages_of(code, printed, timeout)
    return out


def shareable(text: str) -> bool:
    """Whether ``text`` reads the same in a file of other tunes: it starts with its ``X:`` line, has no
    other, and has no blank line (one ends a tune; what follows would be read as the file's header,
    which the tunes after it would inherit)."""
    lines = text.rstrip("\n").split("\n")
    return lines[0].startswith("X:") and all(line.strip() and not line.startswith("X:") for line in lines[1:])


def _check_together(texts: list[str], timeout: float) -> list[list[str]] | None:
    shared = Shared(texts)
    code, printed = run_checking(shared.data, timeout)
    if code != 0 or not all(shared.place(m) for m in messages_of(code, printed, timeout)):
        return None
    return shared.out


MARK = "musegenmark"  # a %%MIDI command abc2midi does not know: it answers with an Error naming it
SEPARATOR = f"X:1\nT:separator\nM:6/8\nL:1/8\nK:D\nCCC CCC|CCC CCC|\n%%MIDI {MARK}\n"
"""The tune after each text in a shared file. Its notes close what the text left open (a tuplet cut at
a bar line: abc2midi would carry it into the next tune), and its last line draws an ``Error`` that
says where it is (:attr:`Shared.ended`)."""


class Shared:
    """``texts`` as one file (``data``) read from line ``first`` on, each followed by a blank line, the
    :data:`SEPARATOR` and a blank line; :meth:`place` gives abc2midi's messages to the texts (``out``)."""

    def __init__(self, texts: list[str], first: int = 1):
        parts, self.starts, self.ends, line = [], [], [], first
        for text in texts:
            text = text if text.endswith("\n") else text + "\n"
            self.starts.append(line)
            line += text.count("\n") + 1  # the text and the blank line after it
            self.ends.append(line)
            parts += [text, "\n", SEPARATOR, "\n"]
            line += SEPARATOR.count("\n") + 1
        self.data = "".join(parts)
        self.next_line = line  # the number of the line after the file
        self.out: list[list[str]] = [[] for _ in texts]
        self.ended = False  # the last separator's message has come: every text's have

    def place(self, message: str) -> bool:
        """Gives ``message`` to the text its line falls in, renumbered from that text's first line (as the
        text alone gives it); a separator's messages are dropped. False where it has no place."""
        where = WHERE.match(message)
        if where is None:
            return False
        line = int(where.group(1))
        k = bisect.bisect_right(self.starts, line) - 1
        if k < 0 or line >= self.next_line:
            return False
        if line < self.ends[k]:
            self.out[k].append(_renumbered(message, where, self.starts[k]))
        elif k == len(self.starts) - 1 and f'"{MARK}"' in message:
            self.ended = True
        return True


def _renumbered(message: str, where: re.Match, first: int) -> str:
    """``message`` (``where``: its match of ``WHERE``) with its line number counted from line ``first``."""
    return f"{message[: where.start(1)]}{int(where.group(1)) - first + 1}{message[where.end(1) :]}"


def run_checking(abc: str, timeout: float) -> tuple[int | None, str]:
    """``abc2midi -c`` over ``abc``: its exit status (None: it ran out of time) and what it printed."""
    data = abc.encode("utf-8", "replace")
    if os.path.exists("/dev/stdin"):  # no file to write
        return _run([executable(), "/dev/stdin", "-c"], data, timeout, cwd=scratch())
    with tempfile.TemporaryDirectory(prefix="tune-", dir=scratch()) as tmp:  # swept if killed
        Path(tmp, "tune.abc").write_bytes(data)
        return _run([executable(), "tune.abc", "-c"], None, timeout, cwd=tmp)


SCRATCH_PREFIX = "musegen-abc2midi-held-"
"""Names of :func:`scratch`'s folders. 'held-': one made before they were locked (an older musegen, maybe
still running) is never swept: its random part has no '-'."""


@functools.cache
def scratch() -> str:
    """A folder of this process's own for abc2midi to run in: it writes files into the folder it runs in
    (``barloc.txt``, for a tune with guitar chords: any quoted text before a note, ``"D"`` or ``"p"``),
    which must not land in the user's.
    Removed when the process ends; one left by a process that was killed is removed by the next
    process's first call (:func:`sweep`)."""
    sweep(tempfile.gettempdir())
    path = tempfile.mkdtemp(prefix=SCRATCH_PREFIX)
    fd = os.open(path, os.O_RDONLY)  # held until the process ends, however it ends: the folder is in use
    fcntl.flock(fd, fcntl.LOCK_SH)
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


def sweep(root: str, min_age: float = 60.0) -> int:
    """Remove the :func:`scratch` folders in ``root`` that no process holds (their process was killed,
    so its exit handler never ran) and that are older than ``min_age`` seconds (one just made is not
    locked yet). A lock, not a process id, says a folder is in use: ids are reused, and a container
    sharing ``/tmp`` has ids of its own. Returns how many it removed."""
    removed, now = 0, time.time()
    try:
        entries = [e for e in os.scandir(root) if e.name.startswith(SCRATCH_PREFIX)]
    except OSError:
        return 0
    for entry in entries:
        try:
            if not entry.is_dir(follow_symlinks=False) or now - entry.stat().st_mtime < min_age:
                continue
            fd = os.open(entry.path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # held: its process is alive
            continue
        else:
            shutil.rmtree(entry.path, ignore_errors=True)
            removed += 1
        finally:
            os.close(fd)
    return removed


def _run(args: list[str], data: bytes | None, timeout: float, cwd: str | None = None) -> tuple[int | None, str]:
    """Run abc2midi with ``data`` on its standard input: its exit status (None: it ran out of time and
    was killed) and what it printed. Its input and output are unnamed files, not pipes (nothing to
    feed or drain while it runs), and its exit is waited for on a pidfd: ``subprocess.run(timeout=)``
    polls for it, and its first sleep is about as long as abc2midi runs."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as given:
        if data is not None:
            given.write(data)
            given.seek(0)
        proc = subprocess.Popen(
            args, stdin=subprocess.DEVNULL if data is None else given, stdout=out, stderr=subprocess.STDOUT, cwd=cwd
        )
        try:
            code = _wait(proc, timeout)
        except BaseException:  # an interrupt: leave no abc2midi behind
            proc.kill()
            proc.wait()
            raise
        out.seek(0)
        return code, out.read().decode("utf-8", "replace")


def _wait(proc: subprocess.Popen, timeout: float) -> int | None:
    """``proc``'s exit status, or None after killing it at ``timeout``."""
    try:
        pidfd = os.pidfd_open(proc.pid)  # Linux 5.3 and later
    except (AttributeError, OSError):
        try:
            return proc.wait(timeout)
        except subprocess.TimeoutExpired:
            pass
    else:
        try:
            ended = select.select([pidfd], [], [], timeout)[0]
        finally:
            os.close(pidfd)
        if ended:
            return proc.wait()
    proc.kill()
    proc.wait()
    return None


def messages_of(code: int | None, printed: str, timeout: float) -> list[str]:
    messages = [m.group(0).strip() for m in MESSAGE.finditer(printed)]
    if code is None:
        messages.append(f"Error: abc2midi took longer than {timeout:g} s")
    elif code < 0:
        messages.append(f"Error: abc2midi crashed (signal {-code})")
    return messages
