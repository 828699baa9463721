"""What every ``gen`` command shares: the typer app, its global options and one-line errors."""

from __future__ import annotations

import functools
import os

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
            interrupted()
        except OSError as exc:
            fail(one_line(exc))

    return wrapper


def interrupted(message: str = "interrupted"):
    """Ctrl-C or SIGTERM reached the command: say so in one line, exit 130."""
    from musegen import interrupts

    interrupts.caught()
    fail(message, 130)


def console(stderr: bool = True, **options):
    """A rich console that prints text as it is: a tune title like ``T:[/]`` or a path with brackets is
    never read as markup (styles are passed as ``style=``)."""
    from rich.console import Console

    return Console(stderr=stderr, markup=False, emoji=False, soft_wrap=True, **options)


@app.callback()
def root(
    backend: str = typer.Option(
        None, "--backend", "-b", help="Keras backend: jax (default), torch or tensorflow.", envvar="MUSEGEN_BACKEND"
    ),
    version: bool = typer.Option(
        False,
        "--version",
        help="Print musegen's version and exit.",
        is_eager=True,
        callback=lambda value: _print_version() if value else None,
    ),
):
    if backend is not None:
        from musegen.config import BACKENDS

        if backend not in BACKENDS:
            fail(f"unknown backend '{backend}'. Known backends: {', '.join(BACKENDS)}")
        os.environ["MUSEGEN_BACKEND"] = backend


def _print_version() -> None:
    from musegen.plugins import musegen_version

    typer.echo(f"musegen {musegen_version()}")
    raise typer.Exit()


def chosen_backend() -> str | None:
    """The Keras backend given by ``gen --backend`` (or MUSEGEN_BACKEND); None: the run's own."""
    return os.environ.get("MUSEGEN_BACKEND")
