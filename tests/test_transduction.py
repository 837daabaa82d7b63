"""Tests for arcnb.transduction: long lines and literal output grids."""

import pytest

from arcnb.transduction import detect_transduction, normalise_code, normalise_grid

GRID = [[1, 2], [3, 4]]
GENERAL = "def transform(grid):\n    return [row[::-1] for row in grid]\n"


def test_general_program_is_not_flagged():
    assert detect_transduction(GENERAL, [GRID, [[0, 0, 1], [1, 0, 0]]], [GRID]) == (False, [])


@pytest.mark.parametrize(
    "literal",
    [
        "[[1, 2], [3, 4]]",
        "[[1,2],[3,4]]",
        "((1, 2), (3, 4))",
        "[(1,2),(3,4)]",
        "np.array([[1, 2], [3, 4]])",
        "np.array([[1, 2], [3, 4]], dtype=np.int64)",
        "[\n    [1, 2],\n    [3, 4],\n]",  # black's multi-line layout, trailing commas
        "[[1,\n  2], [3,\n 4]]",
    ],
)
def test_literal_train_output_is_flagged_in_any_layout(literal):
    code = f"def transform(grid):\n    return {literal}\n"
    flagged, reasons = detect_transduction(code, [[[0, 0], [0, 0]], GRID])
    assert flagged
    assert reasons == ["contains train output 2 (2x2) literally"]


def test_literal_test_output_is_flagged():
    answer = [[5, 5, 5], [0, 5, 0]]
    code = "ANSWER = ((5, 5, 5),\n          (0, 5, 0))\ndef transform(grid):\n    return ANSWER\n"
    assert detect_transduction(code, [GRID], [None, answer]) == (
        True,
        ["contains test output 2 (2x3) literally"],
    )


def test_long_line_is_flagged():
    code = "def transform(grid):\n    x = 1\n    y = '" + "a" * 240 + "'\n"
    flagged, reasons = detect_transduction(code, [GRID])
    assert flagged
    assert reasons == ["line 3 is 250 characters (limit 200)"]
    assert detect_transduction(code, [GRID], max_line_length=300) == (False, [])


def test_line_at_the_limit_is_allowed():
    assert detect_transduction("x" * 200, [GRID]) == (False, [])


def test_several_reasons_are_all_reported():
    code = "#" + "-" * 210 + "\nOUT = [[1, 2], [3, 4]]\n"
    assert detect_transduction(code, [GRID], [GRID]) == (
        True,
        [
            "line 1 is 211 characters (limit 200)",
            "contains train output 1 (2x2) literally",
            "contains test output 1 (2x2) literally",
        ],
    )


@pytest.mark.parametrize("small", [[[0]], [[1, 0]], [[0], [0]], [[0, 0, 0]]])
def test_grids_under_four_cells_are_ignored(small):
    code = f"PAD = {small!r}\ndef transform(grid):\n    return PAD\n"
    assert detect_transduction(code, [small]) == (False, [])


def test_grid_inside_a_larger_grid_row_is_not_a_match():
    # [[1,2],[3,4]] must not match the first rows of [[1,2],[3,4],[5,6]] or [[1,2],[3,45]].
    code = "A = [[1, 2], [3, 4], [5, 6]]\nB = [[1, 2], [3, 45]]\nC = [[11, 2], [3, 4]]\n"
    assert detect_transduction(code, [GRID]) == (False, [])


def test_normalisation_is_shared_by_code_and_grids():
    assert normalise_code("np.array(( (1, 2),\n (3, 4), ))") == "np.array[[[1,2],[3,4]]]"
    assert normalise_grid(GRID) == "[[1,2],[3,4]]"
