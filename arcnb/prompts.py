"""Chat prompts for program synthesis: an initial turn and refinement turns.

The text lives in ``prompts/*.txt`` (``string.Template`` files with ``$placeholders``); this
module only renders grids and fills the templates. Test outputs never reach a prompt: only test
inputs are rendered.

Grids are written in one of `GRID_FORMATS` (`encode_grid`), described to the model by
``prompts/grid_<format>.txt``; with images (`IMAGE_MODES`) the first turn's user message is a
list of content parts, each grid followed by its PNG (`arcnb.gridimage`), described by
``prompts/images_<mode>.txt``. Refinement turns are text in the grid format.
"""

from __future__ import annotations

import hashlib
import json
import re
import string
from pathlib import Path
from typing import Any

from arcnb.config import GRID_FORMATS, IMAGE_MODES
from arcnb.errors import InputError
from arcnb.grid import Grid
from arcnb.tasks import COLOUR_NAMES, Task

# An installed wheel carries the templates inside the package (pyproject force-include);
# a source checkout has them at the repository root.
_PROMPT_DIRS = (
    Path(__file__).parent / "prompt_templates",
    Path(__file__).parent.parent / "prompts",
)
# every file `_render` reads
TEMPLATES = (
    *("system.txt", "initial.txt", "refinement.txt"),
    *(f"grid_{name}.txt" for name in GRID_FORMATS),
    *(f"images_{mode}.txt" for mode in IMAGE_MODES if mode != "off"),
)
# what the search strategies (`arcnb.search`) render too, per strategy
SEARCH_TEMPLATES = {"refine-best": ("search_refine.txt",), "evolve": ("search_evolve.txt",)}
_IMAGE = "\0image{}\0"  # marks where a grid's image goes in a rendered text
_MAX_ERROR_CHARS = 2000  # longer error texts keep their tail, where the exception is


def encode_grid(grid: Grid, grid_format: str = "dense") -> str:
    """Renders a grid as its shape line and its rows in one of `GRID_FORMATS`.

    Args:
        grid: Rows of colours 0-9.
        grid_format: ``dense`` (one digit per cell, no separator: ``007``), ``spaced``
            (the digits separated by spaces, one token per cell: ``0 0 7``) or ``json``
            (a JSON list of lists, one row per line).

    Returns:
        E.g. ``"2x3\\n007\\n120"`` (rows x columns, then the rows).
    """
    if grid_format == "dense":
        rows = "\n".join("".join(str(c) for c in row) for row in grid)
    elif grid_format == "spaced":
        rows = "\n".join(" ".join(str(c) for c in row) for row in grid)
    elif grid_format == "json":
        rows = "[" + ",\n ".join(json.dumps(row) for row in grid) + "]"
    else:
        raise InputError(
            f"grid format must be one of {', '.join(GRID_FORMATS)}, not {grid_format!r}"
        )
    return f"{len(grid)}x{len(grid[0]) if grid else 0}\n{rows}"


def build_messages(
    task: Task,
    prompts_dir: str | Path | None = None,
    *,
    grid_format: str = "dense",
    images: str = "off",
) -> list[dict[str, Any]]:
    """Builds the first turn of a conversation asking for a ``transform`` function.

    Args:
        task: The task; its train pairs and test inputs are shown, never its test outputs.
        prompts_dir: Folder with ``system.txt`` and ``initial.txt``, instead of the bundled one.
        grid_format: How grids are written (see `encode_grid`).
        images: ``off``; ``with-text``: each grid's text is followed by its PNG; ``only``:
            each grid is its caption (name and shape) and its PNG, without the rows.

    Returns:
        ``[{"role": "system", ...}, {"role": "user", ...}]`` for a chat-completions API; with
        images the user content is a list of ``text`` and ``image_url`` parts.
    """
    grids: list[tuple[Grid, str]] = []  # (grid, caption) of each image, in order

    def show(label: str, grid: Grid) -> str:
        return _labelled(label, grid, grid_format, images, grids)

    train = "\n\n".join(
        f"Example {i}\n{show(f'Input {i}', ex.input)}\n{show(f'Output {i}', ex.output)}"
        for i, ex in enumerate(task.train, 1)
    )
    test = "\n\n".join(show(f"Test input {i}", ex.input) for i, ex in enumerate(task.test, 1))
    user = _render(
        "initial.txt",
        prompts_dir,
        train_examples=train,
        test_inputs=test,
        n_train=len(task.train),
        n_test=len(task.test),
    )
    system = system_prompt(prompts_dir, grid_format=grid_format, images=images)
    if images == "off":
        return [{"role": "system", "content": system}, {"role": "user", "content": user}]
    from arcnb.gridimage import image_part

    parts: list[dict[str, Any]] = []
    for i, text in enumerate(re.split(r"\0image\d+\0", user)):
        if text.strip():
            parts.append({"type": "text", "text": text.strip("\n")})
        if i < len(grids):
            parts.append(image_part(*grids[i]))
    return [{"role": "system", "content": system}, {"role": "user", "content": parts}]


def system_prompt(
    prompts_dir: str | Path | None = None, *, grid_format: str = "dense", images: str = "off"
) -> str:
    """Returns the system prompt (task-independent), with the colour legend and the
    description of how grids are shown filled in."""
    if images not in IMAGE_MODES:
        raise InputError(f"images must be one of {', '.join(IMAGE_MODES)}, not {images!r}")
    legend = ", ".join(f"{i}={name}" for i, name in enumerate(COLOUR_NAMES))
    names = [] if images == "only" else [f"grid_{grid_format}.txt"]
    names += [] if images == "off" else [f"images_{images}.txt"]
    if grid_format not in GRID_FORMATS:
        encode_grid([[0]], grid_format)  # raises the error naming the formats
    # A prompts_dir without its own grid descriptions takes the bundled ones.
    description = " ".join(
        _render(n, prompts_dir if _has(prompts_dir, n) else None, colour_legend=legend)
        for n in names
    )
    return _render("system.txt", prompts_dir, grid_description=description, colour_legend=legend)


def _has(prompts_dir: str | Path | None, name: str) -> bool:
    return prompts_dir is not None and (Path(prompts_dir) / name).is_file()


def build_refinement_message(
    task: Task,
    code: str,
    train_feedback: list[dict[str, Any]],
    prompts_dir: str | Path | None = None,
    *,
    grid_format: str = "dense",
) -> dict[str, str]:
    """Builds a user turn that shows a program's results on the train pairs and asks for a fix.

    Args:
        task: The task the program was written for.
        code: The previous program's source.
        train_feedback: One dict per train pair, in order:
            ``{"correct": bool, "predicted": grid | None, "error": str | None}``.
        prompts_dir: Folder with ``refinement.txt``, instead of the bundled one.
        grid_format: How grids are written (see `encode_grid`); text only, images or not.

    Returns:
        ``{"role": "user", "content": ...}``.

    Raises:
        ValueError: ``train_feedback`` does not have one entry per train pair.
    """
    content = _one_program("refinement.txt", task, code, train_feedback, prompts_dir, grid_format)
    return {"role": "user", "content": content}


def _one_program(
    template: str,
    task: Task,
    code: str,
    train_feedback: list[dict[str, Any]],
    prompts_dir: str | Path | None,
    grid_format: str,
) -> str:
    """A template showing one program and its results on the train pairs, filled in."""
    return _render(
        template,
        prompts_dir,
        code=code.strip(),
        feedback=_feedback_text(task, train_feedback, grid_format),
        n_correct=sum(bool(fb.get("correct")) for fb in train_feedback),
        n_train=len(task.train),
    )


def build_search_message(
    task: Task,
    strategy: str,
    parents: list[tuple[str, list[dict[str, Any]]]],
    prompts_dir: str | Path | None = None,
    *,
    grid_format: str = "dense",
) -> str:
    """Builds the text a search strategy's request adds after the task's first-turn prompt.

    Args:
        task: The task the parent programs were written for.
        strategy: ``refine-best`` (one parent, with predicted and expected outputs of the
            examples it got wrong: ``prompts/search_refine.txt``) or ``evolve`` (several
            parents, best first, each with its score and predicted outputs:
            ``prompts/search_evolve.txt``).
        parents: ``(code, train_feedback)`` of each parent, best first; the feedback as for
            `build_refinement_message`.
        prompts_dir: Folder with the templates, instead of the bundled one.
        grid_format: How grids are written (see `encode_grid`).

    Returns:
        The text; the runner appends it to the first turn's user message
        (`arcnb.rundir.with_search_text`), so that roles still alternate.

    Raises:
        ValueError: No parents, several for refine-best, or a feedback list without one entry
            per train pair.
    """
    if not parents or (strategy == "refine-best" and len(parents) != 1):
        raise ValueError(f"{strategy} takes {'one parent' if parents else 'parents'}")
    if strategy == "refine-best":
        code, feedback = parents[0]
        return _one_program("search_refine.txt", task, code, feedback, prompts_dir, grid_format)
    blocks = []
    for i, (code, feedback) in enumerate(parents, 1):
        n_correct = sum(bool(fb.get("correct")) for fb in feedback)
        results = _feedback_text(task, feedback, grid_format, with_expected=False)
        blocks.append(
            f"Program {i} ({n_correct} of {len(task.train)} example pairs right):\n"
            f"```python\n{code.strip()}\n```\n{results}"
        )
    return _render(
        "search_evolve.txt", prompts_dir, parents="\n\n".join(blocks), n_parents=len(parents)
    )


def _feedback_text(
    task: Task,
    train_feedback: list[dict[str, Any]],
    grid_format: str,
    with_expected: bool = True,
) -> str:
    """One paragraph per train pair: correct, the error, or the wrong output (and the
    expected one)."""
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
                got = _labelled("Predicted output", predicted, grid_format)
            else:
                got = f"Predicted output (not a grid of colours 0-9): {_clip(repr(predicted))}"
            if with_expected:
                got += "\n" + _labelled("Expected output", ex.output, grid_format)
            parts.append(f"Example {i}: wrong.\n{got}")
    return "\n\n".join(parts)


def _labelled(
    label: str,
    grid: Grid | None,
    grid_format: str = "dense",
    images: str = "off",
    grids: list[tuple[Grid, str]] | None = None,
) -> str:
    # "Input 1 (3x4):" then the rows: the shape goes into the header line. With images, a
    # marker where the image goes (`build_messages` splits the text there); `grids` collects
    # each image's grid and caption.
    shape, _, rows = encode_grid(grid or [], grid_format).partition("\n")
    text = f"{label} ({shape}):" + ("" if images == "only" else f"\n{rows}")
    if images == "off" or grids is None or not grid:
        return text
    grids.append((grid, f"{label} ({shape})"))
    return text + "\n" + _IMAGE.format(len(grids) - 1)


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


def templates_sha256(prompts_dir: str | Path | None = None, strategy: str = "independent") -> str:
    """The sha256 (hex) of the prompt templates a run renders, recorded in its config.json so
    that a resume can tell the templates changed since (its prompts would no longer match).

    Each of `TEMPLATES`, as `_render` finds it (name, NUL, text, NUL), in that order; a missing
    one counts as empty (rendering it would fail). A search strategy adds its own
    (`SEARCH_TEMPLATES`), so that runs of the other strategies keep their checksum.
    """
    digest = hashlib.sha256()
    dirs = (Path(prompts_dir),) if prompts_dir is not None else _PROMPT_DIRS
    for name in (*TEMPLATES, *SEARCH_TEMPLATES.get(strategy, ())):
        path = next((d / name for d in dirs if (d / name).is_file()), None)
        text = path.read_bytes() if path is not None else b""
        digest.update(name.encode() + b"\0" + text + b"\0")
    return digest.hexdigest()


def format_sha256(grid_format: str = "dense", images: str = "off") -> str:
    """The sha256 (hex) of how grids are shown: the format's name and image mode, the system
    prompt they give, and a sample grid rendered as text (and as a PNG with images), so that a
    change in the code that renders grids changes it too (recorded in config.json)."""
    sample = [[0, 1, 2, 3, 4], [5, 6, 7, 8, 9]]
    digest = hashlib.sha256()
    for piece in (grid_format, images, system_prompt(grid_format=grid_format, images=images)):
        digest.update(piece.encode() + b"\0")
    digest.update(encode_grid(sample, grid_format).encode() + b"\0")
    if images != "off":
        from arcnb.gridimage import grid_png

        digest.update(grid_png(sample, "Input 1 (2x5)"))
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


__all__ = [
    "build_messages",
    "build_refinement_message",
    "build_search_message",
    "encode_grid",
    "system_prompt",
]
