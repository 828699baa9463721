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
    version: bool = typer.Option(False, "--version", help="Print musegen's version and exit.", is_eager=True,
                                 callback=lambda value: _print_version() if value else None),
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


def _register() -> None:
    from musegen.cli import evaluate, info, training  # noqa: F401  (registers commands)
    from musegen.plugins import get_manager

    try:
        get_manager().add_commands(app)
    except Exception as exc:  # a plugin's commands must not break the CLI
        typer.echo(f"warning: a plugin failed to add commands: {one_line(exc)}", err=True)


_register()


def main() -> None:
    from musegen import interrupts

    interrupts.install()
    code = _main()
    interrupts.finish()
    sys.exit(code)


def _main() -> int:
    from typer.exceptions import TyperException

    from musegen import interrupts

    try:
        code = app(prog_name="gen", standalone_mode=False)
    except MusegenError as exc:
        typer.echo(f"error: {one_line(exc)}", err=True)
        return 2
    except KeyboardInterrupt:  # before a command started: nothing to save
        return _interrupted_at_top()
    except TyperException as exc:  # a usage error (unknown option, bad value): one line, as every error
        return _usage_error(exc)
    except SystemExit as exc:  # typer.Exit raised outside a command
        return exc.code if isinstance(exc.code, int) else 0
    if interrupts.pending():  # raised where Python drops exceptions, and the command ran on: still stop
        return _interrupted_at_top()
    return code if isinstance(code, int) else 0


def _interrupted_at_top() -> int:
    from musegen import interrupts

    interrupts.caught()
    typer.echo("error: interrupted", err=True)
    return 130


def _usage_error(exc) -> int:
    ctx = getattr(exc, "ctx", None)
    if type(exc).__name__ == "NoArgsIsHelpError" and ctx is not None:  # plain ``gen``: its help
        typer.echo(ctx.get_help())
        return 0
    message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
    hint = f" (see {ctx.command_path} --help)" if ctx is not None else ""
    typer.echo(f"error: {one_line(message)}{hint}", err=True)
    return getattr(exc, "exit_code", 2)
