"""abc2midi as a judge: many tunes checked by one process give each tune the messages it gets alone."""

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import musegen.abc2midi as abc2midi
from musegen.abc2midi import check, convert

HEAD = "X:1\nT:t\nM:6/8\nL:1/8\nK:D\n"
GOOD = HEAD + "A|dfa afd|gfe dcB|ABc def|e3 d2:|\n"
SHORT_BARS = HEAD + "A|dfa af|gfe dc|ABc def|\n"  # two bars a note short
NO_KEY = "X:1\nT:t\nM:6/8\n"  # cut before its K: line
BLANK_LINE = HEAD + "dfa afd|\n\nM:3/4\n"  # a blank line: what follows it is the file's header
WITHOUT_X = "T:t\nM:6/8\nL:1/8\nK:D\ndfa af|\n"
FATAL = HEAD + "G/3 G|\n"  # abc2midi stops there, exit status 1: no tune after it in its file is judged


def _columns_dropped(messages):
    """abc2midi counts a header field's column on from the text before it: only lines are compared."""
    return [re.sub(r"line-char (\d+)-\d+", r"line \1", m) for m in messages]


def test_each_text_gets_the_messages_it_gets_alone_and_convert_gives_it():
    texts = [GOOD, SHORT_BARS, NO_KEY, SHORT_BARS.rstrip("\n"), BLANK_LINE, WITHOUT_X, GOOD[:40], GOOD]
    together = check(texts)
    alone = [check([t])[0] for t in texts]
    assert [_columns_dropped(m) for m in together] == [_columns_dropped(m) for m in alone]
    assert alone == [[m for m in convert(t).messages if m != "Error: no MIDI written"] for t in texts]
    bars = [sum("time units while the time signature" in m for m in ms) for ms in together]
    assert bars == [0, 2, 0, 2, 0, 0, 0, 0]  # without an X: line abc2midi reads no tune
    assert together[1][0].startswith("Warning in line-char 6-")  # numbered from its own first line
    assert any("K:" in m for m in together[2])


def test_texts_that_share_a_file_go_through_one_process(monkeypatch):
    runs = []
    real = abc2midi._run
    monkeypatch.setattr(abc2midi, "_run", lambda *a, **k: runs.append(a[1]) or real(*a, **k))
    assert [len(m) for m in check([GOOD, SHORT_BARS, GOOD])] == [0, 2, 0]
    assert len(runs) == 1
    runs.clear()
    check([GOOD, BLANK_LINE, WITHOUT_X, SHORT_BARS])  # the two that cannot share a file run alone
    assert len(runs) == 3 and BLANK_LINE.encode() in runs[1:] and WITHOUT_X.encode() in runs[1:]


def test_a_tune_that_stops_abc2midi_leaves_the_others_judged():
    got = check([GOOD, FATAL, SHORT_BARS])
    assert [sum("time units" in m for m in ms) for ms in got] == [0, 0, 2]
    assert any("power of 2" in m for m in got[1])


def test_a_run_that_cannot_be_split_by_line_falls_back_to_one_process_a_text(monkeypatch):
    real = abc2midi._run

    def crash_when_shared(args, data, timeout, cwd=None):
        if data and data.count(b"X:") > 1:
            return -11, "Warning without a line number\n"
        return real(args, data, timeout, cwd)

    monkeypatch.setattr(abc2midi, "_run", crash_when_shared)
    assert [len(m) for m in check([GOOD, SHORT_BARS])] == [0, 2]


def test_abc2midi_writes_nothing_where_it_is_called_from(tmp_path, monkeypatch):
    chords = HEAD + '"D"dfa afd|"A"gfe dcB|\n'  # with guitar chords abc2midi writes barloc.txt where it runs
    monkeypatch.chdir(tmp_path)
    check([chords])
    check([chords, GOOD])
    assert list(tmp_path.iterdir()) == []
    assert (Path(abc2midi.scratch()) / "barloc.txt").is_file()


def test_a_killed_process_folder_is_swept_and_a_live_one_kept(tmp_path):
    code = "import sys, time; from musegen import abc2midi; print(abc2midi.scratch(), flush=True);sys.stdin.readline()"
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    killed, live = (
        subprocess.Popen(
            [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env
        )
        for _ in range(2)
    )
    folders = [Path(p.stdout.readline().strip()) for p in (killed, live)]
    assert all(f.parent == tmp_path and f.is_dir() for f in folders)
    killed.kill()
    killed.wait()
    older = tmp_path / "musegen-abc2midi-k2x_9q0a"  # as a musegen without the lock named it: maybe in use
    older.mkdir()
    assert abc2midi.sweep(str(tmp_path), min_age=3600) == 0  # too young to tell from one being made
    assert abc2midi.sweep(str(tmp_path), min_age=0) == 1
    assert not folders[0].exists() and folders[1].is_dir() and older.is_dir()
    live.communicate("\n", timeout=30)  # it ends as it should: its exit handler removes its own
    assert not folders[1].exists()


def test_a_program_past_its_time_is_killed_and_said_so():
    start = time.monotonic()
    code, printed = abc2midi._run(["sleep", "30.25"], None, 0.3)
    assert code is None and time.monotonic() - start < 5
    assert abc2midi.messages_of(code, printed, 0.3) == ["Error: abc2midi took longer than 0.3 s"]
    # none left behind (an odd length: no other process's sleep matches, a shell's "sleep 30" did once)
    assert subprocess.run(["pgrep", "-f", "^sleep 30.25$"], capture_output=True).returncode != 0


def test_a_program_reads_what_it_is_given_and_its_output_comes_back_whole():
    data = b"x" * 300_000  # more than a pipe holds: no file is fed or drained while it runs
    code, printed = abc2midi._run(["cat"], data, 20.0)
    assert code == 0 and printed == data.decode()
