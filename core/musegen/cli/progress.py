"""A rich progress bar that models report training to (``musegen.Progress``)."""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn


class BarProgress:
    def __init__(self, console: Console, label: str = "training"):
        self.console = console
        self.label = label
        self.bar: Progress | None = None
        self.task = None
        self.metrics: dict[str, float] = {}

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.stop()
            self.bar = None

    def start(self, total: int, done: int = 0) -> None:
        if self.bar is None:
            self.bar = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("steps"),
                TimeElapsedColumn(),
                TextColumn("eta"),
                TimeRemainingColumn(),
                TextColumn("{task.fields[metrics]}"),
                console=self.console,
                transient=False,
            )
            self.bar.start()
            self.task = self.bar.add_task(self.label, total=total, completed=done, metrics="")
        else:
            self.bar.update(self.task, total=total, completed=done)

    def update(self, done: int, **metrics: float) -> None:
        self.metrics.update({k: v for k, v in metrics.items() if v is not None})
        text = "  ".join(f"{k} {v:.3f}" for k, v in self.metrics.items())
        if self.bar is not None:
            self.bar.update(self.task, completed=done, metrics=text)

    def log(self, message: str) -> None:
        (self.bar.console if self.bar else self.console).print(message)
