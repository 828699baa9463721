"""``gen serve``: compose in the browser from trained runs (the app is ``serve.py``)."""

from __future__ import annotations

from pathlib import Path

import typer


def add_serve(app: typer.Typer) -> None:
    from musegen.cli.base import friendly

    @app.command()
    @friendly
    def serve(
        runs: list[Path] = typer.Argument(None, help="Run directories to compose from. [default: every run in ./runs]"),
        host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (127.0.0.1: this machine only)."),
        port: int = typer.Option(8000, "--port", min=0, max=65535, help="Port to listen on; 0 picks a free one."),
        open_: bool = typer.Option(False, "--open", help="Open the page in the web browser."),
    ):
        """Compose in the web browser: pick a run, ask for a tune, see and hear it."""
        from musegen_web.serve import main

        main(runs or [], host, port, open_)
