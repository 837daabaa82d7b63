"""The executor against hostile programs: each is contained, and the next program runs normally."""

from __future__ import annotations

import asyncio
import os
import socket
import threading
from pathlib import Path

import pytest

from arcnb.executor import COMPILE_TIMEOUT_S, ExecResult, Executor

GRIDS = [[[1, 2], [3, 4]], [[5, 6, 7]]]
MIRROR = "def transform(grid):\n    return [row[::-1] for row in grid]\n"
MIRRORED = [[[2, 1], [4, 3]], [[7, 6, 5]]]


@pytest.fixture(scope="module")
def ex():
    with Executor(workers=2, timeout=0.5) as executor:
        yield executor


def assert_healthy(ex: Executor) -> None:
    """After any hostile program, a normal one still gets the right answers."""
    results = ex.run(MIRROR, GRIDS)
    assert [r.status for r in results] == ["ok", "ok"]
    assert [r.output for r in results] == MIRRORED


def statuses(results: list[ExecResult]) -> list[str]:
    return [r.status for r in results]


def test_isolation_is_full_as_root(ex):
    if os.geteuid() != 0:
        pytest.skip("full isolation needs root; degraded mode is tested separately")
    assert ex.isolation["level"] == "full" and ex.isolation["missing"] == []
    assert ex.isolation["namespaces"] == ["net", "mount", "ipc", "pid"]
    assert ex.isolation["network"] == "netns"
    assert ex.isolation["uid"] == "unprivileged"
    assert ex.isolation["filesystem"] == "chroot+mounts"
    # every other mode (container root, ordinary users) is tested in test_sandbox_modes.py


def test_plain_and_numpy_programs(ex):
    assert [r.output for r in ex.run(MIRROR, GRIDS)] == MIRRORED
    code = "import numpy as np\ndef transform(g):\n    return np.fliplr(np.array(g))\n"
    results = ex.run(code, GRIDS)
    assert [r.output for r in results] == MIRRORED  # numpy array converted to lists
    code = "import numpy as np\ndef transform(g):\n    return [[np.int64(3)]]\n"
    assert ex.run(code, GRIDS)[0].output == [[3]]


@pytest.mark.parametrize(
    "body",
    [
        "    while True:\n        pass",
        "    while True:\n        try:\n            pass\n        except BaseException:\n            pass",
        "    import time\n    time.sleep(30)",
    ],
    ids=["infinite-loop", "swallowing-loop", "sleep"],
)
def test_timeouts_per_grid(ex, body):
    code = f"def transform(grid):\n{body}\n"
    results = ex.run(code, GRIDS)
    assert statuses(results) == ["timeout", "timeout"]  # each grid still ran
    # each grid was given its whole limit, then stopped by the worker's own per-grid timer
    # ("Timeout"), not by the pool's backstop deadline for a stuck worker ("WorkerFailure")
    assert [r.error_type for r in results] == ["Timeout", "Timeout"]
    assert all(r.duration >= ex.timeout for r in results)
    assert_healthy(ex)


def test_timeout_on_one_grid_leaves_other_grids_running(ex):
    code = (
        "def transform(grid):\n"
        "    if len(grid) == 2:\n        while True: pass\n"
        "    return [row[::-1] for row in grid]\n"
    )
    results = ex.run(code, GRIDS)
    assert statuses(results) == ["timeout", "ok"]
    assert results[1].output == MIRRORED[1]


def test_configurable_timeout(ex):
    code = "import time\ndef transform(g):\n    time.sleep(0.3)\n    return g\n"
    assert statuses(ex.run(code, GRIDS[:1], timeout=0.1)) == ["timeout"]
    assert statuses(ex.run(code, GRIDS[:1], timeout=10.0)) == ["ok"]  # ample under load


@pytest.mark.parametrize(
    "body",
    ["    x = bytearray(4 * 1024**3)", "    import numpy as np\n    x = np.ones((30000, 30000))"],
    ids=["bytearray", "numpy"],
)
def test_huge_allocation(ex, body):
    results = ex.run(f"def transform(grid):\n{body}\n    return grid\n", GRIDS)
    assert statuses(results) == ["memory", "memory"]
    assert results[0].error_type == "MemoryError"
    assert_healthy(ex)


def test_fork_bomb(ex):
    code = "import os\ndef transform(grid):\n    while True:\n        os.fork()\n"
    results = ex.run(code, GRIDS)
    assert statuses(results) == ["error", "error"]
    # fork refused: RLIMIT_NPROC (EAGAIN), or seccomp (EPERM) where the uid is 0 and exempt
    assert results[0].error_type in ("BlockingIOError", "PermissionError")
    assert_healthy(ex)


def test_writing_a_file(ex, tmp_path):
    os.chmod(tmp_path, 0o777)  # even a world-writable folder stays out of reach
    target = tmp_path / "pwned.txt"
    code = (
        f"def transform(grid):\n    open({str(target)!r}, 'w').write('x' * 100)\n    return grid\n"
    )
    assert statuses(ex.run(code, GRIDS)) == ["error", "error"]
    assert not target.exists()
    code = "def transform(grid):\n    open('out.txt', 'w').write('x')\n    return grid\n"
    assert statuses(ex.run(code, GRIDS)) == ["error", "error"]  # nor its working directory
    assert_healthy(ex)


@pytest.mark.parametrize("path", ["/etc/passwd", str(Path(__file__).resolve())])
def test_reading_files_outside_is_impossible(ex, path):
    """Neither system files nor the project folder (where a .env may live) are visible."""
    code = f"def transform(grid):\n    open({path!r}).read()\n    return grid\n"
    results = ex.run(code, GRIDS)
    assert statuses(results) == ["error", "error"]
    assert results[0].error_type == "FileNotFoundError"


def test_lazy_imports_of_installed_modules(ex):
    """Modules not preloaded still import, from read-only library folders."""
    code = (
        "import numpy as np, fractions, statistics\n"
        "def transform(grid):\n"
        "    r = np.random.RandomState(0).randint(0, 10, (2, 2))\n"
        "    return (r * 0 + int(statistics.mean([1, 3]))).tolist()\n"
    )
    assert [r.output for r in ex.run(code, GRIDS)] == [[[2, 2], [2, 2]]] * 2


def test_socket_to_loopback_is_refused(ex):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.settimeout(2)
    port = server.getsockname()[1]
    accepted = []
    t = threading.Thread(target=lambda: _accept(server, accepted), daemon=True)
    t.start()
    code = (
        "import socket\ndef transform(grid):\n"
        f"    s = socket.create_connection(('127.0.0.1', {port}), timeout=0.2)\n"
        "    s.sendall(b'leak')\n    return grid\n"
    )
    results = ex.run(code, GRIDS)
    t.join(3)
    server.close()
    assert statuses(results) == ["error", "error"]
    assert results[0].error_type == "PermissionError"  # socket() denied by the seccomp filter
    assert accepted == []
    assert_healthy(ex)


def _accept(server: socket.socket, accepted: list) -> None:
    try:
        accepted.append(server.accept())
    except OSError:
        pass


def test_api_key_not_in_environment(ex, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "fake-key-do-not-leak-0123456789")
    code = (
        "import os\ndef transform(grid):\n"
        "    v = os.environ.get('OPENAI_API_KEY', '')\n"
        "    try:\n        v += open('/proc/self/environ').read()\n"
        "    except Exception:\n        pass\n"
        "    return [[1 if 'fake-key' in v else 0]]\n"
    )
    ex2 = Executor(workers=1)  # a pool started after the key was set
    try:
        assert [r.output for r in ex2.run(code, GRIDS)] == [[[0]], [[0]]]
    finally:
        ex2.close()


def test_parent_environ_unreadable(ex):
    code = (
        f"def transform(grid):\n    open('/proc/{os.getpid()}/environ').read()\n    return grid\n"
    )
    assert statuses(ex.run(code, GRIDS)) == ["error", "error"]


@pytest.mark.parametrize(
    ("body", "error_type"),
    [
        ("    import sys\n    sys.exit(3)", "SystemExit"),
        ("    import os\n    os._exit(3)", "Exit"),
        ("    import ctypes\n    ctypes.string_at(0)", "Crash"),
        ("    return transform(grid)", "RecursionError"),
        ("    raise ValueError('nope')", "ValueError"),
    ],
    ids=["sys-exit", "os-exit", "segfault", "recursion", "exception"],
)
def test_exits_and_crashes(ex, body, error_type):
    results = ex.run(f"def transform(grid):\n{body}\n", GRIDS)
    assert statuses(results) == ["error", "error"]
    assert {r.error_type for r in results} == {error_type}
    assert_healthy(ex)


def test_megabytes_printed(ex):
    code = "def transform(grid):\n    print('x' * 20_000_000)\n    return grid\n"
    results = ex.run(code, GRIDS)
    assert statuses(results) == ["ok", "ok"]
    assert results[0].output == GRIDS[0]


@pytest.mark.parametrize(
    ("ret", "why"),
    [
        ("[[1, 2], [3]]", "ragged"),
        ("[]", "empty"),
        ("[[True, False]]", "bool"),
        ("[[10]]", "10"),
        ("[[1.5]]", "1.5, not a whole number"),
        ("[[float('nan')]]", "NaN"),
        ("((1, 2), (3,))", "ragged"),
        ("'grid'", "str"),
        ("None", "got None"),
        ("[[1] * 31]", "31 columns"),
        ("[[1]] * 31", "31 rows"),
        ("[[-1]]", "-1"),
    ],
)
def test_non_grid_outputs(ex, ret, why):
    results = ex.run(f"def transform(grid):\n    return {ret}\n", GRIDS)
    assert statuses(results) == ["invalid", "invalid"]
    assert why in results[0].error


def test_huge_output_is_capped(ex):
    code = "def transform(grid):\n    return [[1] * 1_000_000]\n"  # 8 MB of list, far over the cap
    results = ex.run(code, GRIDS)
    assert statuses(results) == ["invalid", "invalid"]


def test_monkeypatching_does_not_leak(ex):
    hostile = (
        "import builtins, numpy as np\n"
        "builtins.len = lambda x: 0\n"
        "np.array = None\n"
        "import json\njson.dumps = None\n"
        "def transform(grid):\n    return grid\n"
    )
    ex.run(hostile, GRIDS)
    code = "import numpy as np\ndef transform(g):\n    return np.array(g)[:, ::-1].tolist()\n"
    for _ in range(4):  # each worker has served the hostile program's neighbours
        assert [r.output for r in ex.run(code, GRIDS)] == MIRRORED
    assert_healthy(ex)


def test_globals_do_not_leak_between_programs(ex):
    ex.run("import math\nmath.pi = 3\ndef transform(g):\n    return g\n", GRIDS)
    code = "import math\ndef transform(g):\n    return [[int(math.pi * 2)]]\n"
    assert ex.run(code, GRIDS)[0].output == [[6]]


def test_leftover_thread_or_process(ex):
    code = (
        "import threading, time\ndef transform(grid):\n"
        "    threading.Thread(target=time.sleep, args=(60,), daemon=False).start()\n"
        "    return grid\n"
    )
    results = ex.run(code, GRIDS)
    assert statuses(results) == ["error", "error"]  # no thread may outlive the program
    code = (
        "import subprocess\ndef transform(grid):\n"
        "    subprocess.Popen(['sleep', '60'])\n    return grid\n"
    )
    assert statuses(ex.run(code, GRIDS)) == ["error", "error"]
    assert_healthy(ex)


def test_syntax_error_and_missing_transform(ex):
    results = ex.run("def transform(grid) return grid", GRIDS)
    assert {r.error_type for r in results} == {"SyntaxError"}
    results = ex.run("x = 1\n", GRIDS)
    assert {r.error_type for r in results} == {"NameError"}


def test_worker_death_is_survived():
    with Executor(workers=1) as ex1:
        victim = next(iter(ex1._load))
        os.kill(victim.proc.pid, 9)
        victim.proc.wait()
        assert [r.output for r in ex1.run(MIRROR, GRIDS)] == MIRRORED  # retried on a new one
        assert ex1.replaced_workers == 1


@pytest.mark.slow
def test_stuck_worker_is_replaced():
    """A worker that stops answering (here: SIGSTOP) misses its deadline and is replaced."""
    import signal

    with Executor(workers=1, timeout=0.2) as ex1:
        victim = next(iter(ex1._load))
        os.killpg(victim.proc.pid, signal.SIGSTOP)  # the worker and its PID namespace's init
        results = ex1.run(MIRROR, GRIDS)
        assert statuses(results) == ["timeout", "timeout"]
        assert results[0].error_type == "WorkerFailure"
        assert ex1.replaced_workers == 1
        assert [r.output for r in ex1.run(MIRROR, GRIDS)] == MIRRORED


def test_async_api_and_concurrency(ex):
    async def go():
        return await asyncio.gather(*(ex.arun(MIRROR, GRIDS) for _ in range(20)))

    for results in asyncio.run(go()):
        assert [r.output for r in results] == MIRRORED


def test_run_many_keeps_order(ex):
    programs = [(f"def transform(g):\n    return [[{i % 10}]]\n", GRIDS[:1]) for i in range(50)]
    results = ex.run_many(programs)
    assert [r[0].output for r in results] == [[[i % 10]] for i in range(50)]


# ---- compile before the clock -------------------------------------------------------------
def big_program(n_bytes: int) -> str:
    """A valid program of about n_bytes: a large dict literal, small helpers, transform."""
    lines = ["TABLE = {"]
    i = size = 0
    while size < n_bytes // 2:
        lines.append(f"    {i}: [{i % 10}, {i * 7 % 10}, {i * 3 % 10}],")
        size += len(lines[-1]) + 1
        i += 1
    lines.append("}")
    j = 0
    while size < n_bytes:
        lines.append(f"def helper_{j}(grid):\n    return grid if TABLE[{j}][0] >= 0 else None")
        size += len(lines[-1]) + 1
        j += 1
    lines.append("def transform(grid):\n    return helper_0([row[::-1] for row in grid])\n")
    return "\n".join(lines)


@pytest.fixture(scope="module")
def ex_short_compile():
    with Executor(workers=1, timeout=0.5, compile_timeout=1.0) as executor:
        yield executor


def test_megabyte_program_passes_with_default_limits(ex):
    code = big_program(1_000_000)
    assert len(code) >= 1_000_000
    assert ex.timeout == 0.5 and ex.compile_timeout == COMPILE_TIMEOUT_S
    results = ex.run(code, GRIDS)
    assert statuses(results) == ["ok", "ok"], [r.error for r in results]
    assert [r.output for r in results] == MIRRORED


def test_top_level_is_not_charged_to_the_first_grid(ex):
    # 1.5 s of top level: three times the per-grid timeout, well inside the compile limit
    code = "import time\ntime.sleep(1.5)\n" + MIRROR
    results = ex.run(code, GRIDS)
    assert statuses(results) == ["ok", "ok"]
    assert [r.output for r in results] == MIRRORED


def test_top_level_loop_hits_the_compile_limit(ex_short_compile):
    ex1 = ex_short_compile
    results = ex1.run("while True:\n    pass\n" + MIRROR, GRIDS)
    assert statuses(results) == ["timeout", "timeout"]
    assert {r.error_type for r in results} == {"Timeout"}
    assert {r.error for r in results} == {
        "compile timed out after 1 s (compiling the program and running its top level)"
    }
    assert_healthy(ex1)


def test_failures_before_transform_mark_every_grid(ex_short_compile):
    ex1 = ex_short_compile
    results = ex1.run("def transform(grid) return grid", GRIDS)
    assert statuses(results) == ["error", "error"]
    assert {r.error_type for r in results} == {"SyntaxError"}
    assert "line 1" in results[0].error
    results = ex1.run("raise ValueError('bad top level')\n" + MIRROR, GRIDS)
    assert [(r.status, r.error_type, r.error) for r in results] == [
        ("error", "ValueError", "bad top level")
    ] * 2
    results = ex1.run("import os\nos._exit(3)\n" + MIRROR, GRIDS)  # dies before any grid
    assert statuses(results) == ["error", "error"]
    assert (
        results[1].error == "while compiling or running the top level: program exited with code 3"
    )
    assert_healthy(ex1)


def test_transform_loop_still_times_out_per_grid(ex_short_compile):
    code = "def transform(grid):\n    while True:\n        pass\n"
    results = ex_short_compile.run(code, GRIDS)
    assert statuses(results) == ["timeout", "timeout"]
    assert {r.error for r in results} == {"exceeded 0.5 s"}  # the per-grid limit, not compile's


def test_compile_timeout_must_be_positive_and_finite():
    for bad in (0, -1.0, float("inf")):
        with pytest.raises(ValueError, match="compile_timeout"):
            Executor(compile_timeout=bad)


def test_large_program_queued_behind_a_busy_one_does_not_block():
    """1 MB is more than a pipe holds: queueing it behind a running program must not wait for
    that program (the caller may be an event loop; the pool's lock must stay free)."""
    import time

    code = big_program(1_000_000)
    with Executor(workers=1, timeout=10.0, depth=2) as ex1:
        slow = ex1.submit(
            "import time\ndef transform(g):\n    time.sleep(3)\n    return g\n", GRIDS[:1]
        )
        t0 = time.monotonic()
        big = ex1.submit(code, GRIDS)
        queued_in = time.monotonic() - t0
        (slow_result,) = slow.result()
        assert slow_result.status == "ok"
        # Relative, so load cannot flake it: a blocking write would return only after the
        # worker had finished the slow program, i.e. after at least its 3 s of transform.
        assert queued_in < slow_result.duration
        assert [r.output for r in big.result()] == MIRRORED


# ---- jails on disk --------------------------------------------------------------------------
def _jails(folder: Path) -> list[Path]:
    return sorted(folder.glob("arcnb-jail-*"))


def test_jails_go_when_the_runner_is_killed_and_stale_ones_are_swept(tmp_path):
    """A runner killed with SIGKILL cannot clean up: its workers see their input close and
    remove their jails themselves. Jails whose worker is gone (from a machine that was cut
    off harder, or an older version's read-only tree) are swept when the next pool starts;
    a jail whose worker pid is alive is left alone."""
    import subprocess
    import sys
    import time

    env = {**os.environ, "TMPDIR": str(tmp_path)}
    script = (
        "import time\nfrom arcnb.executor import Executor\n"
        "e = Executor(workers=2).start()\n"
        "print(e.run('def transform(g):\\n    return g\\n', [[[1]]])[0].status, flush=True)\n"
        "time.sleep(600)\n"
    )
    runner = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, env=env)
    assert runner.stdout.readline().strip() == b"ok"
    assert len(_jails(tmp_path)) == 2
    runner.kill()
    runner.wait()
    for _ in range(600):  # the workers exit on EOF; wait for them (at most a minute)
        if not _jails(tmp_path):
            break
        time.sleep(0.1)
    assert _jails(tmp_path) == []

    gone = subprocess.Popen(["true"])
    gone.wait()
    stale = tmp_path / f"arcnb-jail-{gone.pid}-old"  # an older version's layout: read-only
    (stale / "usr" / "lib").mkdir(parents=True)
    for d in (stale / "usr" / "lib", stale / "usr", stale):
        d.chmod(0o555)
    alive = tmp_path / f"arcnb-jail-{os.getpid()}-live"
    alive.mkdir()
    other = tmp_path / "arcnb-jail-notapid"
    other.mkdir()
    script = (
        "from arcnb.executor import Executor\n"
        "with Executor(workers=1) as e:\n"
        "    print(e.run('def transform(g):\\n    return g\\n', [[[1]]])[0].status)\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, env=env)
    assert out.stdout.strip() == b"ok", out.stderr
    assert _jails(tmp_path) == [alive, other]


def test_dataclasses_in_programs(ex):
    """Model-written programs define @dataclass helpers at the top level: the program is a
    real module (in sys.modules), so dataclasses can look it up."""
    code = (
        "from dataclasses import dataclass, field\n\n@dataclass\nclass Blob:\n"
        "    colour: int\n    cells: list = field(default_factory=list)\n\n"
        "def transform(grid):\n    b = Blob(grid[0][0], [1, 2])\n    return [[b.colour, len(b.cells)]]\n"
    )
    assert [r.output for r in ex.run(code, GRIDS)] == [[[1, 2]], [[5, 2]]]
