"""The README's pictures: the listening page and gen serve, from a trained run, in headless chromium.

    python docs/screenshots.py RUN_DIR        # writes docs/images/listening-page.png and gen-serve.png

Needs Debian's chromium and chromium-driver, and selenium (the test extras).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

IMAGES = Path(__file__).resolve().parent / "images"


def browser(width: int, height: int):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium")
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        f"--window-size={width},{height}",
        "--hide-scrollbars",
        "--mute-audio",
    ):
        options.add_argument(arg)
    return webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)


def settle(driver) -> None:
    """Until every score is drawn and every player knows its length."""
    for _ in range(100):
        if driver.execute_script(
            "return Array.from(document.images).every(i => i.complete) && "
            "Array.from(document.querySelectorAll('audio')).every(a => a.readyState >= 1)"
        ):
            return
        time.sleep(0.1)


def main(run: Path) -> int:
    IMAGES.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / run.resolve().name  # gen serve writes its compositions into the run: use a copy
        shutil.copytree(run, copy, ignore=shutil.ignore_patterns("serve", "samples", "eval*"))
        subprocess.run(
            [
                sys.executable,
                "-m",
                "musegen",
                "generate",
                str(copy),
                "--tunes",
                "6",
                "--seed",
                "3",
                "--out",
                str(Path(tmp) / "samples"),
            ],
            check=True,
        )
        d = browser(1100, 1300)
        try:
            d.get((Path(tmp) / "samples" / "index.html").as_uri())
            settle(d)
            d.save_screenshot(str(IMAGES / "listening-page.png"))
        finally:
            d.quit()
        server = subprocess.Popen(
            [sys.executable, "-m", "musegen", "serve", str(copy), "--port", "0"], stdout=subprocess.PIPE, text=True
        )
        try:
            url = re.search(r"http://\S+/", server.stdout.readline()).group(0)
            d = browser(1300, 1150)
            try:
                d.get(url)
                time.sleep(1)
                d.execute_script(
                    "document.querySelector('[name=type]').value = 'jig';"
                    "document.querySelector('[name=key]').value = 'G';"
                    "document.querySelector('[name=tunes]').value = '2';"
                )
                d.find_element("id", "go").click()
                for _ in range(300):
                    if d.execute_script("return document.querySelectorAll('#tunes article').length === 2"):
                        break
                    time.sleep(0.1)
                settle(d)
                d.save_screenshot(str(IMAGES / "gen-serve.png"))
            finally:
                d.quit()
        finally:
            server.terminate()
            server.wait(timeout=30)
    print(f"wrote {IMAGES / 'listening-page.png'} and {IMAGES / 'gen-serve.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
