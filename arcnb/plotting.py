"""Figures of ARC grids, tasks and attempts, and per-turn evolution plots of a run directory.

Plain functions that return `matplotlib.figure.Figure` objects built without pyplot, so they
hold no global state: a notebook displays them, a script saves them, and nothing here calls
``plt.show``. Everything is drawn from the files a run wrote (``config.json``,
``attempts.jsonl``) plus the dataset's tasks; whatever is missing (a killed run, a dataset
that moved, an older record layout) is drawn as a grey hatched panel and named in a warning.
"""

from __future__ import annotations

import difflib
import json
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from arcnb.errors import InputError
from arcnb.logs import (
    ATTEMPTS_FILE,
    CONFIG_FILE,
    SCHEMA_VERSION,
    SUMMARY_FILE,
    read_attempts,
    read_config,
    read_summary,
)
from arcnb.scoring import as_grid
from arcnb.tasks import ARC_PALETTE, Task, load_task, load_tasks

__all__ = [
    "RunData",
    "format_evolution_table",
    "load_run",
    "plot_attempt",
    "plot_grid",
    "plot_task",
    "render_run",
]

logger = logging.getLogger("arcnb")

PANEL_IN = 2.2  # side of one grid panel, inches
DPI = 100  # saved PNGs: a 5-example attempt is about 660x1100 pixels
MAX_SIDE = 100  # grids with more rows or columns are drawn as invalid (ARC grids are <= 30)
RIGHT, WRONG = "#2ECC40", "#FF4136"  # frame of a right / wrong predicted panel
_LINE = "#555555"  # grid lines between cells
_CMAP = ListedColormap(ARC_PALETTE, name="arc")
_EXAMPLE_FIELDS = ("output", "correct", "pixel_accuracy")


# ---- single figures --------------------------------------------------------------------------
def _shape(grid: Any) -> str:
    g = as_grid(grid)
    return f"{len(g)}x{len(g[0])}" if g else "?"


def _drawable(grid: Any) -> tuple[np.ndarray | None, str | None]:
    """``(array, None)`` for a grid that can be drawn, else ``(None, why not)``."""
    g = as_grid(grid)
    if g is None:
        return None, "not a rectangular grid of integers"
    if len(g) > MAX_SIDE or len(g[0]) > MAX_SIDE:
        return None, f"{len(g)}x{len(g[0])} is too large"
    bad = next((c for row in g for c in row if not 0 <= c <= 9), None)
    if bad is not None:
        return None, f"colour {bad} outside 0-9"
    return np.array(g, dtype=np.int8), None


def plot_grid(
    ax: Axes,
    grid: Any,
    title: str | None = None,
    *,
    note: str | None = None,
    missing: str = "missing",
    frame: str | None = None,
) -> bool:
    """Draw one grid in the ARC palette with thin lines between cells; never raises.

    A None grid draws a grey hatched placeholder titled ``missing``; anything that is not a
    drawable grid (ragged, empty, a colour outside 0-9, over `MAX_SIDE` a side) draws the
    same placeholder titled ``invalid (<why>)``.

    Args:
        ax: The axes to draw into.
        grid: A grid (nested lists or an array of colours 0-9), or None.
        title: Panel title; default the grid's shape (``"3x3"``). Above a placeholder's label.
        note: Appended to the title after `` · `` (e.g. a pixel accuracy).
        missing: Label of the placeholder for a None grid (e.g. ``"no program (timeout)"``).
        frame: Colour of a thick frame around the panel (e.g. `RIGHT` or `WRONG`).

    Returns:
        True when the grid was drawn, False when a placeholder was.
    """
    arr, why = (None, None) if grid is None else _drawable(grid)
    drawn = False
    if arr is not None:
        try:
            ax.imshow(arr, cmap=_CMAP, vmin=-0.5, vmax=9.5, interpolation="nearest")
            rows, cols = arr.shape
            # Plain lines, not minor-tick grid lines: tick objects cost milliseconds apiece.
            ax.hlines(np.arange(0.5, rows - 1), -0.5, cols - 0.5, colors=_LINE, linewidth=0.5)
            ax.vlines(np.arange(0.5, cols - 1), -0.5, rows - 0.5, colors=_LINE, linewidth=0.5)
            drawn = True
            head = title if title is not None else f"{rows}x{cols}"
        except Exception as error:  # a plotting fault must not stop a whole run's plots
            ax.clear()
            why = f"{type(error).__name__}"
    if not drawn:
        ax.add_patch(
            Rectangle((0, 0), 1, 1, facecolor="#e6e6e6", edgecolor="#a0a0a0", hatch="///", lw=0)
        )
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_aspect("equal")
        label = missing if why is None else f"invalid ({why})"
        head = label if title is None else f"{title}\n{label}"
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_edgecolor(frame or "#888888")
        spine.set_linewidth(3 if frame else 0.8)
    ax.set_title(head + (f" · {note}" if note else ""), fontsize=9)
    return drawn


def _panels(rows: int, cols: int) -> tuple[Figure, np.ndarray]:
    """A figure of ``rows x cols`` panels with room for two-line titles and a suptitle.

    Fixed margins, not constrained layout: that costs about half the time of a whole plot.
    """
    title_in, top_in, left_in = 0.45, 0.55, 0.35  # per panel title, suptitle, row label
    width, height = cols * PANEL_IN + left_in, rows * (PANEL_IN + title_in) + top_in
    fig = Figure(figsize=(width, height))
    fig.subplots_adjust(
        left=left_in / width,
        right=1 - 0.1 / width,
        top=1 - (top_in + title_in) / height,
        bottom=0.1 / height,
        wspace=0.15,
        hspace=title_in / PANEL_IN + 0.05,
    )
    return fig, fig.subplots(rows, cols, squeeze=False)


def plot_task(task: Task) -> Figure:
    """Draw a task: one column per train pair (input above output), then its test inputs.

    Args:
        task: The task.

    Returns:
        A figure with ``2 * len(task.train) + len(task.test)`` panels.
    """
    cols = len(task.train) + len(task.test)
    fig, axes = _panels(2, cols)
    for j, ex in enumerate(task.train):
        plot_grid(axes[0, j], ex.input, f"train {j + 1} input · {_shape(ex.input)}")
        plot_grid(axes[1, j], ex.output, f"train {j + 1} output · {_shape(ex.output)}")
    for k, ex in enumerate(task.test):
        plot_grid(
            axes[0, len(task.train) + k], ex.input, f"test {k + 1} input · {_shape(ex.input)}"
        )
        axes[1, len(task.train) + k].remove()
    fig.suptitle(f"{task.id}: {len(task.train)} train, {len(task.test)} test", fontsize=11)
    return fig


def _no_program(record: Mapping[str, Any]) -> str | None:
    """Why an attempt has no program to show (an API failure, no code block), or None."""
    if record.get("failure"):
        return str(record["failure"])
    if "code" in record and not record.get("code"):
        return "no code block"
    return None


def _result(record: Mapping[str, Any], split: str, k: int) -> Mapping[str, Any] | None:
    results = record.get(split)
    if isinstance(results, list) and k < len(results) and isinstance(results[k], Mapping):
        return results[k]
    return None


def _error_label(result: Mapping[str, Any]) -> str:
    """``"error (ZeroDivisionError)"``, ``"timeout"``: why a program gave no grid."""
    status = str(result.get("status") or "no output")
    error = str(result.get("error") or "").split(":", 1)[0].strip()[:30]
    return f"{status} ({error})" if error and error != status else status


def _counts(task: Task | None, record: Mapping[str, Any]) -> tuple[int, int]:
    if task is not None:
        return len(task.train), len(task.test)
    sizes = [len(v) if isinstance(v := record.get(s), list) else 0 for s in ("train", "test")]
    return sizes[0], sizes[1]


def plot_attempt(task: Task | None, record: Mapping[str, Any], title: str | None = None) -> Figure:
    """Draw one attempt turn: input | expected | predicted, a row per train and test example.

    The predicted panel is framed green when right and red when wrong, and titled with its
    shape and pixel accuracy (``"3x3 · 78%"``). An attempt without a program (an API
    failure, no code block) shows ``no program (<why>)`` panels; a field the record lacks
    (an older layout) or a task that could not be loaded shows ``missing`` panels.

    Args:
        task: The task attempted, or None when it is unknown (inputs are drawn as missing).
        record: One record of ``attempts.jsonl``.
        title: Figure title; default task id, attempt (1-based), turn and scores.

    Returns:
        A figure with ``3 * (n_train + n_test)`` panels (at least 3).
    """
    n_train, n_test = _counts(task, record)
    rows = [("train", k) for k in range(n_train)] + [("test", k) for k in range(n_test)]
    rows = rows or [("test", 0)]
    why_none = _no_program(record)
    fig, axes = _panels(len(rows), 3)
    for i, (split, k) in enumerate(rows):
        examples = (task.train if split == "train" else task.test) if task else []
        example = examples[k] if k < len(examples) else None
        expected = example.output if example else None
        plot_grid(axes[i, 0], example.input if example else None)
        plot_grid(axes[i, 1], expected, missing="hidden" if example else "missing")
        axes[i, 0].set_ylabel(f"{split} {k + 1}", fontsize=10)
        result = _result(record, split, k)
        if why_none is not None:
            plot_grid(axes[i, 2], None, missing=f"no program ({why_none})", frame=WRONG)
        elif result is None:
            plot_grid(axes[i, 2], None)
        else:
            known = example is None or expected is not None  # hidden answers score nothing
            correct = result.get("correct") if known else None
            frame = RIGHT if correct is True else WRONG if correct is False else None
            acc = result.get("pixel_accuracy")
            note = f"{acc:.0%}" if known and isinstance(acc, (int, float)) else None
            label = _error_label(result) if "output" in result else "missing"
            plot_grid(axes[i, 2], result.get("output"), note=note, missing=label, frame=frame)
    for ax, name in zip(axes[0], ("input", "expected", "predicted"), strict=True):
        ax.set_title(f"{name}\n{ax.get_title()}", fontsize=9)
    if title is None:
        stats = _stats(task, record)
        parts = [
            str(record.get("task_id", "?")),
            f"attempt {_int(record.get('attempt'), 0) + 1}",
            f"turn {_int(record.get('turn'), 1)}",
            f"train {stats['train_solved'] or '?'}",
            f"test {_pct(stats['test_accuracy'])}",
        ]
        title = " · ".join(parts) + (" · transductive" if record.get("transductive") else "")
    fig.suptitle(title, fontsize=11)
    return fig


# ---- run directories -------------------------------------------------------------------------
@dataclass
class RunData:
    """What `load_run` could read of a run directory, and what it could not.

    Attributes:
        run_dir: The run directory.
        config: ``config.json`` (empty when it is missing).
        records: Attempt-turn records, one per ``(task_id, attempt, turn)``, in file order.
        tasks: Task id -> task, for the tasks the dataset still holds.
        task_ids: The run's task ids, in run order (config first, then any only in records).
        warnings: One line per thing missing (unfinished run, torn line, lost dataset, fields
            an older record layout lacks); empty for a complete run.
    """

    run_dir: Path
    config: dict[str, Any]
    records: list[dict[str, Any]]
    tasks: dict[str, Task]
    task_ids: list[str]
    warnings: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        """The run directory's name (``<time>_<model>_<dataset>_<subset>``)."""
        return self.run_dir.resolve().name

    @property
    def settings(self) -> dict[str, Any]:
        return self.config.get("settings") or {}

    @property
    def multi_turn(self) -> bool:
        """The run allowed refinement turns (``max_turns`` > 1, or a record shows a turn 2)."""
        turns = _int(self.settings.get("max_turns"), 0)
        return turns > 1 or any(r["turn"] > 1 for r in self.records)

    @property
    def multi_attempt(self) -> bool:
        attempts = _int(self.settings.get("max_attempts"), 0)
        return attempts > 1 or any(r["attempt"] > 0 for r in self.records)


def _int(value: Any, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _read_records(path: Path, warnings: list[str]) -> list[dict[str, Any]]:
    attempts = path / ATTEMPTS_FILE
    if not attempts.exists():
        warnings.append(f"no {ATTEMPTS_FILE}: the run recorded no attempts")
        return []
    data = attempts.read_bytes()
    tail = data[data.rfind(b"\n") + 1 :]
    if tail.strip():
        try:
            json.loads(tail)
        except (UnicodeDecodeError, json.JSONDecodeError):
            warnings.append(
                f"{ATTEMPTS_FILE}: ignored a torn final line ({len(tail)} bytes; killed mid-write)"
            )
    try:
        return read_attempts(path)
    except InputError as error:  # a corrupt line or a newer schema: keep what parses
        warnings.append(f"{error}; plotting the records that parse")
    records = []
    for line in data.split(b"\n"):
        try:
            value = json.loads(line)
        except (UnicodeDecodeError, json.JSONDecodeError):
            continue
        if isinstance(value, dict):
            records.append(value)
    return records


def _clean(raw: list[dict[str, Any]], warnings: list[str]) -> list[dict[str, Any]]:
    """Records keyed by (task_id, attempt, turn), first copy kept; defaults for old layouts."""
    out, seen, lacking = [], set(), {}
    for record in raw:
        if not isinstance(record.get("task_id"), (str, int)):
            lacking["task_id (record skipped)"] = lacking.get("task_id (record skipped)", 0) + 1
            continue
        for name in _missing_fields(record):
            lacking[name] = lacking.get(name, 0) + 1
        rec = {
            **record,
            "task_id": str(record["task_id"]),
            "attempt": _int(record.get("attempt"), 0),
            "turn": _int(record.get("turn"), 1),
        }
        key = (rec["task_id"], rec["attempt"], rec["turn"])
        if key not in seen:
            seen.add(key)
            out.append(rec)
    for name, n in lacking.items():
        warnings.append(f"{n} record(s) lack '{name}' (older layout?): drawn as missing")
    newer = {r.get("schema") for r in out if _int(r.get("schema"), 0) > SCHEMA_VERSION}
    if newer:
        warnings.append(f"record schema {sorted(newer)} is newer than {SCHEMA_VERSION}")
    return out


def _missing_fields(record: Mapping[str, Any]) -> list[str]:
    """Fields a plot needs that this record lacks (an older or foreign layout)."""
    missing = [n for n in ("attempt", "turn") if not isinstance(record.get(n), int)]
    if _no_program(record) is not None:
        return missing
    for split in ("train", "test"):
        results = record.get(split)
        if not isinstance(results, list):
            missing.append(split)
            continue
        for name in _EXAMPLE_FIELDS:
            if any(not isinstance(r, Mapping) or name not in r for r in results):
                missing.append(f"{split}[].{name}")
    return missing


def _load_run_tasks(dataset: Any, ids: list[str], warnings: list[str]) -> dict[str, Task]:
    if not ids:
        return {}
    if not isinstance(dataset, str) or not dataset:
        warnings.append("config.json names no dataset: inputs and expected outputs are missing")
        return {}
    try:
        return {t.id: t for t in load_tasks(dataset, ",".join(ids))}
    except (InputError, OSError, ValueError):
        pass
    tasks, errors = {}, {}
    for task_id in ids:  # some ids may still be there (a folder edited since the run)
        try:
            tasks[task_id] = load_task(dataset, task_id)
        except (InputError, OSError, ValueError) as error:
            errors.setdefault(str(error).split(";")[0], []).append(task_id)
    for message, lost in errors.items():
        warnings.append(
            f"{len(lost)} task(s) not loaded ({message}): inputs and expected outputs are missing"
        )
    return tasks


def load_run(run_dir: str | os.PathLike[str]) -> RunData:
    """Read a run directory for plotting, finished or not, and say what is missing.

    Reads ``config.json`` (``settings.dataset``, ``task_ids``), ``attempts.jsonl`` and the
    run's tasks from its dataset (a folder dataset is stored as its path). Copes with a killed
    run (no ``summary.json``, a torn last line), a dataset that can no longer be loaded
    (inputs drawn as missing) and records of an older layout (missing fields drawn as
    missing); each is named in ``warnings``.

    Args:
        run_dir: The run directory (``logs/<time>_<model>_<dataset>_<subset>``).

    Returns:
        The run's data and warnings.

    Raises:
        InputError: ``run_dir`` is not a run directory (neither config.json nor attempts.jsonl).
    """
    path = Path(run_dir)
    if not str(run_dir) or not path.is_dir():
        raise InputError(f"run directory {str(run_dir)!r} does not exist")
    warnings: list[str] = []
    try:
        config = read_config(path)
    except InputError as error:
        if not (path / ATTEMPTS_FILE).exists():
            raise InputError(f"{run_dir}: not a run directory (no {CONFIG_FILE})") from None
        warnings.append(f"{error}: the dataset and settings are unknown")
        config = {}
    try:
        if read_summary(path) is None:
            warnings.append(f"no {SUMMARY_FILE}: the run did not finish")
    except InputError as error:
        warnings.append(str(error))
    records = _clean(_read_records(path, warnings), warnings)
    ids = [str(i) for i in config.get("task_ids") or []]
    ids += [r["task_id"] for r in records if r["task_id"] not in ids]
    ids = list(dict.fromkeys(ids))
    tasks = _load_run_tasks((config.get("settings") or {}).get("dataset"), ids, warnings)
    return RunData(path, config, records, tasks, ids, warnings)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _stats(task: Task | None, record: Mapping[str, Any]) -> dict[str, Any]:
    """test_accuracy, train_solved ("2/3") and train_avg_accuracy of one record (None: unknown)."""
    n_train, n_test = _counts(task, record)
    no_program = _no_program(record) is not None
    out: dict[str, Any] = {}
    for split, n in (("train", n_train), ("test", n_test)):
        results = record.get(split)
        if no_program:
            right, accs = 0, [0.0] * n
        elif isinstance(results, list) and all(isinstance(r, Mapping) for r in results):
            known = [r["correct"] for r in results if isinstance(r.get("correct"), bool)]
            right = sum(known) if len(known) == len(results) else None
            accs = [r.get("pixel_accuracy") for r in results]
            accs = [a for a in accs if isinstance(a, (int, float))]
        else:
            right, accs = None, []
        n = n or (len(results) if isinstance(results, list) else 0)
        if split == "train":
            out["train_solved"] = None if right is None or not n else f"{right}/{n}"
            out["train_avg_accuracy"] = sum(accs) / len(accs) if accs else None
        else:
            out["test_accuracy"] = None if right is None or not n else right / n
    return out


def _file_name(run: RunData, record: Mapping[str, Any]) -> str:
    attempt, turn = record["attempt"] + 1, record["turn"]
    if run.multi_turn:
        prefix = f"attempt_{attempt}_turn_{turn}" if run.multi_attempt else f"turn_{turn}"
    else:
        prefix = f"attempt_{attempt}"
    return f"{prefix}_{record['task_id']}_{run.name}.png"


def _pick_ids(run: RunData, task_ids: str | Sequence[str] | None) -> list[str]:
    if task_ids is None:
        return run.task_ids
    wanted = task_ids.split(",") if isinstance(task_ids, str) else list(task_ids)
    wanted = list(dict.fromkeys(str(t).strip() for t in wanted if str(t).strip()))
    for task_id in wanted:
        if task_id not in run.task_ids:
            close = difflib.get_close_matches(task_id, run.task_ids, n=3)
            hint = f"did you mean: {', '.join(close)}?" if close else f"it has {len(run.task_ids)}"
            raise InputError(f"task id {task_id!r} is not in run {run.name}; {hint}")
    return wanted


def render_run(
    run_dir: str | os.PathLike[str],
    task_ids: str | Sequence[str] | None = None,
    out_dir: str | os.PathLike[str] = "plots",
) -> list[dict[str, Any]]:
    """Save one PNG per attempt turn of a run (see `plot_attempt`); return the evolution table.

    Files are named ``turn_<n>_<task>_<run>.png`` in a multi-turn run with one attempt per
    task, ``attempt_<a>_turn_<n>_<task>_<run>.png`` with several, and
    ``attempt_<a>_<task>_<run>.png`` in a single-turn run; ``a`` is 1-based and ``<run>``
    the run directory's name. What `load_run` found missing is logged as warnings.

    Args:
        run_dir: The run directory.
        task_ids: ``"id1,id2"`` or a list of ids; None for every task of the run.
        out_dir: Folder for the PNGs; created if missing.

    Returns:
        One row per PNG, by task, attempt, turn: ``task_id``, ``attempt`` (1-based),
        ``turn``, ``test_accuracy`` (fraction of test examples right), ``train_solved``
        (``"2/3"``), ``train_avg_accuracy`` (mean pixel accuracy over train), ``file`` (path)
        and ``missing`` (fields this record lacks, plus ``"task"`` when the task is not loaded).
        Unknown values are None.

    Raises:
        InputError: Not a run directory, or a task id not in the run (with close matches).
    """
    run = load_run(run_dir)
    ids = _pick_ids(run, task_ids)
    for warning in run.warnings:
        logger.warning("%s: %s", run.name, warning)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for task_id in ids:
        records = sorted(
            (r for r in run.records if r["task_id"] == task_id),
            key=lambda r: (r["attempt"], r["turn"]),
        )
        if not records:
            logger.warning("%s: task %s has no recorded attempts", run.name, task_id)
        task = run.tasks.get(task_id)
        for record in records:
            path = out / _file_name(run, record)
            fig = plot_attempt(task, record)
            fig.savefig(path, dpi=DPI)
            del fig  # built without pyplot: nothing holds it, so dropping it frees it
            missing = _missing_fields(record) + ([] if task else ["task"])
            rows.append(
                {
                    "task_id": task_id,
                    "attempt": record["attempt"] + 1,
                    "turn": record["turn"],
                    **_stats(task, record),
                    "file": str(path),
                    "missing": missing,
                }
            )
    return rows


def format_evolution_table(rows: Sequence[Mapping[str, Any]]) -> str:
    """Format `render_run` rows as a plain-text table (like the older evolution tool's).

    The task column appears when rows span several tasks, the attempt column when a task has
    several attempts or none has a turn after the first, the turn column when one has.
    """
    if not rows:
        return "(no attempts to plot)"
    show_turn = any(r.get("turn", 1) > 1 for r in rows)
    show_attempt = not show_turn or any(r.get("attempt", 1) > 1 for r in rows)
    columns: list[tuple[str, Any]] = []
    if len({r.get("task_id") for r in rows}) > 1:
        columns.append(("Task", lambda r: r.get("task_id")))
    if show_attempt:
        columns.append(("Attempt", lambda r: r.get("attempt")))
    if show_turn:
        columns.append(("Turn", lambda r: r.get("turn")))
    columns += [
        ("Test Acc", lambda r: _pct(r.get("test_accuracy"))),
        ("Train Solved", lambda r: r.get("train_solved") or "-"),
        ("Train Avg Acc", lambda r: _pct(r.get("train_avg_accuracy"))),
        ("File", lambda r: Path(str(r.get("file") or "-")).name),
    ]
    cells = [[str(get(r)) for _, get in columns] for r in rows]
    widths = [max(len(name), *(len(c[i]) for c in cells)) for i, (name, _) in enumerate(columns)]

    def line(values: list[str]) -> str:
        return "  ".join(v.ljust(w) for v, w in zip(values, widths, strict=True)).rstrip()

    rule = "-" * len(line([name for name, _ in columns]))
    body = [line(c) for c in cells]
    return "\n".join([rule, line([name for name, _ in columns]), rule, *body])
