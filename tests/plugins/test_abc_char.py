import pytest

from musegen import MusegenError, Piece
from musegen_abc.config import AbcCharConfig
from musegen_abc.encoder import AbcCharEncoder
from tests.conftest import TUNES


def make():
    enc = AbcCharEncoder(AbcCharConfig())
    enc.fit([Piece.from_abc(t) for t in TUNES])
    return enc


def test_round_trip_and_end_token():
    enc = make()
    ids = enc.encode(Piece.from_abc(TUNES[0]))
    assert ids[-1] == enc.end_id == 0
    assert 0 not in ids[:-1]
    assert enc.decode(ids).text == TUNES[0]
    assert enc.vocab_size == len(set("".join(TUNES))) + 1


def test_state_round_trip():
    enc = make()
    other = AbcCharEncoder(AbcCharConfig())
    other.load_state(enc.state())
    assert other.encode(Piece.from_abc(TUNES[1])) == enc.encode(Piece.from_abc(TUNES[1]))


def test_prime_gets_x_line_and_rejects_unknown_characters():
    enc = make()
    assert enc.decode(enc.encode_prime("M:6/8\nK:D\n")).text == "X:1\nM:6/8\nK:D\n"
    assert enc.decode(enc.encode_prime("")).text == "X:1\n"  # every tune starts so: even unprimed samples do
    with pytest.raises(MusegenError, match=r"prime has character '@' at position 5"):
        enc.encode_prime("X:1\nT@")
    with pytest.raises(MusegenError, match=r"prime has character '@' at position 1"):
        enc.encode_prime("T@")


def test_unknown_skip_mode():
    enc = AbcCharEncoder(AbcCharConfig(unknown="skip"))
    enc.fit([Piece.from_abc("X:1\nK:C\nC|\n")])
    assert enc.decode(enc.encode(Piece.from_abc("X:1\nK:C\nC|@\n"))).text == "X:1\nK:C\nC|\n"
