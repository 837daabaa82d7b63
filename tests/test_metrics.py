"""Tests for arcnb.metrics: hand-computed summaries, aggregates and pass@k."""

import math

import pytest

from arcnb.errors import InputError
from arcnb.logs import RunWriter, read_attempts, read_summary
from arcnb.metrics import (
    METRICS,
    aggregate,
    final_attempts,
    format_aggregate_table,
    format_runs_table,
    format_table,
    pass_at_k,
    summarize,
    t_quantile_975,
    wilson_interval,
)
from arcnb.voting import METHODS

A, B, C, D, X, Y, Z = [[1]], [[2]], [[3]], [[4]], [[5]], [[6]], [[7]]


def ex(output, correct=False, status="ok", px=None):
    pixels = float(correct) if px is None else px
    return {"status": status, "output": output, "error": None, "correct": correct,
            "pixel_accuracy": pixels}  # fmt: skip


def rec(task_id, attempt, turn=1, *, test=(), train=(), acc=0.0, trans=False, **fields):
    train = list(train)
    base = {
        "schema": 1,
        "task_id": task_id,
        "attempt": attempt,
        "turn": turn,
        "final": True,
        "failure": None,
        "max_length": False,
        "code": "def transform(g): ...",
        "train": train,
        "test": list(test),
        "train_accuracy": acc,
        "all_train_correct": bool(train) and all(e["correct"] for e in train),
        "transductive": trans,
        "cost_usd": None,
        "usage": None,
    }
    return base | fields


def failed(task_id, attempt, failure):
    return rec(task_id, attempt, failure=failure, code=None)


EXPECTED = {"t1": [A, C], "t2": [D], "t3": [B]}

# t1 has two test inputs. a0 is transductive and perfect on train; a1 was refined once.
T1 = [
    rec("t1", 0, test=[ex(A, True), ex(X)], train=[ex(A, True)], acc=1.0, trans=True,
        usage={"prompt_tokens": 100, "completion_tokens": 10, "total_tokens": 110},
        cost_usd=0.25),
    rec("t1", 1, 1, final=False, test=[ex(Z), ex(Z)], train=[ex(Z)], cost_usd=0.5),
    rec("t1", 1, 2, test=[ex(A, True), ex(C, True)], train=[ex(Z)]),
    rec("t1", 2, test=[ex(B, px=0.25), ex(Y)], train=[ex(Z)]),
    rec("t1", 3, test=[ex(B), ex(Y)], train=[ex(Z)]),
]  # fmt: skip
# t2: two API failures, and a program that crashed on one train input.
T2 = [
    failed("t2", 0, "timeout"),
    failed("t2", 1, "rate_limit"),
    rec("t2", 2, test=[ex(D, True)], train=[ex(D, True), ex(None, status="error")], acc=0.5,
        max_length=True, usage={"prompt_tokens": 7, "completion_tokens": 3}),
]  # fmt: skip
# A resumed run re-ran t1 attempt 3; the repeat must not count (it would solve test 1).
REPEAT = rec("t1", 3, test=[ex(A, True), ex(C, True)], max_length=True, cost_usd=9.0)
OTHER_TASK = rec("t9", 0, test=[ex(A)], max_length=True)
RECORDS = [*T1, *T2, REPEAT, OTHER_TASK]


def test_final_attempts_keeps_last_turn_and_first_repeat():
    finals = final_attempts(RECORDS)
    assert list(finals) == ["t1", "t2", "t9"]
    assert [(r["attempt"], r["turn"]) for r in finals["t1"]] == [(0, 1), (1, 2), (2, 1), (3, 1)]
    assert finals["t1"][3] is T1[4]
    # Order of attempts does not depend on the order records were written.
    assert [r["attempt"] for r in final_attempts(reversed(T2))["t2"]] == [0, 1, 2]


def test_summarize_hand_computed():
    summary = summarize(RECORDS, ["t1", "t2", "t3"], EXPECTED)
    assert summary["n_tasks"] == 3
    assert summary["n_attempts"] == 7
    assert summary["n_turns"] == 8  # t1: 5 turns, t2: 3; the repeat and t9 are left out
    # t1, weighted: test 0 -> A (1001 + 1); test 1 -> X (1001) then Y (2 votes): 0.5.
    # Without the transductive a0: B and Y lead (2 votes), A and C second: 1.0.
    # train_majority: test 0 and 1 -> only a0 (train 1.0) votes: A, X: 0.5.
    # Without a0 all remaining have train 0.0 and all vote, as weighted: 1.0.
    # t2: D is the only answer: 1.0 everywhere. t3 has no record: 0.
    assert summary["counts"] == {
        "pass2_weighted": 1.5,
        "pass2_weighted_excl_trans": 2.0,
        "pass2_train_majority": 1.5,
        "pass2_train_majority_excl_trans": 2.0,
        "oracle": 2.0,
        "oracle_excl_trans": 2.0,
        # After turn 1, t1 a1 answered Z, Z: weighted and train_majority are as above, and
        # test 1's C is nowhere, so the oracle gets 0.5 of t1 (plus t2's 1.0).
        "pass2_weighted_turn1": 1.5,
        "pass2_train_majority_turn1": 1.5,
        "oracle_turn1": 1.5,
        "all_train_correct": 1,  # t1 a0
        "min1_train_correct": 2,  # t1 a0, t2 a2
        "min1_code_success": 1,  # t1 (t2's program crashed on a train input)
        "max_length_responses": 1,  # t2 a2
        "timeout_responses": 1,
        "api_failure_responses": 1,
        "module_not_available_responses": 0,
        # Final turns, each attempt's mean over its examples (failed calls count 0):
        # train t1 a0 1.0, t2 a2 0.5; test t1 a0 0.5, a1 1.0, a2 0.125, t2 a2 1.0.
        "mean_train_pixel_accuracy": 1.5,
        "mean_test_pixel_accuracy": 2.625,
    }
    assert summary["denominators"]["mean_test_pixel_accuracy"] == 7
    assert summary["metrics"]["mean_train_pixel_accuracy"] == pytest.approx(1.5 / 7)
    assert summary["mean_turns"] == pytest.approx(8 / 7)  # t1 a1 took 2 turns, the rest 1
    assert list(summary["metrics"]) == list(METRICS)
    assert summary["metrics"]["pass2_weighted"] == 0.5
    assert summary["metrics"]["pass2_weighted_excl_trans"] == pytest.approx(2 / 3)
    assert summary["metrics"]["min1_code_success"] == pytest.approx(1 / 3)
    assert summary["metrics"]["max_length_responses"] == 1 / 8
    assert summary["metrics"]["api_failure_responses"] == 1 / 8
    assert summary["denominators"]["oracle"] == 3
    assert summary["denominators"]["timeout_responses"] == 8
    assert summary["tokens"] == {"prompt": 107, "completion": 13, "total": 120}
    assert summary["cost_usd"] == 0.75
    assert summary["cost_unknown_attempts"] == 6

    t1, t2, t3 = (summary["per_task"][t] for t in ("t1", "t2", "t3"))
    assert {k: t1[k] for k in ("attempts", "test_correct", "train_perfect", "exec_errors")} == {
        "attempts": 4,
        "test_correct": 1,
        "train_perfect": 1,
        "exec_errors": 0,
    }
    assert t1["transductive"] == 1
    assert t1["scores"]["weighted"] == 0.5
    assert t2["api_failures"] == 2
    assert t2["train_partial"] == 1
    assert t2["exec_errors"] == 1
    assert t2["test_correct"] == 1
    assert t3["attempts"] == 0
    assert t3["scores"] == dict.fromkeys(METHODS, 0.0)


def test_summary_survives_a_round_trip_through_the_run_directory(tmp_path):
    writer = RunWriter(tmp_path)
    for record in RECORDS:
        writer.append_attempt(record)
    summary = summarize(read_attempts(tmp_path), ["t1", "t2", "t3"], EXPECTED)
    writer.write_summary(summary)
    assert read_summary(tmp_path) == summary
    assert summary == summarize(RECORDS, ["t1", "t2", "t3"], EXPECTED)


def test_unknown_expected_output_counts_as_unsolved():
    records = [rec("t1", 0, test=[ex(A), ex(C)])]
    summary = summarize(records, ["t1"], {"t1": [A, None]})
    assert summary["counts"]["oracle"] == 0.5
    assert summary["per_task"]["t1"]["test_correct"] == 0


def test_empty_run_and_unknown_costs():
    summary = summarize([], ["t1", "t2"], EXPECTED)
    assert summary["metrics"] == dict.fromkeys(METRICS, 0.0)
    assert summary["n_attempts"] == 0
    assert summary["cost_usd"] == 0.0
    unpriced = summarize([failed("t1", 0, "connection")], ["t1"], EXPECTED)
    assert unpriced["cost_usd"] is None
    assert unpriced["cost_unknown_attempts"] == 1
    assert unpriced["metrics"]["api_failure_responses"] == 1.0
    assert "cost: unknown" in format_table(unpriced)


def test_missing_expected_outputs_is_an_error():
    with pytest.raises(InputError, match="t4"):
        summarize([], ["t1", "t4"], EXPECTED)


def test_format_table_lists_every_metric():
    table = format_table(summarize(RECORDS, ["t1", "t2", "t3"], EXPECTED))
    lines = table.splitlines()
    assert lines[0] == "3 tasks, 7 attempts, 8 turns (mean 1.14 per attempt)"
    assert lines[1].split() == ["metric", "count", "%"]
    rows = {line.split()[0]: line.split()[1:] for line in lines[2:-1]}
    assert list(rows) == list(METRICS)
    assert rows["pass2_weighted"] == ["1.5/3", "50.0%"]
    assert rows["oracle"] == ["2/3", "66.7%"]
    assert rows["max_length_responses"] == ["1/8", "12.5%"]
    assert rows["mean_test_pixel_accuracy"] == ["2.62/7", "37.5%"]
    assert lines[-1] == "tokens: 107 prompt, 13 completion; cost: $0.7500 (+6 turns unpriced)"


def _summary(value):
    return {"metrics": dict.fromkeys(METRICS, value)}


def test_aggregate_three_runs():
    agg = aggregate([_summary(0.5), _summary(0.6), _summary(0.7)])
    assert agg["n_runs"] == 3
    assert list(agg["metrics"]) == list(METRICS)
    m = agg["metrics"]["pass2_weighted"]
    # t(0.975, 2) = 4.302653; std = 0.1; half width = 4.302653 * 0.1 / sqrt(3)
    assert m["mean"] == pytest.approx(0.6)
    assert m["std"] == pytest.approx(0.1)
    assert m["ci95_half_width"] == pytest.approx(0.2484138, abs=1e-7)
    assert m["ci95_low"] == pytest.approx(0.6 - 0.2484138, abs=1e-7)
    assert m["ci95_high"] == pytest.approx(0.6 + 0.2484138, abs=1e-7)
    assert m["n_runs"] == 3
    assert m["values"] == [0.5, 0.6, 0.7]
    table = format_aggregate_table(agg)
    assert table.splitlines()[0] == "3 runs"
    assert "pass2_weighted" in table
    assert "60.0%  +-24.8  [35.2, 84.8]           -  10.0" in table  # no counts: no pooled


def _run(successes, tasks=10, turns=1.0):
    """A summary with only pass2_weighted and one response metric, as `summarize` gives."""
    names = ("pass2_weighted", "timeout_responses")
    return {
        "metrics": dict.fromkeys(names, successes / tasks),
        "counts": dict.fromkeys(names, successes),
        "denominators": dict.fromkeys(names, tasks),
        "mean_turns": turns,
    }


def test_aggregate_all_zero_runs_keep_an_honest_interval():
    agg = aggregate([_run(0), _run(0), _run(0)])
    m = agg["metrics"]["pass2_weighted"]
    assert (m["mean"], m["ci95_low"], m["ci95_high"]) == (0.0, 0.0, 0.0)
    # Pooled: 0 of 30 trials; the Wilson score interval, (2np + z^2 +- z sqrt(z^2 + 4np(1-p)))
    # / (2(n + z^2)), is [0, 0.1135].
    assert (m["pooled_count"], m["pooled_n"]) == (0.0, 30)
    assert m["pooled_ci95_low"] == 0.0
    assert m["pooled_ci95_high"] == pytest.approx(0.1135134, abs=1e-6)
    assert "[0.0, 11.4]" in format_aggregate_table(agg)


def test_aggregate_interval_is_clipped_to_unit_range():
    agg = aggregate([_run(0), _run(0), _run(3, turns=2.0)])
    m = agg["metrics"]["pass2_weighted"]
    # mean 0.1, std 0.1732; half width t(0.975, 2) * 0.1732 / sqrt(3) = 0.430 > the mean.
    assert m["ci95_half_width"] == pytest.approx(0.4302653, abs=1e-6)
    assert m["ci95_low"] == 0.0 and m["ci95_high"] == pytest.approx(0.5302653, abs=1e-6)
    high = aggregate([_run(10), _run(10), _run(7)])["metrics"]["pass2_weighted"]
    assert high["ci95_high"] == 1.0 and high["ci95_low"] < high["mean"] < 1.0
    # 3 of 30 pooled: Wilson [0.0346, 0.2562] (the closed form above).
    assert m["pooled_ci95_low"] == pytest.approx(0.034600, abs=1e-5)
    assert m["pooled_ci95_high"] == pytest.approx(0.256211, abs=1e-5)
    assert agg["mean_turns"]["mean"] == pytest.approx(4 / 3)


def test_wilson_interval_matches_the_closed_form():
    z = 1.959963984540054
    for x, n in ((0, 30), (7, 30), (30, 30), (1, 1), (2.5, 4)):
        p = x / n
        root = z * math.sqrt(z * z + 4 * n * p * (1 - p))
        low, high = (
            (2 * n * p + z * z - root) / (2 * (n + z * z)),
            (2 * n * p + z * z + root) / (2 * (n + z * z)),
        )
        got = wilson_interval(x, n)
        assert got[0] == pytest.approx(max(0.0, low), abs=1e-12)
        assert got[1] == pytest.approx(min(1.0, high), abs=1e-12)
    assert all(math.isnan(v) for v in wilson_interval(0, 0))


def test_runs_table_turn1_against_all_turns():
    one = summarize(RECORDS, ["t1", "t2", "t3"], EXPECTED)
    solved = [rec("t3", 0, test=[ex(B, True)], train=[ex(B, True)], acc=1.0)]
    two = summarize(RECORDS + solved, ["t1", "t2", "t3"], EXPECTED)
    lines = format_runs_table([one, two]).splitlines()
    assert lines[0].split() == ["run", "tasks", "attempts", "turn", "1", "all", "turns", "turn",
                                "1", "%", "all", "turns", "%", "oracle", "%", "cost"]  # fmt: skip
    assert lines[1].split() == ["1", "3", "7", "1.5", "1.5", "50.0%", "50.0%", "66.7%", "$0.7500"]
    assert lines[2].split() == ["2", "3", "8", "2.5", "2.5", "83.3%", "83.3%", "100.0%", "$0.7500"]


def test_aggregate_one_run_and_none():
    m = aggregate([_summary(0.25)])["metrics"]["oracle"]
    assert (m["mean"], m["std"], m["ci95_low"], m["ci95_high"]) == (0.25, 0.0, 0.25, 0.25)
    with pytest.raises(InputError):
        aggregate([])


def test_t_quantiles():
    assert t_quantile_975(1) == pytest.approx(12.7062, abs=1e-4)
    assert t_quantile_975(9) == pytest.approx(2.2622, abs=1e-4)
    assert t_quantile_975(30) == pytest.approx(2.0423, abs=1e-4)
    assert t_quantile_975(60) == pytest.approx(2.0003, abs=1e-4)
    assert t_quantile_975(10**6) == pytest.approx(1.95997, abs=1e-5)
    with pytest.raises(InputError):
        t_quantile_975(0)


def test_pass_at_k():
    assert pass_at_k(5, 2, 2) == pytest.approx(1 - 3 / 10)
    assert pass_at_k(10, 0, 2) == 0.0
    assert pass_at_k(10, 10, 2) == 1.0
    assert pass_at_k(4, 3, 2) == 1.0  # any two of four include a correct one
    assert pass_at_k(200, 1, 1) == pytest.approx(1 / 200)
    assert math.isclose(pass_at_k(1000, 7, 100), 1 - math.comb(993, 100) / math.comb(1000, 100))
    for bad in ((5, 6, 1), (5, 1, 0), (5, 1, 6), (5, -1, 1)):
        with pytest.raises(InputError):
            pass_at_k(*bad)
