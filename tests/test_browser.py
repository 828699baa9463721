"""The listening page and gen serve in a real browser: Debian's chromium, headless, through selenium.

Nothing downloads a browser: where chromium or its driver is missing these tests skip, unless
MUSEGEN_REQUIRE_BROWSER=1 (CI sets it, after installing them) makes that a failure. Screenshots go
to test-artifacts/.
"""

import os
import re
import shutil
import subprocess
import sys
import time

import pytest

from musegen import Piece
from musegen.pipeline import render
from tests.conftest import ROOT, TUNES, train_tiny

pytestmark = pytest.mark.slow  # trains models or runs gen in processes

ARTIFACTS = ROOT / "test-artifacts"
BROWSERS = ("chromium", "chromium-browser", "chromium-headless-shell", "google-chrome")
SERVER_LOG: list = []  # gen serve's output file, once the server fixture has started it


@pytest.fixture(scope="module")
def browser():
    import importlib.util

    binary = next((shutil.which(b) for b in BROWSERS if shutil.which(b)), None)
    missing = [
        what
        for what, there in (
            ("chromium", binary),
            ("chromium-driver", shutil.which("chromedriver")),
            ("selenium", importlib.util.find_spec("selenium")),
        )
        if not there
    ]
    if missing:
        message = (
            f"not installed: {', '.join(missing)} (apt-get install chromium chromium-driver; pip install selenium)"
        )
        if os.environ.get("MUSEGEN_REQUIRE_BROWSER"):
            pytest.fail(message)
        pytest.skip(message)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1200,1400",
        "--mute-audio",
    ):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    d = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
    yield d
    d.quit()


def console_errors(driver) -> list[str]:
    return [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def wait_for(driver, script: str, timeout: float = 30):
    """The value of ``script`` once it is truthy."""
    end = time.time() + timeout
    while time.time() < end:
        value = driver.execute_script(script)
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"the page never got there: {script}")


def shot(driver, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    driver.save_screenshot(str(ARTIFACTS / name))


CARDS = """return Array.from(document.querySelectorAll('article.tune')).map(c => ({
  id: c.id, verdict: c.querySelector('.verdict').className,
  score: c.querySelector('img.score') && [c.querySelector('img.score').getAttribute('src'),
          c.querySelector('img.score').complete, c.querySelector('img.score').naturalWidth],
  audio: c.querySelector('audio') && [c.querySelector('audio').readyState, c.querySelector('audio').duration]}))"""
LOADED = """const a = Array.from(document.querySelectorAll('audio'));
  const i = Array.from(document.querySelectorAll('img.score'));
  i.forEach(x => x.loading = 'eager');
  return a.every(x => x.readyState >= 1) && i.every(x => x.complete);"""


def test_the_listening_page_shows_and_plays_every_clean_tune(browser, tmp_path):
    broken = "X:1\nT:Broken Tune\nM:4/4\nL:1/8\nK:D\nAB(c|[[d\n"
    pieces = [Piece.from_abc(t) for t in TUNES] + [Piece.from_abc(broken)]
    render(pieces, tmp_path, ["abc", "midi", "wav", "score", "page"])
    browser.get((tmp_path / "index.html").as_uri())
    wait_for(browser, LOADED)
    cards = browser.execute_script(CARDS)
    shot(browser, "listening-page.png")
    assert len(cards) == 5
    clean = [c for c in cards if "wrong" not in c["verdict"]]
    assert len(clean) == 4
    for card in clean:
        src, complete, width = card["score"]
        assert complete and width > 0, card  # the browser drew the SVG
        assert (tmp_path / src).read_text().count('class="note"') > 5  # and it holds notes
        assert card["audio"][1] > 1.0, card  # a sound the browser can play, seconds long
    assert cards[4]["audio"] is None  # abc2midi rejects it: no player, a sentence instead
    assert console_errors(browser) == []


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """gen serve on a tiny run; what it prints goes to a file (a pipe nobody reads could fill and stop it)."""
    run = train_tiny(tmp_path_factory.mktemp("browser") / "tiny")
    log = run.parent / "serve.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "musegen", "serve", str(run), "--port", "0"],
            cwd=run.parent,
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
        )
    end = time.time() + 120
    while not (url := re.search(r"http://\S+/", log.read_text())) and proc.poll() is None and time.time() < end:
        time.sleep(0.1)
    assert url, log.read_text()
    SERVER_LOG[:] = [log]
    yield url.group(0)
    proc.terminate()
    assert proc.wait(timeout=30) == 0, log.read_text()[-3000:]


def served(driver, script: str, timeout: float = 30):
    """``wait_for`` on the gen serve page; a timeout shows the page's status line and the server's output."""
    try:
        return wait_for(driver, script, timeout)
    except AssertionError as exc:
        status = driver.execute_script("const s = document.querySelector('#status'); return s && s.textContent")
        raise AssertionError(f"{exc}\nstatus: {status}\nserver: {SERVER_LOG[0].read_text()[-3000:]}") from None


def test_compose_in_gen_serve(browser, server):
    browser.get(server)
    wait_for(browser, "return document.querySelector('#run').options.length > 0")
    browser.execute_script(
        "document.querySelector('[name=type]').value = 'jig';document.querySelector('[name=tunes]').value = '3';"
    )
    browser.find_element("id", "go").click()
    served(browser, "return document.querySelectorAll('#tunes article.tune').length === 3", timeout=90)
    wait_for(browser, LOADED)
    status = browser.find_element("id", "status").text
    assert re.match(r"3 tunes from tiny in [\d.]+ s \(seed \d+\)\.", status), status
    cards = browser.execute_script(CARDS)
    for card in cards:  # a tiny model's tunes are rarely clean; those that are play and show their score
        if card["score"]:
            assert card["score"][1] and card["score"][2] > 0
        if card["audio"]:
            assert card["audio"][1] > 0
    served(browser, "return document.querySelectorAll('#history li').length >= 1")
    shot(browser, "gen-serve.png")
    browser.execute_script(
        "document.querySelector('[name=tunes]').value = '40';"
        "document.querySelector('[name=tunes]').removeAttribute('max');"
    )
    browser.find_element("id", "go").click()  # out of range: the page says why, and nothing breaks
    text = wait_for(
        browser, "const s = document.querySelector('#status');return s.classList.contains('error') && s.textContent"
    )
    assert "tunes" in text and "8" in text
    assert [e for e in console_errors(browser) if "422" not in e] == []  # the refused request's own log line


def test_the_listening_page_reads_on_a_phone_and_in_print(browser, tmp_path):
    render([Piece.from_abc(t) for t in TUNES[:2]], tmp_path, ["abc", "midi", "wav", "score", "page"])
    phone = {"width": 390, "height": 844, "deviceScaleFactor": 3, "mobile": True}
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", phone)
    try:
        browser.get((tmp_path / "index.html").as_uri())
        wait_for(browser, LOADED)
        sizes = browser.execute_script("const d = document.documentElement; return [d.scrollWidth, d.clientWidth]")
        assert sizes[0] <= sizes[1] <= 390, sizes  # nothing scrolls sideways
        width, src = browser.execute_script(
            "const i = document.querySelector('img.score'); return [i.getBoundingClientRect().width, i.currentSrc]"
        )
        assert 250 < width <= 390 and src.endswith(".phone.svg")  # the narrow score, fitting the phone's width
        shot(browser, "listening-page-phone.png")
        browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
        shown = browser.execute_script(
            "return [getComputedStyle(document.querySelector('audio')).display, "
            "getComputedStyle(document.querySelector('img.score')).display]"
        )
        assert shown == ["none", "block"]  # on paper: the music, not the players
    finally:
        browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})
        browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
