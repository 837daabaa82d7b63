"""Choosing runs (filters by model, dataset, subset, date, name) and reading their programs.

Run directories are read through `arcnb.rundir.Run`, the one owner of what a run holds: its
settings, its deduplicated records and its tasks.
"""

from __future__ import annotations

import fnmatch
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from arcnb.dataset.config import DatasetConfig
from arcnb.errors import InputError
from arcnb.rundir import Run, list_runs
from arcnb.tasks import Task

logger = logging.getLogger("arcnb")


def _date(run: Run) -> str:
    """The run's UTC start day as ``YYYYMMDD``; "" when neither its name nor config says."""
    started = run.started
    return started.strftime("%Y%m%d") if started else ""


def _open(path: Path) -> Run:
    """`Run.open`, and a config that names the dataset (else the tasks cannot be loaded)."""
    run = Run.open(path)
    if not run.config:
        raise InputError(f"{path}: no config.json, so the run's dataset is unknown")
    return run


def _matches(run: Run, cfg: DatasetConfig) -> bool:
    if cfg.model and run.model and run.model not in cfg.model:
        return False
    dataset = run.dataset or ""
    if cfg.dataset and cfg.dataset not in (dataset, Path(dataset).name):
        return False
    if cfg.subset and cfg.subset != run.subset:
        return False
    date = _date(run)
    if cfg.date_from and (not date or date < cfg.date_from):
        return False
    if cfg.date_to and (not date or date > cfg.date_to):
        return False
    if cfg.pattern:
        glob = any(c in cfg.pattern for c in "*?[")
        name = run.path.name
        if not (fnmatch.fnmatch(name, cfg.pattern) if glob else cfg.pattern in name):
            return False
    return True


def _select_runs(cfg: DatasetConfig) -> list[Run]:
    """The runs to read, oldest first, after the filters and `limit` (the newest N).

    A run directory named in ``run_dirs`` that cannot be read is an error; one found under
    ``logs_dir`` is skipped with a warning.
    """
    if cfg.run_dirs:
        candidates = [_open(Path(item)) for item in cfg.run_dirs]
    else:
        logs_dir = cfg.logs_dir or "logs"
        paths = list_runs(logs_dir)
        if not paths:
            raise InputError(f"no run directories under {logs_dir}")
        candidates = []
        for path in paths:
            try:
                candidates.append(_open(path))
            except InputError as error:
                logger.warning("skipping %s: %s", path, error)
    runs = sorted((r for r in candidates if _matches(r, cfg)), key=lambda r: (_date(r), r.name))
    if cfg.limit:
        runs = runs[-cfg.limit :]
    if not runs:
        raise InputError(f"no run matches the filters ({len(candidates)} run(s) looked at)")
    return runs


@dataclass
class _Program:
    task: Task
    code: str  # as logged
    reasoning: str
    model: str
    generation: int  # the attempt's turn: 1 = first answer, 2 = first refinement, ...


def _iter_programs(runs: list[Run], cfg: DatasetConfig, stats: dict) -> Iterator[_Program]:
    """Every turn's program of every run (each record once), with the task it answered."""
    for run in runs:
        tasks = run.tasks()
        for record in run.records():
            code = record.get("code")
            if not code or not isinstance(code, str):
                continue
            model = str(record.get("model") or run.model or "")
            if cfg.model and model not in cfg.model:
                stats["skipped_model"] += 1
                continue
            task = tasks.get(record["task_id"])
            if task is None:  # a task the run's dataset no longer holds (see run.warnings)
                stats["skipped_unknown_task"] += 1
                continue
            response = record.get("response")
            reasoning = response.get("reasoning") if isinstance(response, dict) else None
            yield _Program(task, code, reasoning or "", model, record["turn"])
        for warning in run.warnings:
            logger.warning("dataset: %s: %s", run.name, warning)
