"""Score predicted grids against expected grids: exact match and pixel accuracy.

Grids are plain ``list[list[int]]`` with colours 0-9 (`arcnb.grid`). Predictions come from
untrusted programs, so anything that `arcnb.grid`'s one rule rejects (`as_grid`: ragged rows, a
fraction, a boolean, a colour outside 0-9, ...) scores zero instead of raising. Expected grids come from the dataset and raise `InputError` when
malformed (`arcnb.grid.expected_grid`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from itertools import chain
from operator import eq
from typing import Any

from arcnb.errors import InputError
from arcnb.grid import Grid, GridKey, as_grid, expected_grid, grid_key, grid_shape

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


def score_example(predicted: Grid | None, expected: Grid, *, checked: bool = False) -> ExampleScore:
    """Score one prediction against the expected grid.

    A failed prediction (None), a non-grid (ragged rows, strings, ...) or a grid of the
    wrong shape scores 0 correct pixels, but still counts all the expected pixels in
    ``pixels_total``, so failures pull pixel accuracy down instead of vanishing.

    Args:
        predicted: The program's output, or None when it failed. Need not be valid.
        expected: The true output grid.
        checked: Both grids are known to be valid lists of lists of ints already (an ok
            `ExecResult`'s output, a grid of a `Task` read from a file), so they are compared
            as they are; normalising them would cost far more than the comparison.

    Returns:
        The example's score.

    Raises:
        InputError: ``expected`` is not a rectangular, non-empty grid of integers.
    """
    truth = expected if checked else expected_grid(expected, "expected grid")
    rows, cols = grid_shape(truth)
    total = rows * cols
    guess = predicted if checked else as_grid(predicted)
    if guess is None or grid_shape(guess) != (rows, cols):
        return ExampleScore(correct=False, pixel_accuracy=0.0, pixels_correct=0, pixels_total=total)
    if guess == truth:  # the common case for a right program: one comparison in C
        matching = total
    else:  # same shape, so the flattened cells line up
        matching = sum(map(eq, chain.from_iterable(guess), chain.from_iterable(truth)))
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
        expected_grid(truth, f"expected grid {index}")  # name the example in the error
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
