"""A run directory: everything needed to resume, generate from and evaluate a trained model.

``run.json`` (the manifest: resolved config, plugins and versions, vocabulary, corpus hash, seed,
backend), the model's checkpoints (``best`` by held-out loss and ``last``), ``history.csv`` and
``samples/``. Every file is written atomically.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from musegen import atomic
from musegen.errors import MusegenError

MANIFEST = "run.json"


def ensure_writable(path: Path) -> Path:
    """Create ``path`` if needed and prove it can be written, or fail with a one-line error."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".musegen-write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise MusegenError(f"output directory {path} is not writable: {exc.strerror or exc}") from None
    return path


def safe_name(title: str, fallback: str = "tune", limit: int = 60) -> str:
    """A file-name stem from free text (a tune title): never a path, never empty."""
    stem = re.sub(r"[^A-Za-z0-9]+", "-", title).strip("-").lower()[:limit].strip("-")
    return stem or fallback


class RunDir:
    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)

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

    def file(self, name: str) -> Path:
        return self.path / name

    def manifest(self) -> dict:
        f = self.file(MANIFEST)
        if not f.is_file():
            raise MusegenError(f"{self.path} is not a musegen run directory: {MANIFEST} is missing")
        try:
            data = json.loads(f.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise MusegenError(f"{f} is corrupt: {exc}") from None
        if not isinstance(data, dict) or "config" not in data or "encoder_state" not in data:
            raise MusegenError(f"{f} is corrupt: missing 'config' or 'encoder_state'")
        return data

    def write_manifest(self, data: dict) -> None:
        atomic.write_json(self.file(MANIFEST), data)

    def update_manifest(self, **fields) -> None:
        data = self.manifest()
        data.update(fields)
        self.write_manifest(data)

    def remove_stale_temp_files(self) -> list[Path]:
        """Temp files a killed process left behind (``.<name>.<random>.tmp<suffix>``); the real files are whole."""
        stale = [p for p in self.path.glob(".*.tmp*") if p.is_file()]
        for p in stale:
            p.unlink(missing_ok=True)
        return stale

    def samples_dir(self) -> Path:
        return ensure_writable(self.path / "samples")
