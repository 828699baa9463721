"""The midi-events encoder (MIDILike, TSD, REMI), its checker, MIDI corpora and MIDI statistics."""

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

ENC = MidiEventsEncoder(MidiEventsConfig(tokenization="MIDILike"))  # note-on/note-off: the repairs it needs
SCHEMES = ["MIDILike", "TSD", "REMI"]


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


@pytest.mark.parametrize("scheme", SCHEMES)
def test_round_trip_is_exact_for_a_folk_tune_and_a_chord(scheme):
    enc = MidiEventsEncoder(MidiEventsConfig(tokenization=scheme))
    for piece in (Piece.from_midi(convert(TUNES[1]).midi), chord_piece()):
        ids = enc.encode(piece)
        assert ids[-1] == enc.end_id
        back = enc.decode(ids[:-1])
        assert back.meta["repairs"] == {}
        assert notes_of(back) == notes_of(Piece.from_midi(symusic.Score.from_midi(piece.midi).dumps_midi()))


@pytest.mark.parametrize("scheme", SCHEMES)
def test_voices_share_one_stream_and_polyphony_is_measured(scheme):
    enc = MidiEventsEncoder(MidiEventsConfig(tokenization=scheme))
    back = enc.decode(enc.encode(chord_piece())[:-1])
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
    enc = MidiEventsEncoder(MidiEventsConfig(max_note_beats=2, tokenization="MIDILike"))
    v = enc.tokenizer.vocab
    piece = enc.decode([v["NoteOn_60"], v["Velocity_79"]] + [v["TimeShift_1.0.24"]] * 6 + [v["NoteOff_60"]])
    assert piece.meta["repairs"] == {"held_too_long": 1, "orphan_note_off": 1}
    assert notes_of(piece) == [(0, 2 * 24, 60)]  # released before the time shift that would pass two beats


def test_time_limit_stops_a_piece():
    enc = MidiEventsEncoder(MidiEventsConfig(max_beats=4, max_note_beats=100, tokenization="MIDILike"))
    v = enc.tokenizer.vocab
    ids = [v["NoteOn_60"], v["Velocity_79"]] + [v["TimeShift_1.0.24"]] * 10 + [v["NoteOff_60"]]
    piece = enc.decode(ids)
    assert piece.meta["repairs"]["past_time_limit"] == 1
    assert notes_of(piece)[0][1] <= 5 * 24


ENCODERS = {scheme: MidiEventsEncoder(MidiEventsConfig(tokenization=scheme)) for scheme in SCHEMES}


@pytest.mark.slow
@settings(max_examples=1000, deadline=None)
@given(st.sampled_from(SCHEMES), st.lists(st.integers(min_value=-5, max_value=ENC.vocab_size + 5), max_size=300))
def test_fuzz_any_token_stream_decodes(scheme, ids):
    piece = ENCODERS[scheme].decode(ids)
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


@pytest.mark.slow
def test_bach_chorales_convert_once_and_cache(tmp_path):
    loaded = BachChorales(ChoraleConfig(limit=2, cache_dir=str(tmp_path))).load()
    assert len(loaded.pieces) == 2
    cached = sorted(p.name for p in (tmp_path / "bach-chorales").iterdir())
    assert len(cached) == 2 and all(name.endswith(".mid") for name in cached)
    assert max(polyphony(loaded.pieces[0].midi)) >= 3  # four voices
    again = BachChorales(ChoraleConfig(limit=2, cache_dir=str(tmp_path))).load()
    assert [p.midi for p in again.pieces] == [p.midi for p in loaded.pieces]
    for p in loaded.pieces:  # voices in unison and repeated notes survive the round trip, unrepaired
        back = ENCODERS["REMI"].decode(ENCODERS["REMI"].encode(p)[:-1])
        assert back.meta["repairs"] == {}
        assert symusic.Score.from_midi(back.midi).note_num() == symusic.Score.from_midi(p.midi).note_num()


def test_midi_stats_on_known_pieces():
    chord = chord_piece()
    got = MidiStats().evaluate([chord], [])
    assert got["polyphony"] == 2.0 and got["max_polyphony"] == 3
    assert got["pitch_range"] == 7 and got["notes_per_beat"] == pytest.approx(4 / 3, abs=1e-3)
    assert got["pitch_class_entropy"] == pytest.approx(1.5, abs=1e-3)  # C, E: 1/4 each; G: 1/2
    assert got["in_key_pct"] == 100.0 and got["held_past_4s_pct"] == 0.0 and got["monophonic_pct"] == 0.0
    broken = ENC.decode([ENC.tokenizer.vocab["NoteOff_60"]])
    assert MidiStats().evaluate([chord, broken], [])["repaired_pct"] == 50.0
    assert MidiStats().evaluate([chord], [chord])["pitch_class_overlap"] == 1.0


def test_oneills_midi_renders_the_abc_corpus():
    from musegen_midi.config import OneillsMidiConfig
    from musegen_midi.corpora import OneillsMidi

    loaded = OneillsMidi(OneillsMidiConfig(limit=5)).load()
    assert len(loaded.pieces) == 5
    assert all(p.format == "midi" and p.title for p in loaded.pieces)
    assert all(max(polyphony(p.midi)) == 1 for p in loaded.pieces)  # one voice: a folk melody


def score_of(notes, tpq=480) -> symusic.Score:
    """A one-track score of (onset beat, beats, pitch) notes."""
    score = symusic.Score(tpq)
    track = symusic.Track()
    for onset, beats, pitch in notes:
        track.notes.append(symusic.Note(int(onset * tpq), int(beats * tpq), pitch, 80))
    score.tracks.append(track)
    return score


@pytest.mark.parametrize("scheme", ["TSD", "REMI"])
def test_out_of_order_events_are_counted_and_no_note_hangs(scheme):
    enc = ENCODERS[scheme]
    v = enc.tokenizer.vocab
    duration = next(t for t in v if t.startswith("Duration_"))
    ids = [v[duration], v["Pitch_60"], v["Velocity_79"], v[duration], v["Pitch_64"], 9999]  # stray, then unfinished
    piece = enc.decode(ids)
    assert piece.meta["repairs"] == {"unknown_id": 1, "out_of_order": 1, "unfinished_note": 1}
    assert [p for _, _, p in notes_of(piece)] == [60]


def test_too_many_voices_are_dropped_when_decoding():
    enc = MidiEventsEncoder(MidiEventsConfig(tokenization="TSD", max_voices=2))
    piece = Piece.from_midi(score_of([(0, 2, 60), (0, 2, 64), (0, 2, 67), (2, 1, 72)]).dumps_midi())
    back = enc.decode(enc.encode(piece)[:-1])
    assert back.meta["repairs"] == {"too_many_voices": 1}
    assert max(polyphony(back.midi)) == 2


def test_limits_are_learned_from_the_corpus():
    from musegen_midi.check import learn

    four = score_of([(0, 1, 48), (0, 1, 55), (0, 1, 64), (0, 1, 72), (1, 1, 50), (1, 1, 57), (1, 1, 65), (1, 1, 74)])
    doubled = score_of([(0, 1, 40), (0, 1, 48), (0, 1, 55), (0, 1, 64), (0, 1, 72)])  # a doubled bass: 5 once
    limits = learn([four, four, doubled])
    assert limits["voices"] == 4 and (limits["low"], limits["high"]) == (40, 74)
    assert limits["ranges"]["4"] == [[48, 50], [55, 57], [64, 65], [72, 74]] and "5" not in limits["ranges"]
    assert learn([score_of([(0, 1, 60), (1, 1, 62)])])["voices"] == 1  # a folk tune: one voice


def test_a_piece_ends_at_the_bar_line_past_the_corpus_length():
    """Learned: the 95th percentile of the corpus's lengths in bars. In REMI the bar line that would start
    one bar more tells the sampler to draw the end next; the bar lines before it do not."""
    from musegen import Limits
    from musegen_midi.check import NoteChecker, learn

    two_bars = score_of([(b, 1, 60 + b) for b in range(8)])
    assert learn([two_bars])["bars"] == 2
    enc = ENCODERS["REMI"]
    checker = NoteChecker(enc, learn([two_bars]))
    longer = score_of([(b, 1, 60 + b % 8) for b in range(12)])  # three bars
    ids = enc.encode(Piece.from_midi(longer.dumps_midi()))[:-1]
    state, ended_at = checker.initial, []
    for i, token in enumerate(ids):
        if checker.boundary(token):
            ok, state, *limits = checker.check([(ids[: i + 1], state)])[0]
            assert ok
            if limits:
                assert limits[0] == Limits(next=frozenset({enc.end_id}))
                ended_at.append(enc.id_to_token[token])
    assert ended_at == ["Bar_None"]  # once: the third bar's line
    tsd = NoteChecker(ENCODERS["TSD"], learn([two_bars]))  # no bar lines to end at: no length limit
    assert not any(
        tsd.boundary(t)
        for t in ENCODERS["TSD"].encode(Piece.from_midi(longer.dumps_midi()))
        if t not in tsd.duration_ids
    )


@pytest.mark.parametrize("scheme", ["TSD", "REMI"])
def test_the_checker_refuses_a_fifth_voice_and_a_note_out_of_its_voices_range(scheme):
    from musegen_midi.check import NoteChecker, learn

    enc = ENCODERS[scheme]
    chorale = score_of([(0, 1, 48), (0, 1, 55), (0, 1, 64), (0, 1, 72), (1, 1, 50), (1, 1, 57), (1, 1, 65), (1, 1, 74)])
    checker = NoteChecker(enc, learn([chorale]))
    ids = enc.encode(Piece.from_midi(chorale.dumps_midi()))[:-1]
    ends = [i + 1 for i, t in enumerate(ids) if t in checker.duration_ids]  # each note's end
    assert len(ends) == 8
    states, answers = [checker.initial], []
    for end in ends:  # the corpus's own notes, one by one: all accepted
        ok, state = checker.check([(ids[:end], states[-1])])[0]
        answers.append(ok)
        states.append(state)
    assert all(answers)
    fifth = enc.encode(Piece.from_midi(score_of([(1, 1, 60)]).dumps_midi()))[:-1]
    note = fifth[
        [enc.id_to_token[i].startswith("Pitch_") for i in fifth].index(True) :
    ]  # its pitch, velocity, duration
    assert not checker.check([(ids + note, states[-1])])[0][0]  # a fifth voice beside the second chord
    assert checker.check([(ids[: ends[6]] + note, states[7 - 1])])[0][0] is False  # 60 is not the top voice's
    high = [enc.tokenizer.vocab["Pitch_90"] if enc.id_to_token[i].startswith("Pitch_") else i for i in ids[: ends[0]]]
    assert not checker.check([(high, checker.initial)])[0][0]  # 90: above anything in the corpus


@pytest.mark.slow
@pytest.mark.parametrize("scheme", ["TSD", "REMI"])
def test_every_chorale_and_every_oneills_tune_round_trip(scheme):
    """Notes, onsets and durations on the grid, for each piece of both corpora (chorales cached once)."""
    from musegen_midi.config import OneillsMidiConfig
    from musegen_midi.corpora import OneillsMidi

    enc = ENCODERS[scheme]
    pieces = BachChorales(ChoraleConfig()).load().pieces + OneillsMidi(OneillsMidiConfig()).load().pieces
    assert len(pieces) > 1800
    wrong = []
    for p in pieces:
        from musegen_midi.encoder import merge_tracks

        score = enc.tokenizer.preprocess_score(merge_tracks(symusic.Score.from_midi(p.midi)))
        back = symusic.Score.from_midi(enc.decode(enc.encode(p)[:-1]).midi)
        want = sorted(
            (n.time * 480 // score.ticks_per_quarter, n.duration * 480 // score.ticks_per_quarter, n.pitch)
            for t in score.tracks
            for n in t.notes
        )
        got = sorted(
            (n.time * 480 // back.ticks_per_quarter, n.duration * 480 // back.ticks_per_quarter, n.pitch)
            for t in back.tracks
            for n in t.notes
        )
        if got != want:
            wrong.append(p.title)
    assert not wrong, wrong[:5]


def scale_piece(tonic: int, minor: bool = False) -> Piece:
    """A scale up and down from ``tonic`` (MIDI pitch), tonic and dominant stressed: its key is plain."""
    steps = [0, 2, 3, 5, 7, 8, 11, 12] if minor else [0, 2, 4, 5, 7, 9, 11, 12]
    line = [tonic + s for s in steps + steps[::-1]] + [tonic, tonic + 7, tonic]
    return Piece.from_midi(score_of([(i, 1, p) for i, p in enumerate(line)]).dumps_midi())


@pytest.mark.parametrize(
    ("tonic", "minor", "shift"), [(60, False, 0), (67, False, 5), (62, False, -2), (69, True, 0), (64, True, 5)]
)
def test_a_key_signature_moves_to_none_the_shorter_way(tonic, minor, shift):
    from musegen_midi.key import key_name, shift_to_c

    score = symusic.Score.from_midi(scale_piece(tonic, minor).midi)
    assert shift_to_c(score) == shift
    names = {60: "C", 67: "G", 62: "D", 69: "A", 64: "E"}
    assert key_name(score) == f"{names[tonic]} {'minor' if minor else 'major'}"
    assert MidiEventsEncoder(MidiEventsConfig()).decode(
        MidiEventsEncoder(MidiEventsConfig()).encode(scale_piece(tonic, minor))[:-1]
    ).meta["key"] == key_name(score)  # each decoded piece says its key


def test_normalize_key_encodes_in_c_and_decodes_in_a_key_of_the_corpus():
    """Every piece is encoded in C major or A minor; a decoded piece is moved to one of the corpus's key
    signatures, the same one for the same events, and otherwise keeps its notes."""
    from musegen_midi.key import signature

    enc = MidiEventsEncoder(MidiEventsConfig(tokenization="REMI", normalize_key=True))
    corpus = [scale_piece(67), scale_piece(67), scale_piece(64, minor=True), scale_piece(62)]  # G, G, Em, D
    enc.fit(corpus)
    assert enc.keys == {"2": 1, "7": 3}
    assert MidiEventsEncoder(MidiEventsConfig(normalize_key=True)).keys is None
    assert enc.encode(corpus[0]) == enc.encode(scale_piece(72))  # G up a fourth to C
    assert enc.encode(scale_piece(62)) == enc.encode(scale_piece(60))  # D down a tone
    seen = set()
    for piece in corpus + [scale_piece(65, minor=True)]:
        ids = enc.encode(piece)[:-1]
        back = enc.decode(ids)
        assert back.meta["repairs"] == {}
        assert enc.decode(ids).midi == back.midi  # the same events, the same key
        here = [p for _, _, p in notes_of(back)]
        there = [p for _, _, p in notes_of(piece)]
        assert len({a - b for a, b in zip(here, there)}) == 1  # the same notes, moved as one
        seen.add(signature(symusic.Score.from_midi(back.midi)))
    assert seen <= {2, 7}
    state = enc.state()
    again = MidiEventsEncoder(MidiEventsConfig(tokenization="REMI", normalize_key=True))
    again.load_state(state)
    assert again.keys == enc.keys and again.decode(ids).midi == back.midi


def test_the_limits_are_learned_in_c_when_keys_are_normalized():
    enc = MidiEventsEncoder(MidiEventsConfig(normalize_key=True))
    enc.fit([scale_piece(67)])  # G major: moved up 5 semitones
    assert (enc.limits["low"], enc.limits["high"]) == (72, 84)


def test_normalize_key_and_transposed_copies_are_refused_together():
    with pytest.raises(MusegenError, match="normalize_key.*transpose"):
        MidiEventsEncoder(MidiEventsConfig(normalize_key=True, transpose=[2]))
