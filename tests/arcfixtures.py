"""Small ARC task folders and canned model answers shared by the end-to-end tests."""

from __future__ import annotations

import json
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


def key_of(task: dict) -> str:
    """A substring of the prompt that only this task's requests contain (a scripted rule key)."""
    return encode_grid(task["test"][0]["input"]).split("\n", 1)[1]
