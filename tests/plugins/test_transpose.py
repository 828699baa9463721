"""ABC transposition: text on hand-made cases, and every note's pitch through abc2midi."""

import pytest
import symusic

from musegen import Piece
from musegen.abc2midi import convert
from musegen_abc.config import AbcCharConfig
from musegen_abc.encoder import AbcCharEncoder
from musegen_abc.transpose import transpose
from tests.conftest import TUNES

HEAD = "X:1\nT:t\nM:4/4\nL:1/8\n"


@pytest.mark.parametrize(
    "key,body,shift,want_key,want_body",
    [
        ("D", "DEFG ABcd|", 2, "E", "EFGA Bcde|"),  # letters move one step; F# in D is G# in E, from the signature
        ("D", "=F^G _B|", 2, "E", "=G^A =c|"),  # explicit accidentals keep their distance to the key signature
        ("G", "B,C d'e|", -2, "F", "A,B, c'd|"),  # octave marks follow the letters across C
        ("A Dorian", 'A2 "Am"c2 "D7/F#"d2|', 5, "D Dorian", 'd2 "Dm"f2 "G7/B"g2|'),  # mode and chords
        ("D Major", "d2 [K:G]g2|", 1, "Eb Major", "e2 [K:Ab]a2|"),  # sharps become flats; inline key changes
        ("Em", '!trill!e2 "^to coda"B2|!', -4, "Cm", '!trill!c2 "^to coda"G2|!'),  # decorations, annotations
    ],
)
def test_transposed_text(key, body, shift, want_key, want_body):
    out = transpose(f"{HEAD}K:{key}\n{body}\n", shift)
    assert out == f"{HEAD}K:{want_key}\n{want_body}\n"


def test_round_trip_and_refusals():
    tune = TUNES[0]
    assert transpose(transpose(tune, 3), -3) == tune
    assert transpose(tune, 0) == tune
    assert transpose(f"{HEAD}K:none\nCDE|\n", 2) is None
    assert transpose(f"{HEAD}K:D exp ^f ^c\nCDE|\n", 2) is None
    assert transpose("X:1\nT:no key\nCDE|\n", 2) is None


def melody(text):
    conv = convert(text)
    assert conv.clean, conv.messages
    score = symusic.Score.from_midi(conv.midi)
    return [(n.time, n.duration, n.pitch) for n in score.tracks[0].notes]


@pytest.mark.parametrize("shift", [-5, -2, 1, 2, 7])
def test_abc2midi_hears_every_note_moved_by_the_interval(shift):
    tunes = [*TUNES, f"{HEAD}K:Bb\n_B=B^c_d [K:Gm]F^E=Fc'|_e_E,^F__B|\nK:Dm\ndef^f|\n"]
    for tune in tunes:
        moved = transpose(tune, shift)
        assert [(t, d, p + shift) for t, d, p in melody(tune)] == melody(moved)


def test_irish_corpus_transposes_note_for_note(shared_data):
    from musegen.abctext import normalize, split_tunes

    tunes = [normalize(t.text) for t in split_tunes((shared_data / "irish-valid.abc").read_text())]
    checked = 0
    for tune in tunes:
        if not convert(tune).clean:
            continue
        for shift in (-2, 5):
            moved = transpose(tune, shift)
            assert moved is not None
            assert [(t, d, p + shift) for t, d, p in melody(tune)] == melody(moved)
            checked += 1
    assert checked >= 70


def test_encoder_augments_with_transposed_copies_in_allowed_keys():
    enc = AbcCharEncoder(AbcCharConfig(transpose=[-2, 2, 6], transpose_max_accidentals=4))
    pieces = [Piece.from_abc(t) for t in TUNES]  # keys D, G, Am, F
    out = enc.augment(pieces)
    keys = sorted(p.text.split("K:")[1].split("\n")[0] for p in out[len(pieces) :])
    # -2: C F Gm Eb; +2: E A Bm G; +6 (fewest accidentals): Ab, and Db Ebm B refused (5 or 6)
    assert keys == ["A", "Ab", "Bm", "C", "E", "Eb", "F", "G", "Gm"]
    plain = AbcCharEncoder(AbcCharConfig(controls=False))  # without controls a tune comes back as it went in
    plain.fit(out)
    assert all(plain.decode(plain.encode(p)).text == p.text for p in out)


def test_copies_to_corpus_keys_keep_the_key_frequencies():
    from collections import Counter

    from musegen.abctext import field

    tune = "X:1\nT:t{}\nM:2/4\nL:1/8\nK:{}\nFA cA|Bd cA|\n"
    keys = ["G"] * 6 + ["D"] * 3 + ["A"] + ["Ador"] * 2 + ["Edor"]  # majors 6:3:1, dorians 2:1
    pieces = [Piece.from_abc(tune.format(i, k)) for i, k in enumerate(keys)]
    enc = AbcCharEncoder(AbcCharConfig(transpose_keys=8))
    copies = enc.augment(pieces)[len(pieces) :]
    assert len(copies) == 8 * len(pieces)
    got = Counter(field(p.text, "K") for p in copies)
    assert set(got) == {"G", "D", "A", "Ador", "Edor"}  # only keys of the corpus, each in its own mode
    majors = sum(got[k] for k in "GDA")
    assert majors == 8 * 10 and abs(got["G"] / majors - 0.6) < 0.12 and abs(got["D"] / majors - 0.3) < 0.12
    for p in copies:  # every copy is its tune moved: the same notes relative to the key
        assert p.text.count("|") == 2
