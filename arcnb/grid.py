"""What a grid is, the one rule that turns a value into a grid, and where each source applies it.

A grid is a ``list[list[int]]``: at least one row, every row the same non-zero length, each
cell a colour 0-9 (ARC grids are at most `MAX_SIDE` cells a side).

**The rule** (`model_output`, and `as_grid` is the same function without the reason):

* accepted, and converted to a fresh list of lists of plain ints: lists and tuples of rows;
  rows that are lists, tuples or 1-D numpy arrays; 2-D numpy arrays of any numeric dtype;
  cells that are ints, numpy integers, or floats (Python or numpy) that are exactly whole
  numbers (``3.0`` is the colour 3: programs often fill ``np.zeros((h, w))``, a float64 array);
* invalid, with a reason that names the first offending row and column: a fraction (``3.5``),
  NaN, an infinity, a boolean (``True`` equals 1 but a boolean mask is not a grid), any other
  cell type (str, None, complex, ...), a colour outside 0-9, ragged rows, an empty grid or row,
  anything that is not a sequence of rows, and more than `MAX_SIDE` rows or columns.

Where it applies, by source:

level         function        side limit        failure
------------  --------------  ----------------  --------------------------------------------
model output  `model_output`  `MAX_SIDE` (30)   ``(None, reason)``
recorded      `as_grid`       none              None
expected      `expected_grid` none              `InputError` with the reason
drawable      `drawable`      `DRAW_MAX_SIDE`   ``(None, reason)``
task file     `task_grid`     none              `InputError`; stricter: JSON lists of ints only

* **model output** is what a program's ``transform`` may return; the executor's worker applies
  it (in the sandboxed child and again on the JSON the child sends back), and
  `arcnb.dataset.validate_dataset` applies it to every grid of a dataset row. To change what a
  program may return, edit `_normalise` only. The reasons are shown to users and models.
* **recorded** normalises anything that may hold a grid (an attempt record, a numpy array, a
  vote, a true answer) by the same rule; it has no side limit because a task folder may hold
  grids larger than 30 (task files have none).
* **expected** is the recorded rule for a true answer when scoring, raising `InputError`.
* **drawable** is the rule with the bound a picture needs.
* **task file** is what a task JSON may hold: exactly what the rule accepts from JSON, except
  that floats (``3.0``) are refused, so a task file stays plain JSON integers. It returns the
  lists it was given, not a copy.

Plain lists of lists of ints, by far the most common value, take a fast path whose checks all
run in C (``set(map(type, ...))`` for the types, ``bytes(...).translate`` for the range); numpy
float arrays are checked vectorised; anything else goes cell by cell.

This module imports only the standard library: `arcnb/_worker.py`, which runs outside the
package, loads it by file path. numpy is never imported here; a value can only be a numpy
object if numpy is already loaded, so it is looked up in ``sys.modules`` when needed.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
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
_NO_LIMIT = sys.maxsize  # side limit of the levels that have none
_INF = float("inf")
_COLOUR_BYTES = bytes(range(MAX_COLOUR + 1))


def _normalise(value: Any, max_side: int) -> tuple[Grid | None, str | None]:
    """The one rule (see the module docstring): ``(fresh grid, None)`` or ``(None, reason)``."""
    fresh = False  # value is a list this function made (from a numpy array): no copy needed
    np = None
    if type(value) is not list:
        np = sys.modules.get("numpy")
        if np is not None and isinstance(value, np.ndarray):
            value, why = _array_rows(value, np, max_side)
            if why is not None:
                return None, why
            fresh = True
    if _plain(value, max_side):  # the common case, checked in C
        return (value if fresh else [row[:] for row in value]), None
    return _rows(value, max_side, np or sys.modules.get("numpy"))


def _plain(value: Any, max_side: int) -> bool:
    """True for a list of 1..max_side lists, all 1..max_side long, of plain ints 0-9."""
    if type(value) is not list or not 0 < len(value) <= max_side:
        return False
    if set(map(type, value)) != _LIST_ONLY or len(widths := set(map(len, value))) != 1:
        return False
    return (
        0 < widths.pop() <= max_side
        and set(map(type, chain.from_iterable(value))) == _INT_ONLY
        and _colours_only(chain.from_iterable(value))
    )


def _array_rows(value: Any, np: Any, max_side: int) -> tuple[Any, str | None]:
    """A 2-D numpy array as nested lists (whole floats already made ints), or a reason."""
    if value.ndim != 2:
        return None, f"numpy array has {value.ndim} dimensions, expected 2"
    rows, cols = value.shape
    if rows > max_side or cols > max_side:  # checked before a huge tolist()
        what = f"{rows} rows" if rows > max_side else f"{cols} columns"
        return None, f"grid has {what}, at most {max_side} allowed"
    if value.dtype.kind == "f":  # e.g. np.zeros((h, w)); vectorised, the cells are many
        with np.errstate(invalid="ignore"):
            if ((value >= 0) & (value <= MAX_COLOUR) & (value == np.trunc(value))).all():
                value = value.astype(np.int8)  # all colours 0-9: the cast is exact
    return value.tolist(), None  # anything else is checked (and explained) cell by cell


def _rows(value: Any, max_side: int, np: Any) -> tuple[Grid | None, str | None]:
    """The rule, row by row and cell by cell, naming the first fault."""
    if not isinstance(value, (list, tuple)):
        what = "None" if value is None else type(value).__name__
        return None, f"got {what}, expected a list of rows"
    if not value:
        return None, "grid is empty"
    if len(value) > max_side:
        return None, f"grid has {len(value)} rows, at most {max_side} allowed"
    rows: Grid = []
    width = 0
    for r, row in enumerate(value):
        if np is not None and isinstance(row, np.ndarray):
            if row.ndim != 1:
                return None, f"row {r} is a numpy array of {row.ndim} dimensions, expected 1"
            row = row.tolist()
        elif not isinstance(row, (list, tuple)):
            return None, f"row {r} is {type(row).__name__}, expected a list of colours"
        if r == 0:
            width = len(row)
            if width == 0:
                return None, "row 0 is empty"
            if width > max_side:
                return None, f"grid has {width} columns, at most {max_side} allowed"
        elif len(row) != width:
            return None, f"ragged grid: row {r} has {len(row)} cells, row 0 has {width}"
        if type(row) is list and set(map(type, row)) == _INT_ONLY and _colours_only(row):
            rows.append(row[:])  # plain ints in range: no per-cell work
            continue
        out = []
        for c, v in enumerate(row):
            cell, why = _cell(v, np)
            if why is not None:
                return None, f"row {r}, column {c} holds {why}"
            out.append(cell)
        rows.append(out)
    return rows, None


def _colours_only(ints: Iterable[int]) -> bool:
    """True when every one of these plain ints is a colour 0-9 (in C, faster than min/max)."""
    try:
        return not bytes(ints).translate(None, _COLOUR_BYTES)  # delete colours: nothing left?
    except ValueError:  # an int outside 0-255
        return False


def _cell(v: Any, np: Any) -> tuple[int, str | None]:
    """``(colour, None)``, or ``(0, what is wrong)`` worded to follow "row r, column c holds"."""
    if type(v) is int:
        colour = v
    elif type(v) is float and v.is_integer():  # np.zeros(...).tolist(): the common other case
        colour = int(v)
    elif isinstance(v, bool) or (np is not None and isinstance(v, np.bool_)):
        # True/False compare equal to 1/0 but are not colours: a boolean mask is not a grid.
        return 0, f"the boolean {bool(v)}, expected a colour 0-9"
    elif isinstance(v, Integral):  # numpy integers are registered as Integral
        colour = int(v)
    elif isinstance(v, float) or (np is not None and isinstance(v, np.floating)):
        f = float(v)
        if f != f:
            return 0, "NaN, expected a colour 0-9"
        if f in (_INF, -_INF):
            return 0, f"{f}, an infinity, expected a colour 0-9"
        if not f.is_integer():
            return 0, f"{f!r}, not a whole number, expected a colour 0-9"
        colour = int(f)
    else:
        return 0, f"{type(v).__name__} {v!r:.20}, expected a colour 0-9"
    if not 0 <= colour <= MAX_COLOUR:
        shown = colour if abs(colour) < 10**9 else "a huge number"  # str(10**5000) would fail
        return 0, f"{shown}, outside the colours 0-9"
    return colour, None


def model_output(value: Any) -> tuple[Grid | None, str | None]:
    """Convert what a program returned to a grid, or say why it is not one.

    Args:
        value: What ``transform`` returned (or what the sandboxed child sent back).

    Returns:
        ``(grid, None)``: a fresh list of lists of plain ints 0-9, at most `MAX_SIDE` a side,
        converted by the module's rule (lists, tuples, numpy arrays; ints, numpy integers,
        whole floats). ``(None, reason)`` otherwise, the reason naming what is wrong and
        where (a fraction, NaN, an infinity, a boolean, a colour outside 0-9, ragged rows,
        a side over `MAX_SIDE`).
    """
    return _normalise(value, MAX_SIDE)


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


def as_grid(value: Any) -> Grid | None:
    """Convert a possible grid to a fresh ``list[list[int]]``, or None if it is not one.

    The same rule as `model_output`, without its side limit (task folders may hold grids
    larger than 30) and without the reason.

    Args:
        value: Whatever a program returned or a file contained.

    Returns:
        A new rectangular grid of colours 0-9 with at least one cell, or None.
    """
    return _normalise(value, _NO_LIMIT)[0]


def expected_grid(value: Any, where: str) -> Grid:
    """A true answer for scoring: `as_grid`'s rule, raising instead of returning None.

    Args:
        value: The expected grid.
        where: Names it in the error, e.g. ``"expected grid 2"``.

    Returns:
        A fresh copy, as `as_grid`.

    Raises:
        InputError: ``value`` is not a grid; the message gives the rule's reason.
    """
    grid, why = _normalise(value, _NO_LIMIT)
    if grid is None:
        raise _input_error(f"{where} is not a valid grid ({why}): {value!r:.80}")
    return grid


def drawable(value: Any) -> tuple[Grid | None, str | None]:
    """``(grid, None)`` for a value that can be drawn, else ``(None, why not)``.

    Args:
        value: Anything; the rule of `model_output`, at most `DRAW_MAX_SIDE` a side.

    Returns:
        A fresh grid, or the reason shown in place of the picture.
    """
    return _normalise(value, DRAW_MAX_SIDE)


def grid_key(grid: Grid) -> GridKey:
    """Return a hashable copy of a valid grid (see `as_grid`)."""
    return tuple(tuple(row) for row in grid)


def grid_shape(grid: Grid) -> tuple[int, int]:
    """Return ``(rows, columns)`` of a valid, non-empty grid."""
    return len(grid), len(grid[0])
