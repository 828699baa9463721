import numpy as np
import soundfile

from musegen import Piece
from musegen.abc2midi import convert
from musegen.pipeline import render
from musegen.rundir import recorded
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
    names = sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("."))
    assert names == [
        "01-little-jig.abc",
        "01-little-jig.mid",
        "01-little-jig.ogg",
        "01-little-jig.wav",
        "02-broken-tune.abc",
        "03-short-air.abc",
        "03-short-air.mid",
        "03-short-air.ogg",
        "03-short-air.wav",
        "tunes.abc",
    ]
    assert sorted(recorded(tmp_path)) == names  # what --force may replace: every file written, no other
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
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == [
        "01-escape.abc",
        "01-escape.mid",
        "tunes.abc",
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_a_synthesizer_crash_fails_one_tune_not_the_run(tmp_path, monkeypatch):
    """The first worker dies on its first job as a native abort would (exit 134, no reply)."""
    import sys

    real = WavRenderer.worker_command
    started = []

    def command(self):
        started.append(1)
        if len(started) == 1:
            return [sys.executable, "-c", "import os, sys; sys.stdin.buffer.readline(); os._exit(134)"]
        return real(self)

    monkeypatch.setattr(WavRenderer, "worker_command", command)
    result = WavRenderer(WavConfig(jobs=1)).render([Piece.from_abc(TUNES[0]), Piece.from_abc(TUNES[2])], tmp_path)
    # whichever tune reached the worker first crashed with it; the other one is written
    assert [why for _, why in result.failed] == ["the synthesizer crashed on this tune"]
    crashed = result.failed[0][0]
    stem = "02-short-air" if crashed == "Little Jig" else "01-little-jig"
    assert [f.name for f in result.files] == [f"{stem}.wav", f"{stem}.ogg"]
    assert not list(tmp_path.glob(".*.tmp*"))


def test_a_hung_synthesizer_is_stopped_after_its_timeout(tmp_path, monkeypatch):
    import sys

    monkeypatch.setattr(
        WavRenderer, "worker_command", lambda self: [sys.executable, "-c", "import time; time.sleep(60)"]
    )
    result = WavRenderer(WavConfig(jobs=1, timeout=1)).render([Piece.from_abc(TUNES[0])], tmp_path)
    assert result.failed == [("Little Jig", "no answer in 1 s")]


def test_scripts_without_a_main_guard_can_render_wav(tmp_path):
    """Workers are programs of their own, not multiprocessing children that re-run the caller's script."""
    import subprocess
    import sys

    from tests.conftest import ROOT

    script = tmp_path / "script.py"
    script.write_text(f"""
import musegen
from tests.conftest import TUNES
result = musegen.render([musegen.Piece.from_abc(t) for t in TUNES], {str(tmp_path / "out")!r}, ["wav"])
print(len(result["wav"].files), len(result["wav"].failed))
""")
    proc = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
        env={**__import__("os").environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split() == ["8", "0"]  # a WAV and an OGG a tune


def test_the_compressed_sound_is_the_wav_sound(tmp_path):
    result = WavRenderer(WavConfig(compressed="flac", compressed_stereo=True)).render(
        [Piece.from_abc(TUNES[1])], tmp_path
    )
    assert [f.name for f in result.files] == ["01-small-reel.wav", "01-small-reel.flac"]
    wav, rate = soundfile.read(tmp_path / "01-small-reel.wav", dtype="int16")
    flac, flac_rate = soundfile.read(tmp_path / "01-small-reel.flac", dtype="int16")
    assert wav.shape[1] == 2 and rate == flac_rate and np.array_equal(wav, flac)  # FLAC is lossless: the same samples
    WavRenderer(WavConfig(compressed="flac")).render([Piece.from_abc(TUNES[1])], tmp_path / "mono")
    mono, _ = soundfile.read(tmp_path / "mono" / "01-small-reel.flac", dtype="int16")
    assert mono.ndim == 1 and np.array_equal(mono, (wav.astype(np.int32).sum(axis=1) // 2).astype(np.int16))
    only = WavRenderer(WavConfig(keep_wav=False)).render([Piece.from_abc(TUNES[1])], tmp_path / "ogg")
    assert [f.name for f in only.files] == ["01-small-reel.ogg"]
    info = soundfile.info(tmp_path / "ogg" / "01-small-reel.ogg")
    assert info.format == "OGG" and info.channels == 1 and abs(info.duration - len(wav) / rate) < 0.1


def test_a_piece_longer_than_two_minutes_gets_its_compressed_sound(tmp_path):
    """libvorbis overflows its stack when a long sound is written in one call (a crash, not an error):
    the worker writes in blocks. A 130 s chorale-length piece, 44.1 kHz stereo."""
    import symusic

    score = symusic.Score(480)
    track = symusic.Track()
    for beat in range(260):  # 130 s at the default 120 beats a minute
        track.notes.append(symusic.Note(beat * 480, 480, 60 + beat % 12, 80))
    score.tracks.append(track)
    result = WavRenderer(WavConfig(compressed="ogg", compressed_stereo=True)).render(
        [Piece.from_midi(score.dumps_midi(), title="long")], tmp_path
    )
    assert result.failed == []
    info = soundfile.info(tmp_path / "01-long.ogg")
    assert info.channels == 2 and abs(info.duration - soundfile.info(tmp_path / "01-long.wav").duration) < 0.1
    assert info.duration > 125
