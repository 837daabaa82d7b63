"""arcnb.compare, `arcnb stats` and `arcnb cleanup-logs` on real runs against a scripted server."""

from __future__ import annotations

import base64
import json
import math
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from arcfixtures import FLIP, ROOT, WRONG, key_of, make_tasks

from arcnb import compare
from arcnb.cli import main
from arcnb.metrics import METRICS, wilson_interval

USAGE = {"prompt_tokens": 1000, "completion_tokens": 500}  # $0.002 per request at $1/$2


@pytest.fixture(scope="module")
def runs(tmp_path_factory, scripted_run) -> dict[str, object]:
    """alpha (two repeat runs): task a 2/4 attempts right, b 0/4, c 4/4; beta: all right."""
    root = tmp_path_factory.mktemp("compare")
    tasks = make_tasks(root / "tasks", ["a", "b", "c"])
    common = dict(max_attempts=4, max_workers=4, price_in=1.0, price_out=2.0)
    alpha = {
        "rules": [
            {"match": key_of(tasks["a"]), "responses": [{"content": FLIP}, {"content": WRONG}]},
            {"match": key_of(tasks["b"]), "responses": [{"content": WRONG}]},
        ],
        "default": {"content": FLIP, "usage": USAGE},
    }
    a = scripted_run(root, alpha, model="alpha", repeat_runs=2, **common).result
    b = scripted_run(root, {"default": {"content": FLIP, "usage": USAGE}}, model="beta", **common)
    return {
        "root": root,
        "alpha": [r.run_dir for r in a.runs],
        "beta": b.run_dir,
        "aggregate": a.aggregate_path,
    }


def _all(runs) -> list[Path]:
    return [*runs["alpha"], runs["beta"]]


def test_load_runs_matches_summary_json(runs):
    df = compare.load_runs(_all(runs)).set_index("run_dir")
    assert len(df) == 3
    for run_dir in _all(runs):
        saved = json.loads((run_dir / "summary.json").read_text())
        row = df.loc[str(run_dir)]
        for name in METRICS:
            assert row[name] == pytest.approx(saved["metrics"][name]), name
        assert row["cost_usd"] == pytest.approx(saved["cost_usd"])
        assert (row["model"], row["subset"], row["n_tasks"]) == (
            saved["model"], saved["subset"], saved["n_tasks"])  # fmt: skip
        assert row["n_attempts"] == 12 and row["complete"]
    assert df.loc[str(runs["beta"]), "pass2_weighted"] == 1.0
    assert df.loc[str(runs["alpha"][0]), "pass2_weighted"] == pytest.approx(2 / 3)
    assert df.loc[str(runs["alpha"][0]), "cost_usd"] == pytest.approx(8 * 0.0002 + 4 * 0.002)


def test_task_matrix_and_pass_at_k(runs):
    matrix = compare.load_task_matrix(_all(runs))
    alpha = runs["alpha"][0].name
    assert list(matrix.index) == ["a", "b", "c"]
    assert matrix[alpha].tolist() == [1.0, 0.0, 1.0]
    assert matrix[runs["beta"].name].tolist() == [1.0, 1.0, 1.0]

    summary = compare.recompute_summary(runs["alpha"][0])
    assert summary["pass_at_k_counts"] == {
        "a": {"n": 4, "c": 2}, "b": {"n": 4, "c": 0}, "c": {"n": 4, "c": 4}}  # fmt: skip
    curves = compare.pass_at_k_curves([summary])
    assert curves["k"].tolist() == [1, 2, 3, 4]
    task_a = [0.5, 5 / 6, 1.0, 1.0]  # n=4, c=2: 1 - C(2,k)/C(4,k)
    expected = [(p + 0.0 + 1.0) / 3 for p in task_a]  # b never right, c always
    assert curves["pass_at_k"].tolist() == pytest.approx(expected)


def test_metric_intervals(runs):
    iv = compare.metric_intervals(_all(runs)).set_index(["model", "metric"])
    alpha = iv.loc[("alpha", "pass2_weighted")]
    assert alpha["interval"] == "t" and alpha["n_runs"] == 2
    assert alpha["mean"] == pytest.approx(2 / 3)
    beta = iv.loc[("beta", "pass2_weighted")]
    assert beta["interval"] == "wilson" and beta["n_runs"] == 1
    assert beta["ci95_high"] == 1.0 and beta["ci95_low"] == pytest.approx(0.4385, abs=1e-4)
    assert all(math.isnan(x) for x in wilson_interval(0, 0))


def _texts(fig) -> list[str]:
    """Every text drawn on a figure: titles, tick labels, annotations, legend entries."""
    from matplotlib.text import Text

    fig.canvas.draw()
    return [t.get_text() for t in fig.findobj(Text) if t.get_visible() and t.get_text()]


def test_plots_show_in_jupyter_with_short_labels(runs):
    from matplotlib.collections import PolyCollection

    from arcnb.plotting import ArcFigure

    df = compare.load_runs(_all(runs))
    figures = {
        "cost": compare.plot_cost_vs_score(df),
        "pass_at_k": compare.plot_pass_at_k(compare.pass_at_k_curves(_all(runs)), df),
        "matrix": compare.plot_task_matrix(compare.load_task_matrix(_all(runs)), df),
    }
    for fig in figures.values():
        assert isinstance(fig, ArcFigure)
        assert fig._repr_png_().startswith(b"\x89PNG")  # what Jupyter shows, pyplot or not
        width, height = fig.get_size_inches()
        assert width <= compare.MAX_WIDTH_IN and height <= compare.MAX_HEIGHT_IN
        texts = " ".join(_texts(fig))
        for run_dir in _all(runs):
            assert run_dir.name not in texts  # run ids are long: labels name model, repeat
    labels = compare.run_labels(df)
    assert list(labels["run_id"]) == list(df["run_id"])
    assert labels["label"].is_unique
    assert {label.split(" · ")[0] for label in labels["label"]} == {"alpha", "beta"}
    assert all(len(label) < 40 for label in labels["label"])
    # alpha's two repeat runs are one curve with a band from the lower to the higher run
    bands = figures["pass_at_k"].axes[0].findobj(PolyCollection)
    assert len(bands) == 1
    legend = figures["pass_at_k"].axes[0].get_legend()
    assert [t.get_text() for t in legend.get_texts()][0].endswith("mean of 2 runs")
    assert "beta" in " ".join(t.get_text() for t in legend.get_texts())


def test_cost_vs_score_marks_unpriced_runs(runs):
    df = compare.load_runs(_all(runs))
    beta = df["model"] == "beta"
    df.loc[beta, "cost_usd"] = float("nan")  # as a run of a model with no known price
    fig = compare.plot_cost_vs_score(df)
    ax = fig.axes[0]
    assert "beta" not in ax.get_title() and "unknown" not in ax.get_title()
    texts = _texts(fig)
    assert "cost\nunknown" in texts  # the grey band's label
    # every run is drawn at its score, beta's in the band left of $0
    points = [c.get_offsets()[0] for c in ax.collections if len(c.get_offsets()) == 1]
    assert len(points) == len(df)
    scores = sorted(100 * df["pass2_weighted"])
    assert sorted(y for _, y in points) == pytest.approx(scores)
    assert sum(x < 0 for x, _ in points) == int(beta.sum())
    assert ax.get_xlim()[0] < 0 and ax.get_ylim() == (0, pytest.approx(ax.get_ylim()[1]))


def test_task_matrix_stays_legible_at_400_tasks():
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    ids = [f"2026{m:02d}01T000000Z_model-{m}_arc-agi-1_all_training" for m in range(1, 7)]
    matrix = pd.DataFrame(
        rng.integers(0, 2, size=(400, 6)).astype(float),
        index=[f"{i:08x}" for i in range(400)],
        columns=ids,
    )
    runs = pd.DataFrame(
        {"run_id": ids, "model": [f"model-{m}" for m in range(1, 7)], "subset": "all_training"}
    )
    fig = compare.plot_task_matrix(matrix, runs)
    width, height = fig.get_size_inches()
    assert width <= compare.MAX_WIDTH_IN and height <= compare.MAX_HEIGHT_IN
    assert width >= 6 and height >= 2.5  # not squashed
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == [f"model-{m} · 2026-{m:02d}-01" for m in range(1, 7)]
    assert "subset all_training" in ax.get_title()  # shared by all: said once
    assert len(ax.get_xticklabels()) <= 12  # ranks, not 400 ids
    assert "400 tasks" in ax.get_xlabel()
    assert fig._repr_png_().startswith(b"\x89PNG")


def _killed_copy(runs, tmp_path: Path) -> Path:
    """beta's run as a kill -9 leaves it: no summary.json, last line torn in half."""
    run_dir = tmp_path / runs["beta"].name
    shutil.copytree(runs["beta"], run_dir)
    (run_dir / "summary.json").unlink()
    path = run_dir / "attempts.jsonl"
    data = path.read_bytes()
    last_start = data.rstrip(b"\n").rfind(b"\n") + 1
    path.write_bytes(data[: last_start + (len(data) - last_start) // 2])
    return run_dir


def test_stats_on_killed_run(runs, tmp_path, capsys):
    run_dir = _killed_copy(runs, tmp_path)
    summary = compare.recompute_summary(run_dir)
    assert summary["attempts_expected"] == 12 and summary["attempts_recorded"] == 11
    assert not summary["complete"]
    assert main(["stats", str(run_dir)]) == 0
    out = capsys.readouterr().out
    assert "pass2_weighted" in out and "3 tasks, 11 attempts" in out
    (line,) = [line for line in out.splitlines() if line.startswith("incomplete:")]
    assert "no summary.json" in line and "1 of 12 attempts missing" in line and "torn" in line


def test_stats_complete_run_and_bad_dirs(runs, tmp_path, capsys):
    assert main(["stats", str(runs["beta"])]) == 0
    out = capsys.readouterr().out
    assert "pass2_weighted" in out and "incomplete" not in out
    for bad in (tmp_path, tmp_path / "missing"):
        assert main(["stats", str(runs["beta"]), str(bad)]) == 2
        captured = capsys.readouterr()
        assert captured.out == ""  # nothing printed before the bad directory was found
        assert len(captured.err.strip().splitlines()) == 1 and "not a run directory" in captured.err


def test_stats_json_is_the_recomputed_summary(runs, capsys):
    dirs = [*runs["alpha"], runs["beta"]]
    assert main(["stats", "--json", *map(str, dirs)]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert [s["run_dir"] for s in printed] == [str(d) for d in dirs]
    for summary, run_dir in zip(printed, dirs, strict=True):
        expected = json.loads(json.dumps(compare.recompute_summary(run_dir), default=str))
        assert summary == expected
        saved = json.loads((run_dir / "summary.json").read_text())
        assert summary["metrics"] == pytest.approx(saved["metrics"])
        assert summary["complete"] is True and summary["cost_usd"] > 0


def test_missing_dataset_infers_expected_outputs(runs, tmp_path):
    saved = json.loads((runs["beta"] / "summary.json").read_text())
    run_dir = tmp_path / "moved"
    run_dir.mkdir()
    config = json.loads((runs["beta"] / "config.json").read_text())
    config["settings"]["dataset"] = str(tmp_path / "gone")  # the task folder was deleted
    (run_dir / "config.json").write_text(json.dumps(config))
    (run_dir / "attempts.jsonl").write_bytes((runs["beta"] / "attempts.jsonl").read_bytes())

    summary = compare.recompute_summary(run_dir)
    for name in METRICS:
        assert summary["metrics"][name] == pytest.approx(saved["metrics"][name]), name
    assert summary["attempts_recorded"] == 12
    assert not summary["complete"]
    assert any("could not be loaded" in reason for reason in summary["reasons"])
    assert any("inferred from attempts marked correct" in r for r in summary["reasons"])


def _cleanup(*args: str, **kwargs) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "arcnb.cli", "cleanup-logs", *args],
        capture_output=True, text=True, timeout=60, env=env, **kwargs,
    )  # fmt: skip


@pytest.fixture()
def logs(tmp_path) -> dict[str, Path]:
    logs = tmp_path / "logs"
    now = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    paths = {
        "old": logs / "20200101T000000Z_m_arc-agi-1_x",
        "old_by_mtime": logs / "handmade-run",
        "new": logs / f"{now}_m_arc-agi-1_x",
        "not_a_run": logs / "20200101T000000Z_notes",
    }
    for name, path in paths.items():
        path.mkdir(parents=True)
        if name != "not_a_run":
            (path / "config.json").write_text("{}")
    paths["old_aggregate"] = logs / "20200101T000000Z_m_arc-agi-1_x_aggregate.json"
    paths["old_aggregate"].write_text("{}")
    ten_days_ago = time.time() - 10 * 86400
    os.utime(paths["old_by_mtime"], (ten_days_ago, ten_days_ago))
    paths["logs"] = logs
    return paths


def test_cleanup_logs_yes_removes_only_old_runs(logs, capsys):
    assert (
        main(["cleanup-logs", "--logs-dir", str(logs["logs"]), "--older-than", "7", "--yes"]) == 0
    )
    out = capsys.readouterr().out
    for name in ("old", "old_by_mtime", "old_aggregate"):
        assert not logs[name].exists() and f"removed {logs[name]}" in out
    assert logs["new"].exists() and logs["not_a_run"].exists()


def test_cleanup_logs_refuses_piped_yes(logs):
    result = _cleanup("--logs-dir", str(logs["logs"]), "--older-than", "7", input="y\n")
    assert result.returncode == 1
    assert str(logs["old"]) in result.stdout and "--yes" in result.stderr
    assert logs["old"].exists() and logs["old_aggregate"].exists()


@pytest.mark.parametrize("days", ["-1", "abc", "nan"])
def test_cleanup_logs_bad_days_exit_2(logs, capsys, days):
    assert main(["cleanup-logs", "--logs-dir", str(logs["logs"]), "--older-than", days]) == 2
    assert "--older-than" in capsys.readouterr().err
    assert logs["old"].exists()


@pytest.mark.slow  # a kernel start: about 7 s
def test_notebook_headless_with_papermill(runs, tmp_path, monkeypatch):
    import papermill as pm

    monkeypatch.setenv("MPLBACKEND", "agg")
    out = tmp_path / "out.ipynb"
    pm.execute_notebook(
        str(ROOT / "notebooks" / "compare_runs.ipynb"),
        str(out),
        parameters={"logs_dir": str(runs["root"] / "logs")},
        kernel_name="python3",
        cwd=str(tmp_path),
        progress_bar=False,
    )
    nb = json.loads(out.read_text())
    text = json.dumps([c.get("outputs", []) for c in nb["cells"]])
    assert "pass2_weighted" in text and "<td>beta</td>" in text  # runs and intervals tables
    images = [
        base64.b64decode(output["data"]["image/png"])
        for cell in nb["cells"]
        for output in cell.get("outputs", [])
        if "image/png" in output.get("data", {})
    ]
    assert len(images) == 3  # the task matrix, cost vs score, pass@k: shown, not described
    assert all(image.startswith(b"\x89PNG\r\n\x1a\n") and len(image) > 5000 for image in images)
    for cell in nb["cells"]:  # a figure's text (its fallback) always comes with its image
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if "Figure size" in "".join(data.get("text/plain", [])):
                assert "image/png" in data
    assert "Traceback" not in text


def test_stored_notebook_has_no_outputs():
    nb = json.loads((ROOT / "notebooks" / "compare_runs.ipynb").read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert all(not c["outputs"] and c["execution_count"] is None for c in code)
    assert "parameters" in code[0]["metadata"]["tags"]
