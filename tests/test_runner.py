"""`arcnb run` end to end against scripted OpenAI-compatible servers over real HTTP."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from arcfixtures import BROKEN, FLIP, ROOT, WRONG, key_of, make_tasks
from scripted_server import ScriptedServer

from arcnb import run_eval
from arcnb.errors import InputError
from arcnb.logs import read_attempts, read_programs
from arcnb.prompts import encode_grid
from arcnb.rundir import Run

KEY = "fake-key-runner-secret-0123456789abcdef"
LOCAL_EXTRA = "needs the local extra (the test command installs it): uv sync --extra local"

TRUNCATED = "Here it is:\n```python\ndef transform(grid):\n    return [row[::-1] for row in grid]\n"


def hardcoded(task: dict) -> str:
    """A transductive program: looks the answers up instead of computing them."""
    table = {json.dumps(ex["input"]): ex["output"] for ex in task["train"] + task["test"]}
    return f"```python\nimport json\nT = {json.dumps(table)!r}\ndef transform(grid):\n    return json.loads(T)[json.dumps(grid)]\n```"


@pytest.fixture()
def env(monkeypatch, tmp_path):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.chdir(tmp_path)  # no stray .env from the repository
    return tmp_path


def test_metrics_exact_with_faults(env, scripted_run):
    """Exact metrics over every fault kind, with 8 requests in flight.

    A task's attempts send identical requests, so which attempt draws which scripted response
    depends on timing; the metrics do not. A rule holds at most 2 faults, so no attempt can
    draw 3 in a row and exhaust its 3 tries (the client's default): every fault is retried,
    and each task's attempts end with the same multiset of answers in any interleaving.
    """
    tasks = make_tasks(env / "tasks", ["solve", "trans", "fail", "slow", "flaky"])
    script = {
        "rules": [
            {"match": key_of(tasks["solve"]), "cycle": False, "responses": [
                {"status": 429, "retry_after": 0.05}, {"content": FLIP}, {"content": FLIP},
                {"content": WRONG}, {"content": BROKEN}]},
            {"match": key_of(tasks["trans"]), "responses": [
                {"content": hardcoded(tasks["trans"])}, {"content": WRONG}, {"content": WRONG},
                {"content": WRONG}]},
            {"match": key_of(tasks["fail"]), "responses": [{"status": 500}]},
            # hangs far past api_timeout, which is itself far past any answered request's time
            {"match": key_of(tasks["slow"]), "responses": [{"hang": 20, "content": FLIP}]},
            {"match": key_of(tasks["flaky"]), "cycle": False, "responses": [
                {"malformed": True}, {"content": FLIP}, {"content": WRONG},
                {"content": TRUNCATED, "finish_reason": "length"}, {"empty_choices": True},
                {"content": FLIP}]},
        ],
        "default": {"content": WRONG},
    }  # fmt: skip
    result = scripted_run(
        env, script, api_key=KEY, max_attempts=4, max_workers=8, api_timeout=1.0,
    ).result  # fmt: skip
    s = result.summary
    assert s["n_tasks"] == 5 and s["n_attempts"] == 20
    m = s["metrics"]
    assert m["pass2_weighted"] == pytest.approx(3 / 5)  # solve, trans, flaky
    assert m["pass2_weighted_excl_trans"] == pytest.approx(2 / 5)
    assert m["pass2_train_majority"] == pytest.approx(3 / 5)
    assert m["pass2_train_majority_excl_trans"] == pytest.approx(2 / 5)
    assert m["oracle"] == pytest.approx(3 / 5)
    assert m["oracle_excl_trans"] == pytest.approx(2 / 5)
    assert m["all_train_correct"] == pytest.approx(3 / 5)
    assert m["min1_train_correct"] == pytest.approx(3 / 5)
    assert m["min1_code_success"] == pytest.approx(3 / 5)
    assert m["max_length_responses"] == pytest.approx(1 / 20)
    assert m["timeout_responses"] == pytest.approx(4 / 20)
    assert m["api_failure_responses"] == pytest.approx(4 / 20)

    run_dir = result.run_dir
    records = read_attempts(run_dir)
    assert len(records) == 20
    by_task = {}
    for r in records:
        by_task.setdefault(r["task_id"], []).append(r)
    assert {r["failure"] for r in by_task["fail"]} == {"server_error"}
    assert all(r["tries"] == 3 for r in by_task["fail"])
    assert {r["failure"] for r in by_task["slow"]} == {"timeout"}
    assert sorted(r["transductive"] for r in by_task["trans"]) == [False, False, False, True]
    assert all(r["tries"] == 3 for r in by_task["slow"])  # timeouts are retried
    assert sum(r["tries"] for r in by_task["solve"]) == 5  # the 429 was retried
    flaky = by_task["flaky"]
    assert sum(r["max_length"] for r in flaky) == 1
    assert sum(r["tries"] for r in flaky) == 6  # malformed and empty were each retried
    assert sorted(r["test"][0]["correct"] for r in flaky) == [False, True, True, True]
    broken = [r for r in by_task["solve"] if r["train"] and r["train"][0]["status"] == "error"]
    assert len(broken) == 1 and "SyntaxError" in broken[0]["train"][0]["error"]
    # every sampling parameter sent is logged; host:port endpoints get min_p
    assert records[0]["request"]["extra_body"]["min_p"] == 0.05
    # per-task files, summary, programs
    assert sorted(p.stem for p in (run_dir / "tasks").glob("*.json")) == sorted(tasks)
    solve = json.loads((run_dir / "tasks" / "solve.json").read_text())
    assert solve["test_correct"] == 2 and solve["exec_errors"] == 1
    config = json.loads((run_dir / "config.json").read_text())
    assert config["isolation"]["level"] in ("full", "partial")
    assert config["settings"]["max_attempts"] == 4
    programs = read_programs(run_dir)
    assert len(programs) == 12  # attempts with code: 4 + 4 + 4 (flaky); fail/slow have none
    assert_no_secret(run_dir)


def assert_no_secret(folder: Path) -> None:
    for path in folder.rglob("*"):
        if path.is_file():
            assert KEY.encode() not in path.read_bytes(), f"API key found in {path}"


def test_refinement_turns(env, scripted_run):
    tasks = make_tasks(env / "tasks", ["refine"])
    script = {"default": {"turns": {"1": {"content": WRONG}, "2": {"content": FLIP}}}}
    run = scripted_run(env, script, api_key=KEY, max_attempts=2, max_turns=3)
    result = run.result
    second = [r for r in run.requests if len(r["messages"]) > 2]
    records = sorted(read_attempts(result.run_dir), key=lambda r: (r["attempt"], r["turn"]))
    assert [(r["attempt"], r["turn"], r["final"]) for r in records] == [
        (0, 1, False), (0, 2, True), (1, 1, False), (1, 2, True)
    ]  # fmt: skip
    assert records[0]["all_train_correct"] is False and records[1]["all_train_correct"] is True
    assert "Example 1: wrong" in records[1]["feedback"]
    # the refinement request carried the previous code and the expected grid
    assert len(second) == 2
    feedback = second[0]["messages"][-1]["content"]
    assert "return grid" in feedback
    assert encode_grid(tasks["refine"]["train"][0]["output"]).split("\n", 1)[1] in feedback
    assert result.summary["metrics"]["pass2_weighted"] == 1.0


def test_multi_endpoint_spreading(env):
    make_tasks(env / "tasks", ["a", "b", "c"])
    with (
        ScriptedServer({"default": {"content": FLIP, "delay": 0.05}}) as s1,
        ScriptedServer({"default": {"content": FLIP, "delay": 0.05}}) as s2,
    ):
        result = run_eval(
            dataset=str(env / "tasks"), subset="all_evaluation",
            base_url=[s1.base_url, s2.base_url], model="scripted", max_attempts=8,
            max_workers=8, output_dir=str(env / "logs"), progress=False,
        )  # fmt: skip
        n1, n2 = len(s1.requests), len(s2.requests)
    assert n1 + n2 == 24
    assert min(n1, n2) >= 8  # least-outstanding spreading keeps both busy
    endpoints = {r["endpoint"] for r in read_attempts(result.run_dir)}
    assert endpoints == {s1.base_url, s2.base_url}


@pytest.mark.parametrize(
    ("limits", "spacing"),
    [
        ({"rate_limit_delay": 0.3}, 0.3),
        ({"rpm": 150}, 0.4),  # 60 / 150 s
        ({"rpm": 600, "rate_limit_delay": 0.3}, 0.3),  # the longer spacing wins
    ],
    ids=["delay", "rpm", "both"],
)
def test_rate_limit_spaces_request_starts(env, limits, spacing):
    """One limiter for all workers, both endpoints and the retries: every request reaches one
    of the two servers at least `spacing` seconds after the one before (minus 50 ms for the
    trip through the loopback), with 8 workers that would otherwise send them all at once."""
    tasks = make_tasks(env / "tasks", ["a", "b"])
    # Answers take 0.5 s, so requests overlap: the spacing is of starts, not of answers.
    # The first request (task a, to the first endpoint) is refused once: its retry is spaced too.
    slow = {"content": FLIP, "delay": 0.5}
    first_429 = {"rules": [{"match": key_of(tasks["a"]), "cycle": False, "responses": [
        {"status": 429, "retry_after": 0}, slow]}], "default": slow}  # fmt: skip
    with ScriptedServer(first_429) as s1, ScriptedServer({"default": slow}) as s2:
        result = run_eval(
            dataset=str(env / "tasks"), subset="all_evaluation",
            base_url=[s1.base_url, s2.base_url], model="scripted", max_attempts=3,
            max_workers=8, output_dir=str(env / "logs"), progress=False, **limits,
        )  # fmt: skip
        arrivals = sorted(r["_t"] for r in s1.requests + s2.requests)
        assert s1.requests and s2.requests
    tries = [r["tries"] for r in read_attempts(result.run_dir)]
    assert len(tries) == 6 and 2 in tries and len(arrivals) == sum(tries)
    gaps = [b - a for a, b in zip(arrivals, arrivals[1:], strict=False)]
    assert min(gaps) >= spacing - 0.05, gaps
    assert result.summary["metrics"]["pass2_weighted"] == 1.0
    settings = json.loads((result.run_dir / "config.json").read_text())["settings"]
    assert {k: settings[k] for k in limits} == limits


# $2 / $8 per million tokens; 3000 prompt + 1000 or 3000 completion tokens a request.
SMALL, LARGE = {"prompt_tokens": 3000, "completion_tokens": 1000}, {
    "prompt_tokens": 3000, "completion_tokens": 3000}  # fmt: skip
COST = {"small": 0.014, "large": 0.030}  # USD per request at those prices


def _budget_script(kinds: list[str]) -> dict:
    usage = {"small": SMALL, "large": LARGE}
    return {"rules": [{"match": "", "responses": [
        {"content": WRONG, "usage": usage[k], "delay": 0.02} for k in kinds]}]}  # fmt: skip


@pytest.mark.parametrize("kinds", [["small"], ["small", "large", "small"]], ids=["fixed", "mixed"])
def test_budget_spends_the_cap(env, scripted_run, kinds):
    """A cap worth about 25 requests, 16 workers and 96 attempts on offer: the run spends at
    least 80% of the cap and never more than the cap plus one request."""
    make_tasks(env / "tasks", [f"t{i:02}" for i in range(12)])
    mean = sum(COST[k] for k in kinds) / len(kinds)
    cap = round(25 * mean, 4)
    run = scripted_run(
        env, _budget_script(kinds), api_key=KEY, max_attempts=8, max_workers=16,
        price_in=2.0, price_out=8.0, max_cost=cap,
    )  # fmt: skip
    records = read_attempts(run.run_dir)
    costs = [r["cost_usd"] for r in records]
    assert len(records) == len(run.requests) and None not in costs  # every request recorded
    spent = sum(costs)
    assert 0.8 * cap <= spent <= cap + max(COST[k] for k in kinds)
    s = run.result.summary
    assert s["stopped_by"] == "budget" and s["n_tasks"] == 12  # tasks cut short still count
    assert s["budget"]["cap_usd"] == cap
    assert s["budget"]["spent_usd"] == pytest.approx(spent) == s["cost_usd"]
    assert s["budget"]["spent_fraction"] == pytest.approx(spent / cap)
    assert s["budget"]["request_estimate_usd"] in {COST[k] for k in kinds}  # observed, not max
    assert f"of ${cap:g} cap ({100 * spent / cap:.0f}%)" in run.result.table()


def test_budget_raised_on_resume_is_spent_too(env, scripted_run):
    make_tasks(env / "tasks", [f"t{i:02}" for i in range(12)])
    script, cap = _budget_script(["small"]), 10 * COST["small"]
    first = scripted_run(env, script, api_key=KEY, max_attempts=8, max_workers=16,
                         price_in=2.0, price_out=8.0, max_cost=cap)  # fmt: skip
    assert first.result.summary["stopped_by"] == "budget"
    with ScriptedServer(script) as server:
        again = run_eval(
            resume=str(first.run_dir), base_url=server.base_url, max_cost=3 * cap, progress=False
        )
    spent = sum(r["cost_usd"] for r in read_attempts(first.run_dir))
    assert 0.8 * 3 * cap <= spent <= 3 * cap + COST["small"]
    assert again.summary["budget"]["spent_usd"] == pytest.approx(spent)
    assert again.summary["budget"]["cap_usd"] == 3 * cap


def test_a_cap_below_one_request_sends_none_and_resumes(env, scripted_run):
    """A cap under the first request's estimate: nothing is sent, the run still ends with its
    summary (no attempts.jsonl was ever written), and a resume with a higher cap runs it."""
    make_tasks(env / "tasks", ["a"])
    script = _budget_script(["small"])
    first = scripted_run(env, script, api_key=KEY, max_attempts=2, max_tokens=1000,
                         price_in=2.0, price_out=8.0, max_cost=0.001)  # fmt: skip
    assert first.requests == [] and not (first.run_dir / "attempts.jsonl").exists()
    summary = first.result.summary
    assert summary["stopped_by"] == "budget" and summary["n_attempts"] == 0
    assert summary["metrics"]["pass2_weighted"] == 0.0
    with ScriptedServer(script) as server:
        again = run_eval(
            resume=str(first.run_dir), base_url=server.base_url, max_cost=1.0, progress=False
        )
    assert again.summary["n_attempts"] == 2 and again.summary["stopped_by"] is None


def test_no_budget_without_a_cap(env, scripted_run):
    make_tasks(env / "tasks", ["a"])
    run = scripted_run(env, _budget_script(["small"]), api_key=KEY, max_attempts=2,
                       price_in=2.0, price_out=8.0)  # fmt: skip
    assert run.result.summary["budget"] is None and len(run.requests) == 2
    assert " cap " not in run.result.table()


@pytest.mark.parametrize("priced", [False, True])
def test_progress_bar_and_end_table_agree_on_cost(env, scripted_run, capsys, priced):
    """A model with no known price: both say the cost is unknown, not $0; priced: the same $."""
    make_tasks(env / "tasks", ["a", "b"])
    prices = {"price_in": 1.0, "price_out": 2.0} if priced else {}
    run = scripted_run(env, {"default": {"content": FLIP}}, max_attempts=2, progress=True,
                       **prices)  # fmt: skip
    bar = capsys.readouterr().err.replace("\r", "\n").strip().splitlines()[-1]
    table = run.result.table()
    if priced:
        cost = f"${run.result.summary['cost_usd']:.4f}"
        assert f"cost {cost}" in bar and f"cost: {cost}" in table
    else:
        assert run.result.summary["cost_usd"] is None
        assert "cost unknown" in bar and "cost: unknown" in table
        assert "$" not in bar


def test_repeat_runs_aggregate(env, scripted_run):
    make_tasks(env / "tasks", ["a", "b"])
    script = {"default": {"content": FLIP}, "rules": [
        {"match": "never-matches", "responses": [{"content": WRONG}]}]}  # fmt: skip
    result = scripted_run(env, script, api_key=KEY, max_attempts=2, repeat_runs=3).result
    assert len(result.runs) == 3
    assert len({r.run_dir for r in result.runs}) == 3
    agg = json.loads(result.aggregate_path.read_text())
    assert agg["n_runs"] == 3
    w = agg["metrics"]["pass2_weighted"]
    assert w["mean"] == 1.0 and w["std"] == 0.0 and w["ci95_low"] == w["ci95_high"] == 1.0


def test_repeat_runs_cli_prints_turn1_against_all_turns(env):
    """Three runs where feedback always helps: every first answer is wrong, every second
    right. The CLI prints the per-run table (turn 1 vs all turns) and the aggregate with
    its intervals, which stay inside 0-100% even when every run scored 0 or 100%."""
    make_tasks(env / "tasks", ["a", "b"])
    script = {"default": {"turns": {"1": {"content": WRONG}, "2": {"content": FLIP}}}}
    with ScriptedServer(script) as server:
        proc = _cli(
            "run", "--dataset", str(env / "tasks"), "--subset", "all_evaluation",
            "--base-url", server.base_url, "--model", "scripted", "--max-attempts", "2",
            "--max-turns", "2", "--repeat-runs", "3", "--output-dir", str(env / "logs"),
            "--no-progress", "--exec-timeout", "5", env=_cli_env({"OPENAI_API_KEY": KEY}),
            cwd=env,
        )  # fmt: skip
        out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["run", "tasks", "attempts"]
    for i in (1, 2, 3):  # run, tasks, attempts, turn 1, all turns, turn 1 %, all turns %
        assert lines[i].split()[:7] == [str(i), "2", "4", "0", "2", "0.0%", "100.0%"]
    rows = {line.split()[0]: line for line in lines if line.startswith(("pass2_", "oracle"))}
    # Wilson on 0 of 6 pooled task trials: [0, 39.0]; on 6 of 6: [61.0, 100].
    assert rows["pass2_weighted_turn1"].split()[1:] == ["0.0%", "+-0.0", "[0.0,", "0.0]",
                                                        "[0.0,", "39.0]", "0.0"]  # fmt: skip
    assert rows["pass2_weighted"].split()[1:] == ["100.0%", "+-0.0", "[100.0,", "100.0]",
                                                  "[61.0,", "100.0]", "0.0"]  # fmt: skip
    assert "mean turns per attempt: 2.00 (std 0.00)" in out
    agg_path = Path(next(line for line in lines if line.startswith("aggregate: ")).split()[1])
    agg = json.loads(agg_path.read_text())
    assert agg["metrics"]["oracle_turn1"]["values"] == [0.0, 0.0, 0.0]
    assert agg["metrics"]["pass2_weighted"]["pooled_n"] == 6
    for run_dir in agg["runs"]:
        summary = json.loads((Path(run_dir) / "summary.json").read_text())
        assert summary["mean_turns"] == 2.0
        assert summary["metrics"]["mean_train_pixel_accuracy"] == 1.0  # FLIP is exact


def test_every_turns_messages_are_rebuilt_from_the_run(env, scripted_run):
    """The exact messages the server received for every turn, rebuilt from the run
    directory alone; every distinct text is stored once (the shared system prompt too)."""
    make_tasks(env / "tasks", ["a", "b", "c"])
    script = {"default": {"turns": {"1": {"content": WRONG}, "2": {"content": FLIP}}}}
    run = scripted_run(env, script, api_key=KEY, max_attempts=2, max_turns=2)
    received = [body["messages"] for body in run.requests]
    assert len(received) == 12  # 3 tasks x 2 attempts x 2 turns
    stored = Run.open(run.run_dir)
    rebuilt = [
        stored.messages(r["task_id"], r["attempt"], r["turn"]) for r in read_attempts(run.run_dir)
    ]
    assert sorted(map(json.dumps, rebuilt)) == sorted(map(json.dumps, received))
    entries = [json.loads(line) for line in (run.run_dir / "prompts.jsonl").open()]
    texts = [e["text"] for e in entries if e["kind"] == "text"]
    assert len(texts) == len(set(texts)) == 4  # one system prompt, three task prompts
    assert sum(e["kind"] == "prompt" for e in entries) == 3
    with pytest.raises(InputError, match="no recorded turn 3"):
        stored.messages("a", 0, 3)


def _cli(*args: str, env: dict | None = None, cwd: Path | None = None, **kw):
    return subprocess.Popen(
        [sys.executable, "-m", "arcnb.cli", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=cwd, **kw,
    )  # fmt: skip


def _cli_env(extra: dict | None = None) -> dict:
    env = {k: v for k, v in os.environ.items() if "KEY" not in k}
    env["PYTHONPATH"] = str(ROOT)
    env.update(extra or {})
    return env


@pytest.mark.slow
def test_kill_and_resume(env):
    tasks = make_tasks(env / "tasks", [f"t{i}" for i in range(6)])
    # 6 answers, then every request hangs: the kill comes with exactly 6 attempts finished,
    # however slowly this machine runs the CLI or this loop
    first = {"rules": [{"match": "", "cycle": False, "responses": [
        *[{"content": FLIP}] * 6, {"hang": 600, "content": FLIP}]}]}  # fmt: skip
    script = {"default": {"content": FLIP}}
    logs = env / "logs"
    with ScriptedServer(first) as server:
        proc = _cli(
            "run", "--dataset", str(env / "tasks"), "--subset", "all_evaluation",
            "--base-url", server.base_url, "--model", "scripted", "--max_attempts", "4",
            "--max_workers", "3", "--output-dir", str(logs), "--no-progress",
            env=_cli_env({"OPENAI_API_KEY": KEY}), cwd=env,
        )  # fmt: skip
        deadline = time.monotonic() + 120  # only a wait for the CLI, never an assertion
        run_dir = None
        while time.monotonic() < deadline and proc.poll() is None:
            runs = list(logs.glob("*/attempts.jsonl"))
            if runs and len(runs[0].read_text().splitlines()) >= 6:
                run_dir = runs[0].parent
                break
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert run_dir is not None, proc.stderr.read()
    before = {(r["task_id"], r["attempt"]) for r in read_attempts(run_dir)}
    assert len(before) == 6
    assert not (run_dir / "summary.json").exists()
    with ScriptedServer(script) as server2:
        proc = _cli(
            "run", "--resume", str(run_dir), "--base-url", server2.base_url, "--no-progress",
            env=_cli_env({"OPENAI_API_KEY": KEY}), cwd=env,
        )  # fmt: skip
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        asked = {
            (t, i)
            for body in server2.requests
            for t, task in tasks.items()
            if key_of(task) in body["messages"][1]["content"]
            for i in [None]
        }
        n_resumed = len(server2.requests)
    assert n_resumed == 24 - len(before)  # finished attempts were never requested again
    assert len(asked) == 6 - sum(
        all((t, a) in before for a in range(4)) for t in tasks
    )  # fmt: skip
    records = read_attempts(run_dir)
    keys = [(r["task_id"], r["attempt"], r["turn"]) for r in records]
    assert len(keys) == len(set(keys)) == 24  # every attempt exactly once
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["n_tasks"] == 6 and summary["n_attempts"] == 24
    assert summary["metrics"]["pass2_weighted"] == 1.0
    entries = [json.loads(line) for line in (run_dir / "prompts.jsonl").open()]
    hashes = [e["sha256"] for e in entries]
    # the resume stored nothing twice: 6 task texts, 6 prompts, 1 shared system text
    assert len(hashes) == len(set(hashes)) == 13
    stored = Run.open(run_dir)
    assert all(stored.messages(t, a)[1]["content"] for t, a, _ in keys)
    assert_no_secret(run_dir)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--subset", "shortest_trainig_10"], "shortest_training_10"),
        (["--max-attempts", "0"], "--max-attempts"),
        (["--repeat-runs", "11"], "--repeat-runs"),
        (["--base-url", "ftp://x"], "--base-url"),
        (["--dataset", "arc-agi-9"], "arc-agi-1"),
        (["--resume", "/nonexistent"], "--resume"),
        (["--max-cost", "1", "--model", "no-such-model", "--base-url", "http://127.0.0.1:9/v1"],
         "--price-in"),
    ],
)  # fmt: skip
def test_bad_input_exits_2_with_one_line(env, args, needle):
    proc = _cli("run", "--output-dir", str(env / "logs"), *args, env=_cli_env(), cwd=env)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and needle in lines[0] and "Traceback" not in err
    assert not (env / "logs").exists() or not any((env / "logs").iterdir())  # nothing half-written


@pytest.mark.slow
def test_notebook_headless_with_papermill(env):
    """The notebook runs headless; its parameters (stored in the output) hold no key."""
    import papermill as pm

    make_tasks(env / "tasks", ["nb1", "nb2"])
    out = env / "out.ipynb"
    with ScriptedServer({"default": {"content": FLIP}}) as server:
        pm.execute_notebook(
            str(ROOT / "notebooks" / "run_eval.ipynb"),
            str(out),
            parameters={
                "dataset": str(env / "tasks"),
                "subset": "all_evaluation",
                "base_url": server.base_url,
                "model": "scripted",
                "max_attempts": 2,
                "output_dir": str(env / "logs"),
            },
            kernel_name="python3",
            cwd=str(env),
        )
    nb = json.loads(out.read_text())
    text = out.read_text()
    assert KEY not in text
    outputs = "".join("".join(o.get("text", "")) for c in nb["cells"] for o in c.get("outputs", []))
    assert "pass2_weighted" in outputs
    images = [
        o for c in nb["cells"] for o in c.get("outputs", []) if "image/png" in o.get("data", {})
    ]
    assert len(images) == 1  # the per-task bar chart is shown, not described
    runs = list((env / "logs").glob("*/summary.json"))
    assert len(runs) == 1
    assert json.loads(runs[0].read_text())["metrics"]["pass2_weighted"] == 1.0
    assert_no_secret(env / "logs")


@pytest.mark.slow
def test_bundled_local_model_end_to_end(env):
    """No --base-url and no API key: the bundled llama.cpp model answers, 2 tasks x 2 attempts."""
    pytest.importorskip("llama_cpp", reason=LOCAL_EXTRA)
    proc = _cli(
        "run", "--dataset", "arc-agi-1", "--subset", "shortest_training_10", "--limit", "2",
        "--max-attempts", "2", "--max-tokens", "256", "--output-dir", str(env / "logs"),
        env=_cli_env(), cwd=env,
    )  # fmt: skip
    out, err = proc.communicate(timeout=1800)  # a hang guard: 185 s an attempt seen at load 8
    assert proc.returncode == 0, err[-3000:]
    assert "tiny demonstration model" in err
    (run_dir,) = list((env / "logs").iterdir())
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["n_tasks"] == 2 and summary["n_attempts"] == 4
    records = read_attempts(run_dir)
    assert len(records) == 4
    answered = [r for r in records if r["failure"] is None]
    assert answered, [r["error"] for r in records]
    assert all(r["response"]["usage"]["completion_tokens"] > 0 for r in answered)
    config = json.loads((run_dir / "config.json").read_text())
    assert config["local_model"] is True and config["model"] == "smollm2-135m-instruct"
    assert "pass2_weighted" in out


SCIPY_FILL = """I'll fill every region the green walls enclose.
```python
import numpy as np
from scipy import ndimage

def transform(grid):
    a = np.array(grid)
    inside = ndimage.binary_fill_holes(a == 3) & (a == 0)
    a[inside] = 4
    return a
```"""
TORCH = (
    "```python\nimport torch\n\ndef transform(grid):\n    return torch.tensor(grid).tolist()\n```"
)


def test_scipy_programs_run_and_missing_modules_are_counted(env):
    """A real ARC task (00d62c1b: fill what the green walls enclose) solved with
    scipy.ndimage through the whole run; a program importing torch fails as its own
    category, in its record and in the summary."""
    with ScriptedServer({"rules": [{"match": "", "responses": [{"content": SCIPY_FILL},
                                                               {"content": TORCH}]}]}) as s:  # fmt: skip
        result = run_eval(
            dataset="arc-agi-1", task_ids="00d62c1b", base_url=s.base_url, model="scripted",
            max_attempts=2, max_workers=1, output_dir=str(env / "logs"), progress=False,
        )  # fmt: skip
    records = read_attempts(result.run_dir)
    assert len(records) == 2
    (solved,) = [r for r in records if "scipy" in r["code"]]
    (missing,) = [r for r in records if "torch" in r["code"]]
    assert solved["all_train_correct"] and all(e["correct"] for e in solved["test"])
    assert all(
        e["error"].startswith("ModuleNotAvailable: module 'torch'") for e in missing["train"]
    )
    m = result.summary["metrics"]
    assert m["pass2_weighted"] == 1.0
    assert m["module_not_available_responses"] == 0.5


@pytest.mark.parametrize(
    ("grid_format", "images"), [("spaced", "with-text"), ("json", "only"), ("dense", "off")]
)
def test_grid_format_and_images_reach_the_endpoint(env, scripted_run, grid_format, images):
    """What the server received: each grid in the format, and with images a PNG after it
    whose every cell has its colour in the ARC palette (and the borders their grey)."""
    import base64
    import io

    from PIL import Image

    from arcnb.gridimage import BORDER_RGB, CELL_PX, PALETTE_RGB, cell_centre
    from arcnb.prompts import format_sha256

    tasks = make_tasks(env / "tasks", ["img"])
    run = scripted_run(
        env, {"default": {"content": FLIP}}, max_attempts=1, grid_format=grid_format,
        images=images,
    )  # fmt: skip
    assert run.result.summary["metrics"]["pass2_weighted"] == 1.0
    (request,) = run.requests
    system, user = (m["content"] for m in request["messages"])
    task = tasks["img"]
    grids = [g for ex in task["train"] for g in (ex["input"], ex["output"])]
    grids.append(task["test"][0]["input"])
    parts = [{"type": "text", "text": user}] if images == "off" else user
    text = "".join(p["text"] for p in parts if p["type"] == "text")
    rows = encode_grid(grids[-1], grid_format).split("\n", 1)[1]
    assert (rows in text) == (images != "only")
    assert "Test input 1 (3x3):" in text
    pngs = [p["image_url"]["url"] for p in parts if p["type"] == "image_url"]
    assert len(pngs) == (0 if images == "off" else len(grids))
    for url, grid in zip(pngs, grids, strict=False):
        assert url.startswith("data:image/png;base64,")
        image = Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))
        assert image.format == "PNG" and image.mode == "RGB"
        n_rows, n_cols = len(grid), len(grid[0])
        assert image.height == 14 + n_rows * CELL_PX + 1 and image.width >= n_cols * CELL_PX + 1
        for r in range(n_rows):
            for c in range(n_cols):
                x, y = cell_centre(r, c)
                assert image.getpixel((x, y)) == PALETTE_RGB[grid[r][c]], (r, c)
                assert image.getpixel((x + CELL_PX // 2 - 1, y)) == BORDER_RGB  # right border
    described = {"with-text": "also attached as an image", "only": "given as an image only"}
    assert (described.get(images, "not an image") in system) == (images != "off")
    config = json.loads((run.run_dir / "config.json").read_text())
    assert config["grid_format"] == {
        "name": grid_format, "images": images, "sha256": format_sha256(grid_format, images)}  # fmt: skip
    assert Run.open(run.run_dir).messages("img", 0) == request["messages"]
    from arcnb.widgets import RunView, messages_html  # the explorer shows the images sent

    shown = messages_html(RunView(run.run_dir), "img", 0, 1)
    assert shown.count("<img src='data:image/png;base64,") == len(pngs)
    other = next(f for f in ("json", "spaced") if f != grid_format)  # not the default
    with pytest.raises(InputError, match=f"grid_format '{grid_format}', not '{other}'"):
        run_eval(resume=str(run.run_dir), grid_format=other, progress=False)
