"""Bad input is one line on stderr and exit 2, before any request and before anything is
written; a resume with settings that differ from the run's is refused the same way.

The real CLI runs as a subprocess in a clean environment (no *KEY* variable, no .env) against
a closed port on 127.0.0.1, so a check that came too late would show as a connection failure
(exit 1) and a run directory under --output-dir.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from arcfixtures import FLIP, ROOT, make_tasks

from arcnb.logs import read_attempts


def _cli(cwd: Path, *args: str, extra_env: dict[str, str] | None = None):
    clean = {k: v for k, v in os.environ.items() if "KEY" not in k}
    clean["PYTHONPATH"] = str(ROOT)
    clean.update(extra_env or {})
    return subprocess.run(
        [sys.executable, "-m", "arcnb.cli", *args],
        capture_output=True, text=True, env=clean, cwd=cwd, timeout=120,
    )  # fmt: skip


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed on leaving: nothing listens there


def _refused(proc: subprocess.CompletedProcess, *needles: str) -> str:
    """Assert exit 2 with stderr one `arcnb: error:` line holding every needle; return it."""
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert len(lines) == 1 and lines[0].startswith("arcnb: error: "), proc.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


@pytest.fixture()
def root(tmp_path) -> Path:
    make_tasks(tmp_path / "tasks", ["a", "b"])
    return tmp_path


def _run(root: Path, *extra: str, dataset: Path | None = None) -> subprocess.CompletedProcess:
    return _cli(
        root, "run", "--dataset", str(dataset or root / "tasks"), "--subset", "all_evaluation",
        "--model", "m", "--base-url", f"http://127.0.0.1:{_closed_port()}/v1",
        "--output-dir", str(root / "logs"), "--no-progress", *extra,
    )  # fmt: skip


def _nothing_written(root: Path) -> None:
    logs = root / "logs"
    assert not logs.exists() or (logs.is_dir() and not any(logs.iterdir()))


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (["--exec-timeout", "inf"], ["--exec-timeout", "inf"]),
        (["--exec-timeout", "1e300"], ["--exec-timeout", "3600"]),
        (["--exec-timeout", "nan"], ["--exec-timeout"]),
        (["--api-timeout", "inf"], ["--api-timeout"]),
        (["--exec-workers", "0"], ["--exec-workers", ">= 1"]),
        (["--exec-workers", "-1"], ["--exec-workers", "-1"]),
        (["--task-ids", ""], ["--task-ids"]),
        (["--task-ids", " , "], ["--task-ids"]),
        (["--price-in", "-1"], ["--price-in", "-1"]),
        (["--price-out", "-0.5"], ["--price-out"]),
        (["--max-cost", "inf", "--price-in", "1", "--price-out", "1"], ["--max-cost"]),
    ],
)  # fmt: skip
def test_bad_setting_is_one_line_exit_2(root, args, needles):
    _refused(_run(root, *args), *needles)
    _nothing_written(root)


def test_output_dir_that_is_a_file(root):
    (root / "logs").write_text("not a directory")
    _refused(_run(root), "--output-dir", "a file")
    assert (root / "logs").read_text() == "not a directory"
    (root / "logs").unlink()
    (root / "f").write_text("x")
    proc = _cli(root, "run", "--dataset", str(root / "tasks"), "--subset", "all_evaluation",
                "--model", "m", "--base-url", f"http://127.0.0.1:{_closed_port()}/v1",
                "--output-dir", str(root / "f" / "logs"), "--no-progress")  # fmt: skip
    _refused(proc, "--output-dir", "a file")


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write into any directory")
def test_output_dir_not_writable(root):
    (root / "logs").mkdir()
    (root / "logs").chmod(0o500)
    try:
        _refused(_run(root), "--output-dir", "not writable")
    finally:
        (root / "logs").chmod(0o700)
    _nothing_written(root)


def test_directory_named_like_a_task_file(root):
    (root / "tasks" / "c.json").mkdir()
    _refused(_run(root), "c.json", "is a directory")
    _nothing_written(root)


def test_deeply_nested_task_json(root):
    deep = root / "tasks" / "deep.json"
    deep.write_text('{"train": ' + "[" * 200_000 + "]" * 200_000 + "}")
    _refused(_run(root), "deep.json", "nested too deeply")
    _nothing_written(root)


def test_task_file_name_with_a_space(root):
    shutil.copy(root / "tasks" / "a.json", root / "tasks" / "my task.json")
    _refused(_run(root), "my task.json", "rename the file")
    _nothing_written(root)


# ---- resume -------------------------------------------------------------------------------
@pytest.fixture()
def finished(tmp_path, scripted_run) -> Path:
    """A finished two-task run of 2 attempts each, made with the scripted server."""
    make_tasks(tmp_path / "tasks", ["a", "b"])
    run = scripted_run(tmp_path, {"default": {"content": FLIP}}, max_attempts=2, max_workers=2)
    return run.run_dir


def _resume(run_dir: Path, *extra: str) -> subprocess.CompletedProcess:
    return _cli(
        run_dir.parent.parent, "run", "--resume", str(run_dir), "--no-progress",
        "--base-url", f"http://127.0.0.1:{_closed_port()}/v1", *extra,
    )  # fmt: skip


def test_resume_with_other_settings_is_refused_listing_each(finished):
    before = sorted((p.name, p.stat().st_mtime_ns) for p in finished.iterdir())
    n_records = len(read_attempts(finished))
    line = _refused(
        _resume(finished, "--max-attempts", "4", "--model", "other"),
        "--resume: the run was made with",
        "model 'scripted', not 'other'",
        "max_attempts 2, not 4",
    )
    assert line.count(";") == 1
    assert sorted((p.name, p.stat().st_mtime_ns) for p in finished.iterdir()) == before
    assert len(read_attempts(finished)) == n_records


def test_resume_lowering_the_budget_is_refused(tmp_path, scripted_run):
    make_tasks(tmp_path / "tasks", ["a"])
    run = scripted_run(
        tmp_path, {"default": {"content": FLIP}}, max_attempts=1, max_cost=5.0,
        price_in=1.0, price_out=1.0,
    )  # fmt: skip
    _refused(_resume(run.run_dir, "--max-cost", "1"), "max_cost 5, not 1")


def test_resume_with_safe_settings_is_allowed_and_recorded(finished):
    # Every attempt is done, so the resume asks nothing (the port is closed) and finishes.
    proc = _resume(finished, "--max-workers", "3", "--exec-timeout", "2")
    assert proc.returncode == 0, proc.stderr
    config = json.loads((finished / "config.json").read_text())
    assert config["settings"]["max_workers"] == 2  # as the run was made
    (entry,) = config["resumed"]
    assert entry["changed"]["max_workers"] == [2, 3]
    assert entry["changed"]["exec_timeout"] == [5.0, 2.0]
    assert "max_attempts" not in entry["changed"]
    assert entry["at"].endswith("+00:00")  # UTC


def test_resume_skips_records_without_a_key_with_a_warning(finished, scripted_server):
    records = read_attempts(finished)
    lines = (finished / "attempts.jsonl").read_text().splitlines()
    kept = [json.loads(line) for line in lines]
    broken = [
        {k: v for k, v in kept[0].items() if k != "task_id"},
        {**kept[1], "attempt": "1"},
    ]
    # The first two records are replaced by broken copies: their attempts are asked again.
    text = "".join(json.dumps(r) + "\n" for r in broken + kept[2:])
    (finished / "attempts.jsonl").write_text(text)
    (finished / "summary.json").unlink()
    server = scripted_server({"default": {"content": FLIP}})
    proc = _cli(
        finished.parent.parent, "run", "--resume", str(finished), "--no-progress",
        "--base-url", server.base_url,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "skipped 2 record(s) without a valid task_id/attempt/turn" in proc.stderr
    assert len(server.requests) == 2
    done = {(r["task_id"], r["attempt"]) for r in read_attempts(finished)}
    assert done == {(r["task_id"], r["attempt"]) for r in records}
    assert json.loads((finished / "summary.json").read_text())["n_attempts"] == 4
