"""The pipeline: corpus → encoder → model → run dir; run dir → pieces → renderers and evaluators.

These functions are musegen's Python API (re-exported from ``musegen``); the CLI is a thin layer on
top of them.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import os
import random
import re
import sys
import time
from pathlib import Path

from musegen import interrupts, process
from musegen.config import RunConfig, SampleConfig
from musegen.errors import MusegenError, UnknownComponent, validation_message
from musegen.files import user_path
from musegen.interfaces import Loaded, NullProgress, Progress, Rendered, TrainData
from musegen.piece import Piece
from musegen.plugins import get_manager, get_registry, musegen_version
from musegen.rundir import RunDir, check_writable, remove_if_empty

CONTROLS = ("type", "meter", "key", "parts", "bars")  # SampleConfig's: what a user may ask a tune to be
PATH_CORPORA = {".abc": "path", ".mid": "midi-path", ".midi": "midi-path"}


def path_corpus(path: Path) -> str:
    """The corpus that reads ``path``: by its suffix, or for a folder by the most common suffix inside."""
    if path.is_dir():
        from musegen.files import corpus_files

        counts = {}
        for f in corpus_files(path, tuple(PATH_CORPORA)):
            name = PATH_CORPORA[f.suffix.lower()]
            counts[name] = counts.get(name, 0) + 1
        return max(counts, key=counts.get) if counts else "path"
    return PATH_CORPORA.get(path.suffix.lower(), "path")


def absolute_paths(cfg: RunConfig) -> RunConfig:
    """``cfg`` with each corpus, held-out file and SoundFont given as a path made absolute, so that the
    run can be resumed and evaluated from any folder."""
    reg = get_registry()

    def absolute(name: str) -> str:
        if reg.has("corpus", name):
            return name
        path = user_path(name, "corpus")
        return str(path.resolve()) if path.exists() else name

    update = {"corpus": absolute(cfg.corpus), "pretrain": [absolute(c) for c in cfg.pretrain]}
    if cfg.valid:
        update["valid"] = absolute(cfg.valid)
    wav = cfg.render.get("wav", {})
    if isinstance(wav.get("soundfont"), str) and wav["soundfont"]:
        update["render"] = {
            **cfg.render,
            "wav": {**wav, "soundfont": str(user_path(wav["soundfont"], "soundfont").resolve())},
        }
    return cfg.model_copy(update=update)


def use_backend(name: str) -> None:
    """Choose the Keras backend, then apply the plugins' process settings (:mod:`musegen.process`); must
    happen before anything imports keras."""
    current = sys.modules.get("keras")
    if current is not None:
        active = current.backend.backend()
        if active != name:
            raise MusegenError(f"keras is already running on '{active}', cannot switch to '{name}' in this process")
    else:
        os.environ["KERAS_BACKEND"] = name
    process.setup()


def corpus_component(cfg: RunConfig):
    """The corpus component and its options: a registered name, or a path to files."""
    reg = get_registry()
    options = dict(cfg.options.get("corpus", {}))
    if reg.has("corpus", cfg.corpus):
        return reg.get("corpus", cfg.corpus), options
    path = user_path(cfg.corpus, "the corpus")
    if path.exists() or any(sep in cfg.corpus for sep in ("/", os.sep)) or path.suffix:
        if not path.exists():
            raise MusegenError(f"corpus path {path} does not exist")
        options["path"] = str(path)
        return reg.get("corpus", path_corpus(path)), options
    unknown = UnknownComponent("corpus", cfg.corpus, [*reg.components["corpus"], *reg.aliases["corpus"]])
    raise MusegenError(f"{unknown} (or give a path to an .abc file or folder)")


def load_corpus(cfg: RunConfig) -> tuple[Loaded, dict]:
    comp, options = corpus_component(cfg)
    config = comp.make_config(options)
    loaded = comp.build(config).load()
    if not loaded.pieces:
        why = (
            f"; {len(loaded.skipped)} skipped, first: {loaded.skipped[0][0]}: {loaded.skipped[0][1]}"
            if loaded.skipped
            else ""
        )
        raise MusegenError(f"corpus '{cfg.corpus}' has no readable tunes{why}")
    return loaded, {"name": comp.name, "plugin": comp.plugin, "config": config.model_dump()}


def split(pieces: list[Piece], fraction: float, seed: int = 0) -> tuple[list[Piece], list[Piece]]:
    """Split by tune with a fixed seed; at least one tune on each side when there are two or more."""
    order = list(range(len(pieces)))
    random.Random(seed).shuffle(order)
    n_valid = min(len(pieces) - 1, max(1, round(len(pieces) * fraction))) if len(pieces) > 1 else 0
    valid = sorted(order[:n_valid])
    valid_set = set(valid)
    return [p for i, p in enumerate(pieces) if i not in valid_set], [pieces[i] for i in valid]


def corpus_hash(pieces: list[Piece]) -> str:
    h = hashlib.sha256()
    for p in pieces:
        h.update(p.text.encode("utf-8") if p.format == "abc" else (p.midi or b""))
        h.update(b"\0")
    return h.hexdigest()


def _versions() -> dict[str, str]:
    return {name: info.version for name, info in get_manager().info.items() if not info.error}


def encoder_name(cfg: RunConfig) -> str:
    return get_registry().get("encoder", cfg.encoder).name


def check(cfg: RunConfig) -> None:
    """Fail fast, before any work or output: every component exists and its options are valid."""
    reg = get_registry()
    comp, options = corpus_component(cfg)
    comp.make_config(options)
    for name in [*cfg.pretrain, *([cfg.valid] if cfg.valid else [])]:
        corpus_component(with_corpus(cfg, name))
    if bool(cfg.pretrain) != bool(cfg.train.pretrain_steps):
        raise MusegenError("pre-training needs both pretrain corpora (pretrain = [...]) and train.pretrain_steps > 0")
    reg.get("encoder", cfg.encoder).make_config(cfg.options.get("encoder"))
    model_comp = reg.get("model", cfg.model)
    model_options = model_comp.make_config(cfg.options.get("model"))
    model_class = model_comp.load()
    if hasattr(model_class, "check"):  # what a model cannot do with these settings (a backend, say)
        model_class.check(model_options, cfg)
    make_renderers(cfg.renderers, cfg.render)  # a missing SoundFont fails now, not after training
    for name in cfg.render:
        if name != "*":
            reg.get("renderer", name)


def with_corpus(cfg: RunConfig, corpus: str, options: dict | None = None) -> RunConfig:
    """``cfg`` reading another corpus (held-out tunes, a pretrain corpus) with that corpus's own
    default options, or ``options``."""
    return cfg.model_copy(update={"corpus": corpus, "options": {**cfg.options, "corpus": options or {}}})


def corpus_split(cfg: RunConfig):
    """The run's training and held-out tunes: a --valid file, else a fixed split of the corpus."""
    loaded, corpus_info = load_corpus(cfg)
    if cfg.valid:
        held, _ = load_corpus(with_corpus(cfg, cfg.valid))
        fmt, held_fmt = loaded.pieces[0].format, held.pieces[0].format
        if held_fmt != fmt:
            raise MusegenError(f"--valid {cfg.valid} holds {held_fmt} pieces but the corpus holds {fmt}")
        return loaded.pieces, held.pieces, loaded, corpus_info
    train_p, valid_p = split(loaded.pieces, cfg.train.valid_fraction)
    return train_p, valid_p, loaded, corpus_info


def _title_key(title: str) -> str:
    return re.sub(r"^the", "", re.sub(r"[^a-z]", "", title.lower()))


def pretrain_pieces(cfg: RunConfig, held_out: list[Piece], fmt: str) -> tuple[list[Piece], dict]:
    """The pieces of the run's ``pretrain`` corpora, less any titled like a held-out tune (the same
    tune in another transcription would flatter the held-out loss)."""
    if not cfg.pretrain:
        return [], {}
    titles = {_title_key(p.title) for p in held_out} - {""}
    pieces: list[Piece] = []
    info: dict = {"corpora": [], "dropped_same_title_as_held_out": 0}
    for name in cfg.pretrain:
        loaded, ci = load_corpus(with_corpus(cfg, name))
        if loaded.pieces[0].format != fmt:
            raise MusegenError(f"pretrain corpus '{name}' holds {loaded.pieces[0].format} pieces, the corpus {fmt}")
        kept = [p for p in loaded.pieces if _title_key(p.title) not in titles]
        info["dropped_same_title_as_held_out"] += len(loaded.pieces) - len(kept)
        info["corpora"].append({"name": ci["name"], "tunes": len(kept), "skipped": len(loaded.skipped)})
        pieces += kept
    return pieces, info


def prepare(cfg: RunConfig):
    """Load the corpus, split it, fit the encoder; returns (encoder, data, corpus info, components)."""
    reg = get_registry()
    enc_comp = reg.get("encoder", cfg.encoder)
    model_comp = reg.get("model", cfg.model)
    enc_cfg = enc_comp.make_config(cfg.options.get("encoder"))
    model_cfg = model_comp.make_config(cfg.options.get("model"))
    train_p, valid_p, loaded, corpus_info = corpus_split(cfg)
    encoder = enc_comp.build(enc_cfg)
    if getattr(encoder, "format", "abc") != loaded.pieces[0].format:
        raise MusegenError(
            f"encoder '{enc_comp.name}' reads {encoder.format} pieces "
            f"but corpus '{cfg.corpus}' holds {loaded.pieces[0].format}"
        )
    pre_p, pre_info = pretrain_pieces(cfg, valid_p, loaded.pieces[0].format)
    corpus_p = train_p
    if hasattr(encoder, "augment"):  # e.g. transposed copies; held-out tunes stay as they are
        if cfg.train.augment == "all":
            train_p = encoder.augment(train_p)
        pre_p = encoder.augment(pre_p)
    encoder.fit(pre_p + train_p + valid_p)
    if hasattr(encoder, "learn_controls"):  # what --type, --key, ... draw from when left out: the corpus's own tunes
        encoder.learn_controls(corpus_p)
    data = TrainData(
        train=[encoder.encode(p) for p in train_p],
        valid=[encoder.encode(p) for p in valid_p],
        end_id=encoder.end_id,
        vocab_size=encoder.vocab_size,
        pretrain=[encoder.encode(p) for p in pre_p],
    )
    corpus_info.update(
        sha256=corpus_hash(train_p),
        tunes_train=len(train_p),
        tunes_valid=len(valid_p),
        skipped=len(loaded.skipped),
        skipped_examples=[f"{a}: {b}" for a, b in loaded.skipped[:20]],
        tokens_train=sum(map(len, data.train)),
        tokens_valid=sum(map(len, data.valid)),
    )
    if pre_info:
        corpus_info["pretrain"] = {**pre_info, "tunes_with_copies": len(pre_p), "tokens": sum(map(len, data.pretrain))}
    components = {
        "encoder": {"name": enc_comp.name, "plugin": enc_comp.plugin, "config": enc_cfg.model_dump()},
        "model": {"name": model_comp.name, "plugin": model_comp.plugin, "config": model_cfg.model_dump()},
    }
    return encoder, data, corpus_info, components, model_comp, model_cfg


def train(
    cfg: RunConfig,
    out: str | os.PathLike,
    progress: Progress | None = None,
    force: bool = False,
) -> RunDir:
    """Train a new run into ``out`` and return its run directory.

    Nothing is written before every input has been read and checked. ``force`` replaces a run already in
    ``out``: the files musegen wrote there, never another. A run that fails before its first checkpoint
    leaves nothing behind (no ``run.json`` that would block the next try).
    """
    progress = progress or NullProgress()
    check(cfg)
    cfg = absolute_paths(cfg)
    run = RunDir(user_path(out, "the output folder"))
    _check_free(run, force)
    check_writable(run.path)
    encoder, data, corpus_info, components, model_comp, model_cfg = prepare(cfg)
    check_controls(encoder, cfg.sample)  # a --type the corpus lacks fails now, not after training
    check_checker(encoder, cfg.sample)
    if data.pretrain and not getattr(model_comp.load(), "can_pretrain", False):  # declared: see interfaces.Model
        raise MusegenError(
            f"model '{model_comp.name}' cannot pre-train (it does not declare can_pretrain); "
            "leave out pretrain and train.pretrain_steps"
        )
    created, started = not run.path.exists(), False
    try:
        with run.locked():
            _check_free(run, force)  # again: now no other process can be writing it
            if force and (run.path / "run.json").exists():
                removed = run.remove_own()
                progress.log(
                    f"--force: replaced the run in {run.path} ({len(removed)} files musegen wrote; any others are kept)"
                )
            progress.log(
                f"musegen: training {model_comp.name} on {cfg.corpus} with {encoder_name(cfg)} ({cfg.backend} "
                f"backend) into {run.path}\ncorpus {corpus_info['name']}: {corpus_info['tunes_train']} train / "
                f"{corpus_info['tunes_valid']} valid tunes, {corpus_info['skipped']} skipped; vocabulary "
                f"{encoder.vocab_size}"
            )
            started = True
            run.write_manifest(
                {
                    "musegen": musegen_version(),
                    "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
                    "config": cfg.model_dump(),
                    "components": {"corpus": {k: corpus_info[k] for k in ("name", "plugin", "config")}, **components},
                    "plugins": _versions(),
                    "corpus": {k: v for k, v in corpus_info.items() if k not in ("plugin", "config")},
                    "encoder_state": encoder.state(),
                    "vocab_size": encoder.vocab_size,
                    "seed": cfg.seed,
                    "backend": cfg.backend,
                    "python": sys.version.split()[0],
                }
            )
            use_backend(cfg.backend)
            with interrupts.deferred():  # starting a backend (JAX) is native code a signal must not cut short
                model = model_comp.build(model_cfg, encoder.vocab_size)
            return _fit(model, data, cfg, run, progress)
    except BaseException as exc:
        if isinstance(exc, KeyboardInterrupt):  # caught here: not to be raised again while cleaning up
            interrupts.caught()
        if started and not run.has_checkpoint():  # nothing trained: leave nothing that blocks the next try
            run.remove_own()
        if created:
            remove_if_empty(run.path)
        raise


def _check_free(run: RunDir, force: bool) -> None:
    if (run.path / "run.json").exists() and not force:  # a look, not a write: run.file() would record it
        raise MusegenError(f"{run.path} already holds a run: choose another --out, pass --force, or --resume it")


def _fit(model, data, cfg: RunConfig, run: RunDir, progress: Progress) -> RunDir:
    t0 = time.perf_counter()
    result = model.fit(data, cfg.train.model_copy(update={"seed": cfg.seed}), run, progress)
    if result.history and not (run.path / "history.csv").is_file():  # a model with a loop of its own
        from musegen.training import HISTORY, write_history

        write_history(run.file(HISTORY), result.history)
    run.update_manifest(
        result={
            "steps": result.steps,
            "best_valid_loss": result.best_valid_loss,
            "last_train_loss": result.last_train_loss,
            "stopped_early": result.stopped_early,
            "evaluations": len(result.history),
            "seconds": round(time.perf_counter() - t0, 2),
        },
        config=cfg.model_dump(),
    )
    return run


def resume(run_path: str | os.PathLike, steps: int | None = None, progress: Progress | None = None) -> RunDir:
    """Continue training a run from its last checkpoint, optionally to a new total of ``steps``."""
    progress = progress or NullProgress()
    run = RunDir.open(user_path(run_path, "the run directory"))
    manifest = run.manifest()
    cfg = run_config(manifest, run)
    if steps is not None:
        cfg = run_config(
            {"config": {**cfg.model_dump(), "train": {**cfg.train.model_dump(), "steps": steps}}}, run, what="--steps"
        )
    with run.locked():
        for stale in run.remove_stale_temp_files():
            progress.log(f"removed {stale.name}, left by an interrupted write")
        encoder, data, corpus_info, components, model_comp, model_cfg = prepare(cfg)
        if not getattr(model_comp.load(), "can_resume", False):  # declared, never guessed: see interfaces.Model
            raise MusegenError(
                f"model '{model_comp.name}' cannot resume training (it does not declare can_resume); "
                f"{run.path} is left as it is"
            )
        if corpus_info["sha256"] != manifest.get("corpus", {}).get("sha256"):
            raise MusegenError(f"the corpus of {run.path} has changed since the run started; cannot resume")
        if encoder.state() != manifest["encoder_state"]:
            raise MusegenError(f"the vocabulary of {run.path} does not match its corpus any more; cannot resume")
        use_backend(cfg.backend)
        model = model_comp.load().load(model_cfg, encoder.vocab_size, run, "last")
        return _fit(model, data, cfg, run, progress)


def upgraded(config: dict) -> dict:
    """A run's saved configuration in today's terms, so that runs written by earlier versions still open."""
    train, options = config.get("train"), config.get("options", {})
    if not (isinstance(train, dict) and "distribute" in train and isinstance(options, dict)):
        return config  # nothing to move, or not a configuration: validation says which
    distribute = train["distribute"]  # now the lstm model's own setting, model.distribute
    if distribute != "none":
        model = options.get("model") if isinstance(options.get("model"), dict) else {}
        options = {**options, "model": {"distribute": distribute, **model}}
    train = {k: v for k, v in train.items() if k != "distribute"}
    return {**config, "train": train, "options": options}


def run_config(manifest: dict, run: RunDir, what: str = "") -> RunConfig:
    """The run's configuration, validated; a ``run.json`` musegen would refuse is one line of error."""
    from pydantic import ValidationError

    try:
        return RunConfig(**upgraded(manifest["config"]))
    except ValidationError as exc:
        if what:
            raise MusegenError(f"{what}: {validation_message(exc)}") from None
        raise MusegenError(f"{run.file('run.json')} is corrupt: {validation_message(exc)}") from None


def load_encoder(enc_comp, manifest: dict, where: Path):
    """The run's encoder with its saved vocabulary; a state written by another encoder fails clearly."""
    problem = ""
    try:
        encoder = enc_comp.build(manifest["components"]["encoder"]["config"])
        encoder.load_state(manifest["encoder_state"])
        if encoder.vocab_size != manifest.get("vocab_size", encoder.vocab_size):
            problem = f"{encoder.vocab_size} symbols where the run had {manifest['vocab_size']}"
    except MusegenError as exc:
        problem = str(exc)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        problem = f"{type(exc).__name__}: {exc}"
    if problem:
        raise MusegenError(
            f"{where}: the saved vocabulary does not fit encoder '{enc_comp.name}' ({problem}); "
            "is it a run directory from another encoder?"
        )
    return encoder


def load_run(
    run_path: str | os.PathLike, backend: str | None = None, tag: str = "best", model_options: dict | None = None
):
    """Open a run directory; return (run, config, encoder, model).

    ``model_options`` change the model's settings for this use of it; only settings its config marks
    as sampling settings (:func:`sampling_settings`) can change, the rest is fixed by the trained run.
    """
    run = RunDir.open(user_path(run_path, "the run directory"))
    manifest = run.manifest()
    cfg = run_config(manifest, run)
    reg = get_registry()
    enc_comp = reg.get("encoder", manifest["components"]["encoder"]["name"])
    model_comp = reg.get("model", manifest["components"]["model"]["name"])
    encoder = load_encoder(enc_comp, manifest, run.file("run.json"))
    use_backend(backend or cfg.backend)
    options = dict(manifest["components"]["model"]["config"])
    if model_options:
        allowed = sampling_settings(model_comp.config)
        fixed = sorted(set(model_options) - set(allowed))
        if fixed:
            can = f"only {', '.join('model.' + k for k in allowed)} can" if allowed else "none of its settings can"
            raise MusegenError(f"model.{fixed[0]} is fixed by the trained run; {can} change when sampling")
        options.update(model_options)
    model_cfg = model_comp.make_config(options)
    model = model_comp.load().load(model_cfg, encoder.vocab_size, run, tag)
    return run, cfg, encoder, model


def sampling_settings(config_cls) -> list[str]:
    """The fields of a model's config that choose how it samples, not what it learned: those with
    ``json_schema_extra={"sampling": True}`` (``gen generate --set model.<field>=...`` may change them)."""
    fields = getattr(config_cls, "model_fields", {})
    return [
        name
        for name, f in fields.items()
        if isinstance(f.json_schema_extra, dict) and f.json_schema_extra.get("sampling")
    ]


def generate(
    run_path: str | os.PathLike,
    sample: SampleConfig | dict | None = None,
    backend: str | None = None,
    model: dict | None = None,
) -> list[Piece]:
    """Sample new pieces from a trained run. ``model``: sampling settings of the model to change for
    this call (``{"sampler": "numpy-int8"}``, say; see :func:`load_run`)."""
    return sample_run(load_run(run_path, backend, model_options=model), sample)


def sample_run(loaded: tuple, sample: SampleConfig | dict | None = None) -> list[Piece]:
    """Sample new pieces from a run already opened by :func:`load_run` (its ``(run, config, encoder,
    model)``), so that a caller who also scores the model loads it once."""
    _, cfg, encoder, model = loaded
    if not isinstance(sample, SampleConfig):  # overrides validated with the rest: an unknown name is an error
        base, over = cfg.sample.model_dump(), dict(sample or {})
        if isinstance(over.get("checker"), dict):  # one checker setting changed: the run's others stay
            over["checker"] = {**base["checker"], **over["checker"]}
        sample = SampleConfig(**{**base, **over})
    options = sample
    if options.seed is None:
        options = options.model_copy(update={"seed": cfg.seed})
    controlled = check_controls(encoder, options)
    check_checker(encoder, options)

    def draw(opts: SampleConfig) -> list[Piece]:
        primes = encoder.primes(opts) if controlled else [encoder.encode_prime(opts.prime)] * opts.tunes
        checker = encoder.checker(opts) if hasattr(encoder, "checker") and _takes_checker(model) else None
        try:
            sequences = sample_primes(model, primes, opts, encoder.end_id, checker)
        finally:
            if checker is not None:
                checker.close()
        out = []
        refused = checker.stats.get("refused", []) if checker is not None else []
        if len(refused) != len(primes):  # not one count a tune, in order (a model sampled by groups)
            refused = [None] * len(primes)
        for prime, ids, redrawn in zip(primes, sequences, refused):
            complete = bool(ids) and ids[-1] == encoder.end_id  # ended by the model, not cut at max_len
            piece = encoder.decode(prime + (ids[:-1] if complete else ids))
            piece.meta["complete"] = complete
            if checker is not None and opts.check_bars:
                piece.meta["bar_check"] = {k: v for k, v in checker.stats.items() if k != "refused"}
            if redrawn is not None:
                piece.meta["redrawn"] = redrawn  # units the checker refused and the model drew again
            if checker is None and opts.check_bars and hasattr(encoder, "checker"):
                piece.meta["unchecked"] = (
                    f"bar check not done: model '{cfg.model}' samples without a checker "
                    "(its sample() takes no checker=)"
                )
            out.append(piece)
        return out

    pieces = draw(options)
    if options.valid_only:
        pieces, stats = _resample_invalid(pieces, options, draw, encoder)
        for p in pieces:
            p.meta["valid_only"] = stats
    for i, piece in enumerate(pieces):
        piece.meta["index"] = i + 1
    return pieces


def check_checker(encoder, options: SampleConfig) -> None:
    """``sample.checker`` holds settings of the encoder's checker (its declared ``checker_config``)."""
    settings = getattr(encoder, "checker_config", None)
    if options.checker and settings is None:
        raise MusegenError(
            f"sample.checker: encoder {type(encoder).__name__} has no checker settings "
            f"(got {', '.join(sorted(options.checker))})"
        )
    if settings is not None:
        from pydantic import ValidationError

        try:
            settings(**options.checker)
        except ValidationError as exc:
            raise MusegenError(validation_message(exc, "sample.checker")) from None


def check_controls(encoder, options: SampleConfig) -> bool:
    """Whether the encoder makes each tune's prime from its controls (type, meter, key, parts, bars).
    A control the corpus never uses, or one asked of an encoder without them, is an error now."""
    asked = [name for name in CONTROLS if getattr(options, name) is not None]
    controlled = hasattr(encoder, "primes") and encoder.primes(options.model_copy(update={"tunes": 1})) is not None
    if asked and not controlled:
        flags = " ".join(f"--{name}" for name in asked)
        fmt = getattr(encoder, "format", "abc")
        why = (
            "controls apply to ABC tunes, not MIDI pieces"
            if fmt == "midi"
            else "controls apply to abc-char runs trained with them (encoder.controls = true)"
        )
        raise MusegenError(f"{flags}: this run's tunes cannot be asked for; {why}")
    return controlled


def sample_primes(model, primes: list[list[int]], options: SampleConfig, end_id: int, checker=None) -> list[list[int]]:
    """``model.sample`` for tunes that each have their own prime: in one call where the model declares
    ``prime_per_tune``, else one call for each different prime (its tunes, with a seed of its own)."""
    extra = {"checker": checker} if checker is not None else {}
    if len({tuple(p) for p in primes}) <= 1:
        return model.sample(primes[0] if primes else [], options, end_id, **extra)
    if getattr(model, "prime_per_tune", False):
        return model.sample(primes, options, end_id, **extra)
    groups: dict[tuple, list[int]] = {}
    for i, prime in enumerate(primes):
        groups.setdefault(tuple(prime), []).append(i)
    out: list[list[int]] = [[] for _ in primes]
    for g, (prime, where) in enumerate(groups.items()):
        opts = options.model_copy(update={"tunes": len(where), "seed": ((options.seed or 0) + 7919 * g) % 2**32})
        for i, ids in zip(where, model.sample(list(prime), opts, end_id, **extra)):
            out[i] = ids
    return out


def _takes_checker(model) -> bool:
    import inspect

    return "checker" in inspect.signature(model.sample).parameters


def is_valid(piece: Piece, encoder=None) -> bool:
    """It ended, it is what was asked (its controls), and its encoder finds it playable where the encoder
    can tell (``encoder.valid``: abc2midi's verdict for ABC, no repairs for MIDI)."""
    if not piece.meta.get("complete", True) or piece.meta.get("missed"):
        return False
    valid = getattr(encoder, "valid", None)
    return valid is None or bool(valid(piece))


def _resample_invalid(pieces: list[Piece], options: SampleConfig, draw, encoder) -> tuple[list[Piece], dict]:
    """Keep valid pieces, re-sample the rest (new seeds) for up to ``max_rounds`` rounds."""
    kept = [p for p in pieces if is_valid(p, encoder)]
    drawn, rounds = len(pieces), 1
    while len(kept) < options.tunes and rounds < options.max_rounds:
        missing = options.tunes - len(kept)
        more = draw(options.model_copy(update={"tunes": missing, "seed": (options.seed or 0) + 1000 * rounds}))
        drawn += len(more)
        kept += [p for p in more if is_valid(p, encoder)]
        rounds += 1
    stats = {
        "drawn": drawn,
        "kept": len(kept),
        "rejected": drawn - len(kept),
        "rounds": rounds,
        "rejection_pct": round(100.0 * (drawn - len(kept)) / drawn, 1),
    }
    if len(kept) < options.tunes:
        stats["short_by"] = options.tunes - len(kept)
    return kept[: options.tunes], stats


def make_renderers(names: list[str], options: dict | None = None) -> dict:
    """Build renderers by name, failing on unknown names or bad options before any work is done."""
    reg = get_registry()
    comps = [reg.get("renderer", name) for name in names]
    options = dict(options or {})
    shared = options.pop("*", {})  # render.<option>: each chosen renderer that has the option
    for opt in shared:
        if not any(opt in getattr(c.config, "model_fields", {}) for c in comps):
            raise MusegenError(
                f"render.{opt}: none of the renderers {', '.join(c.name for c in comps)} has this setting"
            )
    built = {}
    for comp in comps:
        fields = getattr(comp.config, "model_fields", {})
        mine = {k: v for k, v in shared.items() if k in fields}
        built[comp.name] = comp.build({**mine, **(options.get(comp.name) or {})})
    return built


def render(
    pieces: list[Piece], out_dir: str | os.PathLike, renderers: list[str] | dict, options: dict | None = None
) -> dict[str, Rendered]:
    """Write ``pieces`` with each renderer (names, or built by :func:`make_renderers`); a renderer that
    does not apply to the pieces' format is skipped, and its result says why."""
    from musegen.rundir import locked, record

    built = renderers if isinstance(renderers, dict) else make_renderers(renderers, options)
    results: dict[str, Rendered] = {}
    with locked(user_path(out_dir, "the output folder")) as out:
        ordered = sorted(built.items(), key=lambda item: bool(getattr(item[1], "after_others", False)))
        for name, renderer in ordered:  # a renderer of the others' files (a page of them) goes last
            usable = [p for p in pieces if p.format in renderer.formats]
            if not usable:
                fmt = pieces[0].format if pieces else "no"
                results[name] = Rendered(skipped=f"not for {fmt} pieces")
                continue
            results[name] = res = renderer.render(usable, out)
            record(out, [Path(f).name for f in res.files if Path(f).parent == out])  # what --force may replace
    return results


def evaluate(pieces: list[Piece], evaluators: list[str], reference: list[Piece] | None = None) -> dict[str, float]:
    reg = get_registry()
    out: dict[str, float] = {}
    for name in evaluators:
        ev = reg.get("evaluator", name).build()
        if pieces and pieces[0].format in ev.formats:
            out.update(ev.evaluate(pieces, reference or []))
    return out
