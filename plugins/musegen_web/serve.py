"""``gen serve``'s web app (Starlette, run by uvicorn): compose tunes from trained runs in the browser.

Each Compose samples from one run, renders the tunes (ABC, MIDI, compressed sound, sheet music) into a
folder of their own under ``RUN/serve/``, with the settings that made them in ``settings.json``: that
folder is the history, across restarts. The app writes nowhere else, and serves only those folders.
"""

from __future__ import annotations

import json
import random
import re
import threading
import time
from datetime import datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse
from starlette.routing import Route

from musegen.errors import MusegenError, one_line, validation_message
from musegen.rundir import NUMBERED, numbered_folder

MAX_BODY = 16_384  # bytes of one request: a prime of a whole tune fits
MAX_WAITING = 8  # composes queued at once; more get 503 until some are done
FILE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,120}$")
# A composition's sound is a preview to listen to at once: compressed only, at half the CD rate (half the
# encoding: Compose stays quick with several browsers at once). Its MIDI is there for the full sound.
RENDERERS = {"abc": {}, "midi": {}, "wav": {"keep_wav": False, "sample_rate": 22050}, "score": {}}


class Compose(BaseModel):
    """One press of Compose: what the user asked for. Left out: the corpus's own choice (controls), the
    run's own setting (temperature), a new seed."""

    model_config = ConfigDict(extra="forbid")
    run: str = Field(max_length=200)
    tunes: int = Field(4, ge=1, le=8)
    type: str | None = Field(None, max_length=40)
    meter: str | None = Field(None, max_length=20)
    key: str | None = Field(None, max_length=20)
    parts: int | None = Field(None, ge=1, le=12)
    bars: int | None = Field(None, ge=1, le=64)
    temperature: float | None = Field(None, ge=0.05, le=2.0)
    seed: int | None = Field(None, ge=0, le=2**32 - 1)
    prime: str = Field("", max_length=4000)


class Problem(Exception):
    """A request the app refuses: its HTTP status and one readable line."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


class Run:
    """One trained run: opened (model loaded) on first use, sampled by one request at a time."""

    def __init__(self, name: str, path: Path):
        self.name, self.path = name, path
        self.lock = threading.Lock()
        self._loaded = None
        self._renderers = None

    def loaded(self):
        if self._loaded is None:
            from musegen.pipeline import load_run

            self._loaded = load_run(self.path)
        return self._loaded

    def renderers(self) -> dict:
        if self._renderers is None:
            from musegen.pipeline import make_renderers

            fmt = getattr(self.loaded()[2], "format", "abc")
            names = [n for n in RENDERERS if fmt == "abc" or n != "abc"]
            self._renderers = make_renderers(names, RENDERERS)
            for r in self._renderers.values():
                getattr(r, "keep_workers", lambda: None)()
        return self._renderers

    def info(self) -> dict:
        _, cfg, encoder, _ = self.loaded()
        choices = encoder.choices() if hasattr(encoder, "choices") else None
        return {
            "name": self.name,
            "path": str(self.path),
            "format": getattr(encoder, "format", "abc"),
            "choices": choices,
            "temperature": cfg.sample.temperature,
        }

    def close(self) -> None:
        for r in (self._renderers or {}).values():
            getattr(r, "close", lambda: None)()


class App:
    """The runs, the compositions made so far, and the routes."""

    def __init__(self, runs: dict[str, Run]):
        self.runs = runs
        self.waiting = 0
        self.count_lock = threading.Lock()
        self.started = time.time()

    def run(self, name) -> Run:
        if not isinstance(name, str) or name not in self.runs:
            raise Problem(404, f"unknown run '{str(name)[:80]}'; the runs are: {', '.join(self.runs)}")
        return self.runs[name]

    # --- composing -------------------------------------------------------------------------------------
    def compose(self, ask: Compose) -> dict:
        from musegen.pipeline import render, sample_run

        run = self.run(ask.run)
        seed = ask.seed if ask.seed is not None else random.SystemRandom().randrange(2**31)
        settings = {k: v for k, v in ask.model_dump().items() if v not in (None, "")} | {"seed": seed}
        sample = {
            k: settings[k]
            for k in ("tunes", "type", "meter", "key", "parts", "bars", "temperature", "seed", "prime")
            if k in settings
        }
        t0 = time.perf_counter()
        with run.lock:  # one sampling of a model at a time; rendering runs beside the next one
            loaded = run.loaded()
            try:
                pieces = sample_run(loaded, sample)
            except ValidationError as exc:
                raise Problem(422, validation_message(exc)) from None
            except MusegenError as exc:  # a control the corpus lacks, a prime the vocabulary cannot spell
                raise Problem(422, one_line(exc).removeprefix("--")) from None
            folder = numbered_folder(run.path / "serve")
            renderers = run.renderers()
        from musegen_web.tunes import tune_entries

        try:
            render(pieces, folder, renderers)
            entries = tune_entries(pieces, folder)
        except BaseException:
            import shutil

            shutil.rmtree(folder, ignore_errors=True)  # made by this request, a moment ago: nothing else in it
            raise
        seconds = round(time.perf_counter() - t0, 2)
        record = {
            "id": folder.name,
            "run": run.name,
            "settings": settings,
            "made": datetime.now().isoformat(timespec="seconds"),
            "seconds": seconds,
            "tunes": [
                {k: e[k] for k in ("index", "title", "type", "meter", "key", "form", "verdict")} for e in entries
            ],
        }
        from musegen.atomic import write_json

        write_json(folder / "settings.json", record)
        return self._shown(run, folder.name, record, entries)

    def _shown(self, run: Run, cid: str, record: dict, entries: list[dict]) -> dict:
        from musegen_web.card import tune_html

        base = f"/files/{run.name}/{cid}/"
        return {**record, "html": "\n".join(tune_html(e, base) for e in entries)}

    # --- history ---------------------------------------------------------------------------------------
    def history(self, limit: int = 100) -> list[dict]:
        records = []
        for run in self.runs.values():
            base = run.path / "serve"
            if not base.is_dir():
                continue
            for folder in base.iterdir():
                if NUMBERED.match(folder.name) and (folder / "settings.json").is_file():
                    try:
                        records.append(json.loads((folder / "settings.json").read_text(encoding="utf-8")))
                    except (OSError, ValueError):
                        continue  # a damaged record hides one composition, never the history
        records = [r for r in records if isinstance(r, dict) and r.get("run") in self.runs]
        return sorted(records, key=lambda r: (str(r.get("made", "")), str(r.get("id", ""))), reverse=True)[:limit]

    def composition(self, run_name: str, cid: str) -> dict:
        run = self.run(run_name)
        folder = self._folder(run, cid)
        try:
            record = json.loads((folder / "settings.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            raise Problem(404, f"composition '{cid}' has no readable settings.json") from None
        from musegen import Piece
        from musegen_web.tunes import tune_entries

        pieces = []
        for t in record.get("tunes", []):
            stem = f"{int(t['index']):02d}-"
            abc = next(iter(sorted(folder.glob(stem + "*.abc"))), None)
            mid = next(iter(sorted(folder.glob(stem + "*.mid"))), None)
            if abc is not None:
                pieces.append(Piece.from_abc(abc.read_text(encoding="utf-8")))
            elif mid is not None:
                pieces.append(Piece.from_midi(mid.read_bytes(), title=t.get("title", "")))
        return self._shown(run, cid, record, tune_entries(pieces, folder))

    def _folder(self, run: Run, cid: str) -> Path:
        if not NUMBERED.match(cid or ""):
            raise Problem(404, f"no composition '{cid[:80]}'")
        folder = run.path / "serve" / cid
        if not folder.is_dir():
            raise Problem(404, f"no composition '{cid}' in run '{run.name}'")
        return folder

    def file(self, run_name: str, cid: str, name: str) -> Path:
        run = self.run(run_name)
        folder = self._folder(run, cid)
        if not FILE.match(name) or ".." in name:
            raise Problem(404, f"no file '{name[:80]}'")
        path = folder / name
        if not path.is_file() or path.is_symlink() or path.resolve().parent != folder.resolve():
            raise Problem(404, f"no file '{name}' in composition '{cid}'")
        return path


# --- HTTP ------------------------------------------------------------------------------------------------


def error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


async def read_json(request: Request) -> dict:
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/json":
        raise Problem(415, "send the settings as JSON (Content-Type: application/json)")
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY):
        raise Problem(413, f"a request may hold at most {MAX_BODY} bytes")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise Problem(413, f"a request may hold at most {MAX_BODY} bytes")
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise Problem(400, "the request is not valid JSON") from None
    if not isinstance(data, dict):
        raise Problem(400, "the request must be a JSON object of settings")
    return data


def build(runs: dict[str, Run]) -> Starlette:
    app_state = App(runs)

    def guarded(handler):
        async def endpoint(request: Request):
            try:
                return await handler(request)
            except Problem as p:
                return error(p.status, p.message)

        return endpoint

    async def index(request: Request):
        from musegen_web.app_page import page

        return HTMLResponse(page())

    async def list_runs(request: Request):
        infos = []
        for run in runs.values():
            try:
                infos.append(await run_in_threadpool(run.info))
            except MusegenError as exc:
                infos.append({"name": run.name, "error": one_line(exc)})
        return JSONResponse({"runs": infos})

    async def compose(request: Request):
        data = await read_json(request)
        try:
            ask = Compose(**data)
        except ValidationError as exc:
            raise Problem(
                422,
                validation_message(exc)
                .replace("invalid configuration", "invalid settings", 1)
                .replace("unknown option", "unknown setting"),
            ) from None
        app_state.run(ask.run)
        with app_state.count_lock:
            if app_state.waiting >= MAX_WAITING:
                raise Problem(503, f"busy: {MAX_WAITING} compositions are being made; try again in a moment")
            app_state.waiting += 1
        try:
            return JSONResponse(await run_in_threadpool(app_state.compose, ask))
        finally:
            with app_state.count_lock:
                app_state.waiting -= 1

    async def history(request: Request):
        return JSONResponse({"history": await run_in_threadpool(app_state.history)})

    async def composition(request: Request):
        p = request.path_params
        return JSONResponse(await run_in_threadpool(app_state.composition, p["run"], p["cid"]))

    async def file(request: Request):
        p = request.path_params
        return FileResponse(app_state.file(p["run"], p["cid"], p["name"]))

    routes = [
        Route("/", guarded(index)),
        Route("/api/runs", guarded(list_runs)),
        Route("/api/compose", guarded(compose), methods=["POST"]),
        Route("/api/history", guarded(history)),
        Route("/api/compositions/{run}/{cid}", guarded(composition)),
        Route("/files/{run}/{cid}/{name}", guarded(file)),
    ]

    async def not_found(request: Request, exc):
        return error(404, f"nothing at {request.url.path[:100]}")

    async def not_allowed(request: Request, exc):
        return error(405, f"{request.method} is not allowed at {request.url.path[:100]}")

    async def failed(request: Request, exc):  # a bug: the server keeps serving, the page says what broke
        return error(500, f"the server failed on this request: {one_line(exc)}")

    app = Starlette(routes=routes, exception_handlers={404: not_found, 405: not_allowed, Exception: failed})
    app.state.musegen = app_state
    return app


def find_runs(paths: list[Path]) -> dict[str, Run]:
    """The runs to serve, by a name for each: the folders given, else every trained run in ``./runs``."""
    from musegen.rundir import RunDir

    if not paths:
        root = Path("runs")
        paths = sorted(p for p in root.iterdir() if (p / "run.json").is_file()) if root.is_dir() else []
        if not paths:
            raise MusegenError(
                "no runs to compose from: give run folders (gen serve RUN_DIR ...) or train one with gen run"
            )
    runs: dict[str, Run] = {}
    for path in paths:
        run = RunDir.open(path)
        if not run.has_checkpoint():
            raise MusegenError(f"{path} has no trained model yet")
        name = re.sub(r"[^A-Za-z0-9_.-]", "-", run.path.resolve().name) or "run"
        unique, n = name, 2
        while unique in runs:
            unique, n = f"{name}-{n}", n + 1
        runs[unique] = Run(unique, run.path.resolve())
    return runs


def main(paths: list[Path], host: str, port: int, open_browser: bool) -> None:
    import socket

    import uvicorn

    runs = find_runs(paths)
    app = build(runs)
    Server = _server_class()
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        raise MusegenError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    bound = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{bound}/"
    print(
        f"musegen serve: {len(runs)} run{'s' * (len(runs) != 1)} ({', '.join(runs)}) at {url}  (Ctrl-C to stop)",
        flush=True,
    )
    if open_browser:
        import webbrowser

        threading.Timer(0.5, webbrowser.open, args=(url,)).start()
    server = Server(uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=5))
    try:
        server.run(sockets=[sock])
    finally:
        for run in runs.values():
            run.close()
    print("musegen serve: stopped", flush=True)


def _server_class():
    import contextlib

    import uvicorn

    from musegen.interrupts import handled

    class Server(uvicorn.Server):
        """Ctrl-C or SIGTERM stops the server, which is how a server ends: not an error (exit 0). A second
        one stops it without waiting for requests in flight."""

        @contextlib.contextmanager
        def capture_signals(self):
            def stop(*_):
                self.force_exit = self.should_exit
                self.should_exit = True

            with handled(stop):
                yield

    return Server
