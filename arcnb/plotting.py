"""Figures of ARC grids, tasks and attempts, and per-turn evolution plots of a run directory.

Plain functions that return `ArcFigure`s: matplotlib figures built without pyplot, so they hold
no global state, that render themselves as PNG in Jupyter (a bare ``Figure`` made without
pyplot shows as ``<Figure size 600x400 with 1 Axes>`` there) and save as usual from a script
(``fig.savefig("x.png")``); nothing here calls ``plt.show``. A run directory is read through `arcnb.rundir.Run` (its records are
`AttemptRecord`s) plus the dataset's tasks; whatever is missing (a killed run, a dataset
that moved) is drawn as a grey hatched panel and named in `Run.warnings`.
"""

from __future__ import annotations

import difflib
import io
import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from arcnb.errors import InputError
from arcnb.grid import DRAW_MAX_SIDE, as_grid, drawable
from arcnb.rundir import Run
from arcnb.tasks import ARC_PALETTE, Task

__all__ = [
    "ArcFigure",
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
MAX_SIDE = DRAW_MAX_SIDE  # grids with more rows or columns are drawn as invalid (ARC: <= 30)
RIGHT, WRONG = "#2ECC40", "#FF4136"  # frame of a right / wrong predicted panel
_LINE = "#555555"  # grid lines between cells
_CMAP = ListedColormap(ARC_PALETTE, name="arc")


class ArcFigure(Figure):
    """A matplotlib `Figure` that Jupyter displays as an image, pyplot or not.

    IPython renders a figure as PNG only when pyplot's inline backend has registered a
    formatter for it, which a notebook that never imports pyplot lacks; this class renders
    itself (`_repr_png_`), so a cell ending in ``plot_...(...)`` shows the image in
    JupyterLab, papermill, nbconvert and nbval alike. It is a plain `Figure` otherwise:
    ``fig.savefig(path)`` from a script, and no pyplot state to close.
    """

    def _repr_png_(self) -> bytes:
        buffer = io.BytesIO()
        self.savefig(buffer, format="png", dpi=DPI)
        return buffer.getvalue()


# ---- single figures --------------------------------------------------------------------------
def _shape(grid: Any) -> str:
    g = as_grid(grid)
    return f"{len(g)}x{len(g[0])}" if g else "?"


def _drawable(grid: Any) -> tuple[np.ndarray | None, str | None]:
    """``(array, None)`` for a grid that can be drawn (`arcnb.grid.drawable`), else
    ``(None, why not)``."""
    g, why = drawable(grid)
    return (None, why) if g is None else (np.array(g, dtype=np.int8), None)


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


def _panels(rows: int, cols: int) -> tuple[ArcFigure, np.ndarray]:
    """A figure of ``rows x cols`` panels with room for two-line titles and a suptitle.

    Fixed margins, not constrained layout: that costs about half the time of a whole plot.
    """
    title_in, top_in, left_in = 0.45, 0.55, 0.35  # per panel title, suptitle, row label
    width, height = cols * PANEL_IN + left_in, rows * (PANEL_IN + title_in) + top_in
    fig = ArcFigure(figsize=(width, height))
    fig.subplots_adjust(
        left=left_in / width,
        right=1 - 0.1 / width,
        top=1 - (top_in + title_in) / height,
        bottom=0.1 / height,
        wspace=0.15,
        hspace=title_in / PANEL_IN + 0.05,
    )
    return fig, fig.subplots(rows, cols, squeeze=False)


def plot_task(task: Task) -> ArcFigure:
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
    """Why an attempt turn has no program to show (an API failure, no code block), or None."""
    if record["failure"]:
        return str(record["failure"])
    if not record["code"]:
        return "no code block"
    return None


def _result(record: Mapping[str, Any], split: str, k: int) -> Mapping[str, Any] | None:
    """The program's result on the ``k``-th train or test input; None when it has none."""
    results = record[split]
    return results[k] if k < len(results) else None


def _error_label(result: Mapping[str, Any]) -> str:
    """``"error (ZeroDivisionError)"``, ``"timeout"``: why a program gave no grid."""
    status = str(result["status"] or "no output")
    error = str(result["error"] or "").split(":", 1)[0].strip()[:30]
    return f"{status} ({error})" if error and error != status else status


def _counts(task: Task | None, record: Mapping[str, Any]) -> tuple[int, int]:
    if task is not None:
        return len(task.train), len(task.test)
    return len(record["train"]), len(record["test"])


def plot_attempt(
    task: Task | None, record: Mapping[str, Any], title: str | None = None
) -> ArcFigure:
    """Draw one attempt turn: input | expected | predicted, a row per train and test example.

    The predicted panel is framed green when right and red when wrong, and titled with its
    shape and pixel accuracy (``"3x3 · 78%"``). An attempt without a program (an API
    failure, no code block) shows ``no program (<why>)`` panels; a task that could not be
    loaded shows ``missing`` inputs and expected outputs.

    Args:
        task: The task attempted, or None when it is unknown (inputs are drawn as missing).
        record: One `arcnb.rundir.AttemptRecord` (a line of ``attempts.jsonl``).
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
            frame = (RIGHT if result["correct"] else WRONG) if known else None
            note = f"{result['pixel_accuracy']:.0%}" if known else None
            label = _error_label(result)
            plot_grid(axes[i, 2], result["output"], note=note, missing=label, frame=frame)
    for ax, name in zip(axes[0], ("input", "expected", "predicted"), strict=True):
        ax.set_title(f"{name}\n{ax.get_title()}", fontsize=9)
    if title is None:
        stats = _stats(task, record)
        parts = [
            str(record["task_id"]),
            f"attempt {record['attempt'] + 1}",
            f"turn {record['turn']}",
            f"train {stats['train_solved'] or '?'}",
            f"test {_pct(stats['test_accuracy'])}",
        ]
        title = " · ".join(parts) + (" · transductive" if record["transductive"] else "")
    fig.suptitle(title, fontsize=11)
    return fig


# ---- run directories -------------------------------------------------------------------------
def load_run(run_dir: str | os.PathLike[str]) -> Run:
    """Open a run directory for plotting, finished or not, and find what a plot will lack.

    The run is read through `arcnb.rundir.Run`: one streamed pass over ``attempts.jsonl``
    (no record is kept) and its tasks loaded from the dataset recorded in ``config.json``,
    so that `Run.warnings` names everything missing: an unfinished run (no
    ``summary.json``), a torn or corrupt line, a dataset that can no longer be loaded
    (inputs drawn as missing).

    Args:
        run_dir: The run directory (``logs/<time>_<model>_<dataset>_<subset>``).

    Returns:
        The opened run, its tasks loaded (`Run.tasks`); pass it to `render_run` to plot it
        without opening it again.

    Raises:
        InputError: ``run_dir`` is not a run directory, or a record has a newer schema.
    """
    run = Run.open(run_dir)
    run.index()
    run.tasks()
    return run


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _stats(task: Task | None, record: Mapping[str, Any]) -> dict[str, Any]:
    """test_accuracy, train_solved ("2/3") and train_avg_accuracy of one record (None: unknown)."""
    counts = dict(zip(("train", "test"), _counts(task, record), strict=True))
    no_program = _no_program(record) is not None
    out: dict[str, Any] = {}
    for split, n in counts.items():
        results = [] if no_program else record[split]
        n = n or len(results)
        right = sum(bool(r["correct"]) for r in results)
        accs = [0.0] * n if no_program else [r["pixel_accuracy"] for r in results]
        if split == "train":
            out["train_solved"] = f"{right}/{n}" if n else None
            out["train_avg_accuracy"] = sum(accs) / len(accs) if accs else None
        else:
            out["test_accuracy"] = right / n if n else None
    return out


def _turns_by_task(
    index: Mapping[tuple[str, int], list[tuple[int, int, bool]]],
) -> dict[str, list[tuple[int, int, int]]]:
    """`Run.index` regrouped: task id -> ``(attempt, turn, byte offset)``, ascending."""
    out: dict[str, list[tuple[int, int, int]]] = {}
    for (task_id, attempt), turns in index.items():
        out.setdefault(task_id, []).extend((attempt, turn, at) for turn, at, _ in turns)
    for turns in out.values():
        turns.sort()
    return out


def _pick_ids(run: Run, known: list[str], task_ids: str | Sequence[str] | None) -> list[str]:
    if task_ids is None:
        return known
    wanted = task_ids.split(",") if isinstance(task_ids, str) else list(task_ids)
    wanted = list(dict.fromkeys(str(t).strip() for t in wanted if str(t).strip()))
    for task_id in wanted:
        if task_id not in known:
            close = difflib.get_close_matches(task_id, known, n=3)
            hint = f"did you mean: {', '.join(close)}?" if close else f"it has {len(known)}"
            raise InputError(f"task id {task_id!r} is not in run {run.name}; {hint}")
    return wanted


def render_run(
    run_dir: str | os.PathLike[str] | Run,
    task_ids: str | Sequence[str] | None = None,
    out_dir: str | os.PathLike[str] = "plots",
) -> list[dict[str, Any]]:
    """Save one PNG per attempt turn of a run (see `plot_attempt`); return the evolution table.

    Files are named ``turn_<n>_<task>_<run>.png`` in a multi-turn run with one attempt per
    task, ``attempt_<a>_turn_<n>_<task>_<run>.png`` with several, and
    ``attempt_<a>_<task>_<run>.png`` in a single-turn run; ``a`` is 1-based and ``<run>``
    the run directory's name. What the run lacks (`Run.warnings`) is logged as warnings.
    Records are read one at a time (memory does not grow with the run).

    Args:
        run_dir: The run directory, or a run `load_run` opened.
        task_ids: ``"id1,id2"`` or a list of ids; None for every task of the run.
        out_dir: Folder for the PNGs; created if missing.

    Returns:
        One row per PNG, by task, attempt, turn: ``task_id``, ``attempt`` (1-based),
        ``turn``, ``test_accuracy`` (fraction of test examples right), ``train_solved``
        (``"2/3"``), ``train_avg_accuracy`` (mean pixel accuracy over train), ``file`` (path)
        and ``missing`` (``["task"]`` when the task is not loaded, else empty). Unknown
        values are None. An attempt's last row is its final turn (`Run.final_turns`).

    Raises:
        InputError: Not a run directory, or a task id not in the run (with close matches).
    """
    run = run_dir if isinstance(run_dir, Run) else Run.open(run_dir)
    turns = _turns_by_task(run.index())
    tasks = run.tasks()
    planned = run.task_ids
    others = set(turns).difference(planned)  # recorded, though config.json did not ask
    ids = _pick_ids(run, planned + [t for t in turns if t in others], task_ids)
    for warning in run.warnings:
        logger.warning("%s: %s", run.name, warning)
    keys = [(attempt, turn) for task_turns in turns.values() for attempt, turn, _ in task_turns]
    multi_turn = (run.max_turns or 0) > 1 or any(turn > 1 for _, turn in keys)
    multi_attempt = (run.max_attempts or 0) > 1 or any(attempt > 0 for attempt, _ in keys)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for task_id in ids:
        task_turns = turns.get(task_id, [])
        if not task_turns:
            logger.warning("%s: task %s has no recorded attempts", run.name, task_id)
        task = tasks.get(task_id)
        for record in run.read_at(at for _, _, at in task_turns):
            attempt, turn = record["attempt"] + 1, record["turn"]
            if multi_turn:
                prefix = f"attempt_{attempt}_turn_{turn}" if multi_attempt else f"turn_{turn}"
            else:
                prefix = f"attempt_{attempt}"
            path = out / f"{prefix}_{task_id}_{run.name}.png"
            fig = plot_attempt(task, record)
            fig.savefig(path, dpi=DPI)
            del fig  # built without pyplot: nothing holds it, so dropping it frees it
            rows.append(
                {
                    "task_id": task_id,
                    "attempt": attempt,
                    "turn": turn,
                    **_stats(task, record),
                    "file": str(path),
                    "missing": [] if task else ["task"],
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
