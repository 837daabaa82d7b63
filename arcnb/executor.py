"""Run untrusted `transform(grid)` programs: a pool of warm workers, one fresh child per program.

Each worker (`arcnb/_worker.py`, started as its own interpreter with a scrubbed environment)
imports numpy and friends once, cuts itself off the network, then forks a child per program.
The child drops to an unprivileged uid, is chrooted into an empty read-only directory, gets
resource limits (address space, CPU, file size 0, no new processes) and /dev/null for stdio,
and sends one JSON line per grid back through a pipe. The child first compiles the program and
runs its top level under a limit of its own (`compile_timeout`, default `COMPILE_TIMEOUT_S`);
only then does the first grid's clock start, so each grid's deadline covers `transform` on that
grid alone. The worker kills the child's process group at the compile deadline (every grid then
times out with a reason saying so) or at a grid's deadline (then it forks a new child, which
compiles again under its own limit, for the remaining grids).

Results are JSON (never unpickled), validated strictly by the worker before they leave it: a
non-empty rectangular list of lists of ints 0-9, at most 30x30 (`arcnb.grid.model_output`).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import glob
import json
import logging
import os
import queue
import re
import select
import shutil
import stat
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from concurrent.futures import Future
from dataclasses import asdict, dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

from arcnb.errors import ExecutorError, IsolationError
from arcnb.grid import Grid

logger = logging.getLogger("arcnb")

Status = Literal["ok", "timeout", "memory", "error", "invalid"]
STATUSES: tuple[str, ...] = ("ok", "timeout", "memory", "error", "invalid")
WORKER_SCRIPT = Path(__file__).with_name("_worker.py")
_JAIL_PREFIX = "arcnb-jail-"  # = _worker.JAIL_PREFIX; followed by the worker's pid
# Environment variables a worker may inherit: nothing secret, only what numpy/BLAS need.
_ENV_KEEP = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "LD_LIBRARY_PATH", "TMPDIR")
# Seconds for compile() plus the program's top level, per child, apart from the per-grid
# timeout. 1 MB of source compiles in 1-2.5 s on a busy core, and took over 5 s at a load of 4
# per core: the limit leaves room for that, and costs only a program whose top level hangs.
COMPILE_TIMEOUT_S = 10.0
_SLACK_S = 5.0  # on top of the compile and per-grid limits: fork, pipe transfer, JSON
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
        duration: Wall-clock seconds this grid's `transform` took in the worker (0.0 when the
            program failed to compile or its top level failed, so no grid ran).
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


@dataclass
class _Job:
    payload: bytes
    n_grids: int
    timeout: float
    compile_timeout: float
    future: Future
    tries: int = 0


class _Worker:
    """The pool's handle on one worker process.

    Jobs are pipelined: up to `depth` requests sit in the worker's stdin, so it starts the next
    program the moment it replies to the previous one. A reader thread resolves the jobs' futures
    in order and enforces each job's deadline, which starts when the job reaches the head. A
    writer thread feeds stdin, so that queueing a large program (1 MB is more than the pipe
    holds) behind a busy one blocks neither the caller nor the pool's lock.
    """

    def __init__(self, pool: Executor) -> None:
        self.pool = pool
        cfg = json.dumps({"memory_mb": pool.memory_mb, **pool._worker_options})
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
        self.jobs: collections.deque[_Job] = collections.deque()
        self.outbox: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self.dead = False

    def wait_ready(self) -> None:
        msg = self._read_line(time.monotonic() + _START_TIMEOUT_S)
        if not msg.get("ready"):
            raise ExecutorError(f"worker failed to start: {msg}")
        self.isolation = msg["isolation"]
        self.jail = msg.get("jail")
        threading.Thread(target=self._reader, name="arcnb-exec-reader", daemon=True).start()
        threading.Thread(target=self._writer, name="arcnb-exec-writer", daemon=True).start()

    def submit(self, job: _Job) -> None:
        """Queue a job (the pool holds its lock); never blocks."""
        self.jobs.append(job)
        self.outbox.put(job.payload)

    def _writer(self) -> None:
        # A write that fails means the worker died: its reader sees EOF and hands the jobs over.
        while (payload := self.outbox.get()) is not None and not self.dead:
            try:
                self.proc.stdin.write(payload)
                self.proc.stdin.flush()
            except (OSError, ValueError):
                return

    def _reader(self) -> None:
        started: float | None = None  # when the job at the head began to run
        while not self.dead:
            with self.pool._lock:
                job = self.jobs[0] if self.jobs else None
            if job is None:  # idle: only watch for the worker's death
                started = None
                if select.select([self.fd], [], [], 0.05)[0] and not self.dead:
                    chunk = os.read(self.fd, 1 << 20)
                    if not chunk:
                        self.pool._worker_failed(self, EOFError("worker exited"))
                        return
                    self.buf += chunk
                continue
            if started is None:
                started = time.monotonic()
            try:
                # Worst case: every grid hangs, and each new child compiles for its whole limit.
                limit = job.n_grids * (job.timeout + job.compile_timeout) + _SLACK_S
                msg = self._read_line(started + limit)
            except (TimeoutError, EOFError, OSError, ValueError) as exc:
                if not self.dead:
                    self.pool._worker_failed(self, exc)
                return
            started = time.monotonic()  # the next queued job starts now
            with self.pool._lock:
                self.jobs.popleft()
                if self in self.pool._load:
                    self.pool._load[self] = len(self.jobs)
                self.pool._fill()
            results = msg.get("results")
            if isinstance(results, list) and len(results) == job.n_grids:
                job.future.set_result([_checked(r) for r in results])
            else:
                job.future.set_exception(ExecutorError(f"worker error: {msg.get('error', msg)}"))

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
        self.dead = True
        self.outbox.put(None)  # ends the writer thread
        try:
            os.killpg(self.proc.pid, 9)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        self.proc.wait()
        if self.jail:  # the worker was SIGKILLed and could not remove its jail itself
            _remove_jail(self.jail)  # its mounts died with its namespace


class Executor:
    """A pool of warm, hardened workers that run `transform(grid)` programs.

    Usable as a context manager; workers start on first use and stop on `close()`. Thread-safe;
    `run` blocks, `arun` awaits without blocking the event loop, `run_many` runs a batch.

    Args:
        workers: Worker processes (default: one per core).
        timeout: Wall-clock seconds allowed per grid for `transform` (default 0.5).
        compile_timeout: Wall-clock seconds allowed for compiling the program and running its
            top level, before the first grid's clock starts (default `COMPILE_TIMEOUT_S`, 10).
            Past it every grid gets status timeout, "compile timed out after ... s".
        memory_mb: Address space a program may map on top of the worker's own, in MB.
        require_isolation: The lowest isolation level to run programs under (see
            `isolation_level`): "partial" (default) refuses only where nothing confines the
            filesystem, network or signals; "full" also refuses any missing mechanism; "none"
            runs programs even unconfined. Below it, `start` raises ExecutorError saying what
            is missing.
        depth: Requests queued per worker (2 keeps every worker busy between replies).
        _worker_options: For tests only: extra worker settings (``landlock_abi_max`` simulates
            a kernel with an older Landlock).
    """

    def __init__(
        self,
        workers: int | None = None,
        timeout: float = 0.5,
        compile_timeout: float = COMPILE_TIMEOUT_S,
        memory_mb: int = 512,
        require_isolation: str = "partial",
        depth: int = 2,
        _worker_options: dict[str, Any] | None = None,
    ) -> None:
        if timeout <= 0:
            raise ValueError(f"timeout must be > 0 seconds, got {timeout}")
        if not 0 < compile_timeout < float("inf"):
            raise ValueError(
                f"compile_timeout must be > 0 seconds and finite, got {compile_timeout}"
            )
        self.n_workers = workers or os.cpu_count() or 1
        self.timeout = timeout
        self.compile_timeout = compile_timeout
        self.memory_mb = memory_mb
        if require_isolation not in _LEVELS:  # a bug in the caller: config checks user input
            raise ValueError(
                f"require_isolation must be one of {_LEVELS}, got {require_isolation!r}"
            )
        self.require_isolation = require_isolation
        self.depth = max(1, depth)
        self._worker_options = dict(_worker_options or {})
        self._lock = threading.Lock()
        self._pending: collections.deque[_Job] = collections.deque()  # waiting for a worker
        self._load: dict[_Worker, int] = {}  # worker -> jobs queued in it
        self._started = False
        self._closed = False
        self.isolation: dict[str, Any] = {}
        self.replaced_workers = 0

    # ---- lifecycle -------------------------------------------------------------------
    def start(self) -> Executor:
        """Start the workers now (otherwise they start on first use)."""
        if self._started and not self._closed:  # every submit passes here: skip the lock
            return self
        with self._lock:
            if self._closed:
                raise ExecutorError("executor is closed")
            if self._started:
                return self
            sweep_stale_jails()
            new = [_Worker(self) for _ in range(self.n_workers)]
            try:
                for w in new:
                    w.wait_ready()
            except BaseException:
                for w in new:
                    w.kill()
                raise
            self._load = {w: 0 for w in new}
            self.isolation = self._summarise(new[0].isolation)
            self._started = True
        return self

    def _summarise(self, iso: dict[str, Any]) -> dict[str, Any]:
        level, missing = isolation_level(iso)
        summary = {"level": level, **iso, "compile_timeout_s": self.compile_timeout}
        summary["missing"] = missing
        summary["required"] = self.require_isolation
        if _LEVELS.index(level) < _LEVELS.index(self.require_isolation):
            if level == "none":
                raise IsolationError(
                    "arcnb executor refuses to run model code here: nothing can confine it "
                    f"({'; '.join(m for m in missing if m.startswith('no '))}), so a program "
                    "could read and write your files and reach your processes; run as root, "
                    "enable user namespaces or Landlock (Linux >= 5.13), or pass "
                    "--require-isolation none (require_isolation='none') to run it anyway"
                )
            raise IsolationError(
                f"arcnb executor: isolation {level!r} here, {self.require_isolation!r} "
                f"required; missing: {'; '.join(missing)}"
            )
        if missing:
            what = "UNCONFINED, as asked" if level == "none" else f"with {level} isolation"
            text = f"arcnb executor runs model code {what}; missing: " + "; ".join(missing)
            warnings.warn(text, RuntimeWarning, stacklevel=3)
            logger.warning(text)
        return summary

    def close(self) -> None:
        """Stop every worker. Safe to call twice."""
        with self._lock:
            self._closed = True
            workers = list(self._load)
            self._load.clear()
            pending = list(self._pending)
            self._pending.clear()
        for job in pending:
            if not job.future.done():
                job.future.set_exception(ExecutorError("executor closed"))
        for w in workers:
            w.kill()
            for job in w.jobs:
                if not job.future.done():
                    job.future.set_exception(ExecutorError("executor closed"))

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
    def submit(self, code: str, grids: list[Grid], timeout: float | None = None) -> Future:
        """Queue a program; returns a concurrent.futures.Future of its list of ExecResult."""
        self.start()
        timeout = timeout or self.timeout
        request = {
            "code": code,
            "grids": grids,
            "timeout": timeout,
            "compile_timeout": self.compile_timeout,
        }
        body = json.dumps(request).encode()
        payload = b"%d\n" % len(body) + body  # the worker reads exactly this, nothing ahead
        job = _Job(payload, len(grids), timeout, self.compile_timeout, Future())
        if not grids:
            job.future.set_result([])
            return job.future
        self._dispatch(job)
        return job.future

    def _dispatch(self, job: _Job) -> None:
        """Hand a job to the least-loaded worker, or queue it; never blocks the caller (an
        event loop awaiting `arun` must keep serving while every worker is busy)."""
        with self._lock:
            if self._closed:
                raise ExecutorError("executor is closed")
            self._pending.append(job)
            self._fill()

    def _fill(self) -> None:
        """Move queued jobs into workers with room (the caller holds the pool's lock)."""
        while self._pending and self._load:
            worker = min(self._load, key=self._load.get)
            if self._load[worker] >= self.depth:
                return
            job = self._pending.popleft()
            self._load[worker] += 1
            worker.submit(job)  # if it died, its reader hands its jobs over, this one too

    def run(self, code: str, grids: list[Grid], timeout: float | None = None) -> list[ExecResult]:
        """Run `code`'s transform on each grid, in a fresh sandboxed child.

        Args:
            code: Python source defining `transform(grid)`.
            grids: Input grids; each gets its own wall-clock timeout for `transform`, after
                the program has compiled under the executor's `compile_timeout`.
            timeout: Seconds per grid (default: the executor's).

        Returns:
            One ExecResult per grid, in order.
        """
        return self.submit(code, grids, timeout).result()

    async def arun(
        self, code: str, grids: list[Grid], timeout: float | None = None
    ) -> list[ExecResult]:
        """Async twin of `run`: awaits the result without blocking the event loop."""
        return await asyncio.wrap_future(self.submit(code, grids, timeout))

    def run_many(
        self, programs: list[tuple[str, list[Grid]]], timeout: float | None = None
    ) -> list[list[ExecResult]]:
        """Run many (code, grids) programs over every worker at once; results in input order."""
        futures = [self.submit(code, grids, timeout) for code, grids in programs]
        return [f.result() for f in futures]

    def _worker_failed(self, worker: _Worker, why: BaseException) -> None:
        """Replace a dead or stuck worker; fail its head job, hand the others to the pool."""
        logger.warning("replacing executor worker %s: %s", worker.proc.pid, why)
        worker.kill()
        with self._lock:
            self._load.pop(worker, None)
            jobs = list(worker.jobs)
            worker.jobs.clear()
            closed = self._closed
        if not closed:
            fresh = _Worker(self)
            try:
                fresh.wait_ready()
            except Exception as exc:  # cannot start: fail what is left
                fresh.kill()
                for job in jobs:
                    job.future.set_exception(ExecutorError(f"worker could not restart: {exc}"))
                return
            with self._lock:
                self._load[fresh] = 0
                self.replaced_workers += 1
                self._fill()
        if jobs and isinstance(why, TimeoutError):  # the head job hung the worker
            head = jobs.pop(0)
            msg = f"worker missed its deadline: {why}"
            head.future.set_result(
                [ExecResult("timeout", None, "WorkerFailure", msg)] * head.n_grids
            )
        for job in jobs:
            job.tries += 1
            if closed or job.tries > 1:  # a program that kills two workers gets an error
                res = ExecResult("error", None, "WorkerFailure", f"worker died: {why}")
                job.future.set_result([res] * job.n_grids)
            else:
                self._dispatch(job)


# ---- isolation levels and jails --------------------------------------------------------------
ISOLATION_LEVELS: tuple[str, ...] = ("none", "partial", "full")
_LEVELS = ISOLATION_LEVELS


def isolation_level(iso: dict[str, Any]) -> tuple[str, list[str]]:
    """The level a worker's mechanisms (its ready line's "isolation") add up to, and what is
    missing, in words.

    full: private user-less network, mount, IPC and PID namespaces, a chroot of read-only
    library mounts, a uid other than the runner's, the seccomp deny-list (root). partial: the
    filesystem, network and signals are each confined by some mechanism, not all of them.
    none: something is not confined at all (then the pool refuses by default).
    """
    missing, unconfined = [], False
    ns = set(iso.get("namespaces", ()))
    if iso.get("network") == "none":
        missing.append("no network isolation (no namespace, no seccomp)")
        unconfined = True
    elif "net" not in ns:
        missing.append("network namespace (socket() is denied by seccomp instead)")
    fs = iso.get("filesystem")
    if fs == "none":
        missing.append("no filesystem restriction (no chroot, no mount namespace, no Landlock)")
        unconfined = True
    elif fs == "landlock":
        missing.append("chroot jail (Landlock allows reading the library folders only instead)")
    elif fs == "chroot":
        missing.append("library mounts in the jail (only preloaded modules can be imported)")
    if iso.get("signals") == "none":
        missing.append("no signal confinement (kill() could reach the runner)")
        unconfined = True
    elif "pid" not in ns:
        missing.append(f"PID namespace (signals confined by {iso.get('signals')} instead)")
    if "ipc" not in ns:
        missing.append("IPC namespace (SysV IPC and message queues denied by seccomp instead)")
    if iso.get("seccomp", "none") == "none":
        missing.append("seccomp deny-list (libseccomp not found)")
    if iso.get("uid") != "unprivileged":
        missing.append(f"a uid other than the runner's (programs run as the {iso.get('uid')} uid)")
    level = "none" if unconfined else "partial" if missing else "full"
    return level, missing


def _remove_jail(path: str) -> None:
    """Remove a worker's jail folder: an empty mount point, or (jails of older versions) a
    tree of read-only folders that rmtree alone cannot remove as an ordinary user."""
    try:
        os.rmdir(path)
        return
    except FileNotFoundError:
        return
    except OSError:
        pass
    for root, dirs, _ in os.walk(path):
        for d in dirs:
            with contextlib.suppress(OSError):
                os.chmod(os.path.join(root, d), 0o700)
    with contextlib.suppress(OSError):
        os.chmod(path, 0o700)
    shutil.rmtree(path, ignore_errors=True)


def sweep_stale_jails(folder: str | None = None) -> list[str]:
    """Remove the jail folders (``arcnb-jail-<pid>-*``) that workers of this uid left behind
    when their runner was killed (kill -9 gives no chance to clean up): those whose worker
    pid is gone. Returns the folders removed."""
    folder = folder or tempfile.gettempdir()
    removed = []
    for path in glob.glob(os.path.join(glob.escape(folder), _JAIL_PREFIX + "*")):
        match = re.fullmatch(re.escape(_JAIL_PREFIX) + r"(\d+)-\w+", os.path.basename(path))
        try:
            st = os.lstat(path)
        except OSError:
            continue
        if not match or not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid():
            continue
        try:
            os.kill(int(match[1]), 0)
            continue  # its worker still runs (or another process took the pid): keep it
        except ProcessLookupError:
            pass
        except (PermissionError, OverflowError):
            continue
        _remove_jail(path)
        removed.append(path)
    return removed


def _checked(r: dict) -> ExecResult:
    """An ExecResult from a worker's reply. The worker (our code, which never runs a program
    itself) has already validated every grid strictly; here only the shape of the reply is
    checked, since re-walking every cell in this process would cost as much again."""
    status = r.get("status")
    duration = float(r.get("duration") or 0.0)
    if status == "ok":
        output = r.get("output")
        if not isinstance(output, list) or not output:
            return ExecResult("invalid", None, "InvalidOutput", "malformed worker reply", duration)
        return ExecResult("ok", output, None, None, duration)
    if status not in STATUSES:
        return ExecResult("invalid", None, "InvalidOutput", f"unknown status {status!r}", duration)
    return ExecResult(status, None, r.get("error_type"), r.get("error"), duration)
