"""The ``gen`` command line. Importing this module never imports Keras or any plugin's heavy code."""

from __future__ import annotations

import functools
import os
import sys

import typer

from musegen.errors import MusegenError, one_line, validation_message

app = typer.Typer(
    name="gen",
    help="musegen: train a model on a corpus of tunes and write new ones as ABC, MIDI and WAV.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def fail(message: str, code: int = 2):
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def friendly(fn):
    """Turn expected failures into one line on stderr and exit code 2, never a traceback."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        from pydantic import ValidationError

        try:
            return fn(*args, **kwargs)
        except MusegenError as exc:
            fail(one_line(exc))
        except ValidationError as exc:
            fail(validation_message(exc))
        except KeyboardInterrupt:
            fail("interrupted", 130)
        except OSError as exc:
            fail(one_line(exc))

    return wrapper


@app.callback()
def root(
    backend: str = typer.Option(
        None, "--backend", "-b", help="Keras backend: jax (default), torch or tensorflow.", envvar="MUSEGEN_BACKEND"
    ),
    version: bool = typer.Option(False, "--version", help="Print musegen's version and exit."),
):
    if version:
        from musegen.plugins import musegen_version

        typer.echo(f"musegen {musegen_version()}")
        raise typer.Exit()
    if backend is not None:
        from musegen.config import BACKENDS

        if backend not in BACKENDS:
            fail(f"unknown backend '{backend}'. Known backends: {', '.join(BACKENDS)}")
        os.environ["MUSEGEN_BACKEND"] = backend


def chosen_backend() -> str | None:
    """The Keras backend given by ``gen --backend`` (or MUSEGEN_BACKEND); None: the run's own."""
    return os.environ.get("MUSEGEN_BACKEND")


def _register() -> None:
    from musegen.cli import evaluate, info, training  # noqa: F401  (registers commands)
    from musegen.plugins import get_manager

    try:
        get_manager().add_commands(app)
    except Exception as exc:  # a plugin's commands must not break the CLI
        typer.echo(f"warning: a plugin failed to add commands: {one_line(exc)}", err=True)


_register()


def main() -> None:
    try:
        app()
    except MusegenError as exc:
        typer.echo(f"error: {one_line(exc)}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:  # before a command started: nothing to save
        typer.echo("error: interrupted", err=True)
        sys.exit(130)
