"""MIDI corpora: Bach chorales (music21, cached as MIDI), O'Neill's through abc2midi, any MIDI files."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

from musegen import Loaded, MusegenError, Piece
from musegen.abc2midi import convert
from musegen.atomic import write_bytes
from musegen.files import corpus_path
from musegen.worker import Worker


def cache_root(config_dir: str | None) -> Path:
    if config_dir:
        return Path(config_dir).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "musegen"


def read_midis(files: list[tuple[Path, str]], skipped: list, limit: int = 0) -> list[Piece]:
    """A piece for each ``(path, title)`` that symusic reads as MIDI with notes, up to ``limit`` (0: all);
    each file is parsed first in a worker process (:mod:`musegen_midi.probe`), so that one that crashes
    the parser is skipped and counted, as one it refuses is."""
    pieces = []
    command = lambda: [sys.executable, "-m", "musegen_midi.probe"]  # noqa: E731
    with Worker(command, timeout=60, crashed="the MIDI parser crashed on it") as worker:
        for path, title in files:
            try:
                data = path.read_bytes()
            except OSError as exc:
                skipped.append((str(path), f"unreadable: {exc.strerror or exc}"))
                continue
            reply = worker.run({}, data)
            if not reply["ok"]:
                skipped.append((str(path), f"unreadable MIDI: {reply['why'][:120]}"))
                continue
            pieces.append(Piece.from_midi(data, title=title, source=str(path)))
            if limit and len(pieces) >= limit:
                break
    return pieces


class BachChorales:
    """Bach's chorales from music21's corpus; each converted to MIDI once and kept in the cache."""

    def __init__(self, config):
        self.config = config

    def sources(self) -> list[Path]:
        spec = importlib.util.find_spec("music21")
        if spec is None or spec.origin is None:
            raise MusegenError("the bach-chorales corpus needs music21 (pip install music21)")
        files = sorted((Path(spec.origin).parent / "corpus" / "bach").glob("bwv*.mxl"))
        return files[: self.config.limit] if self.config.limit else files

    def load(self) -> Loaded:
        cache = cache_root(self.config.cache_dir) / "bach-chorales"
        pieces, skipped = [], []
        todo = [src for src in self.sources() if not (cache / f"{src.stem}.mid").is_file()]
        if todo:
            print(f"converting {len(todo)} chorales to MIDI once (cached in {cache})", file=sys.stderr)
            from music21 import converter

            for src in todo:
                try:
                    tmp = cache / f".{src.stem}.tmp.mid"
                    cache.mkdir(parents=True, exist_ok=True)
                    converter.parse(src).write("midi", fp=str(tmp))
                    write_bytes(cache / f"{src.stem}.mid", tmp.read_bytes())
                    tmp.unlink()
                except Exception as exc:  # a chorale music21 cannot convert is skipped, not fatal
                    skipped.append((src.name, f"conversion failed: {exc}"))
        cached = [(cache / f"{src.stem}.mid", src.stem) for src in self.sources()]
        pieces = read_midis([(path, title) for path, title in cached if path.is_file()], skipped)
        return Loaded(pieces, skipped, "bach-chorales")


class OneillsMidi:
    """O'Neill's tunes (the ``oneills`` ABC corpus, abc2midi-clean ones) as MIDI."""

    def __init__(self, config):
        self.config = config

    def load(self) -> Loaded:
        from musegen.plugins import get_registry

        abc = get_registry().get("corpus", "oneills")
        loaded = abc.build({"limit": self.config.limit} if self.config.limit else {}).load()
        pieces, skipped = [], list(loaded.skipped)
        for p in loaded.pieces:
            result = convert(p.text)
            if result.clean:
                pieces.append(Piece.from_midi(result.midi, title=p.title, source=p.meta.get("source", "")))
            else:
                skipped.append((p.title, "abc2midi rejected it"))
        return Loaded(pieces, skipped, "oneills-midi")


class MidiPath:
    def __init__(self, config):
        self.config = config

    def load(self) -> Loaded:
        skipped: list = []
        files = corpus_path(self.config.path, (".mid", ".midi"), skipped)
        pieces = read_midis([(f, f.stem) for f in files], skipped, self.config.limit)
        return Loaded(pieces, skipped, "midi-path")
