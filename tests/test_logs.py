"""Tests for arcnb.logs: run directory names, crash-safe writes, secrets, parquet."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pyarrow.parquet as pq
import pytest

from arcnb.errors import ArcnbError, InputError
from arcnb.logs import (
    PROGRAMS_SCHEMA,
    SCHEMA_VERSION,
    RunWriter,
    SecretLeakError,
    done_keys,
    latest_turns,
    list_runs,
    read_attempts,
    read_config,
    read_programs,
    read_summary,
    read_task,
    run_dir_name,
)
from arcnb.rundir import Run

KEY = "fake-key-0123456789abcdef"


def record(task_id="t1", attempt=0, turn=1, **fields):
    base = {
        "schema": SCHEMA_VERSION,
        "run_id": "r",
        "task_id": task_id,
        "attempt": attempt,
        "turn": turn,
        "final": True,
        "model": "m",
        "code": "def transform(g):\n    return g",
        "response": {"content": "...", "reasoning": "think", "finish_reason": "stop"},
        "failure": None,
        "train": [],
        "test": [],
        "train_accuracy": 0.0,
        "transductive": False,
    }
    return base | fields


def example(output, correct=False, status="ok"):
    return {"status": status, "output": output, "error": None, "correct": correct}


def test_run_dir_name_is_utc_and_filename_safe():
    when = datetime(2026, 11, 26, 8, 0, 0, tzinfo=timezone(timedelta(hours=1)))
    assert (
        run_dir_name("openai/gpt-4.1 mini", "arc-agi-1", "shortest_training_10", now=when)
        == "20261126T070000Z_openai-gpt-4.1-mini_arc-agi-1_shortest_training_10"
    )
    naive = datetime(2026, 1, 2, 3, 4, 5)
    assert run_dir_name("a:b\\c", "d", "../e", now=naive) == "20260102T030405Z_a-b-c_d_e"
    assert run_dir_name("m", "d", "s").endswith("Z_m_d_s")


def test_append_and_read_back_in_order(tmp_path):
    writer = RunWriter(tmp_path / "run")
    records = [record(attempt=i, code=f"x = {i}  # é") for i in range(3)]
    for r in records:
        writer.append_attempt(r)
    assert read_attempts(tmp_path / "run") == records
    assert read_attempts(tmp_path / "run" / "attempts.jsonl") == records
    assert done_keys(records) == {("t1", 0, 1), ("t1", 1, 1), ("t1", 2, 1)}
    assert read_attempts(tmp_path / "nothing") == []


def test_torn_last_line_and_blank_lines_are_ignored(tmp_path):
    path = tmp_path / "attempts.jsonl"
    whole = json.dumps(record(attempt=0))
    path.write_text(whole + "\n\n" + whole.replace('"attempt": 0', '"attempt": 1') + "\n")
    with open(path, "a") as handle:
        handle.write(json.dumps(record(attempt=2))[:40])  # killed mid-write
    assert [r["attempt"] for r in read_attempts(tmp_path)] == [0, 1]


def test_bad_line_in_the_middle_is_skipped_and_named(tmp_path):
    (tmp_path / "attempts.jsonl").write_text(
        json.dumps(record()) + "\n{not json\n" + json.dumps(record(attempt=1)) + "\n"
    )
    run = Run.open(tmp_path)
    assert [r["attempt"] for r in run.records()] == [0, 1]
    assert any("skipped 1 line(s) that are not JSON objects" in w for w in run.warnings)


def test_newer_schema_is_refused(tmp_path):
    (tmp_path / "attempts.jsonl").write_text(json.dumps(record(schema=SCHEMA_VERSION + 1)) + "\n")
    with pytest.raises(InputError, match="upgrade arcnb"):
        read_attempts(tmp_path)


def test_resuming_writer_cuts_a_torn_line_and_keeps_a_whole_one(tmp_path):
    path = tmp_path / "attempts.jsonl"
    path.write_text(json.dumps(record(attempt=0)) + "\n" + json.dumps(record(attempt=1))[:30])
    RunWriter(tmp_path).append_attempt(record(attempt=2))
    assert [r["attempt"] for r in read_attempts(tmp_path)] == [0, 2]

    # A whole record whose newline was never written is kept.
    path.write_text(json.dumps(record(attempt=0)) + "\n" + json.dumps(record(attempt=1)))
    assert [r["attempt"] for r in read_attempts(tmp_path)] == [0, 1]
    RunWriter(tmp_path).append_attempt(record(attempt=2))
    assert [r["attempt"] for r in read_attempts(tmp_path)] == [0, 1, 2]


_APPENDER = textwrap.dedent(
    """
    import sys
    from arcnb.logs import RunWriter
    writer = RunWriter(sys.argv[1])
    print("ready", flush=True)
    i = 0
    while True:
        writer.append_attempt({"schema": 1, "task_id": "t", "attempt": i, "turn": 1,
                               "reasoning": "x" * (1000 + 37 * (i % 500))})
        i += 1
    """
)


def test_kill_9_while_appending_leaves_only_whole_records(tmp_path):
    run = tmp_path / "run"
    child = subprocess.Popen(
        [sys.executable, "-c", _APPENDER, str(run)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout.readline() == "ready\n"
        # kill mid-stream once some records are whole: waiting for them (rather than for a
        # fixed time) keeps `len(records) > 0` true on a slow machine
        jsonl, deadline = run / "attempts.jsonl", time.monotonic() + 60
        while time.monotonic() < deadline and (
            not jsonl.exists() or jsonl.read_bytes().count(b"\n") < 20
        ):
            time.sleep(0.01)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    records = read_attempts(run)
    assert len(records) > 0
    assert [r["attempt"] for r in records] == list(range(len(records)))
    assert all(len(r["reasoning"]) == 1000 + 37 * (r["attempt"] % 500) for r in records)
    writer = RunWriter(run)
    writer.append_attempt({"schema": 1, "task_id": "t", "attempt": 10**6, "turn": 1})
    assert read_attempts(run)[-1]["attempt"] == 10**6
    assert len(read_attempts(run)) == len(records) + 1


def test_json_files_are_replaced_atomically(tmp_path):
    writer = RunWriter(tmp_path)
    writer.write_config({"model": "m", "n": 1})
    writer.write_config({"model": "m", "n": 2})
    writer.write_summary({"metrics": {"oracle": 0.5}})
    writer.write_task("007bbfb7", {"score": 1.0})
    assert read_config(tmp_path) == {"model": "m", "n": 2}
    assert read_summary(tmp_path) == {"metrics": {"oracle": 0.5}}
    assert read_task(tmp_path, "007bbfb7") == {"score": 1.0}
    assert read_task(tmp_path, "00000000") is None
    leftovers = [p.name for p in tmp_path.rglob("*") if p.name.endswith(".tmp")]
    assert leftovers == []
    with pytest.raises(InputError, match="file name"):
        writer.write_task("../escape", {})


def test_missing_and_malformed_files(tmp_path):
    with pytest.raises(InputError, match="not a run directory"):
        read_config(tmp_path)
    assert read_summary(tmp_path) is None
    (tmp_path / "config.json").write_text("{oops")
    with pytest.raises(InputError, match="not valid JSON"):
        read_config(tmp_path)


def test_list_runs_sorted_by_start_time(tmp_path):
    for name in ("20260102T000000Z_m_d_s", "20260101T000000Z_m_d_s"):
        RunWriter(tmp_path / name).write_config({})
    (tmp_path / "not_a_run").mkdir()
    assert [p.name for p in list_runs(tmp_path)] == [
        "20260101T000000Z_m_d_s",
        "20260102T000000Z_m_d_s",
    ]
    assert list_runs(tmp_path / "missing") == []


def test_secrets_are_never_written(tmp_path):
    writer = RunWriter(tmp_path, secrets=[KEY, "EMPTY", ""])
    writer.append_attempt(record())
    before = (tmp_path / "attempts.jsonl").read_bytes()
    with pytest.raises(SecretLeakError) as caught:
        writer.append_attempt(record(response={"content": f"my key is {KEY}"}))
    assert isinstance(caught.value, ArcnbError)
    assert KEY not in str(caught.value)
    assert (tmp_path / "attempts.jsonl").read_bytes() == before
    with pytest.raises(SecretLeakError):
        writer.write_config({"api_key": KEY})
    assert not (tmp_path / "config.json").exists()
    with pytest.raises(SecretLeakError):
        writer.write_task("t1", {"note": f"Bearer {KEY}"})
    with pytest.raises(SecretLeakError):
        writer.write_summary({"x": [KEY]})
    with pytest.raises(SecretLeakError):
        writer.write_programs([record(code=f"KEY = '{KEY}'")])
    assert not (tmp_path / "programs.parquet").exists()
    # Short placeholders are not secrets: ordinary text containing them is written.
    writer.append_attempt(record(code="return EMPTY"))


def test_secret_with_json_escaped_characters(tmp_path):
    secret = 'abc"def\\ghi'
    writer = RunWriter(tmp_path, secrets=[secret])
    with pytest.raises(SecretLeakError):
        writer.append_attempt(record(code=secret))


def test_latest_turns_keeps_the_last_turn_and_the_first_repeat():
    records = [
        record(attempt=0, turn=1, final=False, code="a"),
        record(attempt=1, turn=1, code="b"),
        record(attempt=0, turn=2, code="c"),
        record(attempt=1, turn=1, code="b-again"),  # a resumed run re-ran it
    ]
    assert [r["code"] for r in latest_turns(records)] == ["c", "b"]


def test_programs_parquet_round_trip(tmp_path):
    grid = [[1, 2], [3, 4]]
    records = [
        record(
            attempt=0,
            turn=1,
            final=False,
            code="old",
            train=[example([[0]])],
        ),
        record(
            attempt=0,
            turn=2,
            code="new",
            train=[example(grid, correct=True), example(None, status="error")],
            test=[example([[5]]), example("not a grid", status="invalid")],
            train_accuracy=0.5,
            transductive=True,
        ),
        record(attempt=1, code=None, failure="timeout", response=None),
        record(task_id="t2", attempt=0, response=None, test=[example([[7, 8]], correct=True)]),
    ]
    writer = RunWriter(tmp_path)
    writer.write_programs(records)
    assert pq.read_schema(tmp_path / "programs.parquet").equals(PROGRAMS_SCHEMA)
    rows = read_programs(tmp_path)
    assert rows == [
        {
            "task_id": "t1",
            "attempt": 0,
            "turn": 2,
            "model": "m",
            "code": "new",
            "reasoning": "think",
            "predicted_train_output": [grid, None],
            "correct_train_input": [True, False],
            "predicted_test_output": [[[5]], None],
            "correct_test_input": [False, False],
            "train_accuracy": 0.5,
            "transductive": True,
        },
        {
            "task_id": "t2",
            "attempt": 0,
            "turn": 1,
            "model": "m",
            "code": "def transform(g):\n    return g",
            "reasoning": None,
            "predicted_train_output": [],
            "correct_train_input": [],
            "predicted_test_output": [[[7, 8]]],
            "correct_test_input": [True],
            "train_accuracy": 0.0,
            "transductive": False,
        },
    ]


def test_empty_run_writes_an_empty_parquet_with_the_schema(tmp_path):
    RunWriter(tmp_path).write_programs([])
    table = pq.read_table(tmp_path / "programs.parquet")
    assert table.num_rows == 0
    assert table.schema.equals(PROGRAMS_SCHEMA)
    assert read_programs(tmp_path) == []


def test_numpy_values_are_serialised(tmp_path):
    writer = RunWriter(tmp_path)
    writer.append_attempt(
        record(train_accuracy=np.float64(0.5), test=[example(np.eye(2, dtype=int))])
    )
    (back,) = read_attempts(tmp_path)
    assert back["train_accuracy"] == 0.5
    assert back["test"][0]["output"] == [[1, 0], [0, 1]]
    assert os.path.getsize(tmp_path / "attempts.jsonl") > 0


def test_now_default_is_current_utc():
    before = datetime.now(UTC).replace(microsecond=0)  # the name has whole seconds
    name = run_dir_name("m", "d", "s")
    after = datetime.now(UTC)
    stamp = datetime.strptime(name.split("_")[0], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    assert before <= stamp <= after
