"""Flag transductive programs: ones that hard-code answers instead of computing them.

A program "transduces" when it writes an output grid into its source (a lookup table of
answers) rather than deriving the output from the input. Two cheap signals catch most
cases:

* a very long line, where a model has pasted data (default limit 200 characters);
* a train or test output grid appearing literally in the code.

Literal grids are found by comparing normalised text: all whitespace removed, round
brackets read as square ones, and trailing commas dropped, so ``[[1, 2], [3, 4]]``,
``((1,2),(3,4))``, ``[(1,2),(3,4)]``, ``np.array([[1,2],[3,4]])`` and a black-formatted
multi-line layout all contain the same normalised text ``[[1,2],[3,4]]``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from arcnb.grid import Grid, as_grid, grid_shape

__all__ = ["MIN_GRID_CELLS", "detect_transduction", "normalise_code", "normalise_grid"]

MIN_GRID_CELLS = 4
"""Smallest grid (in cells) that is looked for literally.

Tiny grids are everyday code, not answers: ``[[0]]``, ``[[1, 0]]`` or ``[[0], [0]]`` turn
up in padding, kernels and direction tables of perfectly general programs, so a 1-3 cell
output would flag them by accident. At 4 cells (2x2, 1x4, 4x1) and up a literal match is
rare enough in general code to be a real signal.
"""

_WHITESPACE = re.compile(r"\s+")
# A trailing comma before a closing bracket, as black writes multi-line literals; after
# normalisation ``[1, 2,]`` must read like ``[1,2]``.
_TRAILING_COMMA = re.compile(r",+\]")


def normalise_code(text: str) -> str:
    """Normalise source text so that equal literals compare equal whatever their layout.

    Removes all whitespace, reads ``(`` as ``[`` and ``)`` as ``]``, and drops commas
    before a closing bracket. Applied both to a program and to a grid's rendering.

    Args:
        text: Python source, or a grid rendered as text.

    Returns:
        The normalised text (not valid Python any more; only for substring tests).
    """
    text = _WHITESPACE.sub("", text)
    text = text.replace("(", "[").replace(")", "]")
    return _TRAILING_COMMA.sub("]", text)


def normalise_grid(grid: Grid) -> str:
    """Render a grid the way `normalise_code` leaves a literal of it: ``[[1,2],[3,4]]``.

    Args:
        grid: A rectangular grid of integers.

    Returns:
        The normalised rendering.
    """
    return normalise_code(repr([[int(cell) for cell in row] for row in grid]))


def detect_transduction(
    code: str,
    train_outputs: Sequence[Grid],
    test_outputs: Sequence[Grid | None] = (),
    max_line_length: int = 200,
) -> tuple[bool, list[str]]:
    """Decide whether a program hard-codes answers.

    Flags a program with any line longer than ``max_line_length`` characters, or whose
    normalised text contains the normalised rendering of a train or test output grid of
    at least `MIN_GRID_CELLS` cells. Outputs that are None (hidden test answers) or not
    valid grids are skipped.

    Args:
        code: The program's source.
        train_outputs: The task's train output grids.
        test_outputs: The task's test output grids, where known.
        max_line_length: Longest allowed line, in characters.

    Returns:
        ``(flagged, reasons)``: whether the program looks transductive, and one
        human-readable reason per finding, e.g. ``"line 3 is 245 characters (limit 200)"``
        or ``"contains train output 2 (3x3) literally"`` (line and output numbers are
        1-based). ``reasons`` is empty exactly when ``flagged`` is False.
    """
    reasons: list[str] = []
    for number, line in enumerate(code.splitlines(), start=1):
        if len(line) > max_line_length:
            reasons.append(f"line {number} is {len(line)} characters (limit {max_line_length})")

    normalised = normalise_code(code)
    for kind, outputs in (("train", train_outputs), ("test", test_outputs)):
        for number, output in enumerate(outputs, start=1):
            grid = as_grid(output)
            if grid is None:
                continue
            rows, cols = grid_shape(grid)
            if rows * cols < MIN_GRID_CELLS:
                continue
            if normalise_grid(grid) in normalised:
                reasons.append(f"contains {kind} output {number} ({rows}x{cols}) literally")
    return bool(reasons), reasons
