"""A worker process for native code that may crash: a crash or a hang costs one job, never the caller.

The worker is a plain program reading jobs on stdin (not a ``multiprocessing`` child, which would import
the caller's ``__main__`` again). One job at a time: the caller writes a JSON line, the job's fields and
``"size": N``, then ``N`` bytes; the worker answers one JSON line (:func:`serve` is its side).
"""

from __future__ import annotations

import json
import os
import queue
import select
import subprocess
import sys
from collections.abc import Callable


class Worker:
    """One worker process; a job that kills it fails that job, and the next job starts a new one."""

    def __init__(self, command: Callable[[], list[str]], timeout: float, crashed: str = "the worker crashed"):
        self.command, self.timeout, self.crashed = command, timeout, crashed  # command(): the worker's argv
        self.proc: subprocess.Popen | None = None

    def run(self, job: dict, data: bytes) -> dict:
        """The worker's answer to ``job`` with ``data``; ``{"ok": False, "why": ...}`` where it died."""
        if self.proc is None or self.proc.poll() is not None:
            self.proc = subprocess.Popen(
                self.command(), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
            )
        hung = False
        try:
            self.proc.stdin.write(json.dumps({**job, "size": len(data)}).encode() + b"\n" + data)
            self.proc.stdin.flush()
            ready, _, _ = select.select([self.proc.stdout], [], [], self.timeout)
            hung = not ready
            line = self.proc.stdout.readline() if ready else b""
        except (BrokenPipeError, OSError):
            line = b""
        if not line:
            if hung:
                self.proc.kill()
            try:
                code = self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                code = None
            self.close()
            if hung:
                return {"ok": False, "why": f"no answer in {self.timeout:g} s"}
            return {"ok": False, "why": self.crashed + (f" (signal {-code})" if code and code < 0 else "")}
        return json.loads(line)

    def close(self) -> None:
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.stdin.close()
                try:
                    self.proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
            self.proc = None

    def __enter__(self) -> Worker:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class Pool:
    """``jobs`` workers shared by threads: :meth:`run` takes an idle one, waiting for one if none is."""

    def __init__(
        self, command: Callable[[], list[str]], jobs: int, timeout: float, crashed: str = "the worker crashed"
    ):
        self.workers = [Worker(command, timeout, crashed) for _ in range(max(1, jobs))]
        self._idle: queue.SimpleQueue[Worker] = queue.SimpleQueue()
        for w in self.workers:
            self._idle.put(w)

    def run(self, job: dict, data: bytes) -> dict:
        worker = self._idle.get()
        try:
            return worker.run(job, data)
        finally:
            self._idle.put(worker)

    def close(self) -> None:
        for w in self.workers:
            w.close()

    def __enter__(self) -> Pool:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class Pooled:
    """For a renderer whose work runs in worker processes: ``crashed`` (what a crash fails a job with),
    ``worker_command()`` and ``config.timeout`` and ``config.jobs``. Its workers start for one render, or
    are kept between renders from :meth:`keep_workers` to :meth:`close` (``gen serve``)."""

    crashed = "the worker crashed"
    kept: Pool | None = None

    def worker_command(self) -> list[str]:
        raise NotImplementedError

    def _jobs(self, n: int | None = None) -> int:
        jobs = self.config.jobs or os.cpu_count() or 1
        return max(1, min(n, jobs)) if n is not None else jobs

    def pool(self, n: int) -> Pool:
        """The kept workers, or ``n`` new ones (at most ``config.jobs``) to :meth:`release` after."""
        return self.kept or Pool(self.worker_command, self._jobs(n), self.config.timeout, self.crashed)

    def release(self, pool: Pool) -> None:
        if pool is not self.kept:
            pool.close()

    def render_each(self, pieces: list, one: Callable, threads_per_worker: int = 1):
        """``one(i, piece, pool) -> (title, files, why)`` for every piece (numbered from 1) on threads sharing
        the workers; a piece with no files is reported failed with ``why``."""
        from concurrent.futures import ThreadPoolExecutor

        from musegen.interfaces import Rendered

        pool = self.pool(len(pieces))
        out = Rendered()
        try:
            with ThreadPoolExecutor(max_workers=threads_per_worker * len(pool.workers)) as threads:
                for title, files, why in threads.map(lambda i, p: one(i, p, pool), range(1, len(pieces) + 1), pieces):
                    if files:
                        out.files += files
                    else:
                        out.failed.append((title, why))
        finally:
            self.release(pool)
        return out

    def keep_workers(self) -> None:
        if self.kept is None:
            self.kept = Pool(self.worker_command, self._jobs(), self.config.timeout, self.crashed)

    def close(self) -> None:
        if self.kept is not None:
            self.kept.close()
            self.kept = None


NICE = 10  # added to the workers' niceness


def serve(handle: Callable[[dict, bytes], dict]) -> int:
    """The worker's loop: each job's answer is ``handle(job, data)``, or why it raised.

    Workers run at a lower priority: where sampling shares the CPU with them (gen serve), the next
    tunes' sampling, which nothing else can do meanwhile, goes first."""
    try:
        os.nice(NICE)
    except OSError:
        pass
    jobs, replies = sys.stdin.buffer, sys.stdout
    while True:
        header = jobs.readline()
        if not header:
            return 0
        job = json.loads(header)
        data = jobs.read(job["size"])
        try:
            reply = handle(job, data)
        except Exception as exc:
            reply = {"ok": False, "why": " ".join(f"{type(exc).__name__}: {exc}".split())[:200]}
        replies.write(json.dumps(reply) + "\n")
        replies.flush()
