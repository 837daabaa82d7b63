"""Warm execution worker: runs as a standalone script, never as part of the arcnb package.

The pool (`arcnb.executor`) starts one of these per core with a scrubbed environment:
`python -I -B _worker.py '<json config>'`. It imports numpy and the modules programs
commonly use, isolates itself from the network, then serves requests on stdin, one JSON line
each, answering one JSON line on stdout. It never runs untrusted code itself: every program
runs in a fresh child forked from it, which drops privileges and is killed at its deadline.

Protocol (one line each way):
    request  {"code": str, "grids": [grid, ...], "timeout": float, "compile_timeout": float}
    response {"results": [{"status", "output", "error_type", "error", "duration"}, ...]}
The first line the worker writes is {"ready": true, "isolation": {...}}.

Two clocks per child: `compile_timeout` covers the sandbox set-up, `compile()` and the
program's top level, up to the child's first line ({"c": "ok"}, or the reason it failed);
then each grid's `timeout` covers only `transform` on that grid. A child killed at a grid's
deadline is replaced by a new one for the remaining grids, which compiles under its own limit.

This file imports nothing from the arcnb package, so that it starts fast and never puts the
package within a program's reach. The one rule it shares, what a program may return, lives in
`arcnb/grid.py` (standard library only), which it loads by file path: `validate_grid` is
`arcnb.grid.model_output`.
"""

from __future__ import annotations

import ctypes
import errno
import importlib.util
import json
import math
import os
import resource
import select
import signal
import sys
import tempfile
import time


def _load_grid_module():  # -> the module arcnb/grid.py, loaded as a file, not as arcnb.grid
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "grid.py")
    spec = importlib.util.spec_from_file_location("_arcnb_grid", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_grid = _load_grid_module()
validate_grid = _grid.model_output  # (grid, None) or (None, reason); see arcnb/grid.py
MAX_SIDE = _grid.MAX_SIDE  # ARC grids are at most 30x30
RESULT_CAP = 64 * 1024  # bytes per grid result line; a 30x30 grid is ~2.7 KB of JSON
CLONE_NEWNET = 0x40000000
CLONE_NEWUSER = 0x10000000
PR_SET_PDEATHSIG = 1

# Modules loaded before any fork, so that a program imports them for free. Every module loaded
# here makes each fork slower (numpy.random alone doubles its cost), so the heavier ones are
# only preloaded when the child cannot import them itself, i.e. when the worker could not
# mount the Python library folders read-only inside the child's empty root.
PRELOAD = [
    "numpy", "numpy.linalg", "numpy.lib.stride_tricks", "collections", "collections.abc",
    "itertools", "functools", "math", "copy", "heapq", "bisect", "re", "operator", "typing",
    "dataclasses", "string", "enum", "abc", "json", "types", "numbers", "contextlib", "time",
    "socket", "encodings.idna", "traceback",
]  # fmt: skip
HEAVY_PRELOAD = [
    "numpy.fft", "numpy.random", "numpy.ma", "numpy.polynomial", "numpy.typing", "cmath",
    "statistics", "random", "fractions", "decimal", "array", "queue", "struct", "warnings",
    "pprint", "textwrap", "unicodedata", "weakref", "inspect", "datetime",
]  # fmt: skip
CLONE_NEWNS = 0x00020000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = (
    1, 2, 4, 32, 4096, 16384, 1 << 18,
)  # fmt: skip


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def _isolate_network(libc: ctypes.CDLL) -> str:
    """Cut this worker (and so every child) off the network; return the mechanism used."""
    if libc.unshare(CLONE_NEWNET) == 0:  # root (with CAP_SYS_ADMIN)
        return "netns"
    if libc.unshare(CLONE_NEWUSER | CLONE_NEWNET) == 0:
        return "userns+netns"
    try:  # fall back to a seccomp filter: no sockets but AF_UNIX
        import socket

        import pyseccomp as seccomp

        f = seccomp.SyscallFilter(defaction=seccomp.ALLOW)
        f.add_rule(seccomp.ERRNO(errno.EPERM), "socket", seccomp.Arg(0, seccomp.NE, socket.AF_UNIX))
        f.load()
        return "seccomp"
    except Exception:
        return "none"


class Worker:
    """Forks one child per program and collects its per-grid results under deadlines."""

    def __init__(self, config: dict) -> None:
        self.memory_bytes = int(config.get("memory_mb", 512)) * 1024 * 1024
        self.libc = _libc()
        # No PR_SET_PDEATHSIG here: it fires when the *thread* that started us ends, and the
        # pool starts replacement workers from short-lived threads. The worker ends instead
        # when its stdin closes, i.e. when the pool's process is gone.
        for name in PRELOAD:  # numpy first
            __import__(name)
        self.network = _isolate_network(self.libc)
        self.jail = tempfile.mkdtemp(prefix="arcnb-jail-")
        self.libraries = self._mount_libraries()
        if not self.libraries:
            for name in HEAVY_PRELOAD:
                __import__(name)
        os.chmod(self.jail, 0o555)  # read-only for the program's uid
        # A uid unique to this worker: RLIMIT_NPROC binds it, and a program's kill(-1) can only
        # reach its own processes, never another worker's child.
        uid = 200000 + os.getpid()
        can_chroot, can_setuid = self._probe(uid)
        self.uid = uid if can_setuid else None
        if not can_chroot:
            os.rmdir(self.jail)
            self.jail = None
        # Address space already mapped (interpreter, numpy, BLAS) is not the program's fault;
        # the program gets memory_mb on top of it.
        with open("/proc/self/statm") as f:
            self.base_vm = int(f.read().split()[0]) * resource.getpagesize()
        self.unreaped: list[int] = []  # children killed whose exit is not yet collected
        self.isolation = {
            "network": self.network,
            "uid": "unprivileged" if self.uid is not None else "same-as-worker",
            "filesystem": "chroot" if self.jail else "none",
            "libraries": "read-only mount" if self.libraries else "preloaded only",
            "limits": ["address-space", "cpu", "file-size-0", "nproc", "core-0"],
            "memory_mb": self.memory_bytes // (1024 * 1024),
        }

    def _mount_libraries(self) -> bool:
        """Bind-mount the Python library folders read-only inside the jail, in a mount
        namespace of this worker's own, so programs can import any installed module lazily
        while seeing nothing else of the filesystem. False when mounts are not permitted."""
        if self.libc.unshare(CLONE_NEWNS) != 0:
            return False
        mount = self.libc.mount
        if mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None) != 0:
            return False
        # Only library folders under the interpreter's prefixes: never the project folder an
        # editable install puts on sys.path (it may hold a .env with API keys).
        libs = {os.path.realpath(os.path.join(p, "lib")) for p in (sys.prefix, sys.base_prefix)}
        dirs = sorted(
            {
                os.path.realpath(p)
                for p in sys.path
                if p
                and os.path.isdir(p)
                and any(os.path.realpath(p).startswith(lib + os.sep) for lib in libs)
            }
        )
        dirs = [d for d in dirs if not any(d.startswith(o + os.sep) for o in dirs if o != d)]
        flags = MS_BIND | MS_REC
        ro = MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV
        for d in dirs:
            target = (self.jail + d).encode()
            os.makedirs(target, exist_ok=True)
            if mount(d.encode(), target, None, flags, None) or mount(None, target, None, ro, None):
                return False
        return True

    def reap(self) -> None:
        """Collect the children killed since the last reply (SIGKILLed, so this is quick)."""
        for pid in self.unreaped:
            os.waitpid(pid, 0)
        self.unreaped.clear()

    def _probe(self, uid: int) -> tuple[bool, bool]:
        """Find out in a throwaway child whether chroot and switching uid are permitted here
        (root without CAP_SYS_CHROOT or CAP_SETUID, as in many containers, cannot)."""
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                os.chroot(self.jail)
            except OSError:
                code |= 1
            try:
                os.setgroups([])
                os.setresgid(uid, uid, uid)
                os.setresuid(uid, uid, uid)
            except OSError:
                code |= 2
            os._exit(code)
        _, status = os.waitpid(pid, 0)
        code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else 3
        return not code & 1, not code & 2

    # ---- child side -------------------------------------------------------------------
    def _child(self, code: str, grids: list, start: int, wfd: int, cpu_s: int) -> None:
        """Runs in the forked child; never returns."""
        try:
            os.setsid()
            devnull = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(devnull, fd)
            os.closerange(3, wfd)
            os.closerange(wfd + 1, 65536)
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes fail with EFBIG instead
            for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGPIPE):
                signal.signal(sig, signal.SIG_DFL)
            lim = resource.setrlimit
            lim(resource.RLIMIT_AS, (self.base_vm + self.memory_bytes,) * 2)
            lim(resource.RLIMIT_CPU, (cpu_s, cpu_s + 1))
            lim(resource.RLIMIT_FSIZE, (0, 0))
            lim(resource.RLIMIT_CORE, (0, 0))
            lim(resource.RLIMIT_NPROC, (1, 1))  # no fork, no threads: nothing outlives it
            if self.jail:
                os.chroot(self.jail)
            os.chdir("/" if self.jail else "/tmp")
            if self.uid is not None:
                os.setgroups([])
                os.setresgid(self.uid, self.uid, self.uid)
                os.setresuid(self.uid, self.uid, self.uid)
                self.libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)  # cleared by setuid
            os.environ.clear()
            os.environ.update({"PATH": "/nonexistent", "HOME": "/", "LANG": "C.UTF-8"})
        except BaseException:
            os._exit(70)
        write, dumps, validate = os.write, json.dumps, validate_grid

        def put(data: bytes) -> None:
            while data:
                data = data[write(wfd, data) :]

        def send(i: int, status: str, output=None, etype=None, msg=None) -> None:
            line = dumps({"i": i, "s": status, "o": output, "t": etype, "e": msg}) + "\n"
            data = line.encode()
            if len(data) > RESULT_CAP:
                data = (dumps({"i": i, "s": "invalid", "e": "result too large"}) + "\n").encode()
            put(data)

        def describe(exc: BaseException) -> tuple[str, str]:
            return type(exc).__name__, str(exc)[:500]

        try:
            namespace = {"__name__": "__arc_program__"}
            exec(compile(code, "<program>", "exec"), namespace)
            transform = namespace.get("transform")
            if not callable(transform):
                raise NameError("the program defines no transform() function")
        except BaseException as exc:  # definition failed: every grid fails the same way
            status = "memory" if isinstance(exc, MemoryError) else "error"
            etype, msg = describe(exc)
            put((dumps({"c": status, "t": etype, "e": msg}) + "\n").encode())
            os._exit(0)
        put(b'{"c": "ok"}\n')  # compiled: the worker starts the first grid's clock now
        for i in range(start, len(grids)):
            try:
                out = transform(grids[i])
                grid, why = validate(out)
                if grid is None:
                    send(i, "invalid", None, "InvalidOutput", why)
                else:
                    send(i, "ok", grid, None, None)
            except MemoryError as exc:
                send(i, "memory", None, *describe(exc))
            except BaseException as exc:  # SystemExit and KeyboardInterrupt included
                send(i, "error", None, *describe(exc))
        os._exit(0)

    # ---- worker side ------------------------------------------------------------------
    def run(self, code: str, grids: list, timeout: float, compile_timeout: float) -> list[dict]:
        results: list[dict] = []
        while len(results) < len(grids):
            results.extend(self._run_from(code, grids, len(results), timeout, compile_timeout))
        return results

    def _run_from(
        self, code: str, grids: list, start: int, timeout: float, compile_timeout: float
    ) -> list[dict]:
        """Fork a child for grids[start:]; return results up to the first that kills it.

        The child first compiles the program and runs its top level, under `compile_timeout`;
        when that fails (or times out), every remaining grid gets the same result at once."""
        rfd, wfd = os.pipe()
        cpu_s = math.ceil(compile_timeout + timeout * (len(grids) - start)) + 2
        pid = os.fork()
        if pid == 0:
            os.close(rfd)
            self._child(code, grids, start, wfd, cpu_s)
        os.close(wfd)
        out: list[dict] = []
        buf = b""
        poller = select.poll()
        poller.register(rfd, select.POLLIN | select.POLLHUP)
        t_grid = time.perf_counter()
        deadline = t_grid + compile_timeout
        compiling = True  # until the child's first line: compile() and the top level

        def fail_all(r: dict) -> None:  # the program failed before any grid ran
            out.extend({**r, "duration": 0.0} for _ in range(start + len(out), len(grids)))

        eof = killed = False
        try:
            while start + len(out) < len(grids):
                if b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    if compiling:
                        compiling = False
                        failed = _compiled(line)
                        if failed:
                            fail_all(failed)
                            break
                    else:
                        duration = time.perf_counter() - t_grid
                        out.append(self._parse(line, start + len(out), duration))
                    t_grid = time.perf_counter()
                    deadline = t_grid + timeout
                    continue
                if eof:
                    break
                left = deadline - time.perf_counter()
                if left <= 0 or not poller.poll(math.ceil(max(left, 0) * 1000)):
                    if time.perf_counter() >= deadline:
                        killed = True
                        if compiling:
                            why = (
                                f"compile timed out after {compile_timeout:g} s (compiling the "
                                "program and running its top level)"
                            )
                            fail_all(_result("timeout", None, "Timeout", why))
                            break
                        out.append(_result("timeout", None, "Timeout", f"exceeded {timeout} s"))
                        out[-1]["duration"] = time.perf_counter() - t_grid
                        break
                    continue
                chunk = os.read(rfd, 65536)
                if not chunk:
                    eof = True
                buf += chunk
                if len(buf) > RESULT_CAP + 1024 and b"\n" not in buf:
                    killed = True
                    r = _result("invalid", None, "InvalidOutput", "result too large")
                    if compiling:
                        fail_all(r)
                    else:
                        out.append(r)
                    break
        finally:
            os.close(rfd)
            try:
                os.killpg(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if start + len(out) >= len(grids) or killed:
            # Every grid is answered: reap after the reply is sent (tearing down a forked
            # address space takes about a millisecond, off the critical path that way).
            self.unreaped.append(pid)
        else:  # the child died without answering this grid: its exit status says why
            _, status = os.waitpid(pid, 0)
            r = _death(status)
            if compiling:  # it would die again in a new child: every grid gets the reason
                r["error"] = f"while compiling or running the top level: {r['error']}"
                fail_all(r)
            else:
                r["duration"] = time.perf_counter() - t_grid
                out.append(r)
        return out

    def _parse(self, line: bytes, index: int, duration: float) -> dict:
        try:
            msg = json.loads(line)
            if msg.get("i") != index:
                raise ValueError("result out of order")
            status = msg["s"]
            if status == "ok":
                grid, why = validate_grid(msg.get("o"))
                r = _result("ok", grid) if grid else _result("invalid", None, "InvalidOutput", why)
            elif status in ("error", "memory", "invalid"):
                r = _result(
                    status, None, str(msg.get("t") or "")[:100], str(msg.get("e") or "")[:500]
                )
            else:
                raise ValueError(f"unknown status {status!r:.20}")
        except Exception as exc:
            r = _result("invalid", None, "InvalidOutput", f"malformed result from program: {exc}")
        r["duration"] = duration
        return r


def _compiled(line: bytes) -> dict | None:
    """None when the child's first line says the program compiled, else every grid's result."""
    try:
        msg = json.loads(line)
        status = msg["c"]
        if status == "ok":
            return None
        if status not in ("error", "memory"):
            raise ValueError(f"unknown compile status {status!r:.20}")
        return _result(status, None, str(msg.get("t") or "")[:100], str(msg.get("e") or "")[:500])
    except Exception as exc:
        return _result("invalid", None, "InvalidOutput", f"malformed result from program: {exc}")


def _result(status: str, output=None, etype: str | None = None, error: str | None = None) -> dict:
    return {"status": status, "output": output, "error_type": etype, "error": error}


def _death(status: int) -> dict:
    """Classify a child that ended without sending the current grid's result."""
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        if sig == signal.SIGXCPU:
            return _result("timeout", None, "Timeout", "CPU time limit exceeded")
        name = signal.Signals(sig).name if sig in signal.Signals._value2member_map_ else str(sig)
        return _result("error", None, "Crash", f"program killed by {name}")
    code = os.WEXITSTATUS(status)
    if code == 70:
        return _result("error", None, "SandboxError", "the sandbox could not be set up")
    return _result("error", None, "Exit", f"program exited with code {code}")


def main() -> None:
    config = json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}
    worker = Worker(config)
    stdout = sys.stdout.buffer
    stdout.write(
        (
            json.dumps({"ready": True, "isolation": worker.isolation, "jail": worker.jail}) + "\n"
        ).encode()
    )
    stdout.flush()
    for line in sys.stdin.buffer:
        req = json.loads(line)
        try:
            results = worker.run(
                req["code"], req["grids"], float(req["timeout"]), float(req["compile_timeout"])
            )
            reply = {"results": results}
        except Exception as exc:  # a worker bug, reported rather than hanging the pool
            reply = {"error": f"{type(exc).__name__}: {exc}"}
        stdout.write((json.dumps(reply) + "\n").encode())
        stdout.flush()
        worker.reap()


if __name__ == "__main__":
    main()
