"""The static report of a big run: its size, memory and time to write, and Chromium's load time.

    uv run python bench/report.py [--tasks 400] [--attempts 32] [--run-dir DIR] [--keep]

Makes a run of arc-agi-1's first ``--tasks`` training tasks x ``--attempts`` attempts with
`arcnb.run_eval` against the scripted endpoint (tests/scripted_server.py, its own process, no
latency); or reuses ``--run-dir``. Every answer is a program of about 1.2 KB (a model's typical
length; 20 lines of it real code that differs from answer to answer) with a 4 KB reasoning
text, whose outputs differ from attempt to attempt (so the report's sharing of equal grids and
programs gains little: a pessimistic case); one in seven raises an error.

Then `arcnb report` on it, in a process of its own: wall time and peak memory (VmHWM). Then
the output: total MB (target <= 25 MB at 400 x 32), index.html, the largest task page. Then
headless Chromium (``chromium --headless --dump-dom``, scripts run, grids drawn) on the index
and on the largest task page: wall time of the whole browser process, and the same for an empty
page (what starting Chromium costs), medians of 3 (target: index loads and renders in <= 10 s).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

REASONING = "Looking at the train pairs, the objects move and change colour. " * 64  # 4 KB

# About 1.2 KB of code per answer: a transform whose outputs vary with the request number {n}
# (90 combinations of two factors, so a task's 32 attempts rarely agree), after 20 lines of
# real Python (the standard library's, commented out) that differ from answer to answer, so
# that programs compress as real code does, not as copies of one text.
TRANSFORM = """
def transform(grid):
    attempt = {n}
    objects = sum(1 for row in grid for v in row if v)
    if attempt % 7 == 0:
        raise ValueError(f"attempt {attempt}: {objects} coloured cells, no rule fits")
    scale, shift = attempt % 9 + 1, attempt % 10
    out = np.array(grid)
    out = (out * scale + shift) % 10
    return out.tolist()
```
"""
VARIANTS = 997  # distinct answers, handed out in turn (a prime: a task's attempts all differ)


def answers(seed: int = 0) -> list[dict]:
    """``VARIANTS`` scripted answers, each with its own 20 lines of standard-library code."""
    import importlib
    import random

    lines = []
    for name in ("argparse", "difflib", "inspect", "textwrap", "tarfile"):
        lines += Path(importlib.import_module(name).__file__).read_text().splitlines()
    rng = random.Random(seed)
    out = []
    for _ in range(VARIANTS):
        start = rng.randrange(len(lines) - 20)
        notes = "\n".join(f"# {line}" for line in lines[start : start + 20])
        program = f"```python\nimport numpy as np\n\n{notes}\n{TRANSFORM}"
        out.append({"content": f"Here is a program for this task.\n\n{program}",
                    "reasoning": REASONING})  # fmt: skip
    return out


def make_run(tasks: int, attempts: int, out: Path) -> Path:
    import arcnb

    script = out / "script.json"
    script.write_text(json.dumps({"rules": [{"match": "", "responses": answers()}]}))
    server = subprocess.Popen(
        [sys.executable, str(ROOT / "tests" / "scripted_server.py"), "--script", str(script)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        port = int(server.stdout.readline().split()[1])
        os.environ.pop("OPENAI_API_KEY", None)
        t0 = time.perf_counter()
        result = arcnb.run_eval(
            dataset="arc-agi-1", subset="all_training", limit=tasks, model="bench",
            base_url=[f"http://127.0.0.1:{port}/v1"], max_attempts=attempts, max_workers=64,
            output_dir=str(out / "logs"), progress=False,
        )  # fmt: skip
        print(f"run: {tasks} tasks x {attempts} attempts in {time.perf_counter() - t0:.0f} s")
        return result.run_dir
    finally:
        server.kill()


# The report in a process of its own: VmHWM is that process's peak resident memory.
_REPORT = (
    "import sys\n"
    "from pathlib import Path\n"
    "from arcnb.cli import main\n"
    "code = main(['report', sys.argv[1], '--out', sys.argv[2]])\n"
    "hwm = [l for l in Path('/proc/self/status').read_text().splitlines() if l.startswith('VmHWM:')]\n"
    "print(int(hwm[0].split()[1]), file=sys.stderr)\n"
    "sys.exit(code)\n"
)


def write_report(run_dir: Path, out: Path) -> tuple[float, float]:
    """Wall time (s) and peak memory (MB) of `arcnb report RUN_DIR --out OUT`."""
    t0 = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", _REPORT, str(run_dir), str(out)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return time.perf_counter() - t0, int(done.stderr.strip().splitlines()[-1]) / 1024


def chromium_s(url: str, profile: Path) -> tuple[float, str]:
    """Wall time of headless Chromium loading ``url``, running its scripts, dumping the DOM."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        raise SystemExit("needs chromium on PATH (apt-get install chromium)")
    command = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
               f"--user-data-dir={profile}", "--dump-dom", url]  # fmt: skip
    t0 = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=True, timeout=600)
    return time.perf_counter() - t0, done.stdout


def median_chromium(url: str, profile: Path) -> tuple[float, str]:
    runs = [chromium_s(url, profile) for _ in range(3)]
    return statistics.median(t for t, _ in runs), runs[-1][1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--tasks", type=int, default=400)
    ap.add_argument("--attempts", type=int, default=32)
    ap.add_argument("--run-dir", type=Path, help="report this run instead of making one")
    ap.add_argument("--keep", action="store_true", help="keep the run and report (path printed)")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="arcnb-bench-report-"))
    try:
        run_dir = args.run_dir or make_run(args.tasks, args.attempts, tmp)
        run_mb = sum(p.stat().st_size for p in run_dir.rglob("*") if p.is_file()) / 1e6
        out = tmp / "report"
        wall, peak = write_report(run_dir, out)
        pages = sorted((out / "tasks").glob("*.html"), key=lambda p: p.stat().st_size)
        total = (out / "index.html").stat().st_size + sum(p.stat().st_size for p in pages)
        print(f"run directory {run_mb:.1f} MB; report written in {wall:.1f} s, "
              f"peak memory {peak:.0f} MB")  # fmt: skip
        print(f"report: {total / 1e6:.1f} MB in all (target <= 25 MB): index.html "
              f"{(out / 'index.html').stat().st_size / 1e3:.0f} KB, {len(pages)} task pages, "
              f"largest {pages[-1].stat().st_size / 1e3:.0f} KB, median "
              f"{statistics.median(p.stat().st_size for p in pages) / 1e3:.0f} KB")  # fmt: skip
        profile = tmp / "profile"
        blank, _ = median_chromium("about:blank", profile)
        index_s, dom = median_chromium((out / "index.html").as_uri(), profile)
        assert f'data-shown="{len(pages)}"' in dom, "the index did not render its task list"
        page_s, dom = median_chromium(pages[-1].as_uri(), profile)
        assert "data-drawn=" in dom, "task page did not draw its grids"
        print(f"chromium (median of 3 runs, whole process): empty page {blank:.2f} s, "
              f"index {index_s:.2f} s (target <= 10 s), largest task page {page_s:.2f} s")  # fmt: skip
        if args.keep:
            print(f"kept: {tmp}")
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
