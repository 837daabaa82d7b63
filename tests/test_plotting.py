"""Plots of real run directories made against a scripted server: PNGs, panels, killed runs."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import matplotlib.image as mpimg
import pytest
from arcfixtures import BROKEN, FLIP, ROOT, key_of, make_tasks
from arcfixtures import WRONG as SAME  # a valid program that is wrong on every task
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure

from arcnb.errors import InputError
from arcnb.metrics import summarize_run
from arcnb.plotting import (
    RIGHT,
    WRONG,
    format_evolution_table,
    load_run,
    plot_attempt,
    plot_grid,
    plot_task,
    render_run,
)
from arcnb.rundir import Run
from arcnb.tasks import load_tasks
from arcnb.widgets import explore

PNG = b"\x89PNG\r\n\x1a\n"
PANELS = 3 * (2 + 1)  # make_tasks: 2 train pairs and 1 test input per task


@pytest.fixture(scope="module")
def attempts_run(tmp_path_factory, scripted_run) -> Path:
    """Three tasks x 2 attempts: right, wrong, broken, no code block, and API failures."""
    tmp = tmp_path_factory.mktemp("attempts")
    tasks = make_tasks(tmp / "tasks", ["good", "mixed", "fail"])
    script = {
        "rules": [
            {"match": key_of(tasks["good"]), "responses": [{"content": FLIP}, {"content": SAME}]},
            {"match": key_of(tasks["mixed"]), "responses": [
                {"content": BROKEN}, {"content": "no code, sorry"}]},
            {"match": key_of(tasks["fail"]), "responses": [{"status": 400}]},
        ],
    }  # fmt: skip
    return scripted_run(tmp, script, max_attempts=2).run_dir


@pytest.fixture(scope="module")
def turns_run(tmp_path_factory, scripted_run) -> Path:
    tmp = tmp_path_factory.mktemp("turns")
    make_tasks(tmp / "tasks", ["refine"])
    script = {"default": {"turns": {"1": {"content": SAME}, "2": {"content": FLIP}}}}
    return scripted_run(tmp, script, max_attempts=1, max_turns=3).run_dir


def _assert_png(path: Path) -> None:
    assert path.read_bytes()[:8] == PNG
    height, width, channels = mpimg.imread(path).shape
    assert height > 100 and width > 100 and channels in (3, 4)


def test_render_run_one_png_per_attempt(attempts_run, tmp_path):
    rows = render_run(attempts_run, out_dir=tmp_path / "plots")
    assert len(rows) == 6 and len(list((tmp_path / "plots").glob("*.png"))) == 6
    name = attempts_run.name
    assert {Path(r["file"]).name for r in rows} == {
        f"attempt_{a}_{t}_{name}.png" for t in ("good", "mixed", "fail") for a in (1, 2)
    }
    for row in rows:
        _assert_png(Path(row["file"]))
        assert row["missing"] == []
    by = {(r["task_id"], r["train_solved"], r["test_accuracy"]) for r in rows}
    assert ("good", "2/2", 1.0) in by and ("good", "0/2", 0.0) in by
    solved = next(r for r in rows if r["train_solved"] == "2/2")
    assert solved["train_avg_accuracy"] == 1.0
    assert {r["test_accuracy"] for r in rows if r["task_id"] != "good"} == {0.0}
    table = format_evolution_table(rows)
    assert table.splitlines()[1].split() == [
        "Task", "Attempt", "Test", "Acc", "Train", "Solved", "Train", "Avg", "Acc", "File"
    ]  # fmt: skip
    assert (
        "100.0%" in table and f"attempt_2_fail_{name}.png" in table and len(table.splitlines()) == 9
    )


def _titles(fig: Figure) -> str:
    return " | ".join(ax.get_title() for ax in fig.axes)


def test_plot_attempt_panels_frames_and_failures(attempts_run):
    run = load_run(attempts_run)
    assert run.warnings == [] and sorted(run.tasks()) == ["fail", "good", "mixed"]
    for record in run.records():
        fig = plot_attempt(run.task(record["task_id"]), record)
        assert len(fig.axes) == PANELS
        predicted = fig.axes[2::3]
        frames = {ax.spines["top"].get_edgecolor() for ax in predicted}
        titles = _titles(fig)
        if record["failure"]:
            assert titles.count("no program (client_error)") == 3
        elif record.get("code") is None:
            assert titles.count("no program (no code block)") == 3
        elif record["train"][0]["status"] == "error":
            assert "error (SyntaxError)" in titles
        if record["test"] and record["test"][0]["correct"]:
            assert "3x3 · 100%" in titles
            assert frames == {to_rgba(RIGHT)}
        else:
            assert frames == {to_rgba(WRONG)}
    # without the task, the same record still plots: inputs and expected outputs are missing
    record = next(r for r in run.records() if r["task_id"] == "good")
    fig = plot_attempt(None, record)
    assert len(fig.axes) == PANELS and _titles(fig).count("missing") == 6


def test_multi_turn_run_one_png_per_turn(turns_run, tmp_path):
    rows = render_run(turns_run, out_dir=tmp_path)
    name = turns_run.name
    assert [Path(r["file"]).name for r in rows] == [
        f"turn_1_refine_{name}.png",
        f"turn_2_refine_{name}.png",
    ]
    assert [(r["turn"], r["train_solved"], r["test_accuracy"]) for r in rows] == [
        (1, "0/2", 0.0),
        (2, "2/2", 1.0),
    ]
    for row in rows:
        _assert_png(Path(row["file"]))
    header = format_evolution_table(rows).splitlines()[1]
    assert header.startswith("Turn") and "Attempt" not in header


def test_killed_run_still_renders_and_says_what_is_missing(attempts_run, tmp_path, caplog):
    run_dir = tmp_path / attempts_run.name
    shutil.copytree(attempts_run, run_dir)
    (run_dir / "summary.json").unlink()
    shutil.rmtree(run_dir / "tasks")
    with open(run_dir / "attempts.jsonl", "a") as handle:
        handle.write('{"task_id": "good", "attempt": 6, "tu')  # killed mid-write
    run = load_run(run_dir)
    text = "\n".join(run.warnings)
    assert "no summary.json" in text and "torn final line" in text
    with caplog.at_level(logging.WARNING, logger="arcnb"):
        rows = render_run(run_dir, task_ids="good", out_dir=tmp_path / "plots")
    assert "no summary.json" in caplog.text and "torn final line" in caplog.text
    assert [r["attempt"] for r in rows] == [1, 2]
    for row in rows:
        assert row["missing"] == []
        _assert_png(Path(row["file"]))


def test_lost_dataset_draws_inputs_as_missing(attempts_run, tmp_path):
    run_dir = tmp_path / attempts_run.name
    shutil.copytree(attempts_run, run_dir)
    config = json.loads((run_dir / "config.json").read_text())
    config["settings"]["dataset"] = str(tmp_path / "moved-away")
    (run_dir / "config.json").write_text(json.dumps(config))
    run = load_run(run_dir)
    assert run.tasks() == {} and any("could not be loaded" in w for w in run.warnings)
    rows = render_run(run_dir, task_ids=["fail"], out_dir=tmp_path / "plots")
    assert len(rows) == 2 and all(r["missing"] == ["task"] for r in rows)
    _assert_png(Path(rows[0]["file"]))


def test_plotting_and_explorer_agree_with_run_final_turns(tmp_path, scripted_run):
    """A multi-turn run killed mid-attempt: an attempt's final turn is its highest recorded
    one (here not marked final), for the figures, the explorer and its recomputed vote."""
    tasks = make_tasks(tmp_path / "tasks", ["quick", "slow"])
    script = {
        "rules": [
            {"match": key_of(tasks["quick"]), "responses": [{"content": FLIP}]},
            {"match": key_of(tasks["slow"]), "responses": [
                {"turns": {"1": {"content": SAME}, "3": {"content": FLIP}}}]},
        ],
    }  # fmt: skip
    run_dir = scripted_run(tmp_path, script, max_attempts=2, max_turns=3).run_dir
    # killed while slow's attempt 2 was in its third turn: that turn never got written
    lines = (run_dir / "attempts.jsonl").read_text().splitlines(keepends=True)
    key = ("slow", 1, 3)
    kept = [
        x for x in lines if tuple(json.loads(x)[k] for k in ("task_id", "attempt", "turn")) != key
    ]
    assert len(kept) == len(lines) - 1
    (run_dir / "attempts.jsonl").write_text("".join(kept))
    (run_dir / "summary.json").unlink()
    shutil.rmtree(run_dir / "tasks")

    finals = {(r["task_id"], r["attempt"]): r for r in Run.open(run_dir).final_turns()}
    assert {k: (r["turn"], r["final"]) for k, r in finals.items()} == {
        ("quick", 0): (1, True),
        ("quick", 1): (1, True),
        ("slow", 0): (3, True),
        ("slow", 1): (2, False),
    }

    rows = render_run(run_dir, out_dir=tmp_path / "plots")  # by task, attempt, turn
    last = {(r["task_id"], r["attempt"] - 1): r for r in rows}
    assert {k: r["turn"] for k, r in last.items()} == {k: r["turn"] for k, r in finals.items()}
    assert len(rows) == 1 + 1 + 3 + 2
    assert last["slow", 0]["test_accuracy"] == 1.0 and last["slow", 1]["test_accuracy"] == 0.0
    assert Path(last["slow", 1]["file"]).name == f"attempt_2_turn_2_slow_{run_dir.name}.png"

    ex = explore(run_dir)
    for (task_id, attempt), final in finals.items():
        ex.select(task_id, attempt + 1)  # numbered from 1; the default turn: the final one
        assert ex.selection == (task_id, attempt + 1, final["turn"])
    assert ex.data.finals("slow") == [finals["slow", 0], finals["slow", 1]]
    vote, source = ex.data.vote("slow")
    assert source == "recomputed from attempts.jsonl"
    scores = summarize_run(Run.open(run_dir))["per_task"]["slow"]["scores"]
    assert {name: vote["methods"][name]["score"] for name in scores} == scores


def test_unknown_task_id_suggests_close_matches(attempts_run, tmp_path):
    with pytest.raises(InputError, match="'goood' is not in run .*did you mean: good"):
        render_run(attempts_run, task_ids="good,goood", out_dir=tmp_path)
    with pytest.raises(InputError, match="not a run directory"):
        render_run(tmp_path / "nope")
    assert not list(tmp_path.glob("*.png"))


def test_plot_grid_never_raises_and_plot_task_panels(attempts_run):
    fig = Figure()
    axes = fig.subplots(1, 7)
    bad = [None, [], [[1, 2], [3]], [[12]], "grid", [[0] * 500] * 500]
    assert [plot_grid(ax, grid) for ax, grid in zip(axes, bad, strict=False)] == [False] * 6
    assert [ax.get_title() for ax in axes[:4]] == [
        "missing",
        "invalid (grid is empty)",
        "invalid (ragged grid: row 1 has 1 cells, row 0 has 2)",
        "invalid (row 0, column 0 holds 12, outside the colours 0-9)",
    ]
    assert plot_grid(axes[6], [[0, 1, 2], [3, 4, 5]], note="50%") is True
    assert axes[6].get_title() == "2x3 · 50%"
    config = load_run(attempts_run).config
    task = load_tasks(config["settings"]["dataset"], "good")[0]
    assert len(plot_task(task).axes) == 2 * 2 + 1


@pytest.mark.slow
def test_notebook_headless_with_papermill(attempts_run, tmp_path):
    import papermill as pm

    source = ROOT / "notebooks" / "task_evolution.ipynb"
    stored = json.loads(source.read_text())
    assert all(not c.get("outputs") for c in stored["cells"] if c["cell_type"] == "code")
    out = tmp_path / "out.ipynb"
    pm.execute_notebook(
        str(source),
        str(out),
        parameters={"run_dir": str(attempts_run), "task_ids": "good", "out_dir": "plots"},
        kernel_name="python3",
        cwd=str(tmp_path),
    )
    assert len(list((tmp_path / "plots").glob("attempt_*_good_*.png"))) == 2
    outputs = [o for c in json.loads(out.read_text())["cells"] for o in c.get("outputs", [])]
    text = "".join("".join(o.get("text", "")) for o in outputs)
    assert "Train Solved" in text and "attempt_1_good_" in text
    assert sum("image/png" in o.get("data", {}) for o in outputs) == 2
