"""Instrument and tempo of the midi and wav renderers (musegen_audio.sound)."""

import io

import mido
import pytest
from pydantic import ValidationError

from musegen import MusegenError, Piece
from musegen.pipeline import make_renderers, render
from musegen_audio.config import MidiConfig, WavConfig
from musegen_audio.sound import INSTRUMENTS, piece_sound, program, quarters_per_minute, tune_tempo, voiced
from tests.conftest import TUNES

JIG, REEL = TUNES[0], TUNES[1]


def song(data: bytes) -> mido.MidiFile:
    return mido.MidiFile(file=io.BytesIO(data))


def programs(data: bytes) -> set[int]:
    return {m.program for t in song(data).tracks for m in t if m.type == "program_change"}


def test_instrument_names_and_numbers():
    assert program("fiddle") == 40 and program("Flute") == 73 and program("21") == 21 and program("auto") is None
    with pytest.raises(MusegenError, match="unknown instrument 'kazoo'.*whistle"):
        program("kazoo")
    with pytest.raises(MusegenError):
        program("128")


def test_tempo_is_read_as_abc_writes_it():
    assert quarters_per_minute("120") == 120
    assert quarters_per_minute("3/8=112") == pytest.approx(168)
    assert quarters_per_minute("1/2=100") == 200
    for bad in ("fast", "0", "1/0=100", "3/8=", "1/64=20"):
        with pytest.raises(MusegenError):
            quarters_per_minute(bad)


def test_a_tune_plays_at_its_type_pace_unless_it_says_its_own():
    assert tune_tempo(JIG) == pytest.approx(168)  # R: absent, 6/8: a jig
    assert tune_tempo(REEL) == 200  # 4/4 with eight notes a bar: a reel
    assert tune_tempo(JIG.replace("K:D", "Q:1/4=90\nK:D")) is None  # abc2midi plays its Q: already
    assert tune_tempo(JIG.replace("K:D", "Q:1/4=90\nK:D"), "100") == 100  # a setting wins over everything


def test_voiced_sets_every_melodic_channel_and_scales_the_tempo():
    midi = Piece.from_abc(JIG).to_midi()
    assert programs(midi) == set()  # abc2midi: piano by default
    slow = song(midi).length
    faster = voiced(midi, 73, 240)
    assert programs(faster) == {73}
    assert song(faster).length == pytest.approx(slow / 2, rel=0.02)  # 120 -> 240 quarters a minute
    assert voiced(midi, None, None) == midi


def test_drums_keep_their_channel_and_a_piece_keeps_its_own_instruments_on_auto():
    track = mido.MidiTrack(
        [
            mido.Message("program_change", channel=0, program=19, time=0),
            mido.Message("note_on", channel=0, note=60, velocity=80, time=0),
            mido.Message("note_on", channel=9, note=36, velocity=80, time=0),
            mido.Message("note_off", channel=0, note=60, time=480),
            mido.Message("note_off", channel=9, note=36, time=0),
        ]
    )
    f = mido.MidiFile()
    f.tracks.append(track)
    buf = io.BytesIO()
    f.save(file=buf)
    piece = Piece.from_midi(buf.getvalue(), title="organ and drums")
    assert programs(piece_sound(piece)) == {19}
    changed = song(piece_sound(piece, "flute"))
    assert {(m.channel, m.program) for m in changed.tracks[0] if m.type == "program_change"} == {(0, 73)}


def test_abc_tunes_play_on_fiddle_by_default():
    assert programs(piece_sound(Piece.from_abc(JIG))) == {INSTRUMENTS["fiddle"]}


def test_configs_refuse_a_bad_instrument_or_tempo_in_one_line():
    with pytest.raises(ValidationError, match="unknown instrument"):
        MidiConfig(instrument="kazoo")
    with pytest.raises(ValidationError, match="not a tempo"):
        WavConfig(tempo="quick")


def test_render_instrument_reaches_every_renderer_that_has_it(tmp_path):
    built = make_renderers(["abc", "midi"], {"*": {"instrument": "whistle", "tempo": "150"}})
    render([Piece.from_abc(REEL)], tmp_path, built)
    data = (tmp_path / "01-small-reel.mid").read_bytes()
    assert programs(data) == {78}
    assert [m.tempo for m in song(data).tracks[0] if m.type == "set_tempo"] == [400_000]
    with pytest.raises(MusegenError, match="render.colour: none of the renderers abc"):
        make_renderers(["abc"], {"*": {"colour": "red"}})
