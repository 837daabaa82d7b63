"""What a grid is, and how strictly each source of grids is checked.

A grid is a ``list[list[int]]``: at least one row, every row the same non-zero length, each
cell a colour 0-9 (ARC grids are at most `MAX_SIDE` cells a side). Grids reach arcnb from
several sources that deserve different trust, so there is one named check per source:

level         function        accepts (cells: int unless said)          a side   colours  failure
------------  --------------  ----------------------------------------  -------  -------  --------------
model output  `model_output`  lists of lists; numpy int arrays (2-D,    1-30     0-9      (None, reason)
                              or 1-D rows); numpy int cells
task file     `task_grid`     lists of lists                            1+       0-9      InputError
recorded      `as_grid`       lists or tuples of rows, or anything      1+       any      None
                              with tolist(); numpy int and integral
                              float cells
expected      `expected_grid` as recorded                               1+       any      InputError
drawable      `drawable`      as recorded                               1-100    0-9      (None, reason)

No level accepts booleans (``True`` equals 1 but a boolean mask is not a grid), strings,
ragged or empty grids.

* **model output** is what a program's ``transform`` may return; the executor's worker applies
  it (in the sandboxed child and again on the JSON the child sends back), and
  `arcnb.dataset.validate_dataset` applies it to every grid of a dataset row. Floats (even 3.0)
  and tuples are rejected today; to change what a program may return, edit this function only.
  Returns ``(grid, None)`` or ``(None, reason)``; the reasons are shown to users and models.
* **task file** is what a task JSON may hold; raises `InputError` naming the offending field.
  It returns the lists it was given, not a copy.
* **recorded** normalises anything that may hold a grid (an attempt record, a numpy array, a
  vote) to a fresh list of lists, or None; it checks neither size nor colour range.
* **expected** is the recorded rule for a true answer when scoring, raising `InputError`.
* **drawable** is the recorded rule with the bounds a picture needs.

This module imports only the standard library: `arcnb/_worker.py`, which runs outside the
package, loads it by file path. numpy is never imported here; a value can only be a numpy
object if numpy is already loaded, so it is looked up in ``sys.modules`` when needed.
"""

from __future__ import annotations

import sys
from itertools import chain
from numbers import Integral
from typing import Any

__all__ = [
    "DRAW_MAX_SIDE",
    "Grid",
    "GridKey",
    "MAX_COLOUR",
    "MAX_SIDE",
    "as_grid",
    "drawable",
    "expected_grid",
    "grid_key",
    "grid_shape",
    "model_output",
    "task_grid",
]

Grid = list[list[int]]
"""A grid of colours: rows of equal length, each cell an int (0-9 in ARC)."""

GridKey = tuple[tuple[int, ...], ...]
"""A hashable, immutable copy of a grid (used as a dictionary key when voting)."""

MAX_SIDE = 30  # rows and columns a program's output may have (ARC grids are at most 30x30)
MAX_COLOUR = 9  # colours are 0..MAX_COLOUR
DRAW_MAX_SIDE = 100  # larger grids are drawn as invalid (a 500x500 panel would take seconds)

_INT_ONLY = {int}  # the cell types of a plain grid row (checked in C: set(map(type, row)))
_LIST_ONLY = {list}


def _plain(value: Any) -> bool:
    """True for a non-empty rectangular list of lists of plain ints (all checked in C)."""
    return (
        type(value) is list
        and len(value) > 0
        and set(map(type, value)) == _LIST_ONLY
        and len(widths := set(map(len, value))) == 1
        and 0 not in widths
        and set(map(type, chain.from_iterable(value))) == _INT_ONLY
    )


def model_output(value: Any) -> tuple[Grid | None, str | None]:
    """Convert what a program returned to a grid, or say why it is not one.

    Args:
        value: What ``transform`` returned (or what the sandboxed child sent back).

    Returns:
        ``(grid, None)`` for a non-empty rectangular list of lists of ints 0-9, at most
        `MAX_SIDE` a side, with numpy integer arrays (2-D, or 1-D rows) and numpy integers
        converted to a fresh list of lists; ``(None, reason)`` otherwise. bool, float and
        tuple are rejected.
    """
    # One pass, cell by cell: measured no slower on valid grids than set(map(type, ...)) plus a
    # range check in C, and it names the first offending cell.
    np = sys.modules.get("numpy")
    if np is not None and isinstance(value, np.ndarray):
        if value.ndim != 2:
            return None, f"numpy array has {value.ndim} dimensions, expected 2"
        if value.dtype.kind not in "iu":
            return None, f"numpy array has dtype {value.dtype}, expected integers"
        value = value.tolist()
    if not isinstance(value, list):
        return None, f"returned {type(value).__name__}, expected a list of lists"
    if not value:
        return None, "returned an empty grid"
    if len(value) > MAX_SIDE:
        return None, f"grid has {len(value)} rows, at most {MAX_SIDE} allowed"
    rows = []
    width = None
    for r, row in enumerate(value):
        if np is not None and isinstance(row, np.ndarray):
            if row.ndim != 1 or row.dtype.kind not in "iu":
                return None, f"row {r} is a numpy array of dtype {row.dtype}, expected integers"
            row = row.tolist()
        if not isinstance(row, list):
            return None, f"row {r} is {type(row).__name__}, expected a list"
        if width is None:
            width = len(row)
            if width == 0:
                return None, "row 0 is empty"
            if width > MAX_SIDE:
                return None, f"grid has {width} columns, at most {MAX_SIDE} allowed"
        elif len(row) != width:
            return None, f"ragged grid: row {r} has {len(row)} cells, row 0 has {width}"
        out = []
        for v in row:
            if type(v) is not int:
                if np is not None and isinstance(v, np.integer) and not isinstance(v, np.bool_):
                    v = int(v)
                else:
                    return None, f"row {r} holds {type(v).__name__} {v!r:.20}, expected int 0-9"
            if not 0 <= v <= MAX_COLOUR:
                return None, f"row {r} holds {v}, expected int 0-9"
            out.append(v)
        rows.append(out)
    return rows, None


def _input_error(message: str) -> Exception:
    # Imported here, not at the top: the sandbox worker loads this file on its own and must
    # not import the arcnb package (which would pull in the whole library); it never gets here.
    from arcnb.errors import InputError

    return InputError(message)


def task_grid(value: Any, where: str) -> Grid:
    """Check a grid read from a task file.

    Args:
        value: The parsed JSON value.
        where: Names the field in the error, e.g. ``"task.json: train[0].input"``.

    Returns:
        ``value`` itself (not a copy): a non-empty rectangular list of lists of ints 0-9.

    Raises:
        InputError: ``value`` is anything else; the message starts with ``where``.
    """
    if not isinstance(value, list) or not value:
        raise _input_error(f"{where}: a grid must be a non-empty list of rows")
    width = None
    for r, row in enumerate(value):
        if not isinstance(row, list) or not row:
            raise _input_error(f"{where}: row {r} must be a non-empty list of colours")
        if width is None:
            width = len(row)
        elif len(row) != width:
            raise _input_error(f"{where}: row {r} has {len(row)} cells, row 0 has {width}")
        for cell in row:
            if type(cell) is not int or not 0 <= cell <= MAX_COLOUR:
                raise _input_error(f"{where}: row {r} holds {cell!r}; colours are integers 0-9")
    return value


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
    strings, booleans and anything else. Neither size nor colour range is checked.

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
    if _plain(value):  # the common case, checked in C
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


def expected_grid(value: Any, where: str) -> Grid:
    """A true answer for scoring: `as_grid`'s rule, raising instead of returning None.

    Args:
        value: The expected grid.
        where: Names it in the error, e.g. ``"expected grid 2"``.

    Returns:
        A fresh copy, as `as_grid`.

    Raises:
        InputError: ``value`` is not a rectangular, non-empty grid of integers.
    """
    grid = as_grid(value)
    if grid is None:
        raise _input_error(f"{where} is not a rectangular grid of integers: {value!r:.80}")
    return grid


def drawable(value: Any) -> tuple[Grid | None, str | None]:
    """``(grid, None)`` for a value that can be drawn, else ``(None, why not)``.

    Args:
        value: Anything; `as_grid`'s rule, at most `DRAW_MAX_SIDE` a side, colours 0-9.

    Returns:
        A fresh grid, or the reason shown in place of the picture.
    """
    grid = as_grid(value)
    if grid is None:
        return None, "not a rectangular grid of integers"
    if len(grid) > DRAW_MAX_SIDE or len(grid[0]) > DRAW_MAX_SIDE:
        return None, f"{len(grid)}x{len(grid[0])} is too large"
    bad = next((c for row in grid for c in row if not 0 <= c <= MAX_COLOUR), None)
    if bad is not None:
        return None, f"colour {bad} outside 0-9"
    return grid, None


def grid_key(grid: Grid) -> GridKey:
    """Return a hashable copy of a valid grid (see `as_grid`)."""
    return tuple(tuple(row) for row in grid)


def grid_shape(grid: Grid) -> tuple[int, int]:
    """Return ``(rows, columns)`` of a valid, non-empty grid."""
    return len(grid), len(grid[0])
