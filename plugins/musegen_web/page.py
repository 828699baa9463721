"""The listening page: ``index.html`` beside a render's files, showing every tune as sheet music with a
player, its facts, abc2midi's verdict and its downloads. One static file: it fetches nothing and works
from ``file://``, on a phone and in print."""

from __future__ import annotations

import html
from importlib.resources import files as package_files
from pathlib import Path

from musegen import Piece, Rendered
from musegen.atomic import write_text
from musegen_web.card import tune_html


def css() -> str:
    return package_files("musegen_web").joinpath("static/musegen.css").read_text(encoding="utf-8")


def document(title: str, body: str, subtitle: str = "", script: str = "") -> str:
    """A whole page: its own style, no fetched fonts or scripts."""
    e = html.escape
    return (
        f'<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">\n<title>{e(title)}</title>\n'
        f'<link rel="icon" href="data:,">\n<style>\n{css()}</style>\n</head>\n<body>\n'
        f'<header class="top"><h1>{e(title)}</h1>'
        + (f"<p>{e(subtitle)}</p>" if subtitle else "")
        + f"</header>\n<main>\n{body}\n</main>\n"
        + (f"<script>\n{script}\n</script>\n" if script else "")
        + "</body>\n</html>\n"
    )


def summary(entries: list[dict]) -> str:
    """``6 tunes: 1 clean, 3 clean once bars were drawn again, 2 with faults (in red)``, leaving out zeros."""
    kinds = [e["verdict"] for e in entries]
    n = len(entries)
    if not n:
        return "No tunes"
    from musegen_web.tunes import redrawn_units

    what = redrawn_units(entries[0]["format"])  # the pieces of one page share a format
    parts = [
        (kinds.count("clean"), "clean"),
        (kinds.count("fixed"), f"clean once {what} were drawn again"),
        (kinds.count("wrong"), "with faults (in red)"),
    ]
    return f"{n} tune{'s' * (n != 1)}: " + ", ".join(f"{k} {words}" for k, words in parts if k)


class PageRenderer:
    """Writes ``index.html``; it runs after the other renderers, and links the files they wrote."""

    formats = ("abc", "midi")
    after_others = True

    def __init__(self, config):
        self.config = config

    def render(self, pieces: list[Piece], out_dir: Path) -> Rendered:
        from musegen_web.tunes import tune_entries

        entries = tune_entries(pieces, out_dir)
        title = self.config.title or f"Tunes in {out_dir.resolve().name}"
        if self.config.report:
            from musegen_web.report import report_body

            body, subtitle = report_body(Path(self.config.report), self.config.figures, pieces, entries)
        else:
            body = "\n".join(tune_html(e) for e in entries)
            subtitle = summary(entries) + ". Sheet music, sound and files of each tune below."
        page = document(title, body, subtitle)
        return Rendered(files=[write_text(out_dir / "index.html", page, durable=False)])
