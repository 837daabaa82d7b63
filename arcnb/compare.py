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
from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from arcnb.metrics import (
    ATTEMPT_METRICS,
    METRICS,
    SummaryBuilder,
    aggregate,
    pass_at_k,
    wilson_interval,
)
from arcnb.rundir import Run

__all__ = [
    "load_runs",
    "load_task_matrix",
    "metric_intervals",
    "pass_at_k_curves",
    "plot_cost_vs_score",
    "plot_pass_at_k",
    "plot_task_matrix",
    "recompute_summary",
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
def plot_cost_vs_score(df: pd.DataFrame, metric: str = "pass2_weighted") -> Figure:
    """Scatter of cost (USD) against a metric, one labelled point per run.

    Incomplete runs are hollow; runs of unknown cost are left out (named in the title).
    """
    fig = Figure(figsize=(6, 4), layout="constrained")
    ax = fig.add_subplot()
    known = df[df["cost_usd"].notna()]
    for complete, style in ((True, {}), (False, {"facecolors": "none"})):
        part = known[known["complete"] == complete]
        label = "complete" if complete else "incomplete"
        ax.scatter(part["cost_usd"], 100 * part[metric], edgecolors="C0", label=label, **style)
    for _, row in known.iterrows():
        ax.annotate(str(row["run_id"]), (row["cost_usd"], 100 * row[metric]), fontsize=7,
                    xytext=(3, 3), textcoords="offset points")  # fmt: skip
    ax.set_xlabel("cost (USD)")
    ax.set_ylabel(f"{metric} (%)")
    unknown = df.loc[df["cost_usd"].isna(), "run_id"].tolist()
    title = f"cost vs {metric}"
    ax.set_title(title + (f" (cost unknown: {', '.join(unknown)})" if unknown else ""), fontsize=9)
    if len(known):
        ax.legend(fontsize=8)
    return fig


def plot_pass_at_k(curves: pd.DataFrame) -> Figure:
    """pass@k (percent) against k, one line per run (from `pass_at_k_curves`)."""
    fig = Figure(figsize=(6, 4), layout="constrained")
    ax = fig.add_subplot()
    for run_id, part in curves.groupby("run_id", sort=False):
        ax.plot(part["k"], 100 * part["pass_at_k"], marker="o", label=str(run_id))
    ax.set_xlabel("k (attempts)")
    ax.set_ylabel("pass@k (%)")
    ax.set_ylim(0, 100)
    ax.set_title("unbiased pass@k, mean over tasks", fontsize=9)
    if len(curves):
        ax.legend(fontsize=7)
    return fig


def plot_task_matrix(matrix: pd.DataFrame) -> Figure:
    """Heat map of per-task scores (0 white to 1 dark; grey: task not in that run)."""
    import numpy as np
    from matplotlib import colormaps

    n_tasks, n_runs = matrix.shape
    fig = Figure(figsize=(1.2 + 0.9 * max(n_runs, 1), 1.5 + 0.22 * max(n_tasks, 1)),
                 layout="constrained")  # fmt: skip
    ax = fig.add_subplot()
    cmap = colormaps["Greens"].with_extremes(bad="lightgrey")
    image = ax.imshow(
        np.ma.masked_invalid(matrix.to_numpy(dtype=float)),
        cmap=cmap, vmin=0, vmax=1, aspect="auto", interpolation="nearest",
    )  # fmt: skip
    ax.set_xticks(range(n_runs), [str(c) for c in matrix.columns], rotation=60, ha="right",
                  fontsize=7)  # fmt: skip
    ax.set_yticks(range(n_tasks), [str(i) for i in matrix.index], fontsize=7)
    fig.colorbar(image, ax=ax, label="task score")
    return fig
