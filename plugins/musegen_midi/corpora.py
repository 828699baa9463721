"""MIDI corpora: Bach chorales (music21, cached as MIDI), O'Neill's through abc2midi, any MIDI files."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import symusic

from musegen import Loaded, MusegenError, Piece
from musegen.abc2midi import convert
from musegen.atomic import write_bytes


def cache_root(config_dir: str | None) -> Path:
    if config_dir:
        return Path(config_dir).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "musegen"


def read_midi(path: Path) -> bytes:
    """The file's bytes, if symusic can parse them as MIDI with at least one note."""
    data = path.read_bytes()
    score = symusic.Score.from_midi(data)
    if score.note_num() == 0:
        raise ValueError("no notes")
    return data


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
        for src in self.sources():
            target = cache / f"{src.stem}.mid"
            if not target.is_file():
                continue
            try:
                pieces.append(Piece.from_midi(read_midi(target), title=src.stem, source=src.name))
            except Exception as exc:
                skipped.append((str(target), f"unreadable MIDI: {exc}"))
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
        path = Path(self.config.path).expanduser()
        if not self.config.path or not path.exists():
            raise MusegenError(f"corpus path '{self.config.path}' does not exist")
        files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.suffix.lower() in (".mid", ".midi"))
        if not files:
            raise MusegenError(f"corpus folder {path} holds no .mid or .midi files")
        pieces, skipped = [], []
        for f in files:
            try:
                pieces.append(Piece.from_midi(read_midi(f), title=f.stem, source=str(f)))
            except Exception as exc:  # corrupt MIDI: skipped and counted
                skipped.append((str(f), f"unreadable MIDI: {' '.join(str(exc).split())[:120]}"))
            if self.config.limit and len(pieces) >= self.config.limit:
                break
        return Loaded(pieces, skipped, "midi-path")
