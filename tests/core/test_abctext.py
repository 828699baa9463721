import pytest

from musegen.abctext import BadTune, body_of, field, normalize, read_text, split_tunes


def test_split_at_x_lines_drops_file_header():
    text = "%abc-2.1\nsome header\n\nX:1\nT:A\nK:C\nCDE|\n\nX:2\nT:B\nK:G\nGAB|\n"
    tunes = split_tunes(text, "f.abc")
    assert [t.source for t in tunes] == ["f.abc:4", "f.abc:9"]
    assert tunes[1].text.startswith("X:2\nT:B")


def test_normalize_keeps_headers_and_music_drops_notes_and_comments():
    raw = (
        "X: 17\nT: The Title\nN: a note\nZ: someone\nB: a book\nM: 6/8\nL:1/8\nR: jig\nK: D\n% comment\n"
        "ABc def|\ngfe dcB:|\n\nfree text after the tune\n"
    )
    out = normalize(raw)
    assert out == "X:1\nT:The Title\nM:6/8\nL:1/8\nR:jig\nK:D\nABc def|\ngfe dcB:|\n"


def test_note_then_repeat_is_music_not_a_field():
    out = normalize("X:1\nT:t\nK:G\nA:|B2 c2|\n")
    assert out.endswith("A:|B2 c2|\n")


@pytest.mark.parametrize(
    "raw,why",
    [
        ("X:1\nT:no key\nABC|\n", "music before the K: field"),
        ("X:1\nT:t\nM:4/4\n", "no K: field"),
        ("X:1\nT:t\nK:C\n", "no notes"),
        ("X:1\nT:t\nK:C\n" + "C" * 30000 + "\n", "longer than"),
    ],
)
def test_bad_tunes_say_why(raw, why):
    with pytest.raises(BadTune, match=why):
        normalize(raw)


def test_body_and_field():
    tune = "X:1\nT:t\nM:3/4\nK:C\nC D E|\nF G A|\n"
    assert body_of(tune) == "CDE|FGA|"
    assert field(tune, "M") == "3/4"
    assert field(tune, "Q") is None


def test_read_text_encodings_and_binary():
    assert read_text("é".encode("latin-1")) == "é"
    assert read_text("é".encode()) == "é"
    assert read_text("X:1\nT:Sé\n".encode("utf-16")) == "X:1\nT:Sé\n"  # Windows editors' "Unicode"
    with pytest.raises(BadTune, match="UTF-16"):
        read_text(b"\xff\xfe\x00\xd8")  # a lone surrogate
    with pytest.raises(BadTune, match="binary"):
        read_text(b"MThd\x00\x00\x00\x06")
