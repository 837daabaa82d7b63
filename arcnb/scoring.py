"""Score predicted grids against expected grids: exact match and pixel accuracy.

Grids are plain ``list[list[int]]`` with colours 0-9. Predictions come from untrusted
programs, so anything that is not a rectangular grid of integers scores zero instead of
raising. Expected grids come from the dataset and are checked strictly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from itertools import chain
from numbers import Integral
from typing import Any

from arcnb.errors import InputError

__all__ = [
    "ExampleScore",
    "Grid",
    "GridKey",
    "ProgramScore",
    "as_grid",
    "grid_key",
    "grid_shape",
    "score_example",
    "score_examples",
]

Grid = list[list[int]]
"""A grid of colours: rows of equal length, each cell an int (0-9 in ARC)."""

GridKey = tuple[tuple[int, ...], ...]
"""A hashable, immutable copy of a grid (used as a dictionary key when voting)."""


_INT_ONLY = {int}  # the cell types of a plain grid row (checked in C: set(map(type, row)))
_LIST_ONLY = {list}


def _as_cell(value: Any) -> int | None:
    """Return ``value`` as an int colour, or None when it is not one."""
    if type(value) is int:  # the common case, and far cheaper than the ABC check below
        return value
    if isinstance(value, bool):
        # True/False compare equal to 1/0 but are not colours; a program returning a
        # boolean mask has not produced a grid.
        return None
    if isinstance(value, Integral):
        return int(value)
    if isinstance(value, float) and value.is_integer():
        # Programs often build outputs with np.zeros(...), which is float64 by default;
        # 3.0 is the colour 3, so accept it rather than fail an otherwise right answer.
        return int(value)
    return None


def as_grid(value: Any) -> Grid | None:
    """Convert a possible grid to a fresh ``list[list[int]]``, or None if it is not one.

    Accepts lists or tuples of rows, numpy arrays (anything with ``tolist``), and cells
    that are ints, numpy integers or integral floats. Rejects empty grids, ragged rows,
    strings, booleans and anything else.

    Args:
        value: Whatever a program returned or a file contained.

    Returns:
        A new rectangular grid with at least one cell, or None.
    """
    if hasattr(value, "tolist") and not isinstance(value, (list, tuple)):
        try:
            value = value.tolist()
        except Exception:  # a foreign object with a broken tolist is just not a grid
            return None
    if not isinstance(value, (list, tuple)) or not value:
        return None
    if (  # the common case, checked in C: a list of equal-length lists of plain ints
        type(value) is list
        and set(map(type, value)) == _LIST_ONLY
        and len(widths := set(map(len, value))) == 1
        and 0 not in widths
        and set(map(type, chain.from_iterable(value))) == _INT_ONLY
    ):
        return [row[:] for row in value]
    grid: Grid = []
    width: int | None = None
    for row in value:
        if not isinstance(row, (list, tuple)) or not row:
            return None
        if width is None:
            width = len(row)
        elif len(row) != width:
            return None
        if type(row) is list and set(map(type, row)) == _INT_ONLY:
            grid.append(row[:])  # the common case: plain ints, no per-cell conversion
            continue
        cells = [_as_cell(cell) for cell in row]
        if any(cell is None for cell in cells):
            return None
        grid.append(cells)  # type: ignore[arg-type]  # None was ruled out just above
    return grid


def grid_key(grid: Grid) -> GridKey:
    """Return a hashable copy of a valid grid (see `as_grid`)."""
    return tuple(tuple(row) for row in grid)


def grid_shape(grid: Grid) -> tuple[int, int]:
    """Return ``(rows, columns)`` of a valid, non-empty grid."""
    return len(grid), len(grid[0])


@dataclass(frozen=True)
class ExampleScore:
    """How well one predicted grid matches one expected grid.

    Attributes:
        correct: The prediction is identical to the expected grid.
        pixel_accuracy: ``pixels_correct / pixels_total``, 0.0-1.0.
        pixels_correct: Cells equal to the expected cell at the same position; 0 when the
            prediction failed, is not a grid, or has a different shape.
        pixels_total: Cells in the expected grid (never the prediction's).
    """

    correct: bool
    pixel_accuracy: float
    pixels_correct: int
    pixels_total: int


def _expected_grid(expected: Any, where: str) -> Grid:
    grid = as_grid(expected)
    if grid is None:
        raise InputError(f"{where} is not a rectangular grid of integers: {expected!r:.80}")
    return grid


def score_example(predicted: Grid | None, expected: Grid) -> ExampleScore:
    """Score one prediction against the expected grid.

    A failed prediction (None), a non-grid (ragged rows, strings, ...) or a grid of the
    wrong shape scores 0 correct pixels, but still counts all the expected pixels in
    ``pixels_total``, so failures pull pixel accuracy down instead of vanishing.

    Args:
        predicted: The program's output, or None when it failed. Need not be valid.
        expected: The true output grid.

    Returns:
        The example's score.

    Raises:
        InputError: ``expected`` is not a rectangular, non-empty grid of integers.
    """
    truth = _expected_grid(expected, "expected grid")
    rows, cols = grid_shape(truth)
    total = rows * cols
    guess = as_grid(predicted)
    if guess is None or grid_shape(guess) != (rows, cols):
        return ExampleScore(correct=False, pixel_accuracy=0.0, pixels_correct=0, pixels_total=total)
    matching = sum(
        g == t
        for guess_row, true_row in zip(guess, truth, strict=True)
        for g, t in zip(guess_row, true_row, strict=True)
    )
    return ExampleScore(
        correct=matching == total,
        pixel_accuracy=matching / total,
        pixels_correct=matching,
        pixels_total=total,
    )


@dataclass(frozen=True)
class ProgramScore:
    """One program's scores over a list of examples (e.g. a task's train pairs).

    Examples whose expected grid is unknown (None, as for hidden test outputs) are
    unscored: their entry in ``per_example`` is None and they count nowhere.

    Attributes:
        per_example: One `ExampleScore` per example, None where the answer is unknown.
        n_scored: Examples with a known answer.
        n_correct: Scored examples predicted exactly.
        all_correct: Every scored example is exact, and at least one was scored.
        accuracy: ``n_correct / n_scored``, 0.0-1.0; 0.0 when nothing was scored.
        pixel_accuracy: Correct pixels over expected pixels, summed across scored
            examples (so big grids weigh more), 0.0-1.0; 0.0 when nothing was scored.
    """

    per_example: list[ExampleScore | None]
    n_scored: int
    n_correct: int
    all_correct: bool
    accuracy: float
    pixel_accuracy: float

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable copy."""
        return asdict(self)


def score_examples(
    predictions: Sequence[Grid | None], expected: Sequence[Grid | None]
) -> ProgramScore:
    """Score a program's predictions on a list of examples.

    Args:
        predictions: One output per example, None where the program failed. A shorter
            list is padded with None (the program produced nothing for the rest).
        expected: The true outputs, None where unknown (such examples are unscored).

    Returns:
        The aggregate score with the per-example scores.

    Raises:
        InputError: There are more predictions than examples, or an expected grid is
            malformed.
    """
    if len(predictions) > len(expected):
        raise InputError(f"{len(predictions)} predictions for {len(expected)} examples")
    padded = list(predictions) + [None] * (len(expected) - len(predictions))
    per_example: list[ExampleScore | None] = []
    for index, (guess, truth) in enumerate(zip(padded, expected, strict=True)):
        if truth is None:
            per_example.append(None)
            continue
        _expected_grid(truth, f"expected grid {index}")  # name the example in the error
        per_example.append(score_example(guess, truth))
    scored = [s for s in per_example if s is not None]
    n_correct = sum(s.correct for s in scored)
    pixels_total = sum(s.pixels_total for s in scored)
    pixels_correct = sum(s.pixels_correct for s in scored)
    return ProgramScore(
        per_example=per_example,
        n_scored=len(scored),
        n_correct=n_correct,
        all_correct=bool(scored) and n_correct == len(scored),
        accuracy=n_correct / len(scored) if scored else 0.0,
        pixel_accuracy=pixels_correct / pixels_total if pixels_total else 0.0,
    )
