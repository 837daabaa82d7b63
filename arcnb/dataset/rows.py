"""The row format (the competition format): columns, features, the Arrow row file."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from arcnb.tasks import load_tasks

if TYPE_CHECKING:
    from datasets import Dataset, DatasetDict, Features

COLUMNS = (
    "reasoning", "code", "train_input", "train_output", "predicted_train_output",
    "correct_train_input", "test_input", "test_output", "predicted_test_output",
    "correct_test_input", "task_id", "model", "generation",
)  # fmt: skip
"""Columns of every row, in order (the competition format)."""


SIDECAR_FILE = "arcnb_dataset.json"  # build settings, stats and each task's source dataset
_ROW_BATCH = 256  # rows buffered before they are written to the Arrow file


def dataset_features() -> Features:
    """The `datasets.Features` of a row: grids are nested int64 lists, flags are bools."""
    import datasets

    lst = getattr(datasets, "List", None) or datasets.Sequence  # List: datasets >= 4
    value = datasets.Value
    grids = lst(lst(lst(value("int64"))))
    flags = lst(value("bool"))
    return datasets.Features(
        {
            "reasoning": value("string"),
            "code": value("string"),
            "train_input": grids,
            "train_output": grids,
            "predicted_train_output": grids,
            "correct_train_input": flags,
            "test_input": grids,
            "test_output": grids,
            "predicted_test_output": grids,
            "correct_test_input": flags,
            "task_id": value("string"),
            "model": value("string"),
            "generation": value("int64"),
        }
    )


def _dataset_from_rows(rows: list[dict[str, Any]]) -> Dataset:
    from datasets import Dataset

    return Dataset.from_list(rows, features=dataset_features())


class _RowWriter:
    """Appends rows to an Arrow stream file, `_ROW_BATCH` at a time."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.schema = dataset_features().arrow_schema
        self.sink = pa.OSFile(str(path), "wb")
        self.writer = pa.ipc.new_stream(self.sink, self.schema)
        self.buffer: list[dict[str, Any]] = []
        self.count = 0

    def append(self, row: dict[str, Any]) -> int:
        self.buffer.append(row)
        self.count += 1
        if len(self.buffer) >= _ROW_BATCH:
            self.flush()
        return self.count - 1

    def flush(self) -> None:
        if self.buffer:
            self.writer.write_table(pa.Table.from_pylist(self.buffer, schema=self.schema))
            self.buffer = []

    def close(self) -> None:
        self.flush()
        self.writer.close()
        self.sink.close()


def simple_dataset(dataset: str, subset: str) -> DatasetDict:
    """Tasks in the same row format, without programs: empty code, reasoning and predictions.

    Args:
        dataset: A dataset name or task folder (as `arcnb.load_tasks`).
        subset: A subset name, comma-separated ids, or a file of ids.

    Returns:
        A DatasetDict with one ``train`` split, one row per task; a hidden test output is an
        empty grid.
    """
    from datasets import DatasetDict

    rows = [
        {
            "reasoning": "",
            "code": "",
            "train_input": [ex.input for ex in task.train],
            "train_output": [ex.output for ex in task.train],
            "predicted_train_output": [],
            "correct_train_input": [],
            "test_input": [ex.input for ex in task.test],
            "test_output": [ex.output or [] for ex in task.test],
            "predicted_test_output": [],
            "correct_test_input": [],
            "task_id": task.id,
            "model": "",
            "generation": 0,
        }
        for task in load_tasks(dataset, subset)
    ]
    return DatasetDict({"train": _dataset_from_rows(rows)})
