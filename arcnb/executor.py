"""Run untrusted `transform(grid)` programs: a pool of warm workers, one fresh child per program.

Each worker (`arcnb/_worker.py`, started as its own interpreter with a scrubbed environment)
imports numpy and friends once, cuts itself off the network, then forks a child per program.
The child drops to an unprivileged uid, is chrooted into an empty read-only directory, gets
resource limits (address space, CPU, file size 0, no new processes) and /dev/null for stdio,
and sends one JSON line per grid back through a pipe. The worker kills the child's process
group at each grid's wall-clock deadline and forks a new child for the remaining grids.

Results are JSON (never unpickled) and are validated again here: a non-empty rectangular list
of lists of ints 0-9, at most 30x30.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import queue
import select
import subprocess
import sys
import threading
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

from arcnb._worker import validate_grid
from arcnb.errors import ExecutorError

logger = logging.getLogger("arcnb")

Grid = list[list[int]]
Status = Literal["ok", "timeout", "memory", "error", "invalid"]
STATUSES: tuple[str, ...] = ("ok", "timeout", "memory", "error", "invalid")
WORKER_SCRIPT = Path(__file__).with_name("_worker.py")
# Environment variables a worker may inherit: nothing secret, only what numpy/BLAS need.
_ENV_KEEP = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "LD_LIBRARY_PATH", "TMPDIR")
_SLACK_S = 5.0  # on top of the per-grid timeouts: fork, compile, pipe transfer
_START_TIMEOUT_S = 60.0  # a cold worker imports numpy (and scipy when present)


@dataclass(frozen=True)
class ExecResult:
    """The outcome of running one program on one grid.

    Attributes:
        status: ok, timeout, memory, error (the program raised or crashed) or invalid (it
            returned something that is not a grid).
        output: The grid returned, when status is ok.
        error_type: Exception type name (or Timeout, Crash, Exit, InvalidOutput).
        error: Human-readable detail, at most 500 characters.
        duration: Wall-clock seconds this grid took in the worker.
    """

    status: Status
    output: Grid | None = None
    error_type: str | None = None
    error: str | None = None
    duration: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _worker_env() -> dict[str, str]:
    """A clean environment: no API keys or other secrets reach a worker or its programs."""
    env = {k: os.environ[k] for k in _ENV_KEEP if k in os.environ}
    env.update(
        PATH="/usr/local/bin:/usr/bin:/bin",
        LANG="C.UTF-8",
        OPENBLAS_NUM_THREADS="1",  # one BLAS thread: the pool already uses every core
        OMP_NUM_THREADS="1",
        MKL_NUM_THREADS="1",
        PYTHONHASHSEED="0",
    )
    return env


class _Worker:
    """The pool's handle on one worker process."""

    def __init__(self, memory_mb: int) -> None:
        cfg = json.dumps({"memory_mb": memory_mb})
        self.proc = subprocess.Popen(
            [sys.executable, "-I", "-B", str(WORKER_SCRIPT), cfg],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=_worker_env(),
            start_new_session=True,  # Ctrl-C in a notebook must not kill the pool
            close_fds=True,
        )
        self.fd = self.proc.stdout.fileno()
        self.buf = b""
        self.isolation: dict[str, Any] = {}
        self.jail: str | None = None

    def wait_ready(self) -> None:
        msg = self._read_line(time.monotonic() + _START_TIMEOUT_S)
        if not msg.get("ready"):
            raise ExecutorError(f"worker failed to start: {msg}")
        self.isolation = msg["isolation"]
        self.jail = msg.get("jail")

    def request(self, payload: bytes, deadline: float) -> dict:
        self.proc.stdin.write(payload)
        self.proc.stdin.flush()
        return self._read_line(deadline)

    def _read_line(self, deadline: float) -> dict:
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.fd], [], [], left)[0]:
                raise TimeoutError("worker missed its deadline")
            chunk = os.read(self.fd, 1 << 20)
            if not chunk:
                raise EOFError(f"worker exited with code {self.proc.poll()}")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def kill(self) -> None:
        try:
            os.killpg(self.proc.pid, 9)
        except (ProcessLookupError, PermissionError):
            pass
        for stream in (self.proc.stdin, self.proc.stdout):
            try:
                stream.close()
            except OSError:
                pass
        self.proc.wait()
        if self.jail:  # the worker was SIGKILLed and could not remove its empty jail itself
            try:
                os.rmdir(self.jail)
            except OSError:
                pass


class Executor:
    """A pool of warm, hardened workers that run `transform(grid)` programs.

    Usable as a context manager; workers start on first use and stop on `close()`.

    Args:
        workers: Worker processes (default: one per core).
        timeout: Wall-clock seconds allowed per grid (default 0.5).
        memory_mb: Address space a program may map on top of the worker's own, in MB.
        require_isolation: Raise ExecutorError instead of degrading when a sandboxing
            mechanism (network namespace or seccomp, unprivileged uid, chroot) is unavailable.
    """

    def __init__(
        self,
        workers: int | None = None,
        timeout: float = 0.5,
        memory_mb: int = 512,
        require_isolation: bool = False,
    ) -> None:
        if timeout <= 0:
            raise ValueError(f"timeout must be > 0 seconds, got {timeout}")
        self.n_workers = workers or os.cpu_count() or 1
        self.timeout = timeout
        self.memory_mb = memory_mb
        self.require_isolation = require_isolation
        self._idle: queue.Queue[_Worker] = queue.Queue()
        self._all: list[_Worker] = []
        self._lock = threading.Lock()
        self._started = False
        self._closed = False
        self.isolation: dict[str, Any] = {}
        self.replaced_workers = 0

    # ---- lifecycle -------------------------------------------------------------------
    def start(self) -> Executor:
        """Start the workers now (otherwise they start on first use)."""
        with self._lock:
            if self._closed:
                raise ExecutorError("executor is closed")
            if self._started:
                return self
            new = [_Worker(self.memory_mb) for _ in range(self.n_workers)]
            for w in new:
                w.wait_ready()
            self._all.extend(new)
            for w in new:
                self._idle.put(w)
            self.isolation = self._summarise(new[0].isolation)
            self._started = True
        return self

    def _summarise(self, iso: dict[str, Any]) -> dict[str, Any]:
        missing = []
        if iso.get("network") == "none":
            missing.append("network isolation (no namespace, no seccomp)")
        if iso.get("uid") != "unprivileged":
            missing.append("unprivileged uid (not running as root)")
        if iso.get("filesystem") != "chroot":
            missing.append("filesystem jail (chroot needs root)")
        level = "full" if not missing else "partial"
        summary = {"level": level, **iso, "missing": missing}
        if missing:
            text = "arcnb executor runs with reduced isolation; missing: " + "; ".join(missing)
            if self.require_isolation:
                raise ExecutorError(text)
            warnings.warn(text, RuntimeWarning, stacklevel=3)
            logger.warning(text)
        return summary

    def close(self) -> None:
        """Stop every worker. Safe to call twice."""
        with self._lock:
            self._closed = True
            for w in self._all:
                w.kill()
            self._all.clear()

    def __enter__(self) -> Executor:
        return self.start()

    def __exit__(
        self, exc_type: type | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass

    # ---- running ---------------------------------------------------------------------
    def run(self, code: str, grids: list[Grid], timeout: float | None = None) -> list[ExecResult]:
        """Run `code`'s transform on each grid, in a fresh sandboxed child.

        Args:
            code: Python source defining `transform(grid)`.
            grids: Input grids; each gets its own wall-clock timeout.
            timeout: Seconds per grid (default: the executor's).

        Returns:
            One ExecResult per grid, in order.
        """
        if not grids:
            return []
        self.start()
        timeout = timeout or self.timeout
        payload = (json.dumps({"code": code, "grids": grids, "timeout": timeout}) + "\n").encode()
        deadline_s = len(grids) * timeout + _SLACK_S
        for attempt in range(2):
            worker = self._idle.get()
            try:
                reply = worker.request(payload, time.monotonic() + deadline_s)
            except (TimeoutError, EOFError, OSError, ValueError) as exc:
                self._replace(worker, exc)
                if attempt == 0 and not isinstance(exc, TimeoutError):
                    continue  # a worker that died is retried once on a fresh one
                status = "timeout" if isinstance(exc, TimeoutError) else "error"
                return [ExecResult(status, None, "WorkerFailure", str(exc))] * len(grids)
            self._idle.put(worker)
            if "results" not in reply or len(reply["results"]) != len(grids):
                raise ExecutorError(f"worker error: {reply.get('error', reply)}")
            return [_checked(r) for r in reply["results"]]
        raise AssertionError("unreachable")

    async def arun(
        self, code: str, grids: list[Grid], timeout: float | None = None
    ) -> list[ExecResult]:
        """Async twin of `run`: the blocking pipe I/O runs off the event loop."""
        return await asyncio.to_thread(self.run, code, grids, timeout)

    def run_many(
        self, programs: list[tuple[str, list[Grid]]], timeout: float | None = None
    ) -> list[list[ExecResult]]:
        """Run many programs over every worker at once; results in input order."""
        self.start()
        out: list[list[ExecResult] | None] = [None] * len(programs)
        it = iter(enumerate(programs))
        it_lock = threading.Lock()

        def drain() -> None:
            while True:
                with it_lock:
                    item = next(it, None)
                if item is None:
                    return
                i, (code, grids) = item
                out[i] = self.run(code, grids, timeout)

        threads = [threading.Thread(target=drain) for _ in range(self.n_workers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return out  # type: ignore[return-value]

    def _replace(self, worker: _Worker, why: BaseException) -> None:
        logger.warning("replacing executor worker %s: %s", worker.proc.pid, why)
        worker.kill()
        with self._lock:
            if worker in self._all:
                self._all.remove(worker)
            if self._closed:
                return
            fresh = _Worker(self.memory_mb)
            self._all.append(fresh)
        fresh.wait_ready()
        self.replaced_workers += 1
        self._idle.put(fresh)


def _checked(r: dict) -> ExecResult:
    """Re-validate a worker's result; the child that produced it was untrusted."""
    status = r.get("status")
    duration = float(r.get("duration") or 0.0)
    if status == "ok":
        grid, why = validate_grid(r.get("output"))
        if grid is None:
            return ExecResult("invalid", None, "InvalidOutput", why, duration)
        return ExecResult("ok", grid, None, None, duration)
    if status not in STATUSES:
        return ExecResult("invalid", None, "InvalidOutput", f"unknown status {status!r}", duration)
    return ExecResult(status, None, r.get("error_type"), r.get("error"), duration)
