"""Tests for arcnb.prompts: grid encoding, templates, and that test outputs never leak."""

import json
from pathlib import Path

import pytest

from arcnb.errors import InputError
from arcnb.prompts import build_messages, build_refinement_message, encode_grid, system_prompt
from arcnb.tasks import Example, Task, load_task, load_tasks

PROMPTS_DIR = Path(__file__).parent.parent / "prompts"


def _rows(grid):
    return encode_grid(grid).partition("\n")[2]


def test_encode_grid_shape_then_rows():
    assert encode_grid([[0, 0, 7, 0], [1, 2, 3, 9], [5, 5, 5, 5]]) == "3x4\n0070\n1239\n5555"
    assert encode_grid([[4]]) == "1x1\n4"


def test_initial_messages_show_examples_and_test_inputs():
    task = load_task("arc-agi-1", "007bbfb7")
    messages = build_messages(task)
    assert [m["role"] for m in messages] == ["system", "user"]
    system, user = messages[0]["content"], messages[1]["content"]
    assert "0=black, 1=blue, 2=red, 3=green, 4=yellow, 5=grey, 6=magenta, 7=orange" in system
    assert "8=light blue, 9=maroon" in system
    assert "def transform(grid: list[list[int]]) -> list[list[int]]" in system
    assert "```python" in system
    assert "hard-code" in system
    assert "$" not in system + user  # every placeholder filled
    for i, ex in enumerate(task.train, 1):
        assert f"Input {i} (3x3):\n{_rows(ex.input)}\n" in user
        assert f"Output {i} (9x9):\n{_rows(ex.output)}" in user
    assert f"Test input 1 (3x3):\n{_rows(task.test[0].input)}" in user
    assert system == system_prompt()


def _leak_candidates(tasks):
    """(prompt text, test output rows) where the output cannot appear in the prompt by chance."""
    templates = " ".join(p.read_text() for p in PROMPTS_DIR.glob("*.txt"))
    for task in tasks:
        shown = [ex.input for ex in task.train + task.test] + [ex.output for ex in task.train]
        user = build_messages(task)[1]["content"]
        for ex in task.test:
            rows = _rows(ex.output)
            # A test output equal to (or inside) a shown grid, or in the template text, is no leak.
            if rows in templates or any(rows in _rows(g) for g in shown):
                continue
            yield user, rows


def test_test_outputs_never_appear_in_prompts():
    tasks = list(load_tasks("arc-agi-1", "all_evaluation")) + list(
        load_tasks("arc-agi-2", "all_evaluation")
    )
    checked = 0
    for user, rows in _leak_candidates(tasks):
        assert rows not in user
        checked += 1
    assert checked > 500  # most of the 520 tasks' test outputs were checkable


def test_leak_check_would_catch_a_leak():
    task = load_task("arc-agi-1", "007bbfb7")
    leaky = Task(task.id, task.train + [task.test[0]], task.test)
    user, rows = next(iter(_leak_candidates([task])))
    assert rows in build_messages(leaky)[1]["content"]


def test_refinement_message_reports_each_train_pair():
    task = load_task("arc-agi-1", "007bbfb7")
    code = "def transform(grid):\n    return grid\n"
    feedback = [
        {"correct": True, "predicted": task.train[0].output, "error": None},
        {"correct": False, "predicted": [[1, 2], [3, 4]], "error": None},
        {
            "correct": False,
            "predicted": None,
            "error": "Traceback ...\nZeroDivisionError: division by zero",
        },
        {"correct": False, "predicted": [[1, "x"]], "error": None},
        {"correct": False, "predicted": None, "error": None},
    ]
    message = build_refinement_message(task, code, feedback)
    assert message["role"] == "user"
    text = message["content"]
    assert f"```python\n{code.strip()}\n```" in text
    assert "1 of the 5 example pairs" in text
    assert "Example 1: correct." in text
    assert "Example 2: wrong.\nPredicted output (2x2):\n12\n34\n" in text
    assert f"Expected output (9x9):\n{_rows(task.train[1].output)}" in text
    assert (
        "Example 3: failed with an error:\nTraceback ...\nZeroDivisionError: division by zero"
        in text
    )
    assert "Predicted output (not a grid of colours 0-9): [[1, 'x']]" in text
    assert "Example 5: wrong.\nPredicted output: none" in text
    assert _rows(task.test[0].output) not in text
    assert "$" not in text


def test_refinement_clips_long_errors_keeping_the_end():
    task = Task("t", [Example([[1]], [[2]])], [Example([[1]])])
    error = "x" * 10_000 + "ValueError: the end"
    text = build_refinement_message(
        task, "pass", [{"correct": False, "predicted": None, "error": error}]
    )["content"]
    assert "ValueError: the end" in text
    assert len(text) < 4000


def test_refinement_needs_one_feedback_entry_per_train_pair():
    task = Task("t", [Example([[1]], [[2]])], [Example([[1]])])
    with pytest.raises(ValueError, match="1 train pairs"):
        build_refinement_message(task, "pass", [])


def test_prompts_dir_override(tmp_path):
    (tmp_path / "system.txt").write_text("SYS $colour_legend")
    (tmp_path / "initial.txt").write_text("N=$n_train T=$n_test\n$test_inputs")
    task = Task("t", [Example([[1]], [[2]])], [Example([[3, 4]])])
    system, user = build_messages(task, prompts_dir=tmp_path)
    assert system["content"].startswith("SYS 0=black, 1=blue")
    assert user["content"] == "N=1 T=1\nTest input 1 (1x2):\n34"
    with pytest.raises(InputError, match="'refinement.txt' not found"):
        build_refinement_message(task, "pass", [{"correct": True}], prompts_dir=tmp_path)
    (tmp_path / "initial.txt").write_text("$no_such_placeholder")
    with pytest.raises(InputError, match="initial.txt: bad placeholder"):
        build_messages(task, prompts_dir=str(tmp_path))


@pytest.mark.parametrize(
    ("grid_format", "rows"),
    [("dense", "0070\n1239"), ("spaced", "0 0 7 0\n1 2 3 9"), ("json", "[[0, 0, 7, 0],\n [1, 2, 3, 9]]")],
)  # fmt: skip
def test_each_grid_format_writes_every_cell(grid_format, rows):
    grid = [[0, 0, 7, 0], [1, 2, 3, 9]]
    assert encode_grid(grid, grid_format) == f"2x4\n{rows}"
    if grid_format == "json":
        assert json.loads(rows) == grid
    task = Task("t", [Example(grid, [[5]])], [Example([[3, 4]])])
    system, user = build_messages(task, grid_format=grid_format)
    five = encode_grid([[5]], grid_format).split("\n", 1)[1]  # "5", or "[[5]]" in JSON
    assert f"Input 1 (2x4):\n{rows}\nOutput 1 (1x1):\n{five}\n" in user["content"]
    assert "$" not in system["content"] + user["content"]
    assert {"dense": "one digit per cell.", "spaced": "separated by spaces",
            "json": "JSON list of rows"}[grid_format] in system["content"]  # fmt: skip
    feedback = [{"correct": False, "predicted": grid, "error": None}]
    text = build_refinement_message(task, "pass", feedback, grid_format=grid_format)["content"]
    assert f"Predicted output (2x4):\n{rows}" in text
    with pytest.raises(InputError, match="dense, spaced, json"):
        encode_grid(grid, "hex")


@pytest.mark.parametrize("images", ["with-text", "only"])
def test_images_follow_each_grid_as_parts(images):
    task = Task("t", [Example([[1, 2]], [[3], [4]])], [Example([[5, 6, 7]])])
    system, user = build_messages(task, grid_format="spaced", images=images)
    parts = user["content"]
    kinds = [p["type"] for p in parts]
    assert kinds == ["text", "image_url", "text", "image_url", "text", "image_url", "text"]
    texts = [p["text"] for p in parts if p["type"] == "text"]
    assert texts[0].endswith("Input 1 (1x2):" + ("\n1 2" if images == "with-text" else ""))
    assert texts[1].startswith("Output 1 (2x1):")
    assert ("1 2" in "".join(texts)) == (images == "with-text")
    assert "as an image" in system["content"]
    assert all(p["image_url"]["url"].startswith("data:image/png;base64,")
               for p in parts if p["type"] == "image_url")  # fmt: skip
