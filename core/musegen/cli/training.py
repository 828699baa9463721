"""``gen run``, ``gen train`` and ``gen generate``."""

from __future__ import annotations

import datetime as _dt
import os
import time
from pathlib import Path

import typer

from musegen.cli.base import app, chosen_backend, friendly
from musegen.errors import MusegenError

CORPUS = typer.Option(
    None,
    "--corpus",
    "-c",
    help="Corpus name (gen components) or a path to .abc or .mid files, or a folder of them. [default: oneills]",
)
ENCODER = typer.Option(None, "--encoder", "-e", help="Encoder name. [default: abc-char]")
MODEL = typer.Option(None, "--model", "-m", help="Model name. [default: lstm]")
PRESET = typer.Option("default", "--preset", "-p", help="Preset from registry.toml: default, quality, paper, tiny, ...")
CONFIG = typer.Option(None, "--config", help="A TOML file of settings (same sections as a preset).")
STEPS = typer.Option(None, "--steps", help="Training steps (the paper's iterations).")
SEED = typer.Option(None, "--seed", help="Random seed for training and sampling. [default: 0]")
SETS = typer.Option(
    None,
    "--set",
    "-s",
    metavar="KEY=VALUE",
    help="Override any setting: model.units=512, train.batch_size=16, sample.top_p=0.9 (repeatable).",
)
VALID = typer.Option(None, "--valid", help="A file of held-out tunes for validation, instead of a split of the corpus.")
DISTRIBUTE = typer.Option(
    None, "--distribute", help="data-parallel: split each batch over every GPU (jax backend). [default: none]"
)
PRETRAIN = typer.Option(
    None, "--pretrain", help="Corpora to train on first, comma-separated (e.g. oneills,ryans); needs --pretrain-steps."
)
PRETRAIN_STEPS = typer.Option(
    None,
    "--pretrain-steps",
    help="Steps on the --pretrain corpora before the --steps on the corpus; 0 turns a preset's pre-training off.",
)
FORCE = typer.Option(False, "--force", help="Overwrite a run already in --out.")
TUNES = typer.Option(None, "--tunes", "-n", help="How many tunes to write.")
TEMP = typer.Option(None, "--temperature", "-t", help="Sampling temperature (lower: safer, higher: wilder).")
TOP_K = typer.Option(None, "--top-k", help="Sample only from the k most likely symbols (0: off).")
TOP_P = typer.Option(None, "--top-p", help="Nucleus sampling: the smallest set of symbols with this much probability.")
PRIME = typer.Option(None, "--prime", help="Text every tune starts with; \\n is a new line, e.g. 'M:6/8\\nK:D'.")
MAX_LEN = typer.Option(None, "--max-len", help="Longest tune, in tokens.")
VALID_ONLY = typer.Option(None, "--valid-only", help="Re-sample tunes abc2midi rejects (rejection rate reported).")
CHECK_BARS = typer.Option(
    None,
    "--check-bars/--no-check-bars",
    help="Draw again each bar abc2midi finds the wrong length (share reported). [default: on]",
)
TYPE = typer.Option(
    None, "--type", help="Tune type: reel, jig, slip jig, hornpipe, polka, waltz, ... [default: as the corpus has them]"
)
METER = typer.Option(None, "--meter", help="Meter, e.g. 6/8. [default: as the corpus has them]")
KEY = typer.Option(None, "--key", help="Key with its mode: D, Dmix, Ador, Em. [default: as the corpus has them]")
PARTS = typer.Option(None, "--parts", help="Parts per tune, e.g. 2. [default: as the corpus has them]")
BARS = typer.Option(None, "--bars", help="Bars per part, e.g. 8. [default: as the corpus has them]")
RENDER = typer.Option(None, "--render", "-r", help="Renderers, comma-separated. [default: abc,midi,wav,score,page]")
SOUNDFONT = typer.Option(None, "--soundfont", help="A .sf2/.sf3 SoundFont for WAV output.")


def _console():
    from musegen.cli.base import console

    return console()


def _config(
    preset,
    config,
    corpus,
    encoder,
    model,
    steps,
    seed,
    sets,
    valid=None,
    sample=None,
    render=None,
    soundfont=None,
    pretrain=None,
    pretrain_steps=None,
    distribute=None,
):
    from musegen.config import parse_sets, resolve

    flags = {
        "corpus": corpus,
        "encoder": encoder,
        "model": model,
        "train.steps": steps,
        "seed": seed,
        "valid": valid,
        "backend": chosen_backend(),
        "train.pretrain_steps": pretrain_steps,
        "pretrain": [c.strip() for c in pretrain.split(",") if c.strip()] if pretrain else None,
    }
    for key, value in (sample or {}).items():
        flags[f"sample.{key}"] = value
    if render:
        flags["renderers"] = [r.strip() for r in render.split(",") if r.strip()]
    if soundfont:
        flags["render.wav.soundfont"] = soundfont
    sets = parse_sets(sets or [])
    if distribute is not None:  # the model's setting (lstm), named by a flag of its own
        sets.setdefault("model.distribute", distribute)
    named = {**flags, **sets}
    if named.get("train.pretrain_steps") == 0 and named.get("pretrain") is None:
        flags["pretrain"] = []  # 0 pre-training steps, no corpora named: a preset's pre-training is off
    return resolve(preset, config, flags, sets)


def _default_out(cfg) -> Path:
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    name = Path(cfg.corpus).stem if os.sep in cfg.corpus else cfg.corpus
    return Path("runs") / f"{stamp}-{name}-{cfg.model}"


def _out(out: str | None, flag: str = "--out") -> Path | None:
    """The ``--out`` folder a user typed: an empty one is refused, never read as the current folder."""
    from musegen.files import user_path

    return None if out is None else user_path(out, flag)


def _train(cfg, out, force, console):
    from musegen import pipeline
    from musegen.cli.progress import BarProgress

    t0 = time.perf_counter()
    try:
        with BarProgress(console) as progress:
            run = pipeline.train(cfg, out, progress, force=force)
    except KeyboardInterrupt:
        _interrupted(out)
    _trained(console, run, t0)
    return run


def _trained(console, run, t0: float, verb: str = "trained") -> None:
    result = run.manifest().get("result", {})
    best = result.get("best_valid_loss")
    console.print(
        f"{verb} {result.get('steps')} steps in {time.perf_counter() - t0:.0f} s"
        + (f"; best held-out loss {best:.3f} nats/token" if best is not None else "")
        + (" (stopped early)" if result.get("stopped_early") else "")
        + f"; run in {run.path}"
    )


def _interrupted(out):
    from musegen.cli.base import interrupted
    from musegen.rundir import RunDir

    if RunDir(out).has_checkpoint():
        interrupted(f"interrupted; the last checkpoint is saved. Continue with: gen train --resume {out}")
    interrupted("interrupted before the first checkpoint; nothing was kept")


def _sample_opts(
    tunes, seed, temperature, top_k, top_p, prime, max_len, valid_only=None, check_bars=None, controls=(None,) * 5
):
    opts = {
        "tunes": tunes,
        "seed": seed,
        "temperature": temperature,
        "top_k": top_k,
        "top_p": top_p,
        "prime": prime.replace("\\n", "\n") if prime is not None else None,
        "max_len": max_len,
        "valid_only": valid_only,
        "check_bars": check_bars,
        **dict(zip(("type", "meter", "key", "parts", "bars"), controls)),
    }
    return {k: v for k, v in opts.items() if v is not None}


def _generate_and_render(
    run_path, sample, renderers, render_opts, out, console, backend=None, model=None, created=None
):
    from musegen import pipeline
    from musegen.rundir import locked, remove_if_empty

    built = pipeline.make_renderers(renderers, render_opts)
    created = not Path(out).exists() if created is None else created
    try:
        with locked(out):  # another musegen writing here gets an error now, not mixed tunes later
            return _sample_and_write(run_path, sample, built, out, console, backend, model)
    except BaseException:
        if created:  # a bad --type, say: no folder left behind for nothing
            remove_if_empty(Path(out))
        raise


def _sample_and_write(run_path, sample, built, out, console, backend, model):
    from musegen import pipeline

    t0 = time.perf_counter()
    with console.status("sampling tunes"):
        pieces = pipeline.generate(run_path, sample, backend=backend, model=model)
    console.print(f"sampled {len(pieces)} tunes in {time.perf_counter() - t0:.1f} s")
    if pieces and pieces[0].meta.get("bar_check"):
        b = pieces[0].meta["bar_check"]
        name, units = b.get("name", "bar check"), b.get("units_are", "bars and headers")
        console.print(
            f"{name}: {b['redraws']} redraws for {b['units']} {units}, {b['backtracks']} "
            f"times one {units.split()[0].rstrip('s')} further back, {b['kept_wrong']} kept wrong"
        )
        if b.get("ended_at_length"):
            ended = b["ended_at_length"]
            console.print(f"{name}: {ended} of {len(pieces)} pieces ended at the corpus's longest length")
    if pieces and pieces[0].meta.get("unchecked"):
        console.print(pieces[0].meta["unchecked"], style="yellow")
    _report_controls(console, pieces)
    if pieces and "valid_only" in pieces[0].meta:
        v = pieces[0].meta["valid_only"]
        console.print(
            f"valid-only: drew {v['drawn']} tunes, rejected {v['rejected']} ({v['rejection_pct']}%), "
            f"kept {v['kept']}" + (f"; {v['short_by']} short after {v['rounds']} rounds" if "short_by" in v else "")
        )
    results = pipeline.render(pieces, out, built)
    for name, res in results.items():
        if res.skipped:
            console.print(f"  {name}: skipped, {res.skipped}", style="dim")
            continue
        console.print(f"  {name}: {len(res.files)} files" + (f", {len(res.failed)} failed" if res.failed else ""))
        for title, why in res.failed[:10]:
            console.print(f"    {title}: {why}", style="yellow")
    scores = pipeline.evaluate(pieces, ["validity"])
    if pieces and pieces[0].format == "midi":
        stats = pipeline.evaluate(pieces, ["midi-stats"])
        console.print(
            f"{stats['repaired_pct']:.0f}% of pieces needed repairs when decoded; the median piece: "
            f"{stats['polyphony']:.1f} notes at once (at most {stats['max_polyphony']:.0f}), "
            f"{stats['in_key_pct']:.0f}% of notes in its key, {stats['held_past_4s_pct']:.1f}% held past 4 s"
        )
    if scores:
        console.print(
            f"abc2midi: {scores['clean_pct']:.0f}% of tunes clean (no Error line), "
            f"{scores['bars_ok_pct']:.0f}% with every bar matching the meter, "
            f"{scores['complete_pct']:.0f}% complete"
        )
    console.print(f"wrote {out}", style="bold green")
    return pieces, results


def _report_controls(console, pieces) -> None:
    """What the tunes were asked to be, and each that is not, by title."""
    asked = [p for p in pieces if "asked" in p.meta]
    if not asked:
        return
    kinds = sorted({p.meta["asked"] for p in asked})
    missed = [p for p in asked if p.meta.get("missed")]
    what = kinds[0] if len(kinds) == 1 else f"{len(kinds)} kinds, as the corpus has them"
    console.print(f"asked for: {what}; {len(asked) - len(missed)} of {len(asked)} tunes are what was asked")
    for p in missed[:10]:
        console.print(
            f"    {p.meta.get('index', '?')}. {p.title or '(untitled)'}: {'; '.join(p.meta['missed'])}", style="yellow"
        )


@app.command()
@friendly
def run(
    corpus: str = CORPUS,
    encoder: str = ENCODER,
    model: str = MODEL,
    preset: str = PRESET,
    config: Path = CONFIG,
    steps: int = STEPS,
    tunes: int = TUNES,
    seed: int = SEED,
    temperature: float = TEMP,
    valid: str = VALID,
    valid_only: bool = VALID_ONLY,
    pretrain: str = PRETRAIN,
    pretrain_steps: int = PRETRAIN_STEPS,
    out: str = typer.Option(None, "--out", "-o", help="Run directory. [default: runs/<time>-<corpus>-<model>]"),
    render: str = RENDER,
    soundfont: str = SOUNDFONT,
    force: bool = FORCE,
    sets: list[str] = SETS,
    type_: str = TYPE,
    meter: str = METER,
    key_: str = KEY,
    parts: int = PARTS,
    bars: int = BARS,
):
    """Train on a corpus, then write new tunes as ABC, MIDI and WAV into OUT/samples."""
    sample = _sample_opts(
        tunes, seed, temperature, None, None, None, None, valid_only, controls=(type_, meter, key_, parts, bars)
    )
    cfg = _config(
        preset,
        config,
        corpus,
        encoder,
        model,
        steps,
        seed,
        sets,
        valid,
        sample,
        render,
        soundfont,
        pretrain,
        pretrain_steps,
    )
    from musegen.rundir import record

    out = _out(out) or _default_out(cfg)
    console = _console()
    run_dir = _train(cfg, out, force, console)
    record(run_dir.path, ["samples/"])  # the run's own: --force may replace what musegen writes in it
    _generate_and_render(run_dir.path, None, cfg.renderers, cfg.render, run_dir.path / "samples", console)


@app.command()
@friendly
def train(
    corpus: str = CORPUS,
    encoder: str = ENCODER,
    model: str = MODEL,
    preset: str = PRESET,
    config: Path = CONFIG,
    steps: int = STEPS,
    seed: int = SEED,
    valid: str = VALID,
    pretrain: str = PRETRAIN,
    pretrain_steps: int = PRETRAIN_STEPS,
    distribute: str = DISTRIBUTE,
    out: str = typer.Option(None, "--out", "-o", help="Run directory. [default: runs/<time>-<corpus>-<model>]"),
    resume: str = typer.Option(
        None, "--resume", help="Continue this run from its last checkpoint (with --steps: a new total)."
    ),
    force: bool = FORCE,
    sets: list[str] = SETS,
):
    """Train a model and save it in a run directory (no tunes written)."""
    from musegen import pipeline
    from musegen.cli.progress import BarProgress

    console = _console()
    if resume is not None:
        given = {
            "--corpus": corpus,
            "--encoder": encoder,
            "--model": model,
            "--config": config,
            "--seed": seed,
            "--valid": valid,
            "--out": out,
            "--pretrain": pretrain,
            "--pretrain-steps": pretrain_steps,
            "--distribute": distribute,
            "--set": sets,
            "--force": force or None,
            "--preset": None if preset == "default" else preset,
        }
        extra = [flag for flag, value in given.items() if value]
        if extra:
            raise MusegenError(
                f"--resume continues {resume} with the settings saved in its run.json; only --steps "
                f"can change (remove {', '.join(extra)})"
            )
        resume = _out(resume, "--resume")
        t0 = time.perf_counter()
        try:
            with BarProgress(console) as progress:
                run_dir = pipeline.resume(resume, steps, progress)
        except KeyboardInterrupt:
            _interrupted(resume)
        _trained(console, run_dir, t0, "resumed and trained to")
        return
    cfg = _config(
        preset,
        config,
        corpus,
        encoder,
        model,
        steps,
        seed,
        sets,
        valid,
        pretrain=pretrain,
        pretrain_steps=pretrain_steps,
        distribute=distribute,
    )
    _train(cfg, _out(out) or _default_out(cfg), force, console)


@app.command()
@friendly
def generate(
    run_dir: Path = typer.Argument(..., help="A run directory written by gen train or gen run."),
    tunes: int = TUNES,
    seed: int = SEED,
    temperature: float = TEMP,
    top_k: int = TOP_K,
    top_p: float = TOP_P,
    prime: str = PRIME,
    max_len: int = MAX_LEN,
    valid_only: bool = VALID_ONLY,
    check_bars: bool = CHECK_BARS,
    type_: str = TYPE,
    meter: str = METER,
    key_: str = KEY,
    parts: int = PARTS,
    bars: int = BARS,
    out: str = typer.Option(
        None, "--out", "-o", help="Where to write tunes. [default: a new folder in RUN_DIR/generated]"
    ),
    force: bool = typer.Option(False, "--force", help="Replace the tunes musegen wrote earlier in --out."),
    render: str = RENDER,
    soundfont: str = SOUNDFONT,
    sets: list[str] = typer.Option(
        None,
        "--set",
        "-s",
        metavar="KEY=VALUE",
        help="Override a sampling or rendering setting: sample.checker.bar_retries=4, "
        "model.sampler=numpy-int8, "
        "render.instrument=flute (repeatable; the model's other settings are the "
        "run's).",
    ),
):
    """Sample new tunes from a trained run and write them."""
    from musegen.config import parse_sets
    from musegen.pipeline import run_config
    from musegen.rundir import RunDir

    run_ = RunDir.open(_out(str(run_dir), "run"))
    cfg = run_config(run_.manifest(), run_)
    from musegen.config import renderers_of

    renderers = [r.strip() for r in render.split(",")] if render else renderers_of(cfg)
    render_opts = dict(cfg.render)
    if soundfont:
        render_opts["wav"] = {**render_opts.get("wav", {}), "soundfont": soundfont}
    sample, model = {}, {}
    for key, value in parse_sets(sets or []).items():
        role, _, name = key.partition(".")
        if role == "render" and name:  # render.<renderer>.<setting> or render.<setting>
            where, _, opt = name.rpartition(".")
            render_opts[where or "*"] = {**render_opts.get(where or "*", {}), opt: value}
            continue
        if role == "sample" and name.startswith("checker.") and name.count(".") == 1:  # the encoder's checker
            sample.setdefault("checker", {})[name.partition(".")[2]] = value
            continue
        if role not in ("sample", "model") or not name or "." in name:
            raise MusegenError(
                f"gen generate --set takes sample.<setting>, sample.checker.<setting>, "
                f"model.<setting> or render.<setting>, got '{key}'"
            )
        (sample if role == "sample" else model)[name] = value
    sample.update(
        _sample_opts(
            tunes,
            seed,
            temperature,
            top_k,
            top_p,
            prime,
            max_len,
            valid_only,
            check_bars,
            (type_, meter, key_, parts, bars),
        )
    )
    target = _out(out)
    _generate_and_render(
        run_.path,
        sample,
        renderers,
        render_opts,
        _fresh_out(run_, target, force),
        _console(),
        chosen_backend(),
        model,
        created=target is None or not target.exists(),
    )


def _fresh_out(run, out: Path | None, force: bool) -> Path:
    """Where gen generate writes: a folder of its own, never beside tunes musegen wrote before."""
    from musegen.rundir import numbered_folder, record, recorded, remove_recorded

    if out is None:
        record(run.path, ["generated/"])
        return numbered_folder(run.path / "generated")
    if (out / "run.json").is_file():
        raise MusegenError(
            f"{out} is a run: its tunes go in a folder of their own (leave out --out, or choose another folder)"
        )
    earlier = recorded(out) if out.is_dir() else []
    if earlier and not force:
        raise MusegenError(
            f"{out} already holds {len(earlier)} files musegen wrote: choose a new --out, or add "
            "--force to replace them"
        )
    if earlier:
        remove_recorded(out)
    return out
