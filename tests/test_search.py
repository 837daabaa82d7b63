"""Search strategies (`--strategy refine-best | evolve`) end to end over real HTTP.

The scripted endpoint answers by what a request shows: a first-round request (the task alone)
draws the next of a fixed set of programs; a later request draws the program scripted for the
parent(s) its prompt shows, recognised by a marker comment in their code. Which parent each
request showed is therefore known from what the server received, independently of the
records, and the tests check both against the strategy's rule.
"""

from __future__ import annotations

import json
import re

import pytest
from arcfixtures import FIRST_ROUND, SEARCH_SCRIPT, make_tasks
from arcfixtures import MARKED_A as A
from arcfixtures import MARKED_B as B
from arcfixtures import MARKED_C as C
from arcfixtures import MARKED_E as E
from arcfixtures import MARKED_F as F
from arcfixtures import marked_rule as rule

from arcnb.errors import InputError
from arcnb.logs import read_attempts
from arcnb.rundir import Run

B2 = (  # the same outputs as B, written differently
    "```python\n# mark:B2;\ndef transform(grid):\n"
    "    if grid[0][0] != 8:\n        return grid\n    return [list(reversed(r)) for r in grid]\n```"
)


def marks(text: str) -> list[str]:
    """The program markers in a text, in order."""
    return re.findall(r"# mark:(\w+);", text)


def user_text(body: dict) -> str:
    """The text of a request's last user message (text parts joined)."""
    content = body["messages"][-1]["content"]
    if isinstance(content, list):
        return "\n".join(p.get("text", "") for p in content if p.get("type") == "text")
    return content


def test_refine_best_refines_the_best_programs_until_one_is_right(search_run):
    records = sorted(read_attempts(search_run.run_dir), key=lambda r: r["attempt"])
    mark = {r["attempt"]: marks(r["code"])[0] for r in records}
    # three rounds (3 samples, then 2 + 2 refinements), then F is right on every train pair:
    # the task stops with 3 of its 10 requests unspent
    assert len(search_run.requests) == len(records) == 7
    assert [r["round"] for r in records] == [1, 1, 1, 2, 2, 3, 3]
    assert all(r["turn"] == 1 and r["final"] for r in records)
    shown = {tuple(mark[p] for p in r["parents"]) for r in records if r["round"] == 2}
    # round 2: the two best of A (0/2), B (1/2), C (0/2, a wrong shape: no pixel right)
    assert shown == {("B",), ("A",)}
    # round 3: D ties B on train pairs (1/2) but was never refined: D and B
    shown = {tuple(mark[p] for p in r["parents"]) for r in records if r["round"] == 3}
    assert shown == {("D",), ("B",)}
    assert all(not r["parents"] for r in records if r["round"] == 1)
    assert sorted(mark.values()) == ["A", "B", "C", "D", "D", "E", "F"]
    # what the server received agrees with the records: each refinement showed its parent
    for body in search_run.requests:
        text = user_text(body)
        assert len(marks(text)) <= 1
    (to_d,) = [b for b in search_run.requests if marks(user_text(b)) == ["D"]]
    text = user_text(to_d)
    assert "It got 1 of the 2 example pairs right" in text
    assert "Example 1: wrong." in text and "Expected output (3x3):" in text
    assert "Example 2: correct." in text


def test_refine_best_metrics_per_round(search_run):
    summary = search_run.result.summary
    rounds = summary["per_round"]
    assert [r["round"] for r in rounds] == [1, 2, 3]
    assert [r["attempts"] for r in rounds] == [3, 2, 2]
    assert [r["pass2_weighted"] for r in rounds] == [0.0, 0.0, 1.0]
    assert [r["all_train_correct"] for r in rounds] == [0.0, 0.0, 1.0]
    assert summary["metrics"]["pass2_weighted"] == 1.0 and summary["n_attempts"] == 7
    assert "after round" in search_run.result.table()


def test_search_messages_are_rebuilt_from_the_run(search_run):
    """Every request, search text included, rebuilt exactly from the run directory, with
    roles alternating (the search text joins the first user message)."""
    run = Run.open(search_run.run_dir)
    rebuilt = [run.messages(r["task_id"], r["attempt"]) for r in read_attempts(run.path)]
    received = [body["messages"] for body in search_run.requests]
    assert sorted(map(json.dumps, rebuilt)) == sorted(map(json.dumps, received))
    assert all([m["role"] for m in msgs] == ["system", "user"] for msgs in received)


@pytest.mark.parametrize("strategy", ["refine-best", "evolve"])
def test_budget_in_requests_per_task(tmp_path, scripted_run, strategy):
    """A task that is never solved spends exactly --max-attempts requests, in rounds of
    --first-round then --round-size (the last one cut to what is left)."""
    make_tasks(tmp_path / "tasks", ["t", "u"])
    run = scripted_run(
        tmp_path, {"default": {"content": A}}, strategy=strategy, max_attempts=5,
        first_round=2, round_size=2,
    )  # fmt: skip
    records = list(read_attempts(run.run_dir))
    assert len(run.requests) == len(records) == 10
    for task in ("t", "u"):
        mine = sorted((r for r in records if r["task_id"] == task), key=lambda r: r["attempt"])
        assert [r["attempt"] for r in mine] == [0, 1, 2, 3, 4]
        assert [r["round"] for r in mine] == [1, 1, 2, 2, 3]
        # parents are always earlier attempts; every program ties (0/2, same outputs), so
        # the ranking falls to times already shown, then the earlier attempt
        if strategy == "refine-best":
            assert [r["parents"] for r in mine] == [[], [], [0], [1], [2]]
        else:  # the programs' outputs are all the same: one distinct parent, the best
            assert [r["parents"] for r in mine] == [[], [], [0], [0], [1]]
    assert run.result.summary["per_round"][-1]["attempts"] == 2  # both tasks' round 3


def test_evolve_shows_several_diverse_parents_with_images(tmp_path, scripted_run):
    make_tasks(tmp_path / "tasks", ["t"])
    script = {
        "rules": [
            rule("C", F),  # a child shown C solves the task
            rule("A", E),
            {"match": FIRST_ROUND, "responses": [{"content": c} for c in (A, B, B2, C)]},
        ]
    }
    run = scripted_run(
        tmp_path, script, strategy="evolve", max_attempts=12, first_round=4, round_size=2,
        parents=2, images="with-text",
    )  # fmt: skip
    records = sorted(read_attempts(run.run_dir), key=lambda r: r["attempt"])
    mark = {r["attempt"]: marks(r["code"])[0] for r in records}
    assert [r["round"] for r in records] == [1, 1, 1, 1, 2, 2]
    children = [r for r in records if r["round"] == 2]
    shown = sorted(tuple(mark[p] for p in r["parents"]) for r in children)
    # B and B2 give the same outputs: only one of them (the best: the earlier) is a parent.
    # Every child sees it first; the second parent rotates through A, then C (no pixel right).
    best = mark[min(a for a, m in mark.items() if m in ("B", "B2"))]
    assert shown == [(best, "A"), (best, "C")]
    second = [b for b in run.requests if "Program 1 (" in user_text(b)]
    assert len(second) == 2
    for body in second:
        text = user_text(body)
        assert "Program 1 (1 of 2 example pairs right)" in text
        assert "Program 2 (0 of 2 example pairs right)" in text and "Program 3" not in text
        assert not {"B", "B2"} <= set(marks(text))
        # the first turn's images travel with the search text (a last text part)
        parts = body["messages"][-1]["content"]
        assert sum(p["type"] == "image_url" for p in parts) == 5  # 2 pairs and 1 test input
        assert parts[-1]["type"] == "text" and "Program 2 (" in parts[-1]["text"]
    assert run.result.summary["metrics"]["pass2_weighted"] == 1.0


def test_search_resume_replays_rounds_exactly(tmp_path, scripted_run):
    """Stopped by --max-cost part way through, then resumed: the same attempts, rounds and
    parents as an uninterrupted run, and no request asked twice."""
    for name in ("whole", "cut"):
        make_tasks(tmp_path / name / "tasks", ["t", "u"])
    settings = dict(
        strategy="refine-best", max_attempts=6, first_round=2, round_size=2, price_in=10.0,
        price_out=1000.0, max_tokens=100, max_workers=2,
    )  # fmt: skip
    script = {"default": {"content": A}}  # 100 + 50 tokens a request: $0.051 each
    whole = scripted_run(tmp_path / "whole", script, **settings)
    cut = scripted_run(tmp_path / "cut", script, max_cost=0.3, **settings)
    assert cut.result.summary["stopped_by"] == "budget"
    assert cut.result.summary["cost_usd"] <= 0.3
    n_cut = len(cut.requests)
    assert 0 < n_cut < 12
    resumed = scripted_run(
        tmp_path / "cut", script, resume=str(cut.run_dir), max_cost=100.0, max_workers=2
    )
    assert n_cut + len(resumed.requests) == 12

    def lineage(run_dir):
        return sorted(
            (r["task_id"], r["attempt"], r["round"], r["parents"]) for r in read_attempts(run_dir)
        )

    assert lineage(cut.run_dir) == lineage(whole.run_dir)
    assert resumed.result.summary["n_attempts"] == 12


def test_resuming_a_finished_search_asks_nothing_and_refinishes_nothing(
    tmp_path, scripted_run, capsys
):
    make_tasks(tmp_path / "tasks", ["t", "u"])
    run = scripted_run(tmp_path, SEARCH_SCRIPT, strategy="refine-best", max_attempts=4)
    votes = {p.name: p.read_bytes() for p in (run.run_dir / "tasks").iterdir()}
    capsys.readouterr()
    again = scripted_run(tmp_path, SEARCH_SCRIPT, resume=str(run.run_dir), progress=True)
    assert again.requests == []
    err = capsys.readouterr().err
    assert "run directory: " in err  # the progress output was on
    assert not re.search(r"(?m)(^|\r)[tu]: \d+ attempts", err), err  # no task line again
    assert {p.name: p.read_bytes() for p in (run.run_dir / "tasks").iterdir()} == votes
    assert again.result.summary["metrics"] == run.result.summary["metrics"]


def test_resume_refuses_a_run_planned_by_another_search_version(tmp_path, scripted_run):
    make_tasks(tmp_path / "tasks", ["t"])
    run = scripted_run(tmp_path, {"default": {"content": A}}, strategy="evolve", max_attempts=3)
    config_path = run.run_dir / "config.json"
    config = json.loads(config_path.read_text())
    config_path.write_text(json.dumps({**config, "search_version": 0}))
    with pytest.raises(InputError, match="search planner version 0"):
        scripted_run(tmp_path, {"default": {"content": A}}, resume=str(run.run_dir))


def test_an_unknown_strategy_is_refused_before_anything_runs(tmp_path):
    from arcnb import run_eval

    make_tasks(tmp_path / "tasks", ["t"])
    with pytest.raises(InputError, match="--strategy must be one of independent, refine-best"):
        run_eval(
            dataset=str(tmp_path / "tasks"), subset="all_evaluation", model="m",
            base_url="http://127.0.0.1:9/v1", strategy="beam", output_dir=str(tmp_path / "logs"),
        )  # fmt: skip
    assert not (tmp_path / "logs").exists()


def _record(attempt, right, outputs, parents=(), failure=None, code="def transform(g): ..."):
    """A task record with two train examples, `right` of them correct."""
    train = [
        {"output": outputs, "status": "ok", "correct": i < right, "pixel_accuracy": 0.5}
        for i in range(2)
    ]
    return {
        "attempt": attempt, "parents": list(parents), "failure": failure, "code": code,
        "train": train, "test": [], "train_accuracy": right / 2, "all_train_correct": right == 2,
    }  # fmt: skip


def test_plan_round_rules():
    from arcnb.search import Request, candidate, plan_round

    def plan(strategy, records, **kw):
        options = {"budget": 12, "first_round": 3, "round_size": 3, "parents": 3, **kw}
        return plan_round(strategy, [candidate(r) for r in records], **options)

    assert plan("evolve", []) == [Request(0), Request(1), Request(2)]
    assert plan("independent", [], budget=2) == [Request(0), Request(1)]
    # five programs with distinct outputs, ranked 1, 0, 2, 3, 4 (more right first; attempt 4
    # failed and attempt 5 answered no code: neither is ever a parent)
    records = [
        _record(0, 1, [[0]]), _record(1, 1, [[1]]), _record(2, 0, [[2]]), _record(3, 0, [[3]]),
        _record(4, 1, None, failure="timeout"), _record(5, 1, [[5]], code=None),
    ]  # fmt: skip
    records[1]["train"][0]["pixel_accuracy"] = 1.0  # 1 ties 0 on examples, wins on pixels
    assert plan("refine-best", records) == [Request(6, (1,)), Request(7, (0,)), Request(8, (2,))]
    # evolve: the best first in every child, the others rotating through the rest
    assert plan("evolve", records) == [
        Request(6, (1, 0, 2)), Request(7, (1, 3, 0)), Request(8, (1, 2, 3))
    ]  # fmt: skip
    assert plan("evolve", records, parents=1) == [Request(a, (1,)) for a in (6, 7, 8)]
    # the round is cut to the budget left, and nothing is planned once it is spent
    assert plan("refine-best", records, budget=7) == [Request(6, (1,))]
    assert plan("refine-best", records, budget=6) == []
    # a program right on every train example ends the search
    assert plan("evolve", [*records, _record(6, 2, [[9]])]) == []
    # nothing to build on: fresh samples
    failed = [_record(a, 0, None, failure="server_error") for a in range(3)]
    assert plan("refine-best", failed) == [Request(3), Request(4), Request(5)]
    # a request that failed did not use its parent up: 1 stays ahead of 0 after one refined
    # 1 and failed, where an answered refinement of 1 puts 0 first
    refined = _record(6, 0, [[6]], parents=(1,))
    assert plan("refine-best", [*records, {**refined, "failure": "timeout"}], round_size=1) == [
        Request(7, (1,))
    ]
    assert plan("refine-best", [*records, refined], round_size=1) == [Request(7, (0,))]
