"""Small ARC task folders and canned model answers shared by the end-to-end tests."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from arcnb.prompts import encode_grid

ROOT = Path(__file__).resolve().parent.parent
FLIP = "```python\ndef transform(grid):\n    return [row[::-1] for row in grid]\n```"
WRONG = "```python\ndef transform(grid):\n    return grid\n```"
BROKEN = "```python\ndef transform(grid) return grid\n```"


def grid(seed: int, rows: int = 3, cols: int = 4) -> list[list[int]]:
    """A deterministic grid whose rows are not palindromes (mirroring changes them)."""
    return [[(seed * 7 + r * 3 + 2**c) % 10 for c in range(cols)] for r in range(rows)]


def make_tasks(folder: Path, names: list[str]) -> dict[str, dict]:
    """Tasks whose rule is 'mirror each row': 2 train pairs and 1 test, widths differing per
    task so that each task's prompt holds grids no other task's does."""
    folder.mkdir(parents=True, exist_ok=True)
    tasks = {}
    for i, name in enumerate(names):
        pairs = [grid(k + 1, 3, 3 + i) for k in range(3)]
        task = {
            "train": [{"input": g, "output": [r[::-1] for r in g]} for g in pairs[:2]],
            "test": [{"input": pairs[2], "output": [r[::-1] for r in pairs[2]]}],
        }
        (folder / f"{name}.json").write_text(json.dumps(task))
        tasks[name] = task
    return tasks


def refused(proc: subprocess.CompletedProcess, *needles: str) -> str:
    """Assert a CLI refusal: exit 2, no traceback, stderr one `arcnb: error:` line holding
    every needle; return that line."""
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert len(lines) == 1 and lines[0].startswith("arcnb: error: "), proc.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def key_of(task: dict) -> str:
    """A substring of the prompt that only this task's requests contain (a scripted rule key)."""
    return encode_grid(task["test"][0]["input"]).split("\n", 1)[1]


# ---- a search run (--strategy refine-best) ---------------------------------------------------
# Programs marked with a comment (`# mark:X;`) that a scripted rule matches when a later
# request shows them as parents. For make_tasks' first task (3x3 grids; the first train
# input's top-left cell is 8, the second's 5, the test input's 2; the rule mirrors each row).
MARKED_A = "```python\n# mark:A;\ndef transform(grid):\n    return grid\n```"  # 0 of 2
MARKED_B = (  # 1 of 2: mirrors only the first train input
    "```python\n# mark:B;\ndef transform(grid):\n"
    "    return [r[::-1] for r in grid] if grid[0][0] == 8 else grid\n```"
)
MARKED_C = "```python\n# mark:C;\ndef transform(grid):\n    return [[0]]\n```"  # 0/2, wrong shape
MARKED_D = (  # 1 of 2: mirrors only the second train input
    "```python\n# mark:D;\ndef transform(grid):\n"
    "    return [r[::-1] for r in grid] if grid[0][0] == 5 else grid\n```"
)
MARKED_E = "```python\n# mark:E;\ndef transform(grid):\n    return [row[:] for row in grid]\n```"
MARKED_F = FLIP.replace("def transform", "# mark:F;\ndef transform")  # right everywhere
FIRST_ROUND = "Test inputs ("  # in every request's first-turn text


def marked_rule(marker: str, answer: str) -> dict:
    """A scripted rule: a request showing the program marked `marker` gets `answer`."""
    return {"match": f"# mark:{marker};", "responses": [{"content": answer}]}


# Round 1 samples A, B, C; refining B gives D, refining A gives E; refining D gives F (right
# everywhere): with --max-attempts 10 --first-round 3 --round-size 2, a tree three levels deep.
SEARCH_SCRIPT = {
    "rules": [
        marked_rule("D", MARKED_F),
        marked_rule("B", MARKED_D),
        marked_rule("A", MARKED_E),
        {
            "match": FIRST_ROUND,
            "responses": [{"content": c} for c in (MARKED_A, MARKED_B, MARKED_C)],
        },
    ]
}
