"""The grid strictness levels (arcnb.grid) and evaluating one program on one task."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from arcnb import _worker
from arcnb.errors import InputError
from arcnb.evaluate import evaluate_program, evaluate_program_async, evaluate_results
from arcnb.executor import ExecResult, Executor
from arcnb.grid import (
    DRAW_MAX_SIDE,
    MAX_SIDE,
    as_grid,
    drawable,
    expected_grid,
    grid_key,
    grid_shape,
    model_output,
    task_grid,
)
from arcnb.scoring import score_example
from arcnb.tasks import Example, Task, load_task

ROOT = Path(__file__).resolve().parents[1]


def _task_ok(value: object) -> bool:
    try:
        task_grid(value, "t")
    except InputError:
        return False
    return True


# value, then accepted by: model output, task file, recorded (as_grid), drawable
LEVELS = [
    ("plain", [[1, 2], [3, 4]], True, True, True, True),
    ("numpy int array", np.array([[1, 2], [3, 4]]), True, False, True, True),
    ("numpy uint8 array", np.ones((2, 2), dtype=np.uint8), True, False, True, True),
    ("rows of numpy arrays", [np.array([1, 2]), np.array([3, 4])], True, False, True, True),
    ("numpy int cells", [[np.int64(1), np.int8(2)]], True, False, True, True),
    ("numpy float array", np.zeros((2, 2)), True, False, True, True),
    ("numpy float32 array", np.full((2, 2), 3, np.float32), True, False, True, True),
    ("numpy float cells", [[np.float64(1.0), np.float32(2.0)]], True, False, True, True),
    ("numpy bool array", np.zeros((2, 2), dtype=bool), False, False, False, False),
    ("numpy fractional array", np.full((2, 2), 0.5), False, False, False, False),
    ("tuples", ((1, 2), (3, 4)), True, False, True, True),
    ("tuple rows", [(1, 2), (3, 4)], True, False, True, True),
    ("integral floats", [[1.0, 2.0]], True, False, True, True),
    ("fractional float", [[1.5]], False, False, False, False),
    ("nan", [[float("nan")]], False, False, False, False),
    ("inf", [[float("inf")]], False, False, False, False),
    ("bools", [[True, False]], False, False, False, False),
    ("numpy bool cell", [[np.bool_(True)]], False, False, False, False),
    ("ragged", [[1, 2], [3]], False, False, False, False),
    ("colour 10", [[10]], False, False, False, False),
    ("colour -1", [[-1]], False, False, False, False),
    ("colour 10.0", [[10.0]], False, False, False, False),
    ("31x31", [[0] * 31] * 31, False, True, True, True),
    ("101x101", [[0] * 101] * 101, False, True, True, False),
    ("empty", [], False, False, False, False),
    ("empty row", [[]], False, False, False, False),
    ("1-D array", np.array([1, 2]), False, False, False, False),
    ("string", "grid", False, False, False, False),
    ("string rows", ["12", "34"], False, False, False, False),
    ("None", None, False, False, False, False),
]


@pytest.mark.parametrize(
    ("value", "output", "task", "recorded", "draw"),
    [row[1:] for row in LEVELS],
    ids=[row[0] for row in LEVELS],
)
def test_strictness_levels(value, output, task, recorded, draw):
    assert (model_output(value)[0] is not None) == output
    assert _task_ok(value) == task
    assert (as_grid(value) is not None) == recorded
    assert (drawable(value)[0] is not None) == draw
    # One rule: as_grid is model_output without the side limit and the reason.
    grid, why = model_output(value)
    assert as_grid(value) == grid or why.endswith(f"at most {MAX_SIDE} allowed")


COLOUR = "expected a colour 0-9"


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ([[1, 2], [3]], "ragged grid: row 1 has 1 cells, row 0 has 2"),
        ([], "grid is empty"),
        ([[]], "row 0 is empty"),
        ([[True]], "row 0, column 0 holds the boolean True, expected a colour 0-9"),
        ([[1, np.bool_(False)]], "row 0, column 1 holds the boolean False, expected a colour 0-9"),
        ([[1], [3.5]], f"row 1, column 0 holds 3.5, not a whole number, {COLOUR}"),
        ([[np.float32(0.5)]], f"row 0, column 0 holds 0.5, not a whole number, {COLOUR}"),
        ([[float("nan")]], "row 0, column 0 holds NaN, expected a colour 0-9"),
        ([[2, -np.inf]], "row 0, column 1 holds -inf, an infinity, expected a colour 0-9"),
        ([[1], [10]], "row 1, column 0 holds 10, outside the colours 0-9"),
        ([[1, 2, 12.0]], "row 0, column 2 holds 12, outside the colours 0-9"),
        ([[0] * 31], "grid has 31 columns, at most 30 allowed"),
        ([[0]] * 31, "grid has 31 rows, at most 30 allowed"),
        (np.zeros((31, 2)), "grid has 31 rows, at most 30 allowed"),
        (np.zeros((2, 31)), "grid has 31 columns, at most 30 allowed"),
        (np.zeros((2, 2, 2), dtype=int), "numpy array has 3 dimensions, expected 2"),
        (np.array([[0, 0.5]]), f"row 0, column 1 holds 0.5, not a whole number, {COLOUR}"),
        (np.array([[1, 2]], dtype=bool), f"row 0, column 0 holds the boolean True, {COLOUR}"),
        ([np.zeros((1, 2))], "row 0 is a numpy array of 2 dimensions, expected 1"),
        ([[1], "2"], "row 1 is str, expected a list of colours"),
        ([["1"]], "row 0, column 0 holds str '1', expected a colour 0-9"),
        (None, "got None, expected a list of rows"),
        ({"a": 1}, "got dict, expected a list of rows"),
    ],
)  # fmt: skip
def test_model_output_reasons(value, reason):
    assert model_output(value) == (None, reason)


@pytest.mark.parametrize(
    "value",
    [
        np.array([[1, 2], [3, 4]]),
        np.array([[1.0, 2.0], [3.0, 4.0]]),
        ((1, 2), (3.0, np.int16(4))),
        [np.array([1.0, 2.0]), (np.float32(3), 4)],
        [[1, 2], [3, 4.0]],
    ],
)
def test_model_output_converts_to_plain_ints(value):
    grid, why = model_output(value)
    assert (grid, why) == ([[1, 2], [3, 4]], None)
    assert all(type(row) is list for row in grid)
    assert all(type(c) is int for row in grid for c in row)


def test_model_output_converts_numpy_and_copies():
    grid, why = model_output(np.arange(6).reshape(2, 3))
    assert (grid, why) == ([[0, 1, 2], [3, 4, 5]], None)
    assert all(type(c) is int for row in grid for c in row)
    source = [[1, 2], [3, 4]]
    grid, _ = model_output(source)
    assert grid == source and grid is not source and grid[0] is not source[0]
    assert model_output([[9] * MAX_SIDE] * MAX_SIDE)[0] == [[9] * 30] * 30
    source = [[1, 2], [3, 4.0]]
    grid, _ = model_output(source)
    assert grid[0] is not source[0] and type(grid[1][1]) is int


def test_the_worker_uses_the_same_rule():
    for _, value, *_ in LEVELS:
        assert repr(_worker.validate_grid(value)) == repr(model_output(value))
    assert _worker.MAX_SIDE == MAX_SIDE == 30


def test_grid_module_and_worker_stay_outside_the_package():
    # The worker runs `python -I` outside the package: loading it (and with it arcnb/grid.py)
    # must import neither arcnb nor, for grid.py alone, numpy.
    probe = (
        "import runpy, sys\n"
        "runpy.run_path('arcnb/grid.py')\n"
        "print('numpy' in sys.modules)\n"
        "runpy.run_path('arcnb/_worker.py', run_name='probe')\n"
        "print(any(m == 'arcnb' or m.startswith('arcnb.') for m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-I", "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["False", "False"]


def test_task_grid_messages_and_identity():
    grid = [[0] * 40] * 40  # task files have no size limit
    assert task_grid(grid, "t") is grid
    cases = [
        ("grid", "t: a grid must be a non-empty list of rows"),
        ([], "t: a grid must be a non-empty list of rows"),
        ([[1], []], "t: row 1 must be a non-empty list of colours"),
        ([[1, 2], [3]], "t: row 1 has 1 cells, row 0 has 2"),
        ([[1], [12]], "t: row 1 holds 12; colours are integers 0-9"),
        ([[True]], "t: row 0 holds True; colours are integers 0-9"),
        ([[1.0]], "t: row 0 holds 1.0; colours are integers 0-9"),
    ]
    for value, message in cases:
        with pytest.raises(InputError) as error:
            task_grid(value, "t")
        assert str(error.value) == message


def test_as_grid_normalises_to_fresh_int_lists():
    source = ((1.0, np.int64(2)), [3, 4])
    grid = as_grid(source)
    assert grid == [[1, 2], [3, 4]]
    assert all(type(c) is int for row in grid for c in row)
    plain = [[1, 2]]
    assert as_grid(plain) == plain and as_grid(plain)[0] is not plain[0]
    assert as_grid([[12, -3]]) is None  # the colour range is part of the rule
    assert as_grid([[0] * 40] * 40) == [[0] * 40] * 40  # no side limit: task files have none
    assert grid_key(grid) == ((1, 2), (3, 4))
    assert grid_shape([[0] * 31] * 2) == (2, 31)


def test_expected_and_drawable():
    assert expected_grid(((1,),), "x") == [[1]]
    with pytest.raises(InputError, match=r"expected grid 2 is not a valid grid \(ragged grid: "):
        expected_grid([[1], [2, 3]], "expected grid 2")
    assert drawable([[12]]) == (None, "row 0, column 0 holds 12, outside the colours 0-9")
    side = DRAW_MAX_SIDE + 1
    assert drawable([[0] * side] * 2) == (None, f"grid has {side} columns, at most 100 allowed")
    assert drawable([[1, 2]]) == ([[1, 2]], None)
    assert drawable(np.zeros((1, 2))) == ([[0, 0]], None)
    assert drawable("x") == (None, "got str, expected a list of rows")


def test_checked_scoring_matches_the_normalising_one():
    truth = [[1, 2, 3], [4, 5, 6]]
    for guess in ([[1, 2, 3], [4, 5, 6]], [[1, 2, 3], [4, 5, 0]], [[1, 2]], [[0] * 3] * 3, None):
        assert score_example(guess, truth, checked=True) == score_example(guess, truth)


# ---- evaluate_program ---------------------------------------------------------------------------
ROTATE = "def transform(grid):\n    return [row[::-1] for row in grid[::-1]]\n"


@pytest.fixture(scope="module")
def executor():
    with Executor(workers=2, timeout=2.0) as ex:
        yield ex


@pytest.fixture(scope="module")
def task() -> Task:
    return load_task("arc-agi-1", "3c9b0459")  # rotate by 180 degrees: 4 train, 1 test


def test_evaluate_a_right_program(executor, task):
    ev = evaluate_program(ROTATE, task, executor)
    assert [o.status for o in ev.train + ev.test] == ["ok"] * 5
    assert [o.output for o in ev.train] == [ex.output for ex in task.train]
    assert ev.all_train_correct and ev.n_train_correct == 4
    assert all(o.correct and o.pixel_accuracy == 1.0 for o in ev.test)
    assert (ev.transductive, ev.transduction_reasons) == (False, [])
    assert ev.exec_s > 0
    assert list(ev.train[0].to_dict()) == ["status", "output", "error", "correct", "pixel_accuracy"]


def test_evaluate_wrong_and_failing_programs(executor, task):
    identity = evaluate_program("def transform(grid):\n    return grid\n", task, executor)
    for outcome, ex in zip(identity.train, task.train, strict=True):
        assert outcome.status == "ok" and not outcome.correct
        assert outcome.pixel_accuracy == score_example(ex.input, ex.output).pixel_accuracy
    assert not identity.all_train_correct
    crash = evaluate_program("def transform(grid):\n    return 1 / 0\n", task, executor)
    assert {o.error for o in crash.train + crash.test} == {"ZeroDivisionError: division by zero"}
    assert all(o.output is None and not o.correct for o in crash.train + crash.test)
    bad = evaluate_program("def transform(grid):\n    return [[1.5]]\n", task, executor)
    assert {o.status for o in bad.train} == {"invalid"}
    assert bad.train[0].error.startswith("InvalidOutput: row 0, column 0 holds 1.5, not a whole")


# What model-written programs really return, through the real executor (sandboxed children).
NUMPY_ROTATE = (
    "import numpy as np\n"
    "def transform(grid):\n"
    "    h, w = len(grid), len(grid[0])\n"
    "    out = np.zeros((h, w))  # float64\n"
    "    for r in range(h):\n"
    "        for c in range(w):\n"
    "            out[h - 1 - r, w - 1 - c] = grid[r][c]\n"
    "    return out\n"
)
TUPLE_ROTATE = "def transform(grid):\n    return tuple(tuple(row[::-1]) for row in grid[::-1])\n"
HALF = "import numpy as np\ndef transform(grid):\n    return np.full((2, 2), 0.5)\n"


def test_float_arrays_and_tuples_are_grids_end_to_end(executor, task):
    for code in (NUMPY_ROTATE, TUPLE_ROTATE):
        ev = evaluate_program(code, task, executor)
        assert [o.status for o in ev.train + ev.test] == ["ok"] * 5, code
        assert [o.output for o in ev.train] == [ex.output for ex in task.train]
        assert all(type(c) is int for o in ev.train for row in o.output for c in row)
        assert ev.all_train_correct and all(o.correct for o in ev.test)
    results = executor.run(HALF, [task.train[0].input])
    assert results[0].status == "invalid"
    assert results[0].output is None
    assert results[0].error_type == "InvalidOutput"
    assert results[0].error.startswith("row 0, column 0 holds 0.5, not a whole number")


def test_evaluate_without_code_test_inputs_or_transduction(executor, task):
    nothing = evaluate_program(None, task, executor)
    assert (nothing.train, nothing.test, nothing.exec_s) == ([], [], 0.0)
    assert not nothing.all_train_correct
    train_only = evaluate_program(ROTATE, task, executor, test=False)
    assert len(train_only.train) == 4 and train_only.test == []
    long_line = ROTATE + "# " + "x" * 250 + "\n"
    flagged = evaluate_program(long_line, task, executor)
    assert flagged.transductive and "characters (limit 200)" in flagged.transduction_reasons[0]
    unchecked = evaluate_program(long_line, task, executor, transduction=False)
    assert not unchecked.transductive and unchecked.all_train_correct


def test_async_twin_and_hidden_answers(executor, task):
    ev = asyncio.run(evaluate_program_async(ROTATE, task, executor))
    sync = evaluate_program(ROTATE, task, executor)
    assert [o.to_dict() for o in ev.train + ev.test] == [
        o.to_dict() for o in sync.train + sync.test
    ]
    hidden = Task("h", task.train, [Example(task.test[0].input)])
    results = [ExecResult("ok", ex.output) for ex in task.train] + [ExecResult("ok", [[1]])]
    ev = evaluate_results(hidden, ROTATE, results)
    assert ev.all_train_correct
    assert ev.test[0].to_dict() == {
        "status": "ok",
        "output": [[1]],
        "error": None,
        "correct": False,
        "pixel_accuracy": 0.0,
    }
