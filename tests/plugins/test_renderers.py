import numpy as np
import soundfile

from musegen import Piece
from musegen.abc2midi import convert
from musegen.pipeline import render
from musegen_audio.config import WavConfig
from musegen_audio.wav import WavRenderer
from tests.conftest import TUNES

BROKEN = "X:1\nT:Broken Tune\nM:4/4\nL:1/8\nK:D\nAB(c|[[d\n"


def test_abc2midi_clean_warning_and_error():
    ok = convert(TUNES[1])
    assert ok.clean and ok.bars_ok and ok.midi.startswith(b"MThd")
    short_bar = convert("X:1\nT:t\nM:6/8\nL:1/8\nK:D\nABc def|gab c2d ef|ABc def|\n")
    assert short_bar.clean and not short_bar.bars_ok
    bad = convert(BROKEN)
    assert not bad.clean and any("nest chords" in e for e in bad.errors)


def test_all_renderers_write_files_and_report_rejected_tunes_by_title(tmp_path):
    pieces = [Piece.from_abc(TUNES[0]), Piece.from_abc(BROKEN), Piece.from_abc(TUNES[2])]
    results = render(pieces, tmp_path, ["abc", "midi", "wav"])
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["01-little-jig.abc", "01-little-jig.mid", "01-little-jig.wav", "02-broken-tune.abc",
                     "03-short-air.abc", "03-short-air.mid", "03-short-air.wav", "tunes.abc"]
    assert [t for t, _ in results["midi"].failed] == ["Broken Tune"]
    assert [t for t, _ in results["wav"].failed] == ["Broken Tune"]
    collection = (tmp_path / "tunes.abc").read_text()
    assert [line for line in collection.splitlines() if line.startswith("X:")] == ["X:1", "X:2", "X:3"]
    audio, rate = soundfile.read(tmp_path / "01-little-jig.wav")
    assert rate == 44100 and audio.ndim == 2 and audio.shape[1] == 2
    assert np.abs(audio).max() > 0.01
    assert 2.0 < len(audio) / rate < 30.0


def test_silent_tune_is_reported(tmp_path):
    rests = Piece.from_abc("X:1\nT:Only Rests\nM:4/4\nL:1/4\nK:C\nz4|z4|\n")
    result = WavRenderer(WavConfig()).render([rests], tmp_path)
    assert result.files == [] and result.failed[0][0] == "Only Rests" and "silent" in result.failed[0][1]


def test_titles_never_escape_the_output_folder(tmp_path):
    evil = Piece.from_abc("X:1\nT:../../escape\nM:4/4\nL:1/4\nK:C\nCDEF|\n")
    out = tmp_path / "out"
    render([evil], out, ["abc", "midi"])
    assert sorted(p.name for p in out.iterdir()) == ["01-escape.abc", "01-escape.mid", "tunes.abc"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_a_synthesizer_crash_fails_one_tune_not_the_run(tmp_path, monkeypatch):
    import musegen_audio.wav as wav

    calls = {"n": 0}
    real = wav.WavRenderer._pool

    class CrashOnce:
        """A pool whose first job dies as a native abort would (the worker process exits)."""

        def __init__(self, renderer):
            self.inner = real(renderer)

        def submit(self, fn, *args):
            calls["n"] += 1
            if calls["n"] == 1:
                import os

                return self.inner.submit(os._exit, 134)
            return self.inner.submit(fn, *args)

        def shutdown(self, **kw):
            self.inner.shutdown(**kw)

    monkeypatch.setattr(wav.WavRenderer, "_pool", lambda self: CrashOnce(self))
    result = WavRenderer(WavConfig()).render([Piece.from_abc(TUNES[0]), Piece.from_abc(TUNES[2])], tmp_path)
    assert result.failed == [("Little Jig", "the synthesizer crashed on this tune")]
    assert [f.name for f in result.files] == ["02-short-air.wav"]
