"""One tune's card on a page: title, facts, verdict, sheet music, player, downloads and ABC text."""

from __future__ import annotations

import html
from urllib.parse import quote

DOWNLOADS = (("abc", "ABC"), ("mid", "MIDI"), ("wav", "WAV"), ("ogg", "OGG"), ("flac", "FLAC"), ("svg", "SVG"))


def tune_html(entry: dict, base: str = "") -> str:
    """One tune's card; its files are linked as ``base`` + file name (quoted)."""
    e = html.escape
    url = lambda name: e(base + quote(name))
    facts = [entry[k] for k in ("type", "meter", "key", "form") if entry.get(k)]
    items = "".join(f"<li>{e(f)}</li>" for f in facts)
    items += f'<li class="verdict {e(entry["verdict"])}" title="abc2midi\'s verdict">{e(entry["verdict_words"])}</li>'
    files = entry["files"]
    if "svg" in files:
        img = f'<img class="score" src="{url(files["svg"])}" alt="Sheet music of {e(entry["title"])}" loading="lazy">'
        phone = (
            f'<source media="(max-width: 600px)" srcset="{url(files["phone.svg"])}">' if "phone.svg" in files else ""
        )
        score = f"<picture>{phone}{img}</picture>"
    else:
        score = '<p class="noscore">No sheet music: the engraver could not read this tune.</p>'
    audio = (
        f'<audio controls preload="metadata" src="{url(entry["audio"])}"></audio>'
        if entry.get("audio")
        else '<p class="noscore">No sound: abc2midi could not play this tune.</p>'
    )
    links = "".join(f'<a href="{url(files[ext])}" download>{label}</a>' for ext, label in DOWNLOADS if ext in files)
    asked = f'<p class="asked">Asked for: {e(entry["asked"])}</p>' if entry.get("asked") else ""
    missed = f'<p class="missed">Not what was asked: {e("; ".join(entry["missed"]))}</p>' if entry.get("missed") else ""
    abc = f"<details><summary>ABC</summary><pre>{e(entry['abc'])}</pre></details>" if entry.get("abc") else ""
    return (
        f'<article class="tune" id="tune-{entry["index"]}">\n<h2><span class="n">{entry["index"]}.</span>'
        f'{e(entry["title"])}</h2>\n<ul class="facts">{items}</ul>\n{asked}{missed}{score}\n{audio}\n'
        f'<div class="downloads">{links}</div>\n{abc}\n</article>'
    )
