"""The midi-events encoder, MIDI corpora and MIDI statistics."""

import numpy as np
import pytest
import symusic
from hypothesis import given, settings
from hypothesis import strategies as st

from musegen import MusegenError, Piece
from musegen.abc2midi import convert
from musegen_midi.config import ChoraleConfig, MidiEventsConfig, MidiPathConfig
from musegen_midi.corpora import BachChorales, MidiPath
from musegen_midi.encoder import MidiEventsEncoder, polyphony
from musegen_midi.stats import MidiStats
from tests.conftest import TUNES

ENC = MidiEventsEncoder(MidiEventsConfig())


def chord_piece() -> Piece:
    """C major triad for two beats, then a lone G."""
    score = symusic.Score(480)
    track = symusic.Track()
    for pitch in (60, 64, 67):
        track.notes.append(symusic.Note(0, 960, pitch, 80))
    track.notes.append(symusic.Note(960, 480, 67, 80))
    score.tracks.append(track)
    return Piece.from_midi(score.dumps_midi(), title="chord")


def notes_of(piece):
    """(onset, duration, pitch) in 24ths of a beat: abc2midi's 1-tick articulation gaps round away."""
    score = symusic.Score.from_midi(piece.midi)
    q = score.ticks_per_quarter / 24
    return sorted((round(n.time / q), round(n.duration / q), n.pitch) for t in score.tracks for n in t.notes)


def test_round_trip_is_exact_for_a_folk_tune_and_a_chord():
    for piece in (Piece.from_midi(convert(TUNES[1]).midi), chord_piece()):
        ids = ENC.encode(piece)
        assert ids[-1] == ENC.end_id
        back = ENC.decode(ids[:-1])
        assert back.meta["repairs"] == {}
        assert notes_of(back) == notes_of(Piece.from_midi(symusic.Score.from_midi(piece.midi).dumps_midi()))


def test_voices_share_one_stream_and_polyphony_is_measured():
    back = ENC.decode(ENC.encode(chord_piece())[:-1])
    assert polyphony(back.midi).tolist() == [3, 1]


def test_repairs_are_counted():
    v = ENC.tokenizer.vocab
    ids = [v["NoteOff_60"], v["NoteOn_62"], v["TimeShift_1.0.24"], v["NoteOn_62"], v["Velocity_79"], v["NoteOn_64"]]
    stuck = ENC.decode([v["NoteOn_60"], v["Velocity_79"]] * 18)
    assert stuck.meta["repairs"] == {"too_many_voices": 2, "orphan_velocity": 2, "unreleased_note": 16}
    assert max(polyphony(stuck.midi)) == 16
    piece = ENC.decode(ids)
    assert piece.meta["repairs"] == {"orphan_note_off": 1, "missing_velocity": 2, "unreleased_note": 3}
    assert sorted(p for _, _, p in notes_of(piece)) == [62, 62, 64]  # two voices may sound the same pitch


def test_notes_held_too_long_are_released():
    enc = MidiEventsEncoder(MidiEventsConfig(max_note_beats=2))
    v = enc.tokenizer.vocab
    piece = enc.decode([v["NoteOn_60"], v["Velocity_79"]] + [v["TimeShift_1.0.24"]] * 6 + [v["NoteOff_60"]])
    assert piece.meta["repairs"] == {"held_too_long": 1, "orphan_note_off": 1}
    assert notes_of(piece) == [(0, 2 * 24, 60)]  # released before the time shift that would pass two beats


def test_time_limit_stops_a_piece():
    enc = MidiEventsEncoder(MidiEventsConfig(max_beats=4, max_note_beats=100))
    v = enc.tokenizer.vocab
    ids = [v["NoteOn_60"], v["Velocity_79"]] + [v["TimeShift_1.0.24"]] * 10 + [v["NoteOff_60"]]
    piece = enc.decode(ids)
    assert piece.meta["repairs"]["past_time_limit"] == 1
    assert notes_of(piece)[0][1] <= 5 * 24


@settings(max_examples=2000, deadline=None)
@given(st.lists(st.integers(min_value=-5, max_value=ENC.vocab_size + 5), max_size=300))
def test_fuzz_any_token_stream_decodes(ids):
    piece = ENC.decode(ids)
    assert piece.format == "midi" and piece.midi.startswith(b"MThd")
    symusic.Score.from_midi(piece.midi)  # what we write, a MIDI reader reads


def test_transposition_augmentation():
    enc = MidiEventsEncoder(MidiEventsConfig(transpose=[-2, 5]))
    out = enc.augment([chord_piece()])
    assert len(out) == 3
    assert [p for _, _, p in notes_of(out[2])][:3] == [65, 69, 72]


def test_prime_names_events():
    ids = ENC.encode_prime("NoteOn_60 Velocity_79")
    assert ENC.decode(ids).meta["repairs"] == {"unreleased_note": 1}
    with pytest.raises(MusegenError, match="NoteOn_999"):
        ENC.encode_prime("NoteOn_999")


def test_midi_folder_skips_corrupt_files(tmp_path):
    (tmp_path / "good.mid").write_bytes(chord_piece().midi)
    (tmp_path / "bad.mid").write_bytes(b"MThd garbage")
    (tmp_path / "random.midi").write_bytes(np.random.default_rng(0).bytes(500))
    loaded = MidiPath(MidiPathConfig(path=str(tmp_path))).load()
    assert [p.title for p in loaded.pieces] == ["good"]
    assert len(loaded.skipped) == 2 and all("unreadable MIDI" in why for _, why in loaded.skipped)


def test_bach_chorales_convert_once_and_cache(tmp_path):
    loaded = BachChorales(ChoraleConfig(limit=2, cache_dir=str(tmp_path))).load()
    assert len(loaded.pieces) == 2
    cached = sorted(p.name for p in (tmp_path / "bach-chorales").iterdir())
    assert len(cached) == 2 and all(name.endswith(".mid") for name in cached)
    assert max(polyphony(loaded.pieces[0].midi)) >= 3  # four voices
    again = BachChorales(ChoraleConfig(limit=2, cache_dir=str(tmp_path))).load()
    assert [p.midi for p in again.pieces] == [p.midi for p in loaded.pieces]
    for p in loaded.pieces:  # voices in unison and repeated notes survive the round trip, unrepaired
        back = ENC.decode(ENC.encode(p)[:-1])
        assert back.meta["repairs"] == {}
        assert symusic.Score.from_midi(back.midi).note_num() == symusic.Score.from_midi(p.midi).note_num()


def test_midi_stats_on_known_pieces():
    chord = chord_piece()
    got = MidiStats().evaluate([chord], [])
    assert got["polyphony"] == 2.0 and got["max_polyphony"] == 3
    assert got["pitch_range"] == 7 and got["notes_per_beat"] == pytest.approx(4 / 3, abs=1e-3)
    assert got["pitch_class_entropy"] == pytest.approx(1.5, abs=1e-3)  # C, E: 1/4 each; G: 1/2
    broken = ENC.decode([ENC.tokenizer.vocab["NoteOff_60"]])
    assert MidiStats().evaluate([chord, broken], [])["malformed_pct"] == 50.0


def test_oneills_midi_renders_the_abc_corpus():
    from musegen_midi.config import OneillsMidiConfig
    from musegen_midi.corpora import OneillsMidi

    loaded = OneillsMidi(OneillsMidiConfig(limit=5)).load()
    assert len(loaded.pieces) == 5
    assert all(p.format == "midi" and p.title for p in loaded.pieces)
    assert all(max(polyphony(p.midi)) == 1 for p in loaded.pieces)  # one voice: a folk melody
