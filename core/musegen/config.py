"""Run configuration: presets from ``registry.toml``, ``--config`` files and ``--set key=value``.

Precedence, lowest first: each component's own defaults, the preset, a ``--config`` TOML file,
command-line flags, then ``--set`` overrides. The result is validated by pydantic models whose
defaults are the seed paper's values, and saved whole in the run's ``run.json``.
"""

from __future__ import annotations

import copy
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from musegen.errors import MusegenError, validation_message

ROLES = ("corpus", "encoder", "model")
SECTIONS = {"corpus": "corpora", "encoder": "encoders", "model": "models"}
BACKENDS = ("jax", "tensorflow", "torch")


RENDERERS = ("abc", "midi", "wav", "score", "page")
FORMER_RENDERERS = ["abc", "midi", "wav"]  # the default before sheet music and the page: such runs get today's


def renderers_of(cfg) -> list[str]:
    """The renderers ``gen generate`` uses for a run: its own, or today's default where it kept a former one."""
    return list(RENDERERS) if cfg.renderers == FORMER_RENDERERS else list(cfg.renderers)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


SEED_MAX = 2**32 - 1  # NumPy's and Keras's seeds are unsigned 32-bit
BIG = 10**9  # beyond any count a run can reach: a typo, not a setting


class TrainConfig(_Strict):
    """How a model is trained. Defaults are the seed paper's Table 1."""

    steps: int = Field(2000, ge=0, le=BIG, description="optimizer steps (the paper's 'iterations') on the corpus")
    pretrain_steps: int = Field(
        0, ge=0, le=BIG, description="steps on the run's pretrain corpora before those on the corpus"
    )
    batch_size: int = Field(32, ge=1, le=65536)
    seq_len: int = Field(400, ge=2, le=1_000_000, description="tokens per training window")
    learning_rate: float = Field(1e-3, gt=0, le=10)
    valid_fraction: float = Field(0.05, ge=0, lt=1, description="share of tunes held out (split by tune, fixed seed)")
    eval_every: int = Field(100, ge=1, le=BIG, description="steps between held-out evaluations and checkpoints")
    eval_tokens: int = Field(200_000, ge=1, le=BIG, description="cap on held-out tokens scored at each evaluation")
    patience: int = Field(
        0, ge=0, le=BIG, description="stop after this many evaluations without improvement (0: never)"
    )
    clipnorm: float | None = Field(None, gt=0, description="gradient-norm clipping")
    schedule: str = Field(
        "constant",
        pattern="^(constant|cosine)$",
        description="learning rate: constant, or cosine decay to 10% over the steps",
    )
    warmup_steps: int = Field(0, ge=0, le=BIG, description="linear warm-up from 0 (cosine schedule only)")
    augment: str = Field(
        "all",
        pattern="^(all|pretrain)$",
        description="which training pieces get the encoder's augmented copies (e.g. transposed): "
        "all, or only the pretrain corpora (the corpus keeps its own keys)",
    )
    seed: int = Field(0, ge=0, le=SEED_MAX, description="set from the run's seed")

    @property
    def total_steps(self) -> int:
        return self.pretrain_steps + self.steps


class SampleConfig(_Strict):
    """How tunes are sampled from a trained model."""

    tunes: int = Field(5, ge=1, le=100_000)
    max_len: int = Field(2500, ge=1, le=1_000_000, description="tokens per tune at most")
    temperature: float = Field(1.0, ge=0.01, le=100, description="below 1: safer, above: wilder")
    top_k: int = Field(0, ge=0, le=BIG, description="0: off")
    top_p: float = Field(1.0, gt=0, le=1)
    prime: str = Field("", description="text every tune starts with, e.g. 'X:1\\nM:6/8\\n'")
    seed: int | None = Field(None, ge=0, le=SEED_MAX, description="defaults to the run's seed")
    valid_only: bool = Field(
        False,
        description="re-sample tunes that fail the validity check (abc2midi errors, "
        "MIDI repairs); the rejection rate is reported",
    )
    max_rounds: int = Field(10, ge=1, le=1000, description="re-sampling rounds at most, with valid_only")
    check_bars: bool = Field(
        True,
        description="check each unit as it is drawn with the encoder's checker and draw "
        "again the ones it refuses (abc-char: bars abc2midi finds too long or "
        "too short); the share drawn again is reported",
    )
    checker: dict[str, Any] = Field(
        default_factory=dict,
        description="settings of the encoder's checker (abc-char: bar_retries, "
        "header_temperature; see gen components --options)",
    )
    type: str | None = Field(
        None,
        description="tune type to write: reel, jig, hornpipe, ... (ABC runs with controls; "
        "None: drawn as the corpus has them)",
    )
    meter: str | None = Field(None, description="meter to write, e.g. 6/8 (None: drawn as the corpus has them)")
    key: str | None = Field(
        None, description="key with its mode, e.g. G, Dmix, Ador, Em (None: drawn as the corpus has them)"
    )
    parts: int | None = Field(None, ge=1, le=32, description="parts per tune (None: drawn as the corpus has them)")
    bars: int | None = Field(None, ge=1, le=256, description="bars per part (None: drawn as the corpus has them)")
    check_form: bool = Field(
        True,
        description="hold each tune to its controls while sampling: meter, key and type in "
        "its header, each part the bars asked, the end after the last part",
    )

    @model_validator(mode="before")
    @classmethod
    def _moved(cls, data: Any) -> Any:
        """Settings of the ABC checker that were sampling settings before it owned them (older run.json
        files, ``--set sample.bar_retries=4``): read as ``sample.checker.<name>``."""
        if isinstance(data, dict) and any(k in data for k in MOVED_TO_CHECKER):
            data = dict(data)
            moved = {k: data.pop(k) for k in MOVED_TO_CHECKER if k in data}
            data["checker"] = {**dict(data.get("checker") or {}), **moved}
        return data


MOVED_TO_CHECKER = ("bar_retries", "header_temperature")


class RunConfig(_Strict):
    corpus: str = "oneills"
    encoder: str = "abc-char"
    model: str = "lstm"
    renderers: list[str] = Field(default_factory=lambda: list(RENDERERS))
    seed: int = Field(0, ge=0, le=SEED_MAX)
    backend: str = "jax"
    valid: str | None = Field(None, description="a file of held-out tunes; default: split from the corpus")
    pretrain: list[str] = Field(
        default_factory=list,
        description="corpora (names or paths) to train on first, "
        "for train.pretrain_steps, before fine-tuning on the corpus",
    )
    options: dict[str, dict[str, Any]] = Field(default_factory=dict, description="per-role component options")
    render: dict[str, dict[str, Any]] = Field(default_factory=dict, description="options per renderer name")
    train: TrainConfig = Field(default_factory=TrainConfig)
    sample: SampleConfig = Field(default_factory=SampleConfig)


def parse_value(text: str) -> Any:
    """Read ``--set`` values as TOML literals (``512``, ``0.5``, ``true``, ``["N","B"]``), else a string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def parse_sets(items: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise MusegenError(f"--set expects key=value (like model.units=512), got '{item}'")
        out[key] = parse_value(value.strip())
    return out


def presets() -> dict[str, dict]:
    from musegen.plugins import registry_file

    return registry_file().get("presets", {})


def _merge(base: dict, top: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _apply_dotted(raw: dict, key: str, value: Any) -> None:
    head, _, rest = key.partition(".")
    if head in ROLES and rest:
        raw.setdefault("_role_sets", {}).setdefault(head, {})[rest] = value
    elif head == "sample" and rest.startswith("checker.") and rest.count(".") == 1:  # the encoder's checker
        raw.setdefault("sample", {}).setdefault("checker", {})[rest.partition(".")[2]] = value
    elif head in ("train", "sample") and rest:
        raw.setdefault(head, {})[rest] = value
    elif head == "render" and rest:  # render.<renderer>.<option>, or render.<option>: every renderer with it
        name, _, opt = rest.rpartition(".")
        raw.setdefault("render", {}).setdefault(name or "*", {})[opt] = value
    elif not rest:
        raw[head] = value
    else:
        raise MusegenError(
            f"--set {key}: unknown section '{head}' (use corpus., encoder., model., train., sample., render.)"
        )


def _plugin_preset(role: str, name, preset: str | None) -> dict:
    """The options a component's plugin gives it in ``preset`` (``register(..., presets={"tiny": {...}})``);
    registry.toml's own table for it, files and --set go on top."""
    if not preset or not isinstance(name, str):
        return {}
    from musegen.plugins import get_registry

    reg = get_registry()
    if not reg.has(role, name):
        return {}  # an unknown name is reported where the component is built
    fragment = reg.get(role, name).presets.get(preset, {})
    return dict(fragment) if isinstance(fragment, dict) else {}


def resolve(
    preset: str | None = "default",
    config_file: str | Path | None = None,
    flags: dict[str, Any] | None = None,
    sets: dict[str, Any] | None = None,
) -> RunConfig:
    """Build the run configuration from a preset, a TOML file, flags and ``--set`` overrides."""
    raw: dict[str, Any] = {}
    table = presets()
    if preset:
        if preset not in table:
            from musegen.errors import UnknownComponent

            raise UnknownComponent("preset", preset, table)
        raw = _merge(raw, {k: v for k, v in table[preset].items() if k != "description"})
    if config_file:
        path = Path(config_file)
        try:
            raw = _merge(raw, tomllib.loads(path.read_text(encoding="utf-8")))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise MusegenError(f"cannot read config file {path}: {exc}") from None
    for key, value in (flags or {}).items():
        if value is not None:
            _apply_dotted(raw, key, value)
    for key, value in (sets or {}).items():
        _apply_dotted(raw, key, value)
    role_sets = raw.pop("_role_sets", {})
    # Component options: [role.<name>] tables from presets/files apply only to the chosen component.
    options: dict[str, dict] = {}
    for role in ROLES:
        section = raw.pop(SECTIONS[role], None) or {}
        name = raw.get(role, RunConfig.model_fields[role].default)
        if not isinstance(section, dict):
            raise MusegenError(f"'{SECTIONS[role]}' must be a table of per-{role} options")
        own = section.get(name, {}) if isinstance(name, str) else {}
        if not isinstance(own, dict):
            raise MusegenError(f"'{SECTIONS[role]}.{name}' must be a table of options, not {own!r}")
        options[role] = {**_plugin_preset(role, name, preset), **own, **role_sets.get(role, {})}
    raw["options"] = options
    try:
        cfg = RunConfig(**raw)
    except ValidationError as exc:
        raise MusegenError(validation_message(exc)) from None
    if cfg.backend not in BACKENDS:
        raise MusegenError(f"unknown backend '{cfg.backend}'. Known backends: {', '.join(BACKENDS)}")
    return cfg
