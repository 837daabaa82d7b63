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
import tempfile
from pathlib import Path

import pytest
from arcfixtures import FLIP, ROOT, make_tasks, refused

from arcnb.logs import read_attempts


def _cli(cwd: Path, *args: str, extra_env: dict[str, str] | None = None, prefix: list[str] = ()):
    clean = {k: v for k, v in os.environ.items() if "KEY" not in k}
    clean["PYTHONPATH"] = str(ROOT)
    clean.update(extra_env or {})
    return subprocess.run(
        [*prefix, sys.executable, "-m", "arcnb.cli", *args],
        capture_output=True, text=True, env=clean, cwd=cwd, timeout=120,
    )  # fmt: skip


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed on leaving: nothing listens there


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
        (["--exec-workers", "100000"], ["--exec-workers", "per CPU core", "100000"]),
        (["--task-ids", ""], ["--task-ids"]),
        (["--task-ids", " , "], ["--task-ids"]),
        (["--price-in", "-1"], ["--price-in", "-1"]),
        (["--price-out", "-0.5"], ["--price-out"]),
        (["--max-cost", "inf", "--price-in", "1", "--price-out", "1"], ["--max-cost"]),
        (["--rpm", "0"], ["--rpm", ">= 1", "got 0"]),
        (["--rpm", "-60"], ["--rpm", "-60"]),
        (["--rate-limit-delay", "-1"], ["--rate-limit-delay", ">= 0", "-1"]),
        (["--rate_limit_delay", "inf"], ["--rate-limit-delay", "finite"]),
        (["--rate-limit-delay", "nan"], ["--rate-limit-delay"]),
        (["--strategy", "evolve", "--max-turns", "2"], ["--max-turns must be 1", "evolve"]),
        (["--first-round", "3"], ["--first-round", "only apply", "independent"]),
        (["--round-size", "4", "--parents", "2"], ["--round-size, --parents", "only apply"]),
        (["--strategy", "refine-best", "--parents", "2"], ["--parents", "evolve"]),
        (["--strategy", "evolve", "--max-attempts", "4", "--first-round", "5"],
         ["--first-round", "between 1 and --max-attempts (4)", "5"]),
        (["--strategy", "evolve", "--round-size", "0"], ["--round-size", ">= 1"]),
    ],
)  # fmt: skip
def test_bad_setting_is_one_line_exit_2(root, args, needles):
    refused(_run(root, *args), *needles)
    _nothing_written(root)


def test_output_dir_that_is_a_file(root):
    (root / "logs").write_text("not a directory")
    refused(_run(root), "--output-dir", "a file")
    assert (root / "logs").read_text() == "not a directory"
    (root / "logs").unlink()
    (root / "f").write_text("x")
    proc = _cli(root, "run", "--dataset", str(root / "tasks"), "--subset", "all_evaluation",
                "--model", "m", "--base-url", f"http://127.0.0.1:{_closed_port()}/v1",
                "--output-dir", str(root / "f" / "logs"), "--no-progress")  # fmt: skip
    refused(proc, "--output-dir", "a file")


def test_output_dir_not_writable(tmp_path):
    """As an ordinary user (root writes anywhere, so a root test run switches to uid 65534
    with setpriv): an output directory it cannot write is refused before anything else."""
    root = Path(tempfile.mkdtemp(prefix="arcnb-unwritable-"))  # not under root's 0700 tmp
    try:
        root.chmod(0o755)
        make_tasks(root / "tasks", ["a", "b"])
        (root / "logs").mkdir(mode=0o755)
        if os.geteuid() == 0:
            if shutil.which("setpriv") is None:
                pytest.skip("root without setpriv cannot test as an ordinary user")
            as_user = ["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups"]
        else:
            (root / "logs").chmod(0o500)
            as_user = []
        proc = _cli(root, "run", "--dataset", str(root / "tasks"), "--subset", "all_evaluation",
                    "--model", "m", "--base-url", f"http://127.0.0.1:{_closed_port()}/v1",
                    "--output-dir", str(root / "logs"), "--no-progress", prefix=as_user)  # fmt: skip
        refused(proc, "--output-dir", "not writable")
        _nothing_written(root)
    finally:
        (root / "logs").chmod(0o700)
        shutil.rmtree(root)


def test_directory_named_like_a_task_file(root):
    (root / "tasks" / "c.json").mkdir()
    refused(_run(root), "c.json", "is a directory")
    _nothing_written(root)


def test_deeply_nested_task_json(root):
    deep = root / "tasks" / "deep.json"
    deep.write_text('{"train": ' + "[" * 200_000 + "]" * 200_000 + "}")
    refused(_run(root), "deep.json", "nested too deeply")
    _nothing_written(root)


def test_task_file_name_with_a_space(root):
    shutil.copy(root / "tasks" / "a.json", root / "tasks" / "my task.json")
    refused(_run(root), "my task.json", "rename the file")
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
    line = refused(
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
    refused(_resume(run.run_dir, "--max-cost", "1"), "max_cost 5, not 1")


def test_resume_with_safe_settings_is_allowed_and_recorded(finished):
    # Every attempt is done, so the resume asks nothing (the port is closed) and finishes.
    proc = _resume(
        finished, "--max-workers", "3", "--exec-timeout", "2", "--rpm", "30",
        "--rate-limit-delay", "0.5",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    config = json.loads((finished / "config.json").read_text())
    assert config["settings"]["max_workers"] == 2  # as the run was made
    (entry,) = config["resumed"]
    assert entry["changed"]["max_workers"] == [2, 3]
    assert entry["changed"]["exec_timeout"] == [5.0, 2.0]
    assert entry["changed"]["rpm"] == [None, 30]
    assert entry["changed"]["rate_limit_delay"] == [0.0, 0.5]
    assert "max_attempts" not in entry["changed"]
    assert entry["at"].endswith("+00:00")  # UTC


def test_resume_on_changed_data_is_refused(finished):
    """A task file edited after the run (as arc-agi-1 was corrected after 2019): the run's
    records answer other puzzles, so finishing it on the new data would mix the two."""
    tasks = finished.parent.parent / "tasks"
    task = json.loads((tasks / "a.json").read_text())
    task["test"][0]["output"][0][0] = (task["test"][0]["output"][0][0] + 1) % 10
    (tasks / "a.json").write_text(json.dumps(task))
    (finished / "summary.json").unlink()
    refused(_resume(finished), "--resume", "differ from the ones the run was made on")
    assert not (finished / "summary.json").exists()


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


# ---- a full disk ----------------------------------------------------------------------------
def _private_mounts() -> list[str] | None:
    """An `unshare` prefix giving a private mount namespace (root, or a user namespace)."""
    if shutil.which("unshare") is None:
        return None
    for prefix in (["unshare", "--mount"], ["unshare", "--user", "--map-root-user", "--mount"]):
        probe = subprocess.run([*prefix, "true"], capture_output=True)
        if probe.returncode == 0:
            return prefix
    return None


def test_full_disk_stops_cleanly_and_resume_completes(tmp_path, scripted_server):
    """The run writes onto a 64 KiB tmpfs (a real ENOSPC, in a mount namespace of its own):
    one line and exit 1, every record written before intact; with the tmpfs grown, --resume
    finishes the run, asking only for what was not recorded."""
    prefix = _private_mounts()
    if prefix is None:
        pytest.skip("no private mount namespace here (needs root or user namespaces)")
    make_tasks(tmp_path / "tasks", [f"t{i}" for i in range(8)])
    server, server2 = (scripted_server({"default": {"content": FLIP}}) for _ in range(2))
    disk, saved = tmp_path / "disk", tmp_path / "saved"
    disk.mkdir()
    saved.mkdir()
    clean = {k: v for k, v in os.environ.items() if "KEY" not in k}
    clean["PYTHONPATH"] = str(ROOT)
    cli = f"{sys.executable} -m arcnb.cli run --no-progress"
    script = f"""
        mount -t tmpfs -o size=64k arcnb-full {disk} || exit 99
        {cli} --base-url {server.base_url} --dataset {tmp_path}/tasks --subset all_evaluation --model scripted \\
            --max-attempts 4 --output-dir {disk}/logs >{saved}/out1 2>{saved}/err1
        echo $? >{saved}/rc1
        cp -a {disk}/logs {saved}/full
        mount -o remount,size=64m {disk}
        {cli} --base-url {server2.base_url} --resume {disk}/logs/* >{saved}/out2 2>{saved}/err2
        echo $? >{saved}/rc2
        cp -a {disk}/logs {saved}/resumed
    """
    proc = subprocess.run([*prefix, "sh", "-c", script], cwd=tmp_path, env=clean, timeout=600)
    if proc.returncode == 99:
        pytest.skip("tmpfs cannot be mounted here")
    err1 = (saved / "err1").read_text()
    lines = [line for line in err1.splitlines() if line.strip()]
    assert (saved / "rc1").read_text().strip() == "1", err1
    assert "Traceback" not in err1 and lines[-1].startswith("arcnb: error: no space left")
    assert "--resume" in lines[-1]
    (run_full,) = (saved / "full").iterdir()
    assert not (run_full / "summary.json").exists()
    written = (run_full / "attempts.jsonl").read_bytes()
    assert written.endswith(b"\n")  # no torn line: a record cut short was removed
    before = [json.loads(line) for line in written.splitlines()]
    assert 0 < len(before) < 32

    err2 = (saved / "err2").read_text()
    assert (saved / "rc2").read_text().strip() == "0", err2
    (run_done,) = (saved / "resumed").iterdir()
    final = (run_done / "attempts.jsonl").read_bytes()
    assert final.startswith(written)  # everything written before, byte for byte
    records = read_attempts(run_done)
    assert len({(r["task_id"], r["attempt"]) for r in records}) == 32
    summary = json.loads((run_done / "summary.json").read_text())
    assert summary["n_attempts"] == 32 and summary["metrics"]["pass2_weighted"] == 1.0
    # The resume asked only for attempts not recorded (answers lost to the full disk included).
    assert len(server2.requests) == 32 - len(before)


_APPEND_UNTIL_FULL = """
import json, sys
from arcnb.errors import DiskFullError
from arcnb.logs import RunWriter
writer = RunWriter(sys.argv[1])
n = 0
try:
    while True:  # records of about 7 KB: the last one is cut short by ENOSPC
        writer.append_attempt({"task_id": "t", "attempt": n, "turn": 1, "pad": "x" * 7000})
        n += 1
except DiskFullError as error:
    print(json.dumps({"written": n, "error": str(error)}))
"""


def test_a_record_cut_short_by_a_full_disk_is_removed(tmp_path):
    prefix = _private_mounts()
    if prefix is None:
        pytest.skip("no private mount namespace here (needs root or user namespaces)")
    disk = tmp_path / "disk"
    disk.mkdir()
    script = f"""
        mount -t tmpfs -o size=40k arcnb-full {disk} || exit 99
        mkdir {disk}/run && {sys.executable} -c '{_APPEND_UNTIL_FULL}' {disk}/run || exit 1
        cp {disk}/run/attempts.jsonl {tmp_path}/copy.jsonl
    """
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([*prefix, "sh", "-c", script], env=env, capture_output=True, text=True,
                          timeout=120)  # fmt: skip
    if proc.returncode == 99:
        pytest.skip("tmpfs cannot be mounted here")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["written"] >= 1 and "no space left" in result["error"]
    data = (tmp_path / "copy.jsonl").read_bytes()
    assert data.endswith(b"\n")
    assert [json.loads(line)["attempt"] for line in data.splitlines()] == list(
        range(result["written"])
    )
