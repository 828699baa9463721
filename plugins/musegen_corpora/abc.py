"""ABC corpora: read files, split at X:, normalize, de-duplicate; skip and count what cannot be read."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from musegen import Loaded, MusegenError, Piece
from musegen.abc2midi import bars_ok, clean
from musegen.abc2midi_stream import CheckStream
from musegen.abctext import BadTune, body_of, normalize, read_text, split_tunes
from musegen.files import corpus_path

CHUNK = 128  # tunes a call of the judge: well inside its time limit, and no more judged than a limit needs


class AbcFilesCorpus:
    name = "abc"

    def __init__(self, config):
        self.config = config

    def files(self, skipped: list) -> list[Path]:
        """The files to read; ``skipped`` gets ``(path, why)`` for any that cannot be."""
        raise NotImplementedError

    def load(self) -> Loaded:
        cfg = self.config
        pieces: list[Piece] = []
        skipped: list[tuple[str, str]] = []
        seen: set[str] = set()
        for path in self.files(skipped):
            try:
                text = read_text(path.read_bytes())
            except (OSError, BadTune) as exc:
                skipped.append((str(path), str(exc) if isinstance(exc, BadTune) else exc.strerror or str(exc)))
                continue
            tunes = split_tunes(text, path.name)
            if not tunes and text.strip():
                skipped.append((str(path), "no X: line: not an ABC tune collection"))
            for tune in tunes:
                try:
                    clean = normalize(tune.text, cfg.keep_fields, cfg.keep_comments, cfg.max_chars)
                except BadTune as exc:
                    skipped.append((tune.source, str(exc)))
                    continue
                if cfg.dedupe:
                    body = body_of(clean)
                    if body in seen:
                        skipped.append((tune.source, "duplicate of an earlier tune"))
                        continue
                    seen.add(body)
                pieces.append(Piece.from_abc(clean, source=tune.source))
        pieces = self._validate(pieces, skipped)
        if cfg.limit:
            pieces = pieces[: cfg.limit]
        return Loaded(pieces, skipped, self.name)

    def _validate(self, pieces: list[Piece], skipped: list) -> list[Piece]:
        """Keep the tunes abc2midi accepts, so that a model learns ABC that plays; with a limit, check
        only as many as it takes to reach it. One abc2midi, kept running, judges them all
        (:mod:`musegen.abc2midi_stream`), several times faster than a conversion a tune, with the same
        tunes kept and the same reasons given for the others."""
        if self.config.require == "off":
            return pieces
        accepts = bars_ok if self.config.require == "bars" else clean
        kept: list[Piece] = []
        with CheckStream() as judge:
            for start in range(0, len(pieces), CHUNK):
                batch = pieces[start : start + CHUNK]
                for piece, messages in zip(batch, judge.check([p.text for p in batch])):
                    if accepts(messages):
                        kept.append(piece)
                    else:
                        why = ([m for m in messages if m.startswith("Error")] or messages or ["rejected"])[0]
                        skipped.append((piece.meta.get("source", "?"), f"abc2midi: {why}"))
                if self.config.limit and len(kept) >= self.config.limit:
                    break
        return kept


class Music21Corpus(AbcFilesCorpus):
    """A collection from music21's installed corpus, read as plain files (music21 is not imported)."""

    collection = ""

    def files(self, skipped: list) -> list[Path]:
        spec = importlib.util.find_spec("music21")
        if spec is None or spec.origin is None:
            raise MusegenError(f"corpus '{self.name}' needs music21 (pip install music21)")
        folder = Path(spec.origin).parent / "corpus" / self.collection
        files = sorted(folder.glob("*.abc"))
        if not files:
            raise MusegenError(f"music21's corpus has no {self.collection} files at {folder}")
        return files


class OneillsCorpus(Music21Corpus):
    name, collection = "oneills", "oneills1850"


class RyansCorpus(Music21Corpus):
    name, collection = "ryans", "ryansMammoth"


class EssenCorpus(Music21Corpus):
    name, collection = "essen", "essenFolksong"


class PathCorpus(AbcFilesCorpus):
    name = "path"

    def files(self, skipped: list) -> list[Path]:
        return corpus_path(self.config.path, (".abc",), skipped)
