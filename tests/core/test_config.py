import pytest

from musegen.config import parse_sets, parse_value, resolve
from musegen.errors import MusegenError


def test_paper_preset_is_table_1():
    cfg = resolve("paper")
    assert cfg.options["model"] == {"embedding_dim": 256, "units": 1024, "layers": 1, "dropout": 0.0}
    t = cfg.train
    assert (t.steps, t.batch_size, t.seq_len, t.learning_rate) == (2000, 32, 400, 1e-3)


def test_precedence_preset_then_flags_then_sets(tmp_path):
    toml = tmp_path / "c.toml"
    toml.write_text("[train]\nsteps = 7\nbatch_size = 3\n[models.lstm]\nunits = 64\n")
    cfg = resolve("paper", toml, {"train.steps": 9}, {"train.batch_size": 5, "model.units": 32})
    assert cfg.train.steps == 9  # flag beats file
    assert cfg.train.batch_size == 5  # --set beats file
    assert cfg.options["model"]["units"] == 32
    assert cfg.train.seq_len == 400  # preset survives


def test_component_options_follow_the_chosen_component():
    cfg = resolve("paper", flags={"model": "markov"})
    assert cfg.options["model"] == {}  # the lstm table does not leak into another model


@pytest.mark.parametrize(
    "text,value", [("512", 512), ("0.5", 0.5), ("true", True), ('["N","B"]', ["N", "B"]), ("jax", "jax")]
)
def test_parse_value(text, value):
    assert parse_value(text) == value


@pytest.mark.parametrize("items", [["novalue"], ["=3"]])
def test_bad_set_syntax(items):
    with pytest.raises(MusegenError, match="key=value"):
        parse_sets(items)


def test_invalid_values_are_one_line_errors():
    with pytest.raises(MusegenError, match=r"train.steps.*greater than or equal to 0"):
        resolve("default", sets={"train.steps": -1})
    with pytest.raises(MusegenError, match="unknown section 'bogus'"):
        resolve("default", sets={"bogus.x": 1})
    with pytest.raises(MusegenError, match="Did you mean 'paper'"):
        resolve("papr")
    with pytest.raises(MusegenError, match="unknown backend"):
        resolve("default", flags={"backend": "theano"})


def test_checker_settings_belong_to_the_checker_and_older_names_still_read():
    from musegen.config import SampleConfig

    cfg = resolve("tiny", sets={"sample.checker.bar_retries": 4})
    assert cfg.sample.checker == {"bar_retries": 4} and "bar_retries" not in SampleConfig.model_fields
    # a run.json written when they were sampling settings, and the --set names of then
    old = SampleConfig(**{"bar_retries": 3, "header_temperature": 1.2, "tunes": 2})
    assert old.checker == {"bar_retries": 3, "header_temperature": 1.2} and old.tunes == 2
    assert resolve("tiny", sets={"sample.header_temperature": 1.3}).sample.checker == {"header_temperature": 1.3}
    assert SampleConfig(checker={"bar_retries": 5}, bar_retries=6).checker == {"bar_retries": 6}  # the named one wins


def test_the_abc_checker_validates_its_settings():
    from musegen.config import SampleConfig
    from musegen.pipeline import check_checker
    from musegen_abc.encoder import AbcCharEncoder

    class NoChecker:
        pass

    check_checker(AbcCharEncoder, SampleConfig(checker={"bar_retries": 0}))
    with pytest.raises(MusegenError, match="sample.checker.bar_retries"):
        check_checker(AbcCharEncoder, SampleConfig(checker={"bar_retries": -1}))
    with pytest.raises(MusegenError, match="has no checker settings"):
        check_checker(NoChecker(), SampleConfig(checker={"bar_retries": 2}))


def test_a_run_written_before_distribute_moved_to_the_model_still_opens(tmp_path):
    """``train.distribute`` became the lstm model's ``model.distribute``: older run.json files still read."""
    from musegen.pipeline import run_config
    from musegen.rundir import RunDir

    run = RunDir(tmp_path)
    config = resolve("tiny").model_dump()
    plain = {**config, "train": {**config["train"], "distribute": "none"}}
    assert run_config({"config": plain}, run) == resolve("tiny")
    spread = {**config, "train": {**config["train"], "distribute": "data-parallel"}}
    assert run_config({"config": spread}, run).options["model"]["distribute"] == "data-parallel"
    with pytest.raises(MusegenError, match="run.json is corrupt"):
        run_config({"config": {**config, "train": {**config["train"], "distribute": "none", "steps": "many"}}}, run)
