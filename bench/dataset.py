"""Dataset building throughput: `build_dataset` vs the executor alone on the same programs.

    uv run python bench/dataset.py [--programs 100000] [--tasks 200] [--workers N]

Writes a synthetic run (no model is called) into a temporary directory: a folder of tasks with
simple rules (mirror, flip, transpose, colour shift; random grids 5-15 cells a side, 3 train
pairs and 1 test) and an ``attempts.jsonl`` of --programs records, mixed as

    25% correct (unique code; 30% of the tasks never get one, so balancing has work to do)
    30% wrong (unique code, outputs shared with other programs: deduplicated by outputs)
    25% exact repeats of an earlier program of the same task (never executed again)
    10% transductive (an output grid written into the code: rejected before execution)
     5% crashing, 5% returning a ragged grid (rejected: exec, format)

Then, in this same process and with the same warm executor, it times

* the executor alone: the unique programs the pipeline has to execute, submitted with a bounded
  number in flight and their results thrown away (the ceiling for any pipeline), and
* `build_dataset` on the run, end to end (reading, execution, filters, dedup, balance, save).

Last lines: the pipeline's programs/s, the executor's own throughput, their ratio (executor time
/ pipeline time on the same corpus; target >= 0.70) and the process's peak memory (max RSS,
target < 1 GB).
"""

from __future__ import annotations

import argparse
import collections
import json
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

from arcnb.dataset import build_dataset
from arcnb.executor import Executor

RULES = [
    "return [row[::-1] for row in grid]",
    "return [row[:] for row in grid[::-1]]",
    "return [list(r) for r in zip(*grid)]",
    "return [[(c + 1) % 10 for c in row] for row in grid]",
]
HEADER = (
    "# Transformation found from the training examples.\n"
    "# The grid is a list of rows; each cell is a colour 0-9.\n"
    "def transform(grid):\n"
    "    # variant {i}\n"
    "    k = {i}\n"
)
REASONING = "Looking at the examples, each output is derived from its input cell by cell. " * 12


def make_tasks(folder: Path, n: int, rng: random.Random) -> list[dict]:
    folder.mkdir(parents=True)
    tasks = []
    for t in range(n):
        rule = RULES[t % len(RULES)]
        ns: dict = {}
        exec(f"def f(grid):\n    {rule}\n", ns)
        pairs = []
        for _ in range(4):
            rows, cols = rng.randint(5, 15), rng.randint(5, 15)
            grid = [[rng.randrange(10) for _ in range(cols)] for _ in range(rows)]
            pairs.append({"input": grid, "output": ns["f"](grid)})
        task = {"train": pairs[:3], "test": pairs[3:]}
        (folder / f"s{t:05d}.json").write_text(json.dumps(task))
        tasks.append(task)
    return tasks


def program(i: int, t: int, task: dict, kind: str) -> str:
    head = HEADER.format(i=i)
    if kind == "correct":
        return head + "    " + RULES[t % len(RULES)]
    if kind == "wrong":
        return head + "    " + RULES[(t + 1 + i % 3) % len(RULES)]
    if kind == "transductive":
        return head + f"    answer = {task['test'][0]['output']}\n    return answer"
    if kind == "crash":
        return head + "    raise ValueError('no rule found')"
    return head + "    return [[1, 2], [3]]"  # ragged: breaks the grid format


def write_corpus(root: Path, n_programs: int, n_tasks: int) -> tuple[Path, Path, int]:
    """(run dir, file of the unique executed programs, how many there are)."""
    rng = random.Random(0)
    tasks = make_tasks(root / "tasks", n_tasks, rng)
    ids = [f"s{t:05d}" for t in range(n_tasks)]
    run = root / "logs" / "20260101T000000Z_synthetic_tasks_all"
    run.mkdir(parents=True)
    config = {
        "schema": 1,
        "run_id": run.name,
        "model": "synthetic",
        "created_at": "2026-01-01T00:00:00+00:00",
        "settings": {"dataset": str(root / "tasks"), "subset": "all_evaluation"},
        "task_ids": ids,
    }
    (run / "config.json").write_text(json.dumps(config))
    recent: dict[int, collections.deque] = collections.defaultdict(
        lambda: collections.deque(maxlen=8)
    )
    seen: set[tuple[str, str]] = set()
    unique = root / "unique.jsonl"
    n_unique = 0
    with open(run / "attempts.jsonl", "w") as out, open(unique, "w") as uniq:
        for i in range(n_programs):
            t = rng.randrange(n_tasks)
            r = rng.random()
            if r < 0.25 and recent[t]:
                code = rng.choice(recent[t])
            else:
                if r < 0.50:
                    kind = "wrong" if t % 10 < 3 else "correct"
                elif r < 0.80:
                    kind = "wrong"
                elif r < 0.90:
                    kind = "transductive"
                else:
                    kind = "crash" if r < 0.95 else "ragged"
                code = program(i, t, tasks[t], kind)
                recent[t].append(code)
            if "answer =" not in code and (ids[t], code) not in seen:
                seen.add((ids[t], code))
                grids = [ex["input"] for ex in tasks[t]["train"] + tasks[t]["test"]]
                uniq.write(json.dumps([code, grids]) + "\n")
                n_unique += 1
            record = {
                "schema": 1,
                "run_id": run.name,
                "task_id": ids[t],
                "attempt": i,
                "turn": 1,
                "final": True,
                "model": "synthetic",
                "response": {"content": f"```python\n{code}\n```", "reasoning": REASONING},
                "code": code,
            }
            out.write(json.dumps(record) + "\n")
    return run, unique, n_unique


def executor_alone(executor: Executor, unique: Path) -> float:
    """Seconds to run every unique program, as many in flight as the pipeline allows."""
    window = max(256, 16 * executor.n_workers * executor.depth)
    pending: collections.deque = collections.deque()
    t0 = time.perf_counter()
    with open(unique) as handle:
        for line in handle:
            code, grids = json.loads(line)
            pending.append(executor.submit(code, grids))
            while len(pending) >= window:
                pending.popleft().result()
    while pending:
        pending.popleft().result()
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--programs", type=int, default=100_000, help="synthetic attempt records")
    ap.add_argument("--tasks", type=int, default=200, help="synthetic tasks")
    ap.add_argument("--workers", type=int, default=None, help="executor processes (default: cores)")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp, Executor(workers=args.workers) as executor:
        root = Path(tmp)
        t0 = time.perf_counter()
        run, unique, n_unique = write_corpus(root, args.programs, args.tasks)
        print(f"corpus: {args.programs:,} programs over {args.tasks} tasks, {n_unique:,} unique "
              f"to execute, written in {time.perf_counter() - t0:.1f} s", flush=True)  # fmt: skip
        executor.run_many([("def transform(grid):\n    return grid", [[[0]]])] * 4)  # warm up
        t_exec = executor_alone(executor, unique)
        print(f"executor alone: {t_exec:.1f} s", flush=True)
        t0 = time.perf_counter()
        result = build_dataset(run_dirs=run, output=root / "out", executor=executor)
        t_pipe = time.perf_counter() - t0
        stats = result.stats
        print(result.table())
        assert stats["executed"] == n_unique, (stats["executed"], n_unique)
        workers = executor.n_workers
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB
    print(
        f"workers {workers}, isolation {executor.isolation.get('level')}, python {sys.version.split()[0]}"
    )
    print(
        f"pipeline: {args.programs:,} programs in {t_pipe:.1f} s = {args.programs / t_pipe:,.0f} programs/s"
    )
    print(f"executor alone: {n_unique:,} unique programs in {t_exec:.1f} s = "
          f"{n_unique / t_exec:,.0f} programs/s")  # fmt: skip
    print(f"ratio: {t_exec / t_pipe:.2f} of execution-bound speed (target >= 0.70)")
    print(f"peak memory: {peak_mb:,.0f} MB max RSS of this process (target < 1024 MB)")


if __name__ == "__main__":
    main()
