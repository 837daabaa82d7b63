"""Executor throughput: warm hardened pool vs one fresh interpreter per program.

    uv run python bench/executor.py [--programs 4000] [--baseline-programs 60] [--repeats 3]
    uv run python bench/executor.py --compile-only    # only the compile-time figure

As root it also measures the pool as root in a container (Docker's default capabilities, no
user namespaces; simulated as tests/sandbox_modes.py does) and prints that figure.

A mixed batch of unique programs (half pure Python, half numpy), each run on 4 ARC grids.
An *execution* is one program run on one grid. The baseline is the naive harness: one fresh
`python` subprocess per execution (it imports numpy when the program does, then runs its grid),
as many at a time as the pool has workers. It gets no sandboxing at all, so the ratio
understates the pool's advantage at equal safety. For reference the bench also times a kinder
naive variant, one subprocess per program running all 4 grids. Figures are medians over
--repeats runs, all measured in this same process. Last line:
    pool <N> exec/s (isolation <level>) | naive <M> exec/s | ratio <R>x

First the compile figure: programs of 37 KB, 186 KB and 1 MB in two shapes (half a dict literal,
half small helpers; or only helpers with a comprehension each), timed with compile() in this process and end to end through the pool on one
grid (minus a tiny program's time), with the pool's status under its compile limit; one run
each.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

from arcnb.executor import Executor
from arcnb.tasks import load_tasks

PURE = [
    "def transform(grid):\n    k = {i}\n    return [row[::-1] for row in grid]\n",
    "def transform(grid):\n    k = {i}\n    return [list(r) for r in zip(*grid)]\n",
    "def transform(grid):\n    k = {i}\n    out = [row[:] for row in grid]\n"
    "    for r in out:\n        for c in range(len(r)):\n            r[c] = (r[c] + 1) % 10\n"
    "    return out\n",
]
NUMPY = [
    "import numpy as np\ndef transform(grid):\n    k = {i}\n    return np.rot90(np.array(grid)).tolist()\n",
    "import numpy as np\ndef transform(grid):\n    k = {i}\n    a = np.array(grid)\n"
    "    return np.where(a == 0, 5, a)\n",
    "import numpy as np\ndef transform(grid):\n    k = {i}\n    a = np.array(grid)\n"
    "    return np.tile(a[:2, :2], (2, 2))\n",
]

NAIVE_RUNNER = """
import json, sys
code, grids = json.load(sys.stdin)
ns = {}
exec(compile(code, "<program>", "exec"), ns)
out = []
for g in grids:
    try:
        r = ns["transform"](g)
        out.append(r.tolist() if hasattr(r, "tolist") else r)
    except Exception as e:
        out.append(repr(e))
json.dump(out, sys.stdout)
"""


def make_batch(n: int) -> list[tuple[str, list]]:
    """n unique programs, alternating pure-Python and numpy, each with 4 real ARC grids."""
    tasks = load_tasks("arc-agi-1", "all_training")
    batch = []
    for i in range(n):
        task = tasks[i % len(tasks)]
        grids = [ex.input for ex in (task.train + task.test)][:4]
        while len(grids) < 4:
            grids.append(grids[0])
        templates = NUMPY if i % 2 else PURE
        batch.append((templates[(i // 2) % 3].format(i=i), grids))
    return batch


def big_program(n_bytes: int, shape: str) -> str:
    """About n_bytes of valid source defining transform; shape "literal" or "functions"."""
    lines, size, i = [], 0, 0
    if shape == "literal":
        lines.append("TABLE = {")
        while size < n_bytes // 2:
            lines.append(f"    {i}: [{i % 10}, {i * 7 % 10}, {i * 3 % 10}],")
            size += len(lines[-1]) + 1
            i += 1
        lines.append("}")
        body = "return grid if {j} >= 0 else None"
    else:
        body = "return [[(v + {j}) % 10 for v in row] for row in grid]"
    j = 0
    while size < n_bytes:
        lines.append(f"def helper_{j}(grid):\n    " + body.format(j=j))
        size += len(lines[-1]) + 1
        j += 1
    lines.append("def transform(grid):\n    return helper_0([row[::-1] for row in grid])\n")
    return "\n".join(lines)


def compile_figures(ex: Executor) -> None:
    """Print compile() seconds and the pool's end-to-end seconds per program size and shape."""
    grid = [[1, 2], [3, 4]]
    tiny = "def transform(grid):\n    return grid\n"

    def pool_s(code: str) -> tuple[float, str]:
        t0 = time.perf_counter()
        (r,) = ex.run(code, [grid])
        return time.perf_counter() - t0, r.status

    base = statistics.median(pool_s(tiny)[0] for _ in range(5))
    print(f"compile limit {ex.compile_timeout:g} s, per-grid timeout {ex.timeout:g} s")
    for shape in ("literal", "functions"):
        for n in (37_000, 186_000, 1_000_000):
            code = big_program(n, shape)
            t0 = time.perf_counter()
            compile(code, "<program>", "exec")
            local = time.perf_counter() - t0
            pool, status = pool_s(code)
            print(
                f"{shape:9} {len(code) / 1000:6,.0f} KB: compile() {local:6.3f} s | pool, one "
                f"grid, {pool - base:6.3f} s over a tiny program, status {status}"
            )


def run_pool(ex: Executor, batch: list) -> tuple[float, int]:
    t0 = time.perf_counter()
    results = ex.run_many(batch)
    dt = time.perf_counter() - t0
    n_ok = sum(r.ok for rs in results for r in rs)
    return sum(len(g) for _, g in batch) / dt, n_ok


def run_naive(batch: list, workers: int, per_grid: bool) -> float:
    """One interpreter per execution (per_grid) or per program, `workers` at a time."""
    if per_grid:
        batch = [(code, [g]) for code, grids in batch for g in grids]
    env = {"PATH": os.environ.get("PATH", ""), "OPENBLAS_NUM_THREADS": "1"}
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        pending = list(batch)
        running: list[subprocess.Popen] = []
        while pending or running:
            while pending and len(running) < workers:
                code, grids = pending.pop()
                p = subprocess.Popen(
                    [sys.executable, "-c", NAIVE_RUNNER],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    cwd=tmp,
                    env=env,
                )
                p.stdin.write(json.dumps([code, grids]).encode())
                p.stdin.close()
                running.append(p)
            p = running.pop(0)
            json.loads(p.stdout.read())
            p.wait()
    return sum(len(g) for _, g in batch) / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--programs", type=int, default=4000, help="programs in the pool's batch")
    ap.add_argument("--baseline-programs", type=int, default=60, help="programs for the naive run")
    ap.add_argument("--repeats", type=int, default=3, help="runs of each; medians are reported")
    ap.add_argument("--workers", type=int, default=None, help="pool size (default: cores)")
    ap.add_argument("--compile-only", action="store_true", help="only the compile-time figure")
    ap.add_argument("--pool-only", action="store_true", help="only the pool's figure, as JSON "
                    "(used for the container mode)")  # fmt: skip
    ap.add_argument("--no-container", action="store_true", help="skip the container-mode figure")
    args = ap.parse_args()
    if args.pool_only:
        batch = make_batch(args.programs)
        with Executor(workers=args.workers) as ex:
            ex.run_many(batch[:50])
            rates = [run_pool(ex, batch)[0] for _ in range(args.repeats)]
            print(json.dumps({"rates": rates, "isolation": ex.isolation}))
        return
    if args.compile_only:
        with Executor(workers=args.workers) as ex:
            compile_figures(ex)
        return

    batch = make_batch(args.programs)
    small = make_batch(args.baseline_programs)
    with Executor(workers=args.workers) as ex:
        compile_figures(ex)
        ex.run_many(batch[:50])  # warm-up: workers started, caches hot
        pool, naive, per_program = [], [], []
        for rep in range(args.repeats):
            rate, n_ok = run_pool(ex, batch)
            assert n_ok == 4 * len(batch), f"only {n_ok} of {4 * len(batch)} executions succeeded"
            pool.append(rate)
            naive.append(run_naive(small, ex.n_workers, per_grid=True))
            per_program.append(run_naive(small, ex.n_workers, per_grid=False))
            print(
                f"run {rep + 1}: pool {pool[-1]:,.0f} exec/s, naive {naive[-1]:,.1f} exec/s, "
                f"naive per program {per_program[-1]:,.1f} exec/s"
            )
        level = ex.isolation["level"]
    p, n = statistics.median(pool), statistics.median(naive)
    q = statistics.median(per_program)
    print(f"workers {ex.n_workers}, programs {len(batch)} x 4 grids, baseline {len(small)} x 4")
    print(f"naive per program (4 grids per interpreter) {q:,.1f} exec/s, ratio {p / q:,.1f}x")
    if not args.no_container:
        container_figure(args, n)
    print(f"pool {p:,.0f} exec/s (isolation {level}) | naive {n:,.1f} exec/s | ratio {p / n:,.1f}x")


def container_figure(args: argparse.Namespace, naive: float) -> None:
    """The pool's rate as root in a container (Docker's default capabilities, user namespaces
    denied), simulated as the suite does (tests/sandbox_modes.py), against this run's naive."""
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
    import sandbox_modes

    for mode in sandbox_modes.CONTAINER_MODES:  # with Landlock, and without (empty chroot)
        reason = sandbox_modes.unavailable(mode)
        if reason:
            print(f"{mode}: not measured: {reason}")
            continue
        inner = [sys.executable, os.path.abspath(__file__), "--pool-only", "--programs",
                 str(args.programs), "--repeats", str(args.repeats)]  # fmt: skip
        if args.workers:
            inner += ["--workers", str(args.workers)]
        out = subprocess.run(sandbox_modes.mode_command(mode, inner), capture_output=True,
                             text=True, timeout=3600)  # fmt: skip
        if out.returncode != 0:
            print(f"{mode}: failed: {out.stderr[-500:]}")
            continue
        got = json.loads(out.stdout.strip().splitlines()[-1])
        rate = statistics.median(got["rates"])
        iso = got["isolation"]
        print(f"{mode}: pool {rate:,.0f} exec/s (isolation {iso['level']}: filesystem "
              f"{iso['filesystem']}, network {iso['network']}, signals {iso['signals']}) | "
              f"ratio {rate / naive:,.1f}x to this run's naive")  # fmt: skip


if __name__ == "__main__":
    main()
