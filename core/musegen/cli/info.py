"""``gen plugins`` and ``gen components``: what is installed. Neither imports any component's code."""

from __future__ import annotations

import typer

from musegen.cli.base import app, friendly


def _table(title, columns):
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for col in columns:
        table.add_column(col)
    return table


def _print(table):
    from musegen.cli.base import console

    console(stderr=False, width=160).print(table)


@app.command()
@friendly
def plugins():
    """List installed plugins, their versions, and the components each provides."""
    from musegen.plugins import get_manager

    manager = get_manager()
    provided: dict[str, list[str]] = {}
    for comp in manager.registry.all():
        provided.setdefault(comp.plugin, []).append(f"{comp.kind}:{comp.name}")
    table = _table("plugins", ["plugin", "version", "source", "components"])
    for info in manager.info.values():
        comps = ", ".join(provided.get(info.name, [])) or "-"
        table.add_row(info.name, info.version, info.source, f"FAILED: {info.error}" if info.error else comps)
    _print(table)


@app.command()
@friendly
def components(
    options: bool = typer.Option(False, "--options", help="Show each component's settings and their defaults."),
    kind: str = typer.Argument(None, help="Only this kind: corpus, encoder, model, renderer, evaluator."),
):
    """List components by kind, with the plugin that provides each (and, with --options, their settings)."""
    from musegen.errors import UnknownComponent
    from musegen.plugins import get_registry
    from musegen.registry import KINDS

    if kind and kind not in KINDS:
        raise UnknownComponent("kind", kind, KINDS)
    reg = get_registry()
    table = _table("components", ["kind", "name", "plugin", "summary"] + (["options (default)"] if options else []))
    for comp in reg.all():
        if kind and comp.kind != kind:
            continue
        row = [
            comp.kind,
            comp.name + (f" ({', '.join(comp.aliases)})" if comp.aliases else ""),
            comp.plugin,
            comp.summary,
        ]
        if options:
            fields = list(comp.config.model_fields.items())
            checker = getattr(comp.load(), "checker_config", None) if comp.kind == "encoder" else None
            if checker is not None:  # its checker's settings are sampling settings: sample.checker.<name>
                fields += [(f"sample.checker.{n}", f) for n, f in checker.model_fields.items()]
            row.append(
                "\n".join(
                    f"{n} = {f.get_default(call_default_factory=True)!r}"
                    + (f"  # {f.description}" if f.description else "")
                    for n, f in fields
                )
                or "-"
            )
        table.add_row(*row)
    _print(table)
