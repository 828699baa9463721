"""``gen serve``'s page: the compose form, the tunes it made, the history. Plain JavaScript (static/app.js),
inlined: the page fetches nothing but the server's own API."""

from __future__ import annotations

from importlib.resources import files as package_files

from musegen_web.page import document

FORM = """
<div class="layout">
<section>
<form class="compose" id="compose" autocomplete="off">
  <label>Run <select name="run" id="run"></select></label>
  <label>Type <select name="type"><option value="">any</option></select></label>
  <label>Meter <select name="meter"><option value="">any</option></select></label>
  <label>Key <select name="key"><option value="">any</option></select></label>
  <label>Parts <input name="parts" type="number" min="1" max="12" placeholder="any"></label>
  <label>Bars a part <input name="bars" type="number" min="1" max="64" placeholder="any"></label>
  <label>Tunes <input name="tunes" type="number" min="1" max="8" value="4"></label>
  <label>Temperature <input name="temperature" type="number" min="0.05" max="2" step="0.05"></label>
  <label>Seed <input name="seed" type="number" min="0" placeholder="new each time"></label>
  <label class="wide">Prime: the tune's start, in ABC (optional)
    <textarea name="prime" rows="2" placeholder="K:G&#10;|:GAB"></textarea></label>
  <div class="wide"><button type="submit" id="go">Compose</button></div>
</form>
<p class="status" id="status" role="status">Pick what you want, then press Compose.</p>
<div id="tunes"></div>
</section>
<aside class="history"><h2>Made so far</h2><ol id="history"></ol></aside>
</div>
"""


def page() -> str:
    script = package_files("musegen_web").joinpath("static/app.js").read_text(encoding="utf-8")
    return document("musegen: compose", FORM, "Ask for a tune; see it, hear it, download it.", script)
