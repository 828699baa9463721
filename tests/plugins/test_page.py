"""The listening page: index.html beside the files, a card for each tune, nothing fetched."""

import re
from html.parser import HTMLParser

from musegen import Piece
from musegen.pipeline import render
from musegen_web.tunes import verdicts
from tests.conftest import TUNES

SHORT_BAR = "X:1\nT:Short Bar\nM:6/8\nL:1/8\nK:D\nABc def|gab c2d ef|ABc def|]\n"
BROKEN = "X:1\nT:Broken <b>Tune</b>\nM:4/4\nL:1/8\nK:D\nAB(c|[[d\n"


class Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.found: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.found.append((tag, dict(attrs)))


def parsed(path):
    p = Links()
    p.feed(path.read_text(encoding="utf-8"))
    return p.found


def test_a_card_for_each_tune_with_its_score_sound_and_files(tmp_path):
    pieces = [Piece.from_abc(TUNES[0]), Piece.from_abc(BROKEN), Piece.from_abc(TUNES[1])]
    results = render(pieces, tmp_path, ["page", "abc", "midi", "wav", "score"])  # page listed first, runs last
    assert results["page"].files == [tmp_path / "index.html"]
    tags = parsed(tmp_path / "index.html")
    assert sum(1 for t, a in tags if t == "article") == 3
    for tag, attr in tags:  # every link, image and sound is a file beside the page
        target = attr.get("src") or attr.get("href")
        if tag in ("img", "audio", "a") and target:
            assert (tmp_path / target).is_file(), target
    images = [a["src"] for t, a in tags if t == "img"]
    sounds = [a["src"] for t, a in tags if t == "audio"]
    assert images == ["01-little-jig.svg", "02-broken-b-tune-b.svg", "03-small-reel.svg"]  # music21 engraves it
    phones = [a["srcset"] for t, a in tags if t == "source"]
    assert phones == [i.replace(".svg", ".phone.svg") for i in images] and all((tmp_path / p).is_file() for p in phones)
    assert sounds == ["01-little-jig.ogg", "03-small-reel.ogg"]  # abc2midi rejects the broken one
    text = (tmp_path / "index.html").read_text()
    assert "No sound: abc2midi could not play this tune." in text
    assert "3 tunes: 2 clean, 1 with faults (in red)." in text
    assert "Broken &lt;b&gt;Tune&lt;/b&gt;" in text and "<b>Tune" not in text  # titles are text, never markup
    assert not re.search(r"(src|href)=\"(https?:)?//", text)  # nothing from the network
    for ext in ("abc", "mid", "wav", "ogg", "svg"):
        assert f'href="01-little-jig.{ext}" download' in text


def test_verdicts_say_clean_fixed_or_wrong():
    clean = Piece.from_abc(TUNES[1])
    fixed = Piece.from_abc(TUNES[2], redrawn=3)
    short = Piece.from_abc(SHORT_BAR)
    broken = Piece.from_abc(BROKEN)
    cut = Piece.from_abc(TUNES[3], complete=False)
    kinds = verdicts([clean, fixed, short, broken, cut])
    assert [k for k, _ in kinds] == ["clean", "fixed", "wrong", "wrong", "wrong"]
    assert kinds[1][1] == "bars fixed: 3 redraws"
    assert kinds[2][1] == "plays, but 1 bar is the wrong length"
    assert kinds[3][1].startswith("abc2midi rejects it")
    assert kinds[4][1].startswith("never ended")


def test_facts_of_a_tune(tmp_path):
    render([Piece.from_abc(TUNES[0], asked="jig in D, 6/8, 1 part of 4 bars")], tmp_path, ["abc", "page"])
    text = (tmp_path / "index.html").read_text()
    facts = re.findall(r"<li>([^<]*)</li>", text)
    assert facts == ["jig", "6/8", "D", "4 bars, repeated"]
    assert "Asked for: jig in D, 6/8, 1 part of 4 bars" in text
    assert "No sheet music" in text  # no score renderer ran: the page says so instead of a broken image


def test_facts_of_a_midi_piece_name_its_key(tmp_path):
    import symusic

    from musegen_midi.config import MidiEventsConfig
    from musegen_midi.encoder import MidiEventsEncoder

    score = symusic.Score(480)
    track = symusic.Track()
    for i, pitch in enumerate([67, 69, 71, 72, 74, 76, 78, 79, 74, 71, 67]):  # G major, up and back
        track.notes.append(symusic.Note(i * 480, 480, pitch, 80))
    score.tracks.append(track)
    enc = MidiEventsEncoder(MidiEventsConfig())
    piece = enc.decode(enc.encode(Piece.from_midi(score.dumps_midi()))[:-1])
    render([piece], tmp_path, ["page"])
    facts = re.findall(r"<li>([^<]*)</li>", (tmp_path / "index.html").read_text())
    assert facts == ["MIDI piece", "G major", "11 notes"]


def test_the_summary_says_what_the_checker_drew_again():
    from musegen_web.page import summary

    abc = [{"verdict": "clean", "format": "abc"}, {"verdict": "fixed", "format": "abc"}]
    midi = [{"verdict": "fixed", "format": "midi"}, {"verdict": "wrong", "format": "midi"}]
    assert summary(abc) == "2 tunes: 1 clean, 1 clean once bars were drawn again"
    assert summary(midi) == "2 tunes: 1 clean once notes were drawn again, 1 with faults (in red)"
