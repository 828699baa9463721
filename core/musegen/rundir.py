"""A run directory: everything needed to resume, generate from and evaluate a trained model.

``run.json`` (the manifest: resolved config, plugins and versions, vocabulary, corpus hash, seed,
backend), the model's checkpoints (``best`` by held-out loss and ``last``), ``history.csv`` and
``samples/``. Every file is written atomically.

musegen writes into a folder only while it holds the folder's lock (:func:`locked`), and it lists
every name it writes there in the folder's ledger (:data:`LEDGER`): ``--force`` replaces exactly those
files, never one it did not write.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import time
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path

from musegen import atomic
from musegen.errors import MusegenError

MANIFEST = "run.json"
LEDGER = ".musegen-files"  # one name a line: the files (and, ending in /, folders) musegen wrote here
LOCK = ".musegen.lock"
_OWN = {MANIFEST, "history.csv", "eval.json", "eval.md"}  # a run's own names, for runs older than the ledger
_held: set[str] = set()  # folders this process holds the lock of


@contextlib.contextmanager
def locked(path: str | os.PathLike) -> Iterator[Path]:
    """Hold ``path``'s lock (creating the folder) while writing into it; another process that asks for it
    meanwhile gets a one-line error. The lock goes with the process, however it ends."""
    path = ensure_writable(Path(path))
    key = os.path.realpath(path)
    if key in _held:  # this process holds it already (gen run renders into its own run)
        yield path
        return
    fd = os.open(path / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    if not _flock(fd):
        os.close(fd)
        raise MusegenError(
            f"{path} is being written by another musegen process: wait for it to finish, or choose another folder"
        )
    _held.add(key)
    try:
        yield path
    finally:
        _held.discard(key)
        os.close(fd)


def _flock(fd: int, tries: int = 20) -> bool:
    """Take the lock, trying for a moment: a child this process is starting holds a copy of a lock
    it released until the child's ``exec`` closes it."""
    for i in range(tries):
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except OSError:
            time.sleep(0.025 * (i < tries - 1))
    return False


NUMBERED = re.compile(r"^\d{6}-\d{8}-\d{6}$")  # a folder of new tunes: 000012-20261207-101500


def numbered_folder(base: Path) -> Path:
    """A new, empty folder in ``base`` named after the last one's number plus one and the time, recorded
    in ``base``'s ledger (``gen generate``'s and ``gen serve``'s tunes: each batch in a folder of its own)."""
    base = ensure_writable(Path(base))
    n = max((int(p.name[:6]) for p in base.iterdir() if NUMBERED.match(p.name)), default=0) + 1
    while True:
        folder = base / f"{n:06d}-{datetime.now():%Y%m%d-%H%M%S}"
        try:
            folder.mkdir()
        except FileExistsError:
            n += 1
            continue
        record(base, [folder.name + "/"])
        return folder


def recorded(folder: Path) -> list[str]:
    """The names musegen wrote in ``folder`` (its ledger)."""
    try:
        lines = (Path(folder) / LEDGER).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return []
    return [n for n in lines if n and _plain_name(n.rstrip("/"))]


def record(folder: Path, names: Iterable[str]) -> None:
    """Add ``names`` (plain names inside ``folder``; a folder's ends in /) to its ledger."""
    before = recorded(folder)
    new = [n for n in dict.fromkeys(names) if n not in before and _plain_name(n.rstrip("/"))]
    if new:
        atomic.write_text(Path(folder) / LEDGER, "".join(f"{n}\n" for n in before + new), durable=False)


def _plain_name(name: str) -> bool:
    return bool(name) and "/" not in name and name not in (".", "..", LEDGER, LOCK)


def remove_recorded(folder: Path, fallback: Iterable[str] = ()) -> list[Path]:
    """Remove what musegen wrote in ``folder`` (its ledger's names, or ``fallback`` where it has none):
    files, and recorded folders' own recorded files, each folder removed once empty. Nothing else."""
    folder = Path(folder)
    names = recorded(folder) or list(fallback)
    removed = []
    for name in names:
        target = folder / name.rstrip("/")
        if name.endswith("/"):
            if target.is_dir() and not target.is_symlink():
                removed += remove_recorded(target)
                _remove_lock(target)
                with contextlib.suppress(OSError):
                    target.rmdir()  # kept when anything of the user's is inside
        elif target.is_file() or target.is_symlink():
            target.unlink()
            removed.append(target)
    remove_temp_files(folder)
    (folder / LEDGER).unlink(missing_ok=True)
    return removed


def remove_temp_files(folder: Path) -> list[Path]:
    """Temp files a killed process left behind (``.<name>.<random>.tmp<suffix>``); the real files are whole."""
    stale = [p for p in Path(folder).glob(".*.tmp*") if p.is_file()]
    for p in stale:
        p.unlink(missing_ok=True)
    return stale


def _remove_lock(folder: Path) -> None:
    """Remove ``folder``'s lock file where no process holds it (nor this one)."""
    if os.path.realpath(folder) in _held:
        return
    try:
        fd = os.open(folder / LOCK, os.O_RDWR)
    except OSError:
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        (folder / LOCK).unlink()
    except OSError:
        pass
    finally:
        os.close(fd)


def remove_if_empty(folder: Path) -> None:
    """Remove ``folder`` if nothing but its unheld lock is left in it (a folder musegen made for nothing)."""
    _remove_lock(folder)
    with contextlib.suppress(OSError):
        Path(folder).rmdir()


def check_writable(path: Path) -> Path:
    """Fail with a one-line error unless ``path`` is, or could be made, a writable folder; makes nothing."""
    path = Path(path)
    nearest = path
    while not nearest.exists() and nearest != nearest.parent:
        nearest = nearest.parent
    _probe(nearest, path)
    return path


def ensure_writable(path: Path) -> Path:
    """Create ``path`` if needed and prove it can be written, or fail with a one-line error."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise MusegenError(f"output directory {path} is not writable: {exc.strerror or exc}") from None
    _probe(path, path)
    return path


def _probe(folder: Path, named: Path) -> None:
    """Write and remove an empty file in ``folder``, or fail naming ``named``."""
    try:
        if not folder.is_dir():
            raise NotADirectoryError(20, "Not a directory")
        test = folder / f".musegen-write-test-{os.getpid()}"
        test.write_bytes(b"")
        test.unlink()
    except OSError as exc:
        raise MusegenError(f"output directory {named} is not writable: {exc.strerror or exc}") from None


def safe_name(title: str, fallback: str = "tune", limit: int = 60) -> str:
    """A file-name stem from free text (a tune title): never a path, never empty."""
    stem = re.sub(r"[^A-Za-z0-9]+", "-", title).strip("-").lower()[:limit].strip("-")
    return stem or fallback


class RunDir:
    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.writing = False  # set while this process holds the run's lock: names asked for are recorded

    @classmethod
    def create(cls, path: str | os.PathLike) -> RunDir:
        return cls(ensure_writable(Path(path)))

    @classmethod
    def open(cls, path: str | os.PathLike) -> RunDir:
        """Open an existing run directory, failing clearly when it is missing or broken."""
        run = cls(path)
        if not run.path.is_dir():
            raise MusegenError(f"run directory {run.path} does not exist")
        run.manifest()  # validates
        return run

    @contextlib.contextmanager
    def locked(self) -> Iterator[RunDir]:
        """Hold the run's lock; the names of files asked for meanwhile (:meth:`file`) go in its ledger."""
        with locked(self.path):
            self.writing = True
            try:
                yield self
            finally:
                self.writing = False

    def file(self, name: str) -> Path:
        """The path of the run's file ``name``; while the run is written, recorded as musegen's own."""
        if self.writing:
            record(self.path, [name])
        return self.path / name

    def own_files(self) -> list[str]:
        """The names of the files musegen wrote in the run, that are there now."""
        return [n for n in recorded(self.path) if not n.endswith("/") and (self.path / n).is_file()]

    def has_checkpoint(self) -> bool:
        """Whether the model wrote anything: a file of the run's beside its manifest and history."""
        return any(n not in _OWN for n in self.own_files())

    def remove_own(self) -> list[Path]:
        """Remove every file musegen wrote in the run (``--force``, or a run that failed before its first
        checkpoint); the user's files stay."""
        return remove_recorded(self.path, fallback=[*_OWN, "model.keras", "last.keras"])

    def manifest(self) -> dict:
        f = self.file(MANIFEST)
        if not f.is_file():
            raise MusegenError(f"{self.path} is not a musegen run directory: {MANIFEST} is missing")
        try:
            data = json.loads(f.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise MusegenError(f"{f} is corrupt: {exc}") from None
        if not isinstance(data, dict):
            raise MusegenError(f"{f} is corrupt: not a JSON object")
        for key, kind in (("config", dict), ("encoder_state", object), ("components", dict)):
            if key not in data:
                raise MusegenError(f"{f} is corrupt: '{key}' is missing")
            if not isinstance(data[key], kind):
                raise MusegenError(f"{f} is corrupt: '{key}' is not an object")
        for role in ("encoder", "model"):
            part = data["components"].get(role)
            if (
                not isinstance(part, dict)
                or not isinstance(part.get("name"), str)
                or not isinstance(part.get("config", {}), dict)
            ):
                raise MusegenError(f"{f} is corrupt: components.{role} is missing its name or config")
        return data

    def write_manifest(self, data: dict) -> None:
        atomic.write_json(self.file(MANIFEST), data)

    def update_manifest(self, **fields) -> None:
        data = self.manifest()
        data.update(fields)
        self.write_manifest(data)

    def remove_stale_temp_files(self) -> list[Path]:
        return remove_temp_files(self.path)
