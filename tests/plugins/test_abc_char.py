import pytest

from musegen import MusegenError, Piece, SampleConfig
from musegen_abc.config import AbcCharConfig
from musegen_abc.controls import with_type
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
    assert enc.decode(ids).text == with_type(TUNES[0], "jig")  # learned with its type, as every tune is
    assert set("".join(TUNES)) < set(enc.chars)


def test_without_controls_a_tune_comes_back_as_it_went_in():
    enc = AbcCharEncoder(AbcCharConfig(controls=False))
    enc.fit([Piece.from_abc(t) for t in TUNES])
    for tune in TUNES:
        assert enc.decode(enc.encode(Piece.from_abc(tune))).text == tune
    assert enc.vocab_size == len(set("".join(TUNES))) + 1
    assert "controls" not in enc.state() and enc.primes(SampleConfig()) is None


def test_each_tune_learns_its_controls_and_each_sample_starts_from_those_asked():
    enc = make()
    enc.learn_controls([Piece.from_abc(t) for t in TUNES])
    ids = enc.encode(Piece.from_abc(TUNES[1]))
    assert enc.decode(ids[:-1]).meta == {"asked": "reel in G, 4/4, 1 part of 4 bars", "missed": []}  # itself
    assert "".join(enc.chars[i - 1] for i in ids[:-1]).startswith(
        "X:2\n%reel 4/4 G 4\nR:reel\nM:4/4\nK:G\nL:1/8\nT:Small Reel\n"
    )
    primes = enc.primes(SampleConfig(tunes=3, type="reel"))
    assert [enc._drawn_text(p) for p in primes] == ["X:1\n%reel 4/4 G 4\nR:reel\nM:4/4\nK:G\n"] * 3
    from_prime = enc.primes(SampleConfig(tunes=2, prime="M:3/4\nT:A\n"))  # the prime's meter counts as asked
    assert {enc._drawn_text(p) for p in from_prime} == {"X:1\n%waltz 3/4 Am 6\nR:waltz\nM:3/4\nK:Am\nT:A\n"}
    other = AbcCharEncoder(AbcCharConfig())
    other.load_state(enc.state())
    assert other.primes(SampleConfig(tunes=4, seed=2)) == enc.primes(SampleConfig(tunes=4, seed=2))


def test_a_sampled_tune_says_what_was_asked_and_how_it_missed():
    enc = make()
    enc.learn_controls([Piece.from_abc(t) for t in TUNES])
    prime = enc.primes(SampleConfig(tunes=1, meter="2/4"))[0]
    good = enc.decode(prime + enc._ids("L:1/8\nT:a\nFA cA|Bd cA|GB AG|F2 F2|]\n", "tune"))
    assert good.meta == {"asked": "polka in F, 2/4, 1 part of 4 bars", "missed": []}
    assert good.text == "X:1\nT:a\nR:polka\nM:2/4\nL:1/8\nK:F\nFA cA|Bd cA|GB AG|F2 F2|]\n"  # as ABC writes it
    bad = enc.decode(prime + enc._ids("L:1/8\nT:a\nK:G\nFA cA|Bd cA|]\n", "tune"))
    assert bad.meta["missed"] == ["key G, asked F", "form 2, asked 4"]  # a second K: written before the music


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
