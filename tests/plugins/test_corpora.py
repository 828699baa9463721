import pytest

from musegen import MusegenError
from musegen.config import resolve
from musegen.pipeline import load_corpus, split
from musegen_corpora.abc import OneillsCorpus, PathCorpus, RyansCorpus
from musegen_corpora.config import AbcCorpusConfig, PathCorpusConfig


def test_oneills_reads_music21s_corpus():
    loaded = OneillsCorpus(AbcCorpusConfig(require="off")).load()
    assert 1900 <= len(loaded.pieces) <= 2009
    assert len(loaded.pieces) + len(loaded.skipped) == 2009
    assert all(reason == "duplicate of an earlier tune" for _, reason in loaded.skipped)
    first = loaded.pieces[0].text
    assert first.startswith("X:1\nT:The Enchanted Valley\nM:2/4\nL:1/16\nK:Gm\n")
    assert "N:" not in first and "Z:" not in first


def test_ryans_limit():
    loaded = RyansCorpus(AbcCorpusConfig(limit=25)).load()
    assert len(loaded.pieces) == 25


def test_path_corpus_skips_and_counts_broken_tunes(tmp_path, corpus_file):
    bad = tmp_path / "bad.abc"
    bad.write_text("X:1\nT:no key\nABC|\n\nX:2\nT:empty\nK:C\n\nX:3\nT:fine\nK:C\nCDEF|\n")
    (tmp_path / "bin.abc").write_bytes(b"\x00\x01\x02garbage")
    loaded = PathCorpus(PathCorpusConfig(path=str(tmp_path))).load()
    titles = sorted(p.title for p in loaded.pieces)
    assert titles == ["Little Jig", "Short Air", "Small Reel", "Two Step", "fine"]
    reasons = sorted(r for _, r in loaded.skipped)
    assert reasons.count("duplicate of an earlier tune") == 8  # the fixture repeats 4 tunes 3 times
    assert "music before the K: field" in reasons and "no notes" in reasons
    assert "binary file (NUL bytes)" in reasons


def test_empty_or_garbage_corpus_is_an_error(tmp_path):
    empty = tmp_path / "empty.abc"
    empty.write_text("")
    with pytest.raises(MusegenError, match="no readable tunes"):
        load_corpus(resolve("tiny", flags={"corpus": str(empty)}))
    junk = tmp_path / "junk.abc"
    junk.write_text("hello world\nnot music\n")
    with pytest.raises(MusegenError, match="no readable tunes.*no X: line"):
        load_corpus(resolve("tiny", flags={"corpus": str(junk)}))
    with pytest.raises(MusegenError, match="does not exist"):
        load_corpus(resolve("tiny", flags={"corpus": str(tmp_path / "nope.abc")}))
    with pytest.raises(MusegenError, match="Did you mean 'oneills'"):
        load_corpus(resolve("tiny", flags={"corpus": "oneils"}))


def test_split_is_by_tune_fixed_and_disjoint(corpus_file):
    pieces = OneillsCorpus(AbcCorpusConfig(limit=200)).load().pieces
    a_train, a_valid = split(pieces, 0.1)
    b_train, b_valid = split(pieces, 0.1)
    assert [p.text for p in a_valid] == [p.text for p in b_valid]
    assert len(a_valid) == 20 and len(a_train) == 180
    assert not {p.text for p in a_valid} & {p.text for p in a_train}


def test_essen_reads_european_songs():
    from musegen_corpora.abc import EssenCorpus

    loaded = EssenCorpus(AbcCorpusConfig(limit=50)).load()
    assert len(loaded.pieces) == 50
    assert all("\nK:" in p.text for p in loaded.pieces)


def test_tunes_abc2midi_rejects_are_skipped_and_counted(tmp_path):
    from musegen.abc2midi import convert

    path = tmp_path / "mixed.abc"
    path.write_text(
        "X:1\nT:Good\nM:4/4\nL:1/4\nK:C\nCDEF|GABc|\n\n"
        "X:2\nT:Nested\nM:4/4\nL:1/4\nK:C\nCD[[EF|GABc|\n\n"
        "X:3\nT:Long Bar\nM:4/4\nL:1/4\nK:C\nCDEF|GABcd|GABc|\n"
    )
    clean = PathCorpus(PathCorpusConfig(path=str(path))).load()
    assert [p.title for p in clean.pieces] == ["Good", "Long Bar"]
    assert clean.skipped[0][1].startswith("abc2midi: Error") and "nest chords" in clean.skipped[0][1]
    bars = PathCorpus(PathCorpusConfig(path=str(path), require="bars")).load()
    assert [p.title for p in bars.pieces] == ["Good"]
    off = PathCorpus(PathCorpusConfig(path=str(path), require="off")).load()
    assert len(off.pieces) == 3 and not off.skipped
    assert all(convert(p.text).clean for p in clean.pieces)


@pytest.mark.parametrize("require", ["clean", "bars"])
def test_validation_keeps_what_conversion_keeps_call_after_call(tmp_path, monkeypatch, require):
    """One abc2midi judges the tunes a few at a time (CHUNK); a tune that stops abc2midi (a note
    length of /3) costs its call one process a tune, and the tunes after it are judged as well."""
    import musegen_corpora.abc as corpora
    from musegen.abc2midi import convert

    monkeypatch.setattr(corpora, "CHUNK", 3)
    bodies = ["CDEF|GABc|", "CDEF|GABcd|", "CD[[EF|GABc|", "C/3 D|GABc|"]  # fine, long bar, Error, stops abc2midi
    path = tmp_path / "many.abc"
    path.write_text(
        "\n".join(f"X:{i + 1}\nT:Tune {i}\nM:4/4\nL:1/4\nK:C\n{bodies[i % 4]}{'C4|' * i}\n" for i in range(14))
    )
    everything = PathCorpus(PathCorpusConfig(path=str(path), require="off")).load().pieces
    judged = PathCorpus(PathCorpusConfig(path=str(path), require=require)).load()
    converted = [convert(p.text) for p in everything]
    expected = [p.title for p, c in zip(everything, converted) if (c.bars_ok if require == "bars" else c.clean)]
    assert [p.title for p in judged.pieces] == expected
    assert len(expected) == (4 if require == "bars" else 8)
    assert len(judged.skipped) == 14 - len(expected)
    assert all(why.startswith("abc2midi: ") for _, why in judged.skipped)
