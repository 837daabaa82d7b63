"""The chat view of a dataset for supervised fine-tuning: prompt plus assistant turn."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from arcnb.prompts import build_messages
from arcnb.tasks import Example, Task

if TYPE_CHECKING:
    from datasets import Dataset, DatasetDict


def assistant_text(reasoning: str, code: str) -> str:
    """The assistant turn of a row: ``<think>reasoning</think>`` (when any), then the code."""
    block = f"```python\n{code.strip()}\n```"
    return f"<think>\n{reasoning.strip()}\n</think>\n\n{block}" if reasoning.strip() else block


def _chat_row(row: dict[str, Any], grid_format: str = "dense") -> dict[str, Any]:
    train = [Example(i, o) for i, o in zip(row["train_input"], row["train_output"], strict=False)]
    task = Task(row["task_id"], train, [Example(i) for i in row["test_input"]])
    answer = {"role": "assistant", "content": assistant_text(row["reasoning"], row["code"])}
    return {"messages": [*build_messages(task, grid_format=grid_format), answer]}


def to_chat(data: Dataset | DatasetDict, grid_format: str = "dense") -> DatasetDict:
    """A chat-format view for supervised fine-tuning: one ``messages`` column.

    Each row becomes the evaluation prompt (`arcnb.build_messages`) of the row's task, i.e. its
    train pairs (relabelled) and test inputs, followed by the assistant turn: the reasoning in
    ``<think>...</think>`` when the row has any, then the code in a ```` ```python ```` block.

    Args:
        data: A Dataset or DatasetDict in the row format (`COLUMNS`).
        grid_format: How the prompt writes grids (`arcnb.prompts.encode_grid`): the format
            the fine-tuned model will be evaluated with (``arcnb run --grid-format``).

    Returns:
        A DatasetDict with the same splits (``train`` for a single Dataset), kept in memory.
    """
    from datasets import Dataset, DatasetDict

    dd = DatasetDict({"train": data}) if isinstance(data, Dataset) else data
    return DatasetDict(
        {
            split: ds.map(
                _chat_row,
                fn_kwargs={"grid_format": grid_format},
                remove_columns=ds.column_names,
                keep_in_memory=True,
            )
            for split, ds in dd.items()
        }
    )
