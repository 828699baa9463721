"""Random and mutated ABC through corpus loading, abc2midi and every renderer: nothing escapes."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from musegen import Piece
from musegen.abc2midi import convert
from musegen.abctext import BadTune, normalize, split_tunes
from musegen.pipeline import render
from tests.conftest import TUNES

ABC_CHARS = st.sampled_from(list("ABCDEFGabcdefgz,'^=_/|:[]()<>{}-.~!+\"0123456789 \nXTMLKQ%\\&"))


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400))
def test_any_text_splits_and_normalizes_or_is_refused(text):
    for tune in split_tunes("X:1\n" + text):
        try:
            out = normalize(tune.text)
        except BadTune:
            continue
        assert out.startswith("X:1\n") and "\nK:" in out and out.endswith("\n")


@st.composite
def mutated_tune(draw):
    text = draw(st.sampled_from(TUNES))
    for _ in range(draw(st.integers(1, 12))):
        pos = draw(st.integers(0, len(text)))
        if draw(st.booleans()):
            text = text[:pos] + draw(st.text(ABC_CHARS, min_size=1, max_size=6)) + text[pos:]
        else:
            text = text[:pos] + text[pos + draw(st.integers(1, 8)) :]
    return text


@pytest.mark.slow  # hundreds of tunes through abc2midi and every renderer
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(mutated_tune())
def test_mutated_tunes_through_abc2midi_and_renderers(tmp_path, text):
    result = convert(text)
    assert result.midi is None or result.midi.startswith(b"MThd")
    out = render([Piece.from_abc(text), Piece.from_abc(TUNES[1])], tmp_path, ["abc", "midi", "wav"])
    for name in ("midi", "wav"):  # the good tune is always written, whatever happened to the other
        assert any(f.name.startswith("02-") for f in out[name].files), name
        tunes = {f.name.split(".")[0] for f in out[name].files}  # the wav renderer writes a .wav and an .ogg a tune
        assert len(tunes) + len(out[name].failed) == 2


@settings(max_examples=500, deadline=None)
@given(st.lists(st.integers(min_value=-3, max_value=120), max_size=300))
def test_abc_char_decodes_any_token_stream(ids):
    from musegen_abc.config import AbcCharConfig
    from musegen_abc.encoder import AbcCharEncoder

    enc = AbcCharEncoder(AbcCharConfig())
    enc.fit([Piece.from_abc(t) for t in TUNES])
    piece = enc.decode(ids)
    assert piece.format == "abc" and piece.text.endswith("\n")


@pytest.mark.slow  # hundreds of tunes through abc2midi and every renderer
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=400), st.booleans())
def test_random_bytes_as_midi_files_are_skipped_and_counted(tmp_path, data, with_header):
    from musegen_midi.config import MidiPathConfig
    from musegen_midi.corpora import MidiPath

    path = tmp_path / "x.mid"
    path.write_bytes((b"MThd\x00\x00\x00\x06\x00\x00\x00\x01\x01\xe0" if with_header else b"") + data)
    loaded = MidiPath(MidiPathConfig(path=str(path))).load()
    assert len(loaded.pieces) + len(loaded.skipped) == 1
