"""Search strategies against independent sampling: the runner's cost per attempt and memory.

    uv run python bench/search.py [--tasks 400] [--attempts 8] [--latency 0.5]

Runs `bench/runner.py --no-bounds --strategy S` for each strategy, each in a process of its
own (so each peak memory is its own), against the same loopback scripted endpoint setup, and
prints one row per strategy with its ratios to independent sampling measured in this same
invocation. The scripted answer mirrors rows: right on a few tasks (those stop after their
first round under a search strategy), wrong on the rest, which spend their whole budget.
A search's rounds follow each other per task, so its wall time has a floor of rounds x
latency that independent sampling does not; what should not grow is the CPU per attempt
and the memory above the baseline.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STRATEGIES = ("independent", "refine-best", "evolve")


def measure(strategy: str, args: argparse.Namespace) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "runner.py"), "--no-bounds",
         "--strategy", strategy, "--tasks", str(args.tasks), "--attempts", str(args.attempts),
         "--latency", str(args.latency), "--workers", str(args.workers)],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip

    def number(pattern: str) -> float:
        return float(re.search(pattern, out).group(1))

    return {
        "n": number(r"(?m)^attempts (\d+)"),
        "rounds": number(r"(\d+) rounds") if strategy != "independent" else 1,
        "wall": number(r"measured ([\d.]+) s"),
        "cpu_ms": number(r"cpu per attempt outside the executor ([\d.]+) ms"),
        "peak": number(r"peak memory (\d+) MB"),
        "above_kb": number(r"\(([\d.]+) KB per attempt\)"),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--tasks", type=int, default=400)
    ap.add_argument("--attempts", type=int, default=8)
    ap.add_argument("--latency", type=float, default=0.5)
    ap.add_argument("--workers", type=int, default=256)
    args = ap.parse_args()
    rows = {s: measure(s, args) for s in STRATEGIES}
    base = rows["independent"]
    print(f"{args.tasks} tasks, budget {args.attempts} requests a task, latency {args.latency} s, "
          f"concurrency {args.workers}")  # fmt: skip
    print(f"{'strategy':<12} {'attempts':>8} {'rounds':>6} {'wall s':>7} {'att/s':>7} "
          f"{'CPU ms/att':>10} {'ratio':>6} {'peak MB':>8} {'KB/att above base':>17}")  # fmt: skip
    for strategy, r in rows.items():
        print(f"{strategy:<12} {r['n']:>8.0f} {r['rounds']:>6.0f} {r['wall']:>7.1f} "
              f"{r['n'] / r['wall']:>7.0f} {r['cpu_ms']:>10.2f} {r['cpu_ms'] / base['cpu_ms']:>6.2f} "
              f"{r['peak']:>8.0f} {r['above_kb']:>17.1f}")  # fmt: skip


if __name__ == "__main__":
    main()
