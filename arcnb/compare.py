"""Compare finished, killed or old runs: metrics recomputed from their files, side by side.

Everything here reads run directories through `arcnb.rundir.Run` and recomputes from
``attempts.jsonl``, never trusting ``summary.json`` alone, so a killed run (no summary, a
torn last line, attempts missing) compares like any
other; what is missing is reported in the summary's ``complete``, ``reasons`` and
``warnings``.

Functions taking ``runs`` accept run directories or `recompute_summary` results (to
recompute once and reuse, as the ``compare_runs`` notebook does).
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter

from arcnb.metrics import (
    ATTEMPT_METRICS,
    METRICS,
    SummaryBuilder,
    aggregate,
    pass_at_k,
    wilson_interval,
)
from arcnb.plotting import ArcFigure
from arcnb.rundir import Run, parse_run_dir_name

__all__ = [
    "load_runs",
    "load_task_matrix",
    "metric_intervals",
    "pass_at_k_curves",
    "plot_cost_vs_score",
    "plot_pass_at_k",
    "plot_task_matrix",
    "recompute_summary",
    "run_labels",
]

_GROUP = ["model", "dataset", "subset"]
RunLike = str | os.PathLike[str] | Mapping[str, Any]


# ---- one run --------------------------------------------------------------------------------
def recompute_summary(run_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """Recompute a run's metrics from its files, whether it finished or not.

    Reads through `arcnb.rundir.Run`, streaming ``attempts.jsonl`` (memory stays flat in
    the number of attempts). When the run's dataset cannot be loaded, expected outputs are
    inferred from the attempts marked correct (see `Run.expected_outputs`) and the run is
    marked incomplete with that reason.

    Args:
        run_dir: A run directory (holding ``config.json`` or ``attempts.jsonl``).

    Returns:
        `arcnb.metrics.summarize`'s dict plus: ``run_id``, ``run_dir``, ``model``,
        ``dataset``, ``subset``, ``max_attempts``; ``attempts_expected`` (tasks x
        max_attempts; None when unknown); ``attempts_recorded`` (complete attempts: their
        final turn is marked final); ``attempts_partial`` (attempts cut off between
        refinement turns); ``pass_at_k_counts`` (task id -> ``{"n", "c"}``, see
        `pass_at_k_curves`); ``complete`` (bool); ``reasons`` (why not complete: what
        `Run.warnings` names, a budget stop, missing attempts); ``warnings``
        (disagreement with ``summary.json``).

    Raises:
        InputError: Not a run directory, a malformed ``config.json``, or records of a
            newer schema.
    """
    run = Run.open(run_dir)
    saved = run.summary()
    task_ids = run.task_ids
    builder = SummaryBuilder(task_ids, run.expected_outputs())
    counts = {task_id: {"n": 0, "c": 0} for task_id in task_ids}
    partial = 0
    for record in run.final_turns(on_turn=builder.add_turn):
        builder.add_final(record)
        entry = counts.get(record["task_id"])
        if entry is None:
            continue
        if not record.get("final"):
            partial += 1
            continue
        tests = [] if record.get("failure") is not None else record.get("test") or []
        entry["n"] += 1
        entry["c"] += bool(tests) and all(bool(t.get("correct")) for t in tests)
    summary = builder.result()

    reasons = list(run.warnings)
    warnings: list[str] = []
    max_attempts = run.max_attempts
    recorded = sum(v["n"] for v in counts.values())
    expected_n = len(task_ids) * max_attempts if max_attempts else None
    if saved and saved.get("stopped_by"):
        reasons.append(f"stopped by {saved['stopped_by']}")
    if expected_n is not None and recorded < expected_n:
        reasons.append(f"{expected_n - recorded} of {expected_n} attempts missing")
    if partial:
        reasons.append(f"{partial} attempts stopped between refinement turns")
    if saved and saved.get("metrics"):
        differ = [
            name
            for name in METRICS
            if name in saved["metrics"]
            and not math.isclose(saved["metrics"][name], summary["metrics"][name], abs_tol=1e-9)
        ]
        if differ:
            warnings.append(f"summary.json differs on {', '.join(differ)} (recomputed used)")

    summary.update(
        run_id=run.config.get("run_id") or (saved or {}).get("run_id") or run.name,
        run_dir=str(run.path),
        model=run.model or (saved or {}).get("model"),
        dataset=run.dataset or (saved or {}).get("dataset"),
        subset=run.subset if run.settings else (saved or {}).get("subset"),
        max_attempts=max_attempts,
        attempts_expected=expected_n,
        attempts_recorded=recorded,
        attempts_partial=partial,
        pass_at_k_counts=counts,
        complete=not reasons,
        reasons=reasons,
        warnings=warnings,
    )
    return summary


# ---- several runs ---------------------------------------------------------------------------
def _summaries(runs: Iterable[RunLike]) -> list[dict[str, Any]]:
    """Recompute each run (summaries pass through); labels made unique for columns."""
    out = [dict(r) if isinstance(r, Mapping) else recompute_summary(r) for r in runs]
    seen: dict[str, int] = {}
    for summary in out:
        label = str(summary["run_id"])
        seen[label] = seen.get(label, 0) + 1
        summary["label"] = label if seen[label] == 1 else f"{label}#{seen[label]}"
    return out


def load_runs(runs: Iterable[RunLike]) -> pd.DataFrame:
    """One row per run: identity, size, every metric (fraction 0-1), cost and completeness.

    Args:
        runs: Run directories (or `recompute_summary` results).

    Returns:
        Columns ``run_id`` (unique label), ``run_dir``, ``model``, ``dataset``,
        ``subset``, ``n_tasks``, ``n_attempts``, ``attempts_expected``, each name in
        `arcnb.metrics.METRICS`, ``cost_usd`` (NaN when unknown) and ``complete``.
    """
    rows = []
    for s in _summaries(runs):
        rows.append(
            {
                "run_id": s["label"],
                "run_dir": s["run_dir"],
                "model": s["model"],
                "dataset": s["dataset"],
                "subset": s["subset"],
                "n_tasks": s["n_tasks"],
                "n_attempts": s["n_attempts"],
                "attempts_expected": s["attempts_expected"],
                **{name: s["metrics"][name] for name in METRICS},
                "cost_usd": math.nan if s["cost_usd"] is None else s["cost_usd"],
                "complete": s["complete"],
            }
        )
    columns = ["run_id", "run_dir", *_GROUP, "n_tasks", "n_attempts", "attempts_expected"]
    return pd.DataFrame(rows, columns=[*columns, *METRICS, "cost_usd", "complete"])


def load_task_matrix(runs: Iterable[RunLike], method: str = "weighted") -> pd.DataFrame:
    """Tasks x runs: each task's score (0-1, fraction of its test inputs solved).

    Args:
        runs: Run directories (or `recompute_summary` results).
        method: Voting method (`arcnb.voting.METHODS`); ``weighted`` is ``pass2_weighted``.

    Returns:
        Index: task ids (union, in first-seen order); columns: run labels. NaN where a
        run was not asked that task.
    """
    columns = {
        s["label"]: {t: v["scores"][method] for t, v in s["per_task"].items()}
        for s in _summaries(runs)
    }
    frame = pd.DataFrame(columns)
    frame.index.name = "task_id"
    return frame


def pass_at_k_curves(runs: Iterable[RunLike]) -> pd.DataFrame:
    """Mean unbiased pass@k over tasks, for k = 1 to the most attempts any task made.

    Per task, ``n`` counts attempts with a final record and ``c`` those whose every test
    output is right (`arcnb.metrics.pass_at_k`). Every task asked for is in the mean; one
    with fewer than ``k`` attempts (a killed run) contributes its pass@n, and one with
    none contributes 0.

    Returns:
        Long form: ``run_id`` (label), ``k``, ``pass_at_k`` (0-1), ``n_tasks``.
    """
    rows = []
    for s in _summaries(runs):
        counts = list(s["pass_at_k_counts"].values())
        top = max((c["n"] for c in counts), default=0)
        for k in range(1, top + 1):
            values = [pass_at_k(c["n"], c["c"], min(k, c["n"])) if c["n"] else 0.0 for c in counts]
            rows.append(
                {"run_id": s["label"], "k": k, "pass_at_k": sum(values) / len(values),
                 "n_tasks": len(values)}
            )  # fmt: skip
    return pd.DataFrame(rows, columns=["run_id", "k", "pass_at_k", "n_tasks"])


def metric_intervals(runs: Iterable[RunLike]) -> pd.DataFrame:
    """Each metric with a 95% interval, per configuration (model, dataset, subset).

    Runs sharing model, dataset and subset are repeats: with two or more,
    `arcnb.metrics.aggregate` gives the mean and a Student-t interval over runs
    (``interval == "t"``; clipped to [0, 1]). A configuration with one run gets a Wilson
    score interval (`arcnb.metrics.wilson_interval`) on each metric's own count and
    denominator (tasks for task metrics, turns for response metrics;
    ``interval == "wilson"``), which treats the tasks as a sample and so ignores
    run-to-run sampling noise; the pixel-accuracy means (`ATTEMPT_METRICS`), whose
    numerators are not counts, get no interval then (NaN, ``interval == "none"``).

    Returns:
        Long form: ``model``, ``dataset``, ``subset``, ``n_runs``, ``metric``, ``mean``,
        ``ci95_low``, ``ci95_high``, ``interval``, ``runs`` (labels, comma-separated).
    """
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for s in _summaries(runs):
        groups.setdefault(tuple(s[key] for key in _GROUP), []).append(s)
    rows = []
    for key, members in groups.items():
        base = dict(zip(_GROUP, key, strict=True))
        base.update(n_runs=len(members), runs=",".join(s["label"] for s in members))
        if len(members) > 1:
            agg = aggregate(members)["metrics"]
            for name, m in agg.items():
                rows.append({**base, "metric": name, "mean": m["mean"],
                             "ci95_low": m["ci95_low"], "ci95_high": m["ci95_high"],
                             "interval": "t"})  # fmt: skip
            continue
        (s,) = members
        for name in METRICS:
            if name in ATTEMPT_METRICS:
                low = high = math.nan
            else:
                low, high = wilson_interval(s["counts"][name], s["denominators"][name])
            kind = "none" if name in ATTEMPT_METRICS else "wilson"
            rows.append({**base, "metric": name, "mean": s["metrics"][name],
                         "ci95_low": low, "ci95_high": high, "interval": kind})  # fmt: skip
    columns = [*_GROUP, "n_runs", "metric", "mean", "ci95_low", "ci95_high", "interval", "runs"]
    return pd.DataFrame(rows, columns=columns)


# ---- plots ------------------------------------------------------------------------------------
# Every figure is an `arcnb.plotting.ArcFigure` (Jupyter shows it; a script saves it) whose size
# is bounded whatever the number of runs and tasks, with short run labels (`run_labels`).
MAX_WIDTH_IN, MAX_HEIGHT_IN = 12.0, 9.0  # figure size ceiling, inches (1200 x 900 px at 100 dpi)
MAX_TASK_LABELS = 40  # above this many tasks the matrix names none (ranks instead)
_LABEL_CHARS = 28  # a model or subset longer than this is cut, with an ellipsis
_REPEAT_RE = re.compile(r"_r(\d+)(?:#\d+)?$")  # `--repeat-runs` siblings: ..._r1, ..._r2


def _short(text: Any, limit: int = _LABEL_CHARS) -> str:
    text = str(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _identity(run_id: str, row: Mapping[str, Any] | None) -> dict[str, Any]:
    """What a label can show of one run: model, subset, start time, repeat number."""
    row = row or {}
    name = parse_run_dir_name(os.path.basename(str(row.get("run_dir") or run_id)))
    name = name or parse_run_dir_name(run_id)
    repeat = _REPEAT_RE.search(str(row.get("run_dir") or run_id))
    model = row.get("model")
    if model is None or (isinstance(model, float) and math.isnan(model)):
        model = name.rest if name else run_id  # no run data: the name after its time stamp
    subset = row.get("subset")
    return {
        "model": str(model),
        "subset": None if subset is None or subset != subset else str(subset),
        "date": name.started.strftime("%Y-%m-%d") if name else None,
        "time": name.started.strftime("%H:%M") if name else None,
        "repeat": f"r{repeat[1]}" if repeat else None,
    }


def _labels(run_ids: Iterable[Any], runs: pd.DataFrame | None = None) -> tuple[dict[str, str], str]:
    """Short, unique labels for ``run_ids`` and what all of them share (for a title).

    A label is ``model · subset · date``, leaving out a subset or date that every run shares
    (returned as the second value instead), then adding the start time and the repeat number
    (``r2``) where two labels would otherwise be equal.
    """
    ids = [str(r) for r in run_ids]
    rows: dict[str, Mapping[str, Any]] = {}
    if runs is not None and "run_id" in runs:
        rows = {str(r["run_id"]): r for r in runs.to_dict("records")}
    info = {run_id: _identity(run_id, rows.get(run_id)) for run_id in ids}
    shared = []
    varying = ["model"]
    for part in ("subset", "date"):
        values = {i[part] for i in info.values()}
        if len(values) > 1:
            varying.append(part)
        elif values != {None}:
            shared.append(f"{part} {next(iter(values))}" if part == "subset" else str(*values))
    labels = {r: " · ".join(_short(info[r][p]) for p in varying if info[r][p]) for r in ids}
    for extra in ("time", "repeat"):  # added only where it tells equal labels apart
        clashes: dict[str, set[Any]] = {}
        for run_id in ids:
            clashes.setdefault(labels[run_id], set()).add(info[run_id][extra])
        for run_id in ids:
            if len(clashes[labels[run_id]]) > 1 and info[run_id][extra]:
                labels[run_id] += f" · {info[run_id][extra]}"
    seen: dict[str, int] = {}
    for run_id in ids:  # still equal (two copies of one run): number them
        seen[labels[run_id]] = seen.get(labels[run_id], 0) + 1
        if seen[labels[run_id]] > 1:
            labels[run_id] += f" #{seen[labels[run_id]]}"
    return labels, " · ".join(shared)


def run_labels(runs: pd.DataFrame) -> pd.DataFrame:
    """The short label each figure gives a run, beside its full id: the key to the plots.

    Args:
        runs: `load_runs`'s frame.

    Returns:
        One row per run, in order: ``label``, ``run_id``, ``model``, ``subset``,
        ``run_dir``. Labels are ``model · subset · date`` without the parts all runs share
        (named in each figure's title), plus the start time and repeat number (``r2``)
        where needed to tell two runs apart.
    """
    labels, _ = _labels(runs["run_id"], runs)
    frame = runs[["run_id", *(c for c in ("model", "subset", "run_dir") if c in runs)]].copy()
    frame.insert(0, "label", [labels[str(r)] for r in runs["run_id"]])
    return frame.reset_index(drop=True)


def _title(text: str, shared: str) -> str:
    return f"{text}\n{shared}" if shared else text


def _percent_top(values: Iterable[float]) -> float:
    """Upper y limit (percent) that leaves the points room: 10 to 100, in steps of 10."""
    finite = [v for v in values if v == v]
    return float(min(100, max(10, 10 * math.ceil(1.12 * max(finite, default=0) / 10))))


def plot_task_matrix(
    matrix: pd.DataFrame, runs: pd.DataFrame | None = None, *, sort: bool = True
) -> ArcFigure:
    """Heat map of per-task scores: a row per run, a column per task (0 white to 1 dark green;
    grey: that run was not asked the task).

    Tasks are sorted by their mean score over the runs (those most runs solved on the left,
    ties by id), so that at hundreds of tasks the picture shows which runs solve the easy
    tasks, the hard ones, or neither; each run's mean task score is on the right. Task ids
    are drawn up to `MAX_TASK_LABELS` tasks (ranks beyond). The figure stays within
    `MAX_WIDTH_IN` x `MAX_HEIGHT_IN` inches however many tasks and runs.

    Args:
        matrix: `load_task_matrix`'s frame (tasks x runs).
        runs: `load_runs`'s frame, for labels naming model, subset and date; without it the
            labels come from the run ids.
        sort: Sort tasks by mean score; False keeps the matrix's order.

    Returns:
        The figure.
    """
    n_tasks, n_runs = matrix.shape
    labels, shared = _labels(matrix.columns, runs)
    values = matrix.to_numpy(dtype=float)
    if sort and n_tasks:
        with np.errstate(all="ignore"):  # a task no run was asked: mean of nothing
            means = np.nan_to_num(np.nanmean(values, axis=1))
        order = np.lexsort((np.arange(n_tasks), -means))
        values, task_ids = values[order], [str(t) for t in matrix.index[order]]
    else:
        task_ids = [str(t) for t in matrix.index]
    name_tasks = n_tasks <= MAX_TASK_LABELS
    width = min(MAX_WIDTH_IN, max(6.0, 3.5 + (0.16 if name_tasks else 0.02) * n_tasks))
    row_in = min(0.32, (MAX_HEIGHT_IN - 2.0) / max(n_runs, 1))  # height of one run's row
    height = max(2.6, 2.0 + row_in * n_runs + (0.6 if name_tasks else 0))
    fig = ArcFigure(figsize=(width, height), layout="constrained")
    ax = fig.add_subplot()
    cmap = colormaps["Greens"].with_extremes(bad="lightgrey")
    image = ax.imshow(
        np.ma.masked_invalid(values.T.reshape(n_runs, n_tasks)),
        cmap=cmap, vmin=0, vmax=1, aspect="auto", interpolation="nearest",
    )  # fmt: skip
    fontsize = max(4.0, min(8.0, 0.7 * 72 * row_in))  # points: fits in one row
    ax.set_yticks(range(n_runs), [labels[str(c)] for c in matrix.columns], fontsize=fontsize)
    with np.errstate(all="ignore"):
        scores = np.nanmean(values, axis=0) if n_tasks else np.full(n_runs, np.nan)
    right = ax.secondary_yaxis("right")
    right.set_yticks(range(n_runs), ["-" if s != s else f"{s:.0%}" for s in scores])
    right.tick_params(labelsize=fontsize, length=0)
    if name_tasks:
        ax.set_xticks(range(n_tasks), task_ids, rotation=90, fontsize=7)
    else:
        ticks = [t for t in range(0, n_tasks, max(1, n_tasks // 8))]
        ax.set_xticks(ticks, [str(t + 1) for t in ticks], fontsize=7)
    order_text = "sorted by mean score over runs" if sort else "in order"
    ax.set_xlabel(f"{n_tasks} tasks, {order_text}" + ("" if name_tasks else " (rank)"), fontsize=8)
    ax.set_title(_title("per-task score; right: each run's mean", shared), fontsize=9)
    fig.colorbar(image, ax=ax, label="task score", shrink=0.9, pad=0.01, aspect=30)
    return fig


def plot_cost_vs_score(df: pd.DataFrame, metric: str = "pass2_weighted") -> ArcFigure:
    """Cost (USD) against a metric (percent), a point per run, coloured by model.

    Hollow points are incomplete runs. Runs with no known price are drawn in a grey band
    at the left marked "cost unknown", at their score, rather than left out. The cost axis
    is logarithmic when the known costs span more than 20x, else linear from 0.

    Args:
        df: `load_runs`'s frame.
        metric: A column of it, a fraction 0-1 (see `arcnb.metrics.METRICS`).

    Returns:
        The figure.
    """
    labels, shared = _labels(df["run_id"], df)
    fig = ArcFigure(figsize=(8.0, 4.5), layout="constrained")
    ax = fig.add_subplot()
    cost = df["cost_usd"].astype(float)
    priced = cost[cost.notna()]
    positive = priced[priced > 0]
    log = len(positive) == len(priced) >= 2 and positive.max() > 20 * positive.min()
    if log:
        low, high = positive.min() / 2.5, positive.max() * 2.5
        band = (low / 6, low / 1.5)
        ax.set_xscale("log")
    else:
        high = 1.15 * (priced.max() if len(priced) and priced.max() > 0 else 1.0)
        band, low = (-0.2 * high, -0.06 * high), 0.0
    unknown_x = math.sqrt(band[0] * band[1]) if log else sum(band) / 2
    models = list(dict.fromkeys(str(m) for m in df["model"]))
    colours = {m: f"C{i % 10}" for i, m in enumerate(models)}
    for (_, row), x in zip(df.iterrows(), cost, strict=True):
        x_at = unknown_x if x != x else x
        y = 100 * row[metric]
        colour = colours[str(row["model"])]
        face = colour if row["complete"] else "none"
        ax.scatter([x_at], [y], s=40, edgecolors=colour, facecolors=face, zorder=3)
        far_right = x == x and (math.log(x_at / low) / math.log(high / low) if log else
                                x_at / high) > 0.7  # fmt: skip
        ax.annotate(labels[str(row["run_id"])], (x_at, y), fontsize=7, ha="right" if far_right
                    else "left", xytext=(-4 if far_right else 4, 4), textcoords="offset points")  # fmt: skip
    if cost.isna().any():
        ax.axvspan(*band, color="0.9", zorder=0)
        ax.text(unknown_x, 0.98, "cost\nunknown", transform=ax.get_xaxis_transform(),
                ha="center", va="top", fontsize=7, color="0.35")  # fmt: skip
    ax.set_xlim(band[0] / 1.5 if log else 1.2 * band[0], high)
    ax.xaxis.set_major_formatter(
        FuncFormatter(lambda v, _: "" if v < 0 or (log and v < low) else f"${v:g}")
    )
    ax.set_xlabel("cost (USD)" + (", log scale" if log else ""))
    ax.set_ylim(0, _percent_top(100 * df[metric]))
    ax.set_ylabel(f"{metric} (%)")
    ax.grid(alpha=0.3)
    handles = [Line2D([], [], ls="", marker="o", color=colours[m], label=_short(m)) for m in models]
    if not df["complete"].all():
        handles.append(Line2D([], [], ls="", marker="o", mfc="none", color="0.3",
                              label="incomplete run"))  # fmt: skip
    if len(handles) > 1:
        ax.legend(handles=handles, fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1))
    ax.set_title(_title(f"cost vs {metric}", shared), fontsize=9)
    return fig


def plot_pass_at_k(curves: pd.DataFrame, runs: pd.DataFrame | None = None) -> ArcFigure:
    """pass@k (percent) against k, a line per configuration, legend beside the plot.

    Repeat runs of one configuration (same model, dataset and subset, from ``runs``; without
    it, the ``_r1``, ``_r2`` siblings of one ``--repeat-runs``) are drawn as their mean with
    a shaded band from the lowest to the highest run. k is on a log2 axis from 8 attempts up.

    Args:
        curves: `pass_at_k_curves`'s frame.
        runs: `load_runs`'s frame, to group repeat runs and label by model and subset.

    Returns:
        The figure.
    """
    ids = list(dict.fromkeys(str(r) for r in curves["run_id"]))
    labels, shared = _labels(ids, runs)
    keys: dict[str, tuple[Any, ...]] = {}
    if runs is not None:
        for row in runs.to_dict("records"):
            keys[str(row["run_id"])] = tuple(row.get(c) for c in _GROUP)
    groups: dict[tuple[Any, ...], list[str]] = {}
    for run_id in ids:
        key = keys.get(run_id) or (_REPEAT_RE.sub("", run_id),)
        groups.setdefault(key, []).append(run_id)
    fig = ArcFigure(figsize=(8.0, 4.2), layout="constrained")
    ax = fig.add_subplot()
    wide = curves.pivot_table(index="k", columns="run_id", values="pass_at_k") * 100
    for i, members in enumerate(groups.values()):
        part = wide[[m for m in members]].dropna(how="all")
        colour = f"C{i % 10}"
        if len(members) == 1:
            label = labels[members[0]]
        else:
            label = _REPEAT_RE.sub("", labels[members[0]].rsplit(" · r", 1)[0])
            label = f"{label} · mean of {len(members)} runs"
            ax.fill_between(part.index, part.min(axis=1), part.max(axis=1), color=colour,
                            alpha=0.2, lw=0)  # fmt: skip
        mean = part.mean(axis=1)
        ax.plot(mean.index, mean, color=colour, marker="o" if len(mean) <= 12 else None,
                ms=4, label=label)  # fmt: skip
    top_k = int(curves["k"].max()) if len(curves) else 1
    if top_k >= 8:
        ax.set_xscale("log", base=2)
        ticks = [2**e for e in range(int(math.log2(top_k)) + 1)]
        ax.set_xticks(ticks + ([top_k] if top_k not in ticks else []))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.xaxis.set_minor_formatter(FuncFormatter(lambda v, _: ""))
    else:
        ax.set_xticks(range(1, top_k + 1))
    ax.set_xlabel("k (attempts)")
    ax.set_ylabel("pass@k (%)")
    ax.set_ylim(0, _percent_top(100 * curves["pass_at_k"]))
    ax.grid(alpha=0.3)
    title = "unbiased pass@k, mean over tasks"
    if any(len(m) > 1 for m in groups.values()):
        title += "; band: lowest to highest repeat run"
    ax.set_title(_title(title, shared), fontsize=9)
    if len(curves):
        small = len(groups) > 16
        ax.legend(fontsize=6 if small else 7, loc="upper left", bbox_to_anchor=(1.01, 1),
                  ncols=1 + len(groups) // 30)  # fmt: skip
    return fig
