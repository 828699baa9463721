"""The documentation site builds in mkdocs's strict mode (no broken link, no missing page, every API
reference resolved), and its pages fetch nothing from the internet."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest

from conftest import ROOT

pytestmark = pytest.mark.slow


def test_the_docs_build_strictly_and_fetch_nothing(tmp_path):
    mkdocs = shutil.which("mkdocs")
    assert mkdocs, "mkdocs is not installed: it is one of the test extras (pip install -e '.[test]')"
    site = tmp_path / "site"
    proc = subprocess.run(
        [mkdocs, "build", "--strict", "-d", str(site)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        timeout=600,
    )
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    pages = sorted(site.rglob("*.html"))
    assert {p.parent.name for p in pages} >= {"guide", "plugins", "architecture", "api", "errors"}
    api = (site / "api" / "index.html").read_text(encoding="utf-8")
    assert "KerasModel" in api and "setup_process" in api  # generated from the docstrings
    fetched = re.compile(r"""(src|href)=["']https?://(?!127\.0\.0\.1)""")
    for page in pages:
        text = page.read_text(encoding="utf-8")
        for match in fetched.finditer(text):
            tag = text[text.rfind("<", 0, match.start()) : match.end() + 60]
            assert tag.startswith("<a "), f"{page.relative_to(site)} fetches from the internet: {tag}"


def test_every_file_the_readme_links_is_in_the_repository():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    targets = {t.split("#")[0] for t in re.findall(r"\]\(([^)\s]+)\)", readme) if "://" not in t and t[0] != "#"}
    assert "docs/media/chorale.ogg" in targets  # the tour's chorale, to hear
    assert sorted(t for t in targets if not (ROOT / t).exists()) == []
