"""The ``gen`` command line: the commands and plugins' commands on one typer app. Importing it never
imports Keras or any plugin's heavy code."""

from __future__ import annotations

import sys

import typer

from musegen.cli import evaluate, info, training  # noqa: F401  (each adds its commands to app)
from musegen.cli.base import app, chosen_backend, console, fail, friendly, interrupted
from musegen.errors import MusegenError, one_line

__all__ = ["app", "chosen_backend", "console", "fail", "friendly", "interrupted", "main"]


def _register() -> None:
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
