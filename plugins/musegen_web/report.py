"""``gen eval``'s page: its numbers beside the held-out real tunes', its plots, and tunes beside real ones."""

from __future__ import annotations

import html
import json
from pathlib import Path
from urllib.parse import quote

from musegen import MusegenError
from musegen_web.card import tune_html

SECTIONS = (  # a metric's name starts so -> its table
    ("Likelihood of held-out tunes", ("nll_", "tunes_")),
    ("Do they play?", ("clean_", "bars_", "complete_", "valid_", "malformed_", "converted_")),
    ("Form", ("form_", "corpus_form", "regular_", "parts_", "repeat", "ends_", "asked_")),
    ("Novelty", ("novel", "copied", "copies", "longest_copy", "mean_longest", "nearest", "distinct", "dup")),
)
SAID_ABOVE = ("samples", "tunes")  # in the line under the title


def _number(value) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def tables(result: dict) -> str:
    """The metrics as tables by theme: generated beside held-out real where both have the metric."""
    reference = result.get("reference", {})
    rows = [
        (k, v)
        for k, v in result.items()
        if isinstance(v, (int, float)) and not isinstance(v, bool) and k not in SAID_ABOVE
    ]
    groups: dict[str, list] = {}
    for key, value in rows:
        title = next((t for t, heads in SECTIONS if key.startswith(heads)), "Style")
        groups.setdefault(title, []).append((key, value))
    e = html.escape
    out = []
    for title in [t for t, _ in SECTIONS] + ["Style"]:
        if title not in groups:
            continue
        body = "".join(
            f'<tr><td>{e(k)}</td><td class="num">{e(_number(v))}</td>'
            f'<td class="num">{e(_number(reference.get(k, "")))}</td></tr>'
            for k, v in groups[title]
        )
        out.append(
            f'<h2>{e(title)}</h2>\n<table class="numbers"><thead><tr><th>metric</th><th>generated</th>'
            f"<th>held-out real tunes</th></tr></thead><tbody>{body}</tbody></table>"
        )
    return "\n".join(out)


def report_body(path: Path, figures: list[str], pieces, entries: list[dict]) -> tuple[str, str]:
    """The page's body and its line under the title."""
    try:
        result = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise MusegenError(f"report {path} cannot be read: {exc}") from None
    e = html.escape
    plots = "".join(f'<img src="{e(quote(f))}" alt="{e(Path(f).stem)}" loading="lazy">' for f in figures)
    sides: dict[str, list[str]] = {}
    for piece, entry in zip(pieces, entries):
        sides.setdefault(piece.meta.get("side", "tunes"), []).append(tune_html(entry))
    names = list(sides)
    columns = "".join(f"<section><h2>{e(n.capitalize())}</h2>{''.join(sides[n])}</section>" for n in names)
    body = (
        tables(result)
        + (f'\n<h2>Plots</h2>\n<div class="plots">{plots}</div>' if plots else "")
        + f'\n<div class="pair">{columns}</div>'
    )
    subtitle = (
        f"{result.get('samples', len(pieces))} tunes sampled from {Path(result.get('run', '')).name}, "
        f"measured beside {result.get('data', 'held-out tunes')}; a few of each below, to see and hear."
    )
    return body, subtitle
