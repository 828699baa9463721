"""Hook specifications: the whole surface a musegen plugin can implement.

A plugin is a module (or package) with functions marked ``@musegen.hookimpl`` whose names match the
specs below. Default plugins are listed in ``registry.toml``; third-party plugins are found through
the ``musegen`` entry-point group. Each ``register_*`` hook receives a ``register`` callable::

    register(name, target, *, config=ConfigModel, aliases=(), summary="")

``target`` is the component class or, better, a lazy ``"module:Class"`` string imported only when
the component is used, so that ``gen --help`` and ``gen plugins`` stay fast and never import Keras.
``config`` is a pydantic model (``extra="forbid"``) holding the component's options and defaults;
it must live in a light module that imports no heavy framework.
"""

from __future__ import annotations

from pluggy import HookimplMarker, HookspecMarker

hookspec = HookspecMarker("musegen")
hookimpl = HookimplMarker("musegen")


# -- the process -------------------------------------------------------------------------------


@hookspec
def setup_process():
    """Set process-wide settings a plugin's framework reads once, before it is first imported: environment
    variables (devices, GPU memory, log levels) or the C library's malloc. Never on import.

    Called once a process by ``musegen.process.setup``, which the ``gen`` commands and ``musegen.train``,
    ``resume``, ``generate`` and ``load_run`` run before a model is built; ``MUSEGEN_PROCESS_SETUP=off`` keeps
    the process as its user set it. Set a value only where the user has not (``os.environ.setdefault``).
    """


# -- components --------------------------------------------------------------------------------


@hookspec
def register_corpora(register):
    """Register corpora: sources of tunes.

    A corpus class is built as ``Corpus(config)`` and must provide ``load() -> musegen.Loaded``:
    the pieces it could read and, for each one it could not, the reason (skipped, never fatal).

    :param register: ``register(name, target, *, config, aliases=(), summary="")``.
    """


@hookspec
def register_encoders(register):
    """Register encoders: turn pieces into integer token ids and back.

    An encoder class is built as ``Encoder(config)`` and must provide, as ``musegen.Encoder`` shows:
    ``format`` (the ``Piece.format`` it reads and writes), ``fit(pieces)``, ``vocab_size``,
    ``end_id`` (the token that separates and ends pieces), ``encode(piece)``, ``encode_prime(text)``,
    ``decode(ids) -> Piece``, ``state() -> dict`` (JSON, saved in ``run.json``) and
    ``load_state(state)``. Optional: ``augment(pieces) -> pieces`` (training copies, e.g. transposed;
    the pipeline fits the vocabulary after it) and ``checker(sample_options) -> musegen.Checker | None``
    (units to check while sampling, e.g. ABC bars judged by abc2midi), ``valid(piece) -> bool`` (whether
    a decoded piece plays: ``--valid-only`` draws the others again), and for encoders whose tunes can be
    asked for: ``primes(sample_options)`` (one prime a tune, from its controls) and ``choices()`` (each
    control's values in the corpus, for ``gen serve``'s menus).

    :param register: ``register(name, target, *, config, aliases=(), summary="")``.
    """


@hookspec
def register_models(register):
    """Register models: learn a distribution over token sequences and sample from it.

    A model class is built as ``Model(config, vocab_size)`` and must provide, as ``musegen.Model``
    shows: ``fit(data, train, run, progress)``, ``sample(prime, options, end_id)``, ``save(run, tag)``
    and the classmethod ``load(config, vocab_size, run, tag)``. Models know nothing of music: the
    same model serves ABC characters and MIDI events. ``fit`` may pre-train on ``data.pretrain`` for
    ``train.pretrain_steps`` first; ``sample`` may take a ``checker=`` keyword (``musegen.Checker``)
    and draw the units it refuses again — a model without it samples without checks. Config fields
    marked ``json_schema_extra={"sampling": True}`` choose how it samples, not what it learns: ``load``
    may get them changed (``gen generate --set model.<field>=...``); the others are the run's own.

    :param register: ``register(name, target, *, config, aliases=(), summary="", presets={})``;
        ``presets`` maps a preset name to the model's options in it (``{"tiny": {"units": 16}}``), so that
        ``--preset tiny`` makes a plugin's model small too. registry.toml's own table wins over it.
    """


@hookspec
def register_renderers(register):
    """Register renderers: write pieces to files (ABC text, MIDI, audio, ...).

    A renderer class is built as ``Renderer(config)``; its ``formats`` attribute names the
    ``Piece.format`` values it can take, and ``render(pieces, out_dir) -> musegen.Rendered`` writes
    files and reports each piece it could not render, by title, without stopping at the first.
    A renderer with ``after_others = True`` (a page of the others' files, say) runs after the rest.
    One that starts worker processes may offer ``keep_workers()`` and ``close()``: ``gen serve`` keeps
    them running between renders.

    :param register: ``register(name, target, *, config, aliases=(), summary="")``.
    """


@hookspec
def register_evaluators(register):
    """Register evaluators: measure generated pieces (validity, statistics, novelty, ...).

    An evaluator class is built as ``Evaluator(config)``; its ``formats`` attribute names the piece
    formats it understands and ``evaluate(pieces, reference) -> dict[str, float]`` returns named
    numbers, where ``reference`` is a list of corpus pieces (possibly empty).

    :param register: ``register(name, target, *, config, aliases=(), summary="")``.
    """


@hookspec
def register_commands(app):
    """Add commands to the ``gen`` command line.

    :param app: the root ``typer.Typer`` application; add commands with ``@app.command()`` or
        sub-applications with ``app.add_typer(sub, name=...)``.
    """
