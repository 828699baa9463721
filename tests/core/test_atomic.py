import json

import pytest

from musegen import atomic
from musegen.errors import MusegenError
from musegen.rundir import RunDir, ensure_writable, safe_name


def test_atomic_write_replaces_whole_file(tmp_path):
    target = tmp_path / "a.json"
    atomic.write_json(target, {"x": 1})
    assert json.loads(target.read_text()) == {"x": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]


def test_failure_inside_leaves_old_file_and_no_temp(tmp_path):
    target = tmp_path / "model.keras"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with atomic.atomic_path(target) as tmp:
            assert tmp.suffix == ".keras" and tmp.parent == tmp_path
            tmp.write_bytes(b"half")
            raise RuntimeError("killed while writing")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["model.keras"]


@pytest.mark.parametrize(
    "title,stem", [("The Kesh Jig", "the-kesh-jig"), ("../../etc/passwd", "etc-passwd"), ("", "tune"), ("///", "tune")]
)
def test_safe_name_never_a_path(title, stem):
    assert safe_name(title) == stem


def test_run_dir_errors(tmp_path):
    with pytest.raises(MusegenError, match="does not exist"):
        RunDir.open(tmp_path / "missing")
    with pytest.raises(MusegenError, match="run.json is missing"):
        RunDir.open(tmp_path)
    (tmp_path / "run.json").write_text("{not json")
    with pytest.raises(MusegenError, match="run.json is corrupt"):
        RunDir.open(tmp_path)


def test_unwritable_dir(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(MusegenError, match="not writable"):
        ensure_writable(blocker / "sub")
