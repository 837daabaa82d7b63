"""Chat prompts for program synthesis: an initial turn and refinement turns.

The text lives in ``prompts/*.txt`` (``string.Template`` files with ``$placeholders``); this
module only renders grids and fills the templates. Test outputs never reach a prompt: only test
inputs are rendered.
"""

from __future__ import annotations

import hashlib
import string
from pathlib import Path
from typing import Any

from arcnb.errors import InputError
from arcnb.grid import Grid
from arcnb.tasks import COLOUR_NAMES, Task

# An installed wheel carries the templates inside the package (pyproject force-include);
# a source checkout has them at the repository root.
_PROMPT_DIRS = (
    Path(__file__).parent / "prompt_templates",
    Path(__file__).parent.parent / "prompts",
)
TEMPLATES = ("system.txt", "initial.txt", "refinement.txt")  # every file `_render` reads
_MAX_ERROR_CHARS = 2000  # longer error texts keep their tail, where the exception is


def encode_grid(grid: Grid) -> str:
    """Renders a grid as its shape line and one line of digits per row.

    Args:
        grid: Rows of colours 0-9.

    Returns:
        E.g. ``"2x3\\n007\\n120"`` (rows x columns, then the rows).
    """
    rows = "\n".join("".join(str(c) for c in row) for row in grid)
    return f"{len(grid)}x{len(grid[0]) if grid else 0}\n{rows}"


def build_messages(task: Task, prompts_dir: str | Path | None = None) -> list[dict[str, str]]:
    """Builds the first turn of a conversation asking for a ``transform`` function.

    Args:
        task: The task; its train pairs and test inputs are shown, never its test outputs.
        prompts_dir: Folder with ``system.txt`` and ``initial.txt``, instead of the bundled one.

    Returns:
        ``[{"role": "system", ...}, {"role": "user", ...}]`` for a chat-completions API.
    """
    train = "\n\n".join(
        f"Example {i}\n{_labelled(f'Input {i}', ex.input)}\n{_labelled(f'Output {i}', ex.output)}"
        for i, ex in enumerate(task.train, 1)
    )
    test = "\n\n".join(_labelled(f"Test input {i}", ex.input) for i, ex in enumerate(task.test, 1))
    user = _render(
        "initial.txt",
        prompts_dir,
        train_examples=train,
        test_inputs=test,
        n_train=len(task.train),
        n_test=len(task.test),
    )
    return [
        {"role": "system", "content": system_prompt(prompts_dir)},
        {"role": "user", "content": user},
    ]


def system_prompt(prompts_dir: str | Path | None = None) -> str:
    """Returns the system prompt (task-independent), with the colour legend filled in."""
    legend = ", ".join(f"{i}={name}" for i, name in enumerate(COLOUR_NAMES))
    return _render("system.txt", prompts_dir, colour_legend=legend)


def build_refinement_message(
    task: Task,
    code: str,
    train_feedback: list[dict[str, Any]],
    prompts_dir: str | Path | None = None,
) -> dict[str, str]:
    """Builds a user turn that shows a program's results on the train pairs and asks for a fix.

    Args:
        task: The task the program was written for.
        code: The previous program's source.
        train_feedback: One dict per train pair, in order:
            ``{"correct": bool, "predicted": grid | None, "error": str | None}``.
        prompts_dir: Folder with ``refinement.txt``, instead of the bundled one.

    Returns:
        ``{"role": "user", "content": ...}``.

    Raises:
        ValueError: ``train_feedback`` does not have one entry per train pair.
    """
    if len(train_feedback) != len(task.train):
        raise ValueError(
            f"train_feedback has {len(train_feedback)} entries; task {task.id} has "
            f"{len(task.train)} train pairs"
        )
    parts = []
    for i, (ex, fb) in enumerate(zip(task.train, train_feedback, strict=True), 1):
        if fb.get("correct"):
            parts.append(f"Example {i}: correct.")
        elif fb.get("error"):
            error = str(fb["error"]).strip()
            if len(error) > _MAX_ERROR_CHARS:
                error = "..." + error[-_MAX_ERROR_CHARS:]
            parts.append(f"Example {i}: failed with an error:\n{error}")
        else:
            predicted = fb.get("predicted")
            if predicted is None:
                got = "Predicted output: none (the program returned no grid)"
            elif _is_grid(predicted):
                got = _labelled("Predicted output", predicted)
            else:
                got = f"Predicted output (not a grid of colours 0-9): {_clip(repr(predicted))}"
            expected = _labelled("Expected output", ex.output)
            parts.append(f"Example {i}: wrong.\n{got}\n{expected}")
    content = _render(
        "refinement.txt",
        prompts_dir,
        code=code.strip(),
        feedback="\n\n".join(parts),
        n_correct=sum(bool(fb.get("correct")) for fb in train_feedback),
        n_train=len(task.train),
    )
    return {"role": "user", "content": content}


def _labelled(label: str, grid: Grid | None) -> str:
    # "Input 1 (3x4):" then the rows: the shape goes into the header line.
    shape, _, rows = encode_grid(grid or []).partition("\n")
    return f"{label} ({shape}):\n{rows}"


def _is_grid(value: Any) -> bool:
    """Whether a program's return value is a non-empty rectangular grid of colours 0-9."""
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(row, list) and row and len(row) == len(value[0]) for row in value)
        and all(type(c) is int and 0 <= c <= 9 for row in value for c in row)
    )


def _clip(text: str) -> str:
    return text if len(text) <= _MAX_ERROR_CHARS else text[:_MAX_ERROR_CHARS] + "..."


def templates_sha256(prompts_dir: str | Path | None = None) -> str:
    """The sha256 (hex) of the prompt templates a run renders, recorded in its config.json so
    that a resume can tell the templates changed since (its prompts would no longer match).

    Each of `TEMPLATES`, as `_render` finds it (name, NUL, text, NUL), in that order; a missing
    one counts as empty (rendering it would fail).
    """
    digest = hashlib.sha256()
    dirs = (Path(prompts_dir),) if prompts_dir is not None else _PROMPT_DIRS
    for name in TEMPLATES:
        path = next((d / name for d in dirs if (d / name).is_file()), None)
        text = path.read_bytes() if path is not None else b""
        digest.update(name.encode() + b"\0" + text + b"\0")
    return digest.hexdigest()


def _render(name: str, prompts_dir: str | Path | None, **values: Any) -> str:
    dirs = (Path(prompts_dir),) if prompts_dir is not None else _PROMPT_DIRS
    for d in dirs:
        path = d / name
        if path.is_file():
            try:
                return string.Template(path.read_text()).substitute(values).strip()
            except (KeyError, ValueError) as e:
                raise InputError(f"{path}: bad placeholder {e}; known: {sorted(values)}") from None
    raise InputError(f"prompt template {name!r} not found in {', '.join(map(str, dirs))}")


__all__ = ["build_messages", "build_refinement_message", "encode_grid", "system_prompt"]
