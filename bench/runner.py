"""Runner overhead: 400 tasks x 8 attempts against a loopback endpoint answering after 0.5 s.

    uv run python bench/runner.py [--tasks 400] [--attempts 8] [--workers 256] [--latency 0.5]
    uv run python bench/runner.py --attempts 32                       # 12,800 attempts
    uv run python bench/runner.py --attempts 250 --latency 0.01 --no-bounds  # 100,000 attempts

Every answer is a unique program (numpy or pure Python, chosen at run time) that is executed on
all train and test inputs and scored, exactly as in a real run. The scripted endpoint runs in
its own process. Two lower bounds on wall time, measured or computed in this same run:
  latency bound   = attempts x latency / concurrency
  execution bound = what the executor alone needs for the same programs and grids
Also measured: the openai SDK client alone sending the same requests (no execution, no logs),
and the scripted server's own CPU time, which share the same 2 cores with the executor.
Last lines: measured wall time and its ratio to the larger bound (target <= 1.3), CPU time per
attempt spent in this process (the runner, HTTP client, scoring, logging; the executor's
sandboxed children run elsewhere), and peak memory of this process (target < 400 MB at
12,800 attempts, < 500 MB at 100,000) next to its memory after imports and task loading,
measured just before the run (the baseline: what does not grow with attempts). Then
`arcnb stats` on the finished run, in a process of its own: its peak memory (target < 400 MB)
and wall time. --no-bounds skips the two bounds and the SDK-alone measurement (for runs too
big to execute twice).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROGRAM = (
    "```python\nimport numpy as np\n\ndef transform(grid):\n    k = {n}\n"
    "    if k % 2:\n        return np.array(grid)[:, ::-1].tolist()\n"
    "    return [row[::-1] for row in grid]\n```"
)


def start_server(latency: float) -> tuple[subprocess.Popen, str, Path]:
    tmp = Path(tempfile.mkdtemp(prefix="arcnb-bench-"))
    script = tmp / "script.json"
    script.write_text(json.dumps({"default": {"content": PROGRAM}, "delay": latency}))
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "tests" / "scripted_server.py"), "--script", str(script)],
        stdout=subprocess.PIPE,
        text=True,
    )
    port = int(proc.stdout.readline().split()[1])
    return proc, f"http://127.0.0.1:{port}/v1", tmp


def proc_cpu_s(pid: int) -> float:
    """User + system CPU seconds of another process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def client_only(base_url: str, messages: list, n: int, workers: int) -> None:
    """The same number of requests through the same client, and nothing else."""
    from arcnb.llm import LLMClient, request_params

    client = LLMClient("bench", [base_url], api_key=None, params=request_params("bench", base_url))
    sem = asyncio.Semaphore(workers)

    async def one() -> None:
        async with sem:
            assert (await client.complete(messages)).failure is None

    await asyncio.gather(*(one() for _ in range(n)))
    await client.aclose()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--tasks", type=int, default=400)
    ap.add_argument("--attempts", type=int, default=8)
    ap.add_argument("--workers", type=int, default=256, help="concurrent requests")
    ap.add_argument("--latency", type=float, default=0.5, help="seconds per answer")
    ap.add_argument("--no-bounds", action="store_true", help="skip the bounds (big runs)")
    ap.add_argument(
        "--strategy",
        default="independent",
        help="search strategy (bench/search.py compares them); a search's first round is half "
        "the attempts, later rounds 2 requests",
    )
    args = ap.parse_args()

    import arcnb

    server, base_url, tmp = start_server(args.latency)
    os.environ.pop("OPENAI_API_KEY", None)
    import arcnb.runner  # noqa: F401  (imports belong to the baseline, not to the run)

    arcnb.load_tasks("arc-agi-1", "all_training")
    base_mb = rss_mb()
    try:
        server_cpu0 = proc_cpu_s(server.pid)
        cpu0 = time.process_time()
        t0 = time.perf_counter()
        result = asyncio.run(
            arcnb.run_eval_async(
                dataset="arc-agi-1",
                subset="all_training",
                limit=args.tasks,
                model="bench",
                base_url=[base_url],
                max_attempts=args.attempts,
                max_workers=args.workers,
                strategy=args.strategy,
                **({} if args.strategy == "independent" else {"round_size": 2}),
                output_dir=str(tmp / "logs"),
                progress=False,
            )
        )
        wall = time.perf_counter() - t0
        cpu = time.process_time() - cpu0
        server_cpu = proc_cpu_s(server.pid) - server_cpu0
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        if not args.no_bounds:
            messages = arcnb.build_messages(arcnb.load_tasks("arc-agi-1", "all_training")[0])
            c0, t0 = time.process_time(), time.perf_counter()
            asyncio.run(client_only(base_url, messages, args.tasks * args.attempts, args.workers))
            client_wall, client_cpu = time.perf_counter() - t0, time.process_time() - c0
    finally:
        server.kill()
    summary = result.summary
    n = args.tasks * args.attempts
    if args.strategy != "independent":  # a task stops early once a program is train-perfect
        assert summary["n_attempts"] <= n, summary["n_attempts"]
        n = summary["n_attempts"]
        print(f"strategy {args.strategy}: {len(summary['per_round'])} rounds")
    assert summary["n_attempts"] == n, summary["n_attempts"]
    assert summary["metrics"]["api_failure_responses"] == 0
    stats_mb, stats_wall = stats_memory(result.run_dir)
    print(f"attempts {n} ({args.tasks} tasks x {args.attempts}), "
          f"concurrency {args.workers}, latency {args.latency} s")  # fmt: skip
    if not args.no_bounds:
        exec_bound, n_exec = execution_bound(result.run_dir, args.tasks)
        latency_bound = n * args.latency / args.workers
        bound = max(latency_bound, exec_bound)
        print(f"executions {n_exec}; latency bound {latency_bound:.2f} s, "
              f"execution bound {exec_bound:.2f} s")  # fmt: skip
        print(f"openai SDK client alone: {client_wall:.2f} s, {client_cpu / n * 1e3:.2f} ms CPU "
              f"per request; scripted server {server_cpu / n * 1e3:.2f} ms CPU per request")  # fmt: skip
        print(f"measured {wall:.2f} s, ratio to the larger bound {wall / bound:.2f} "
              "(target <= 1.3)")  # fmt: skip
    else:
        print(
            f"measured {wall:.2f} s; scripted server {server_cpu / n * 1e3:.2f} ms CPU per request"
        )
    print(f"cpu per attempt outside the executor {cpu / n * 1e3:.2f} ms ({cpu:.1f} s in all)")
    target = 400 if n <= 12800 else 500
    # Above the baseline: requests and programs in flight (bounded by the worker count), the
    # tasks with attempts in flight, and the summary's per-attempt aggregates at the end.
    print(f"peak memory {peak_mb:.0f} MB (target < {target} MB); baseline before the run "
          f"{base_mb:.0f} MB, {peak_mb - base_mb:.0f} MB above it "
          f"({(peak_mb - base_mb) * 1024 / n:.1f} KB per attempt)")  # fmt: skip
    print(f"arcnb stats on this run: peak memory {stats_mb:.0f} MB (target < 400 MB), "
          f"{stats_wall:.1f} s")  # fmt: skip


def rss_mb() -> float:
    """This process's resident memory now (MB), from /proc."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


# VmHWM, not getrusage's ru_maxrss: Linux keeps ru_maxrss across fork and exec, so a child of
# this (large) process would report the parent's peak; VmHWM belongs to the new address space.
_STATS = (
    "import sys\n"
    "from pathlib import Path\n"
    "from arcnb.cli import main\n"
    "code = main(['stats', sys.argv[1]])\n"
    "hwm = [l for l in Path('/proc/self/status').read_text().splitlines() if l.startswith('VmHWM:')]\n"
    "print(int(hwm[0].split()[1]), file=sys.stderr)\n"
    "sys.exit(code)\n"
)


def stats_memory(run_dir: Path) -> tuple[float, float]:
    """Peak memory (MB) and wall time of `arcnb stats RUN_DIR` in a process of its own."""
    t0 = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", _STATS, str(run_dir)], capture_output=True, text=True, check=True
    )
    wall = time.perf_counter() - t0
    return int(out.stderr.strip().splitlines()[-1]) / 1024, wall


def execution_bound(run_dir: Path, n_tasks: int) -> tuple[float, int]:
    """What the executor alone needs for the run's programs on the same grids (seconds)."""
    import arcnb
    from arcnb.executor import Executor
    from arcnb.rundir import Run

    by_id = {t.id: t for t in arcnb.load_tasks("arc-agi-1", "all_training")[:n_tasks]}
    batch = []
    for r in Run.open(run_dir).records():  # streamed: only the code is kept
        t = by_id[r["task_id"]]
        batch.append((r["code"], [e.input for e in t.train + t.test]))
    with Executor() as ex:
        ex.run_many(batch[:50])
        t1 = time.perf_counter()
        ex.run_many(batch)
        return time.perf_counter() - t1, sum(len(g) for _, g in batch)


if __name__ == "__main__":
    main()
