"""``gen eval``: measure a trained run and write eval.json, eval.md and plots into it."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from musegen.cli.base import app, chosen_backend, friendly


@app.command("eval")
@friendly
def eval_(
    run_dir: Path = typer.Argument(..., help="A run directory written by gen train or gen run."),
    data: str = typer.Option(
        None, "--data", help="Held-out tunes (.abc file or folder). [default: the run's held-out split]"
    ),
    samples: int = typer.Option(200, "--samples", min=1, help="How many tunes to sample and measure."),
    seed: int = typer.Option(None, "--seed", help="Sampling seed. [default: the run's seed]"),
    temperature: float = typer.Option(None, "--temperature", "-t", help="Sampling temperature. [default: the run's]"),
    top_p: float = typer.Option(None, "--top-p", help="Nucleus sampling. [default: the run's]"),
    max_len: int = typer.Option(None, "--max-len", help="Longest sample, in tokens. [default: the run's]"),
    check_bars: bool = typer.Option(
        None,
        "--check-bars/--no-check-bars",
        help="Draw again bars abc2midi finds the wrong length. [default: the run's, on]",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object instead of a table."),
    sets: list[str] = typer.Option(
        None,
        "--set",
        "-s",
        metavar="KEY=VALUE",
        help="Override one of the model's sampling settings: model.fast=false, model.sampler=numpy (repeatable).",
    ),
):
    """Held-out NLL, abc2midi validity, style statistics and novelty, each beside real held-out tunes."""
    from musegen.atomic import write_json
    from musegen.cli.base import console as make_console
    from musegen.config import parse_sets
    from musegen.errors import MusegenError
    from musegen.evaluation import EVALUATORS, evaluate_run, write_report
    from musegen.plugins import get_registry
    from musegen.rundir import locked, record

    model = {}
    for key, value in parse_sets(sets or []).items():
        if not key.startswith("model."):
            raise MusegenError(
                f"gen eval --set takes model.<setting>, not {key} (see --temperature, --top-p, --max-len)"
            )
        model[key[len("model.") :]] = value
    console = make_console()
    sample = {
        k: v
        for k, v in {"temperature": temperature, "top_p": top_p, "max_len": max_len, "check_bars": check_bars}.items()
        if v is not None
    }
    result, pieces, train_p, valid_p = evaluate_run(
        run_dir, data, samples, seed, sample, log=lambda m: console.print(m), backend=chosen_backend(), model=model
    )
    run_path = Path(result["run"])
    figures, plots = {}, []
    with locked(run_path):
        record(run_path, ["eval.json", "eval.md"])
        write_json(run_path / "eval.json", result)
        try:
            for name in EVALUATORS:
                if not get_registry().has("evaluator", name):
                    continue
                ev = get_registry().get("evaluator", name).build()
                if pieces and pieces[0].format not in ev.formats:
                    continue
                for fig in getattr(ev, "report", lambda *a: [])(pieces, train_p, run_path):
                    figures[name] = fig.name
                    plots.append(fig.name)
                    record(run_path, [fig.name])
        except ImportError as exc:  # plots are a bonus: the numbers never depend on matplotlib
            console.print(f"no plots: {exc}")
        write_report(result, run_path, figures)
        page = _page(run_path, pieces, valid_p, plots, console)
    if as_json:
        typer.echo(json.dumps(result))
        return
    from rich.table import Table

    table = Table(title=f"gen eval {run_path}", title_justify="left")
    for col in ("metric", "generated", "held-out real tunes"):
        table.add_column(col)
    for key, value in result.items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            table.add_row(key, str(value), str(result["reference"].get(key, "")))
    make_console(stderr=False).print(table)
    console.print(
        f"wrote {run_path / 'eval.json'} and {run_path / 'eval.md'}"
        + (f"; open {page} to see and hear tunes beside real ones" if page else "")
    )


BESIDE = 6  # sampled tunes shown beside as many held-out real ones on the report page


def _page(run_path: Path, pieces, real, plots: list[str], console) -> Path | None:
    """RUN/eval/index.html: the report's tables and plots, and sampled tunes beside real ones, each with its
    sheet music and sound (the page renderer, where a plugin gives one)."""
    import random

    from musegen.pipeline import make_renderers, render
    from musegen.plugins import get_registry
    from musegen.rundir import record, remove_recorded

    if not get_registry().has("renderer", "page"):
        return None
    if (run_path / "eval").is_dir():  # the last report's tunes: musegen wrote them, and only those go
        remove_recorded(run_path / "eval")
    shown = [p for p in pieces[:BESIDE]]
    others = random.Random(0).sample(real, min(BESIDE, len(real)))
    for p in shown:
        p.meta["side"] = "generated"
    for p in others:
        p.meta["side"] = "held-out real"
    names = [n for n in ("abc", "midi", "wav", "score", "page") if get_registry().has("renderer", n)]
    options = {
        "page": {
            "title": f"gen eval: {run_path.name}",
            "report": str(run_path / "eval.json"),
            "figures": [f"../{name}" for name in plots],
        }
    }
    with console.status("writing the report page: sheet music and sound of tunes beside real ones"):
        results = render(shown + others, run_path / "eval", make_renderers(names, options))
    record(run_path, ["eval/"])
    return run_path / "eval" / "index.html" if results.get("page") and results["page"].files else None
