"""One abc2midi kept running answers check after check as one process a call would."""

import gc
import re
import select
import stat

import pytest

import musegen.abc2midi_stream as streaming
from musegen.abc2midi import check
from musegen.abc2midi_stream import CheckStream

HEAD = "X:1\nT:t\nM:6/8\nL:1/8\nK:D\n"
GOOD = HEAD + "A|dfa afd|gfe dcB|ABc def|e3 d2:|\n"
SHORT_BARS = HEAD + "A|dfa af|gfe dc|ABc def|\n"
NO_KEY = "X:1\nT:t\nM:6/8\n"
BLANK_LINE = HEAD + "dfa afd|\n\nM:3/4\n"
FATAL = HEAD + "G/3 G|\n"  # abc2midi stops there (exit status 1)

pytestmark = pytest.mark.skipif(not streaming._can_stream(), reason="no pseudo-terminal or /dev/stdin here")


def _columns_dropped(messages):
    return [re.sub(r"line-char (\d+)-\d+", r"line \1", m) for m in messages]


def _bars(messages):
    return sum("time units while the time signature" in m for m in messages)


def test_calls_answered_by_one_abc2midi_as_by_a_process_each(monkeypatch):
    alone = []
    monkeypatch.setattr(streaming, "check", lambda texts, timeout: alone.extend(texts) or check(texts, timeout))
    calls = [[GOOD], [SHORT_BARS, GOOD[:60], NO_KEY], [BLANK_LINE, SHORT_BARS.rstrip("\n")], [GOOD, GOOD, SHORT_BARS]]
    with CheckStream() as stream:
        pids = set()
        for texts in calls:
            got = stream.check(texts)
            pids.add(stream._proc.pid)
            assert [_columns_dropped(m) for m in got] == [_columns_dropped(check([t])[0]) for t in texts]
            assert [_bars(m) for m in got] == [_bars(check([t])[0]) for t in texts]
        assert len(pids) == 1 and stream.failures == 0
        assert alone == [BLANK_LINE]  # a blank line cannot share the stream: one process of its own
        proc = stream._proc
    assert proc.poll() is not None  # ended with the block


OPEN_CHORD = HEAD + "A|dfa afd|[D3 e|"  # the separator after it gets what the chord leaves
CHORDS = HEAD + '"D"dfa afd|"A"gfe dcB|\n'  # guitar chords: abc2midi writes barloc.txt where it runs


def test_what_a_call_leaves_behind_is_known_for_an_earlier_calls(tmp_path, monkeypatch):
    """abc2midi judges a tune's bars after its last line: a separator whose wrong bar comes after its
    mark says so once the call has its answer, and the next call reads it first."""
    import musegen.abc2midi as abc2midi

    mark = f"%%MIDI {abc2midi.MARK}\n"
    late = abc2midi.SEPARATOR.replace(mark, mark + "CC|\n")
    monkeypatch.setattr(abc2midi, "SEPARATOR", late)
    monkeypatch.chdir(tmp_path)
    with CheckStream() as stream:
        calls = [[OPEN_CHORD], [GOOD, SHORT_BARS], [OPEN_CHORD, CHORDS], [SHORT_BARS], [CHORDS, OPEN_CHORD], [GOOD]]
        for texts in calls:
            got = stream.check(texts)
            assert [_columns_dropped(m) for m in got] == [_columns_dropped(check([t])[0]) for t in texts]
            assert stream.failures == 0 and stream._proc is not None
    assert list(tmp_path.iterdir()) == []  # abc2midi ran elsewhere (it writes files where it runs)


def test_a_call_larger_than_a_pipe_or_a_terminal_holds_neither_waits_nor_loses_a_message():
    long = HEAD + "A|" + "dfa af|gfe dc|\n" * 150  # 300 short bars: 300 warnings, about 27 kB of them
    texts = [long, GOOD] * 5  # about 25 kB to write
    with CheckStream() as stream:
        assert [_bars(m) for m in stream.check(texts)] == [_bars(check([t])[0]) for t in texts] == [300, 0] * 5
        assert stream.failures == 0 and [_bars(m) for m in stream.check([SHORT_BARS])] == [2]


def test_abc2midi_gone_or_silent_the_call_is_answered_anyway_and_the_stream_given_up_after_three(tmp_path, monkeypatch):
    with CheckStream() as stream:
        assert [_bars(m) for m in stream.check([SHORT_BARS])] == [2]
        stream._proc.kill()  # gone: this call through one process, the next through a new abc2midi
        assert [_bars(m) for m in stream.check([SHORT_BARS, GOOD])] == [2, 0]
        assert stream.failures == 1 and stream._proc is None
        assert [_bars(m) for m in stream.check([GOOD, SHORT_BARS])] == [0, 2] and stream._proc is not None
    silent = tmp_path / "silent"  # reads its input, never answers
    silent.write_text("#!/bin/sh\nexec cat > /dev/null\n")
    silent.chmod(silent.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setattr(streaming, "executable", lambda: str(silent))
    with CheckStream(timeout=0.3) as stream:
        for k in range(streaming.FAILURES):
            assert not stream.given_up
            assert [_bars(m) for m in stream.check([SHORT_BARS])] == [2]
            assert stream.failures == k + 1
        assert stream.given_up
        assert [_bars(m) for m in stream.check([SHORT_BARS])] == [2] and stream._proc is None


def test_a_tune_that_stops_abc2midi_costs_its_call_one_process_a_text_and_the_stream_goes_on():
    with CheckStream() as stream:
        for _ in range(streaming.FAILURES + 1):
            got = stream.check([GOOD, FATAL, SHORT_BARS])
            assert [_bars(m) for m in got] == [0, 0, 2] and any("power of 2" in m for m in got[1])
            assert stream.failures == 1 and stream._proc is None
            assert [_bars(m) for m in stream.check([SHORT_BARS, GOOD])] == [2, 0]
            assert stream.failures == 0 and not stream.given_up  # failures in a row give it up, not these


def test_an_interrupt_ends_the_stream(monkeypatch):
    stream = CheckStream()
    stream.check([GOOD])
    proc = stream._proc

    def interrupted(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(select, "select", interrupted)
    with pytest.raises(KeyboardInterrupt):
        stream.check([SHORT_BARS])
    assert proc.poll() is not None and stream._proc is None


def test_a_forgotten_stream_ends_its_abc2midi_when_collected():
    stream = CheckStream()
    stream.check([GOOD])
    proc = stream._proc
    del stream
    gc.collect()
    assert proc.poll() is not None
