"""See and hear: sheet music on the listening page, the score renderer's speed, and gen serve under load.

    python benchmarks/see_and_hear.py                      # trains the default preset first (2 minutes)
    python benchmarks/see_and_hear.py --run runs/bench-quality/default

1. Samples ``--tunes`` tunes from a default-preset run (seed 11) and renders them with every default
   renderer: the share of clean tunes (abc2midi: no Error line) whose card on the listening page shows
   an SVG score with notes, and the score renderer's tunes a second, timed alone on the same tunes.
2. Starts ``gen serve`` on the run and times Compose of 4 tunes: one browser at a time (median), then
   4 at once (95th percentile); then sends every hostile request of tests/plugins/test_serve.py over
   HTTP and checks each gets a 4xx with a message, and that the server still answers.
Prints one table and, last, one JSON line with every number.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
TARGETS = {
    "clean_with_score_pct": (">=", 99),
    "score_tunes_per_s": (">=", 20),
    "compose_median_s": ("<=", 2),
    "compose_p95_4_browsers_s": ("<=", 5),
    "hostile_refused_pct": (">=", 100),
}


def default_run(args) -> Path:
    if args.run:
        return Path(args.run)
    path = ROOT / "runs" / "bench-see" / "default"
    if not (path / "model.keras").is_file():
        print(f"training the default preset into {path}", flush=True)
        subprocess.run(
            [sys.executable, "-m", "musegen", "train", "--preset", "default", "--out", str(path), "--force"], check=True
        )
    return path


def pages(run: Path, args, out: Path) -> dict:
    from musegen.pipeline import generate, make_renderers, render
    from musegen_web.tunes import verdicts

    pieces = generate(run, {"tunes": args.tunes, "seed": args.seed})
    built = make_renderers(["abc", "midi", "wav", "score", "page"])
    score = built.pop("score")
    t0 = time.perf_counter()
    scored = render(pieces, out, {"score": score})["score"]
    seconds = time.perf_counter() - t0
    render(pieces, out, built)  # the page last, linking every file
    page = (out / "index.html").read_text()
    cards = re.findall(r'<article class="tune" id="tune-(\d+)">(.*?)</article>', page, re.DOTALL)
    clean = [i for i, (kind, _) in enumerate(verdicts(pieces)) if kind != "wrong"]
    shown = 0
    for i in clean:
        img = re.search(r'<img class="score" src="([^"]+)"', cards[i][1])
        if img and (out / img.group(1)).read_text().count('class="note"') > 0:
            shown += 1
    return {
        "tunes": len(pieces),
        "clean": len(clean),
        "clean_with_score_pct": round(100.0 * shown / len(clean), 1),
        "score_failed": len(scored.failed),
        "score_tunes_per_s": round(len(pieces) / seconds, 1),
    }


def serve(run: Path, args) -> dict:
    import httpx

    with open(run.parent / "serve.log", "w") as log:  # a pipe nobody reads could fill and stop the server
        proc = subprocess.Popen(
            [sys.executable, "-m", "musegen", "serve", str(run), "--port", "0"],
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
    try:
        url = re.search(r"http://\S+/", proc.stdout.readline()).group(0)
        name = json.loads(httpx.get(url + "api/runs").text)["runs"][0]["name"]

        def compose(seed: int) -> float:
            t0 = time.perf_counter()
            r = httpx.post(url + "api/compose", json={"run": name, "tunes": 4, "seed": seed}, timeout=120)
            r.raise_for_status()
            return time.perf_counter() - t0

        compose(0)  # the first loads the model and starts the workers
        alone = [compose(seed) for seed in range(1, args.composes + 1)]
        with ThreadPoolExecutor(4) as pool:
            together = list(pool.map(compose, range(1000, 1000 + 4 * args.composes)))
        from tests.plugins.test_serve import hostile

        with httpx.Client(base_url=url.rstrip("/"), timeout=120) as client:
            cases = hostile(client, run.resolve(), name)
            refused = [
                what
                for what, r in cases
                if 400 <= r.status_code < 500
                and r.headers.get("content-type", "").startswith("application/json")
                and r.json().get("error")
            ]
            still = client.get("/api/runs").status_code == 200
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return {
        "compose_median_s": round(statistics.median(alone), 2),
        "compose_p95_4_browsers_s": round(statistics.quantiles(together, n=20)[-1], 2),
        "compose_median_4_browsers_s": round(statistics.median(together), 2),
        "hostile_kinds": len(cases),
        "hostile_refused_pct": round(100.0 * len(refused) / len(cases), 1) if still else 0.0,
        "not_refused": [what for what, _ in cases if what not in refused],
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", help="a trained default-preset run [default: train one into runs/bench-see]")
    ap.add_argument("--tunes", type=int, default=200)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--composes", type=int, default=10, help="Compose presses timed, alone and by each of 4 browsers")
    args = ap.parse_args()
    run = default_run(args)
    with tempfile.TemporaryDirectory() as tmp:  # gen serve writes into its runs' folders: serve a copy
        import shutil

        copy = Path(tmp) / run.resolve().name
        shutil.copytree(run, copy, ignore=shutil.ignore_patterns("serve", "samples", "eval*"))
        result = {**pages(copy, args, Path(tmp) / "page"), **serve(copy, args)}
    for key, value in result.items():
        target = TARGETS.get(key)
        mark = ""
        if target:
            ok = value >= target[1] if target[0] == ">=" else value <= target[1]
            mark = f"  (target {target[0]} {target[1]}: {'met' if ok else 'MISSED'})"
        print(f"{key:30s} {value}{mark}")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
