"""`validate_dataset`: re-execute a dataset's rows and check what each row claims."""

from __future__ import annotations

import collections
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from arcnb.dataset.rows import COLUMNS, SIDECAR_FILE
from arcnb.errors import InputError
from arcnb.executor import ExecResult, Executor
from arcnb.grid import model_output
from arcnb.tasks import Task, load_task

if TYPE_CHECKING:
    from datasets import DatasetDict

logger = logging.getLogger("arcnb")


@dataclass
class RowFailure:
    """A row that `validate_dataset` found inconsistent."""

    split: str
    index: int
    task_id: str
    problems: list[str]

    def __str__(self) -> str:
        return f"{self.split}[{self.index}] {self.task_id}: " + "; ".join(self.problems)


def _load_any(path_or_id: str) -> tuple[DatasetDict, dict[str, str]]:
    """(the DatasetDict, task id -> source dataset from the sidecar, if there is one)."""
    from datasets import Dataset, DatasetDict, load_dataset, load_from_disk

    path = Path(path_or_id)
    sources: dict[str, str] = {}
    if path.exists():
        try:
            data = load_from_disk(str(path))
        except Exception as error:
            raise InputError(f"{path}: not a saved dataset ({error})") from None
        if (path / SIDECAR_FILE).is_file():
            sources = json.loads((path / SIDECAR_FILE).read_text()).get("task_sources", {})
    else:
        if path_or_id.startswith((".", "/", "~")) or path_or_id.count("/") > 1:
            raise InputError(f"{path_or_id}: no such dataset directory")
        try:
            data = load_dataset(path_or_id)
        except Exception as error:
            raise InputError(f"cannot load {path_or_id} from the Hub ({error})") from None
        try:
            from huggingface_hub import hf_hub_download

            local = hf_hub_download(path_or_id, SIDECAR_FILE, repo_type="dataset")
            sources = json.loads(Path(local).read_text()).get("task_sources", {})
        except Exception:
            pass  # a dataset not built by arcnb: correctness flags are not checked
    dd = DatasetDict({"train": data}) if isinstance(data, Dataset) else data
    missing = [c for c in COLUMNS if any(c not in ds.column_names for ds in dd.values())]
    if missing:
        raise InputError(f"{path_or_id}: not in the row format; missing {', '.join(missing)}")
    return dd, sources


def _static_problems(row: dict[str, Any], real: Task | None) -> list[str]:
    problems = []
    has_code = bool(row["code"].strip())
    for part in ("train", "test"):
        inputs, outputs = row[f"{part}_input"], row[f"{part}_output"]
        predicted, flags = row[f"predicted_{part}_output"], row[f"correct_{part}_input"]
        if len(outputs) != len(inputs):
            problems.append(f"{len(inputs)} {part} inputs but {len(outputs)} outputs")
        if has_code and not (len(predicted) == len(flags) == len(inputs)):
            problems.append(
                f"{part}: {len(inputs)} inputs, {len(predicted)} predictions, {len(flags)} flags"
            )
        for kind, grids in (("input", inputs), ("output", outputs), ("prediction", predicted)):
            for i, grid in enumerate(grids):
                if part == "test" and kind == "output" and not has_code and grid == []:
                    continue  # a hidden test output in a simple dataset
                checked, why = model_output(grid)  # the rule for what a program may return
                if checked is None:
                    problems.append(f"{part} {kind} {i + 1}: {why}")
        if has_code and outputs != predicted:
            problems.append(f"{part} outputs differ from the predictions (not relabelled)")
        if has_code and real is not None and len(predicted) == len(inputs) == len(flags):
            truth = {json.dumps(ex.input): ex.output for ex in real.train + real.test}
            for i, (grid, out, flag) in enumerate(zip(inputs, predicted, flags, strict=True)):
                key = json.dumps(grid)
                if key not in truth:
                    problems.append(f"{part} input {i + 1} is not an input of task {real.id}")
                elif flag != (truth[key] is not None and out == truth[key]):
                    problems.append(
                        f"{part} {i + 1}: flag says {flag}, the real output says {not flag}"
                    )
    return problems


def _exec_problems(row: dict[str, Any], results: list[ExecResult]) -> list[str]:
    problems = []
    expected = row["predicted_train_output"] + row["predicted_test_output"]
    n_train = len(row["train_input"])
    for i, (result, want) in enumerate(zip(results, expected, strict=False)):
        where = f"train {i + 1}" if i < n_train else f"test {i - n_train + 1}"
        if not result.ok:
            problems.append(
                f"{where}: re-execution gave {result.status} ({result.error_type}: {result.error})"
            )
        elif result.output != want:
            problems.append(f"{where}: re-execution gives a different grid than predicted")
    return problems


def validate_dataset(
    path_or_id: str | os.PathLike[str],
    split: str | None = None,
    limit: int | None = None,
    *,
    executor: Executor | None = None,
) -> list[RowFailure]:
    """Re-check a dataset: re-execute each row's code and compare with what the row claims.

    Checks that every grid is a valid ARC grid, that list lengths agree, that outputs equal
    the predictions (hindsight relabelling), that re-executing the code reproduces the
    predictions, and, where the source task is known (the ``arcnb_dataset.json`` written by
    `build_dataset`), that the correctness flags match the real outputs. Rows without code
    (`simple_dataset`) are only checked for format.

    Args:
        path_or_id: A directory saved by `build_dataset`/`save_to_disk`, or a Hub dataset id.
        split: Only this split (default: all).
        limit: Only the first N rows of each split.
        executor: An executor to use (not closed); default a fresh one.

    Returns:
        One RowFailure per inconsistent row; empty when all hold.

    Raises:
        InputError: The dataset cannot be loaded, is not in the row format, or lacks ``split``.
    """
    dd, sources = _load_any(str(path_or_id))
    if split is not None and split not in dd:
        raise InputError(f"no split {split!r}; the dataset has {', '.join(dd)}")
    if limit is not None and limit < 1:
        raise InputError(f"--limit must be >= 1, got {limit}")
    real_tasks: dict[str, Task | None] = {}

    def real(task_id: str) -> Task | None:
        if task_id not in real_tasks:
            try:
                source = sources.get(task_id)
                real_tasks[task_id] = load_task(source, task_id) if source else None
            except InputError:
                real_tasks[task_id] = None
        return real_tasks[task_id]

    own = Executor() if executor is None else None
    ex = executor or own
    failures: list[RowFailure] = []
    pending: collections.deque = collections.deque()
    window = max(256, 16 * ex.n_workers * ex.depth)

    def finish(name: str, index: int, row: dict, problems: list[str], future: Any) -> None:
        if future is not None:
            problems += _exec_problems(row, future.result())
        if problems:
            failures.append(RowFailure(name, index, row["task_id"], problems))

    checked = 0
    try:
        for name in [split] if split else list(dd):
            ds = dd[name]
            n = len(ds) if limit is None else min(limit, len(ds))
            for index in range(n):
                row = ds[index]
                checked += 1
                problems = _static_problems(row, real(row["task_id"]))
                future = None
                if row["code"].strip():
                    future = ex.submit(row["code"], row["train_input"] + row["test_input"])
                pending.append((name, index, row, problems, future))
                while len(pending) >= window:
                    finish(*pending.popleft())
        while pending:
            finish(*pending.popleft())
    finally:
        if own is not None:
            own.close()
    logger.info("validate-dataset: %d rows checked, %d failed", checked, len(failures))
    return failures
