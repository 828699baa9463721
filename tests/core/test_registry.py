import sys

import pytest
from pydantic import BaseModel, ConfigDict

from musegen.errors import MusegenError, UnknownComponent
from musegen.registry import Component, Registry
from tests.conftest import run_python


class Opts(BaseModel):
    model_config = ConfigDict(extra="forbid")
    size: int = 3


def test_lazy_target_is_imported_only_on_load():
    sys.modules.pop("fractions", None)
    comp = Component("model", "frac", "fractions:Fraction")
    assert "fractions" not in sys.modules
    assert comp.load().__name__ == "Fraction"


def test_unknown_name_suggests_and_lists():
    reg = Registry()
    reg.add(Component("model", "lstm", "x:y"))
    reg.add(Component("model", "markov", "x:z", aliases=("ngram",)))
    with pytest.raises(UnknownComponent) as info:
        reg.get("model", "lstn")
    assert "Did you mean 'lstm'" in str(info.value)
    assert "lstm, markov, ngram" in str(info.value)
    assert reg.get("model", "ngram").name == "markov"


def test_duplicate_names_are_refused():
    reg = Registry()
    reg.add(Component("model", "lstm", "x:y", plugin="a"))
    with pytest.raises(MusegenError, match="registered twice"):
        reg.add(Component("model", "lstm", "x:y", plugin="b"))


def test_config_rejects_unknown_options():
    comp = Component("model", "m", "x:y", config=Opts)
    assert comp.make_config({"size": 5}).size == 5
    with pytest.raises(MusegenError, match="size.*unknown option|unknown option"):
        comp.make_config({"sise": 5})


def test_missing_module_is_a_clear_error():
    with pytest.raises(MusegenError, match="cannot be imported"):
        Component("model", "ghost", "no_such_module_xyz:Model").load()


def test_core_and_all_plugins_never_import_keras():
    code = (
        "import sys, musegen, musegen.cli\n"
        "from musegen.plugins import get_manager\n"
        "m = get_manager()\n"
        "assert len(list(m.registry.all())) >= 9\n"
        "heavy = [n for n in ('keras', 'jax', 'tensorflow', 'torch', 'music21') if n in sys.modules]\n"
        "print(heavy)\n"
        "assert not heavy, heavy\n"
    )
    proc = run_python(code)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"
