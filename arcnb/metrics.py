"""Attempt records -> a run's metrics; repeat runs -> mean, spread and 95% intervals.

Two kinds of metric, with different denominators:

* Task metrics (``pass2_*``, ``oracle*``, ``all_train_correct``, ``min1_*``) are fractions
  of the tasks asked for. A task with no record at all (every call failed before
  anything was logged) scores 0 and still counts. They look at each attempt's final
  turn (its highest recorded turn, see `arcnb.rundir`), except the ``*_turn1`` ones,
  which vote the same attempts as they stood after their first turn: the difference
  between ``pass2_weighted_turn1`` and ``pass2_weighted`` is what the refinement turns
  (feedback on the train examples) added.
* Attempt metrics (``mean_train_pixel_accuracy``, ``mean_test_pixel_accuracy``) are
  means over attempts (their final turns) of the attempt's mean per-example pixel
  accuracy; an attempt without a program (no code, failed call) counts 0. The test one
  counts only attempts of tasks whose test outputs are all known.
* Response metrics (``max_length_responses``, ``timeout_responses``,
  ``api_failure_responses``) are fractions of the attempt turns recorded, since every
  turn is a model call that can hit the length limit or fail.

Repeated ``(task_id, attempt, turn)`` records (a resumed run re-ran a turn) count once.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from arcnb.errors import InputError
from arcnb.grid import Grid
from arcnb.rundir import SCHEMA_VERSION, Run, latest_turns, record_key
from arcnb.voting import METHODS, vote_task

__all__ = [
    "METRICS",
    "ATTEMPT_METRICS",
    "RESPONSE_METRICS",
    "SummaryBuilder",
    "TASK_METRICS",
    "aggregate",
    "final_attempts",
    "format_aggregate_table",
    "format_cost",
    "format_runs_table",
    "format_table",
    "pass_at_k",
    "summarize",
    "summarize_run",
    "t_quantile_975",
    "task_summary",
    "wilson_interval",
]

_VOTE_METRICS = {
    "pass2_weighted": "weighted",
    "pass2_weighted_excl_trans": "weighted_excl_trans",
    "pass2_train_majority": "train_majority",
    "pass2_train_majority_excl_trans": "train_majority_excl_trans",
    "oracle": "oracle",
    "oracle_excl_trans": "oracle_excl_trans",
}
"""Metric name -> voting method in `arcnb.voting.METHODS`."""

_TURN1_METRICS = {
    "pass2_weighted_turn1": "weighted",
    "pass2_train_majority_turn1": "train_majority",
    "oracle_turn1": "oracle",
}
"""The same votes over each attempt's first turn: what a run with one turn would score."""

TASK_METRICS = (
    *_VOTE_METRICS,
    *_TURN1_METRICS,
    "all_train_correct",
    "min1_train_correct",
    "min1_code_success",
)
"""Metrics whose denominator is the number of tasks asked for."""

ATTEMPT_METRICS = ("mean_train_pixel_accuracy", "mean_test_pixel_accuracy")
"""Means over attempts (final turns): the numerator is a sum of accuracies, not a count."""

RESPONSE_METRICS = (
    "max_length_responses",
    "timeout_responses",
    "api_failure_responses",
    "module_not_available_responses",
)
"""Metrics whose denominator is the number of attempt turns recorded."""

MODULE_NOT_AVAILABLE = "ModuleNotAvailable"
"""The error type of a program that imported a module the sandbox lacks (`arcnb.executor`):
its own category, since it says nothing of the model's grasp of the task."""

METRICS = TASK_METRICS + ATTEMPT_METRICS + RESPONSE_METRICS
"""Every key of ``summary["metrics"]``, in display order."""

# Two-sided 95% quantiles of Student's t, t(0.975, df), for df = 1..30.
_T975 = (
    12.706204736, 4.302652730, 3.182446305, 2.776445105, 2.570581836,
    2.446911851, 2.364624252, 2.306004135, 2.262157163, 2.228138852,
    2.200985160, 2.178812830, 2.160368656, 2.144786688, 2.131449546,
    2.119905299, 2.109815578, 2.100922040, 2.093024054, 2.085963447,
    2.079613845, 2.073873068, 2.068657610, 2.063898562, 2.059538553,
    2.055529439, 2.051830516, 2.048407142, 2.045229642, 2.042272456,
)  # fmt: skip
_Z975 = 1.959963984540054


def t_quantile_975(df: int) -> float:
    """Return the 97.5% quantile of Student's t with ``df`` degrees of freedom.

    Exact table for df 1-30; above, the Cornish-Fisher expansion around the normal
    quantile (error below 1e-5).

    Raises:
        InputError: ``df`` < 1.
    """
    if df < 1:
        raise InputError(f"degrees of freedom must be >= 1, got {df}")
    if df <= len(_T975):
        return _T975[df - 1]
    z = _Z975
    return (
        z
        + (z**3 + z) / (4 * df)
        + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * df**2)
        + (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / (384 * df**3)
    )


def _unique(records: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Drop repeats of a ``(task_id, attempt, turn)``, keeping the first."""
    seen: set[tuple[str, int, int]] = set()
    kept = []
    for record in records:
        key = record_key(record)
        if key not in seen:
            seen.add(key)
            kept.append(record)
    return kept


def final_attempts(records: Iterable[Mapping[str, Any]]) -> dict[str, list[Mapping[str, Any]]]:
    """Group each attempt's final turn (see `arcnb.rundir.latest_turns`) by task.

    Returns:
        ``{task_id: [record, ...]}`` with one record per attempt, ordered by attempt index.
        Tasks appear in the order they first occur.
    """
    tasks: dict[str, list[Mapping[str, Any]]] = {}
    for record in latest_turns(records):
        tasks.setdefault(record["task_id"], []).append(record)
    for attempts in tasks.values():
        attempts.sort(key=lambda record: record["attempt"])
    return tasks


class _Interner:
    """Shares equal example results between slim records (most are one of a few shapes)."""

    def __init__(self) -> None:
        self._seen: dict[Any, dict[str, Any]] = {}

    def example(self, example: Mapping[str, Any], with_output: bool) -> dict[str, Any]:
        output = example.get("output") if with_output else None
        grid = _grid_text(output)
        key = (grid, bool(example.get("correct")), example.get("status"))
        slim = self._seen.get(key)
        if slim is None:
            slim = {"output": output, "correct": key[1], "status": key[2]}
            self._seen[key] = slim
        return slim


def _grid_text(output: Any) -> str | None:
    if output is None:
        return None
    try:
        return json.dumps(output, separators=(",", ":"))
    except (TypeError, ValueError):
        return repr(output)


class SummaryBuilder:
    """Accumulates a run's metrics one record at a time; memory stays small per attempt.

    Feed every attempt turn to `add_turn` (response metrics, tokens, cost) and each
    attempt's final turn to `add_final` (task metrics and votes), in any order, then call
    `result`. A final turn is kept as a slim copy holding only what voting and the task
    counts read, with equal example results shared, so 100,000 attempts cost a few tens
    of MB rather than the records' size.

    Args:
        task_ids: The tasks the run was asked to solve (duplicates count once). Records
            of other tasks are ignored.
        expected_test: Per task id, its true test outputs (None where unknown).

    Raises:
        InputError: A task in ``task_ids`` has no entry in ``expected_test``.
    """

    def __init__(
        self, task_ids: Sequence[str], expected_test: Mapping[str, Sequence[Grid | None]]
    ) -> None:
        self.task_ids = list(dict.fromkeys(task_ids))
        missing = [task_id for task_id in self.task_ids if task_id not in expected_test]
        if missing:
            raise InputError(f"no expected test outputs for task(s): {', '.join(missing[:5])}")
        self.expected_test = expected_test
        self._finals: dict[str, list[dict[str, Any]]] = {task_id: [] for task_id in self.task_ids}
        # Each attempt's first turn, slim, for the *_turn1 votes; when the first turn is also
        # the final one (always, with one turn) the same object serves both.
        self._firsts: dict[str, dict[int, dict[str, Any]]] = {t: {} for t in self.task_ids}
        self._interner = _Interner()
        self.n_turns = 0
        self.counts = {name: 0 for name in RESPONSE_METRICS}
        self.tokens = {"prompt": 0, "completion": 0, "total": 0}
        self.known_costs: list[float] = []
        self.turns_used = 0  # sum over attempts of their final turn number
        self.pixel_sums = {"train": 0.0, "test": 0.0}
        self.pixel_attempts = {"train": 0, "test": 0}
        self.round_costs: dict[int, list[float]] = {}  # search round -> known turn costs
        self.round_turns: Counter[int] = Counter()  # search round -> turns

    def _slim(self, record: Mapping[str, Any]) -> dict[str, Any]:
        """What voting and the task counts read of a record, with shared example results."""
        failed = record.get("failure") is not None
        intern = self._interner.example
        return {
            "attempt": record["attempt"],
            "round": int(record.get("round") or 1),
            "final": bool(record.get("final")),
            "failure": record.get("failure"),
            "train": [] if failed else [intern(e, False) for e in record.get("train") or []],
            "test": [] if failed else [intern(e, True) for e in record.get("test") or []],
            "train_accuracy": record.get("train_accuracy") or 0.0,
            "all_train_correct": bool(record.get("all_train_correct")),
            "transductive": bool(record.get("transductive")),
        }

    def add_turn(self, record: Mapping[str, Any]) -> None:
        """Count one attempt turn (call once per distinct ``(task_id, attempt, turn)``)."""
        firsts = self._firsts.get(record["task_id"])
        if firsts is None:
            return
        if record["turn"] == 1:
            firsts[record["attempt"]] = self._slim(record)
        self.n_turns += 1
        failure = record.get("failure")
        self.counts["max_length_responses"] += bool(record.get("max_length"))
        self.counts["timeout_responses"] += failure == "timeout"
        self.counts["api_failure_responses"] += failure not in (None, "timeout")
        examples = (*(record.get("train") or ()), *(record.get("test") or ()))
        self.counts["module_not_available_responses"] += any(
            str(e.get("error") or "").startswith(MODULE_NOT_AVAILABLE) for e in examples
        )
        usage = record.get("usage") or {}
        prompt = int(usage.get("prompt_tokens") or 0)
        completion = int(usage.get("completion_tokens") or 0)
        self.tokens["prompt"] += prompt
        self.tokens["completion"] += completion
        self.tokens["total"] += int(usage.get("total_tokens") or prompt + completion)
        round_ = int(record.get("round") or 1)
        self.round_turns[round_] += 1
        if record.get("cost_usd") is not None:
            self.known_costs.append(float(record["cost_usd"]))
            self.round_costs.setdefault(round_, []).append(float(record["cost_usd"]))

    def add_final(self, record: Mapping[str, Any]) -> None:
        """Add one attempt's final turn (call once per attempt, after its `add_turn`)."""
        task_id = record["task_id"]
        finals = self._finals.get(task_id)
        if finals is None:
            return
        first = self._firsts[task_id].get(record["attempt"])
        finals.append(first if first is not None and record["turn"] == 1 else self._slim(record))
        self.turns_used += int(record["turn"])
        failed = record.get("failure") is not None
        for split in ("train", "test"):
            if split == "test" and any(e is None for e in self.expected_test[task_id]):
                continue  # an unknown answer: no accuracy to measure
            examples = [] if failed else record.get(split) or []
            accuracies = [float(e.get("pixel_accuracy") or 0.0) for e in examples]
            self.pixel_sums[split] += math.fsum(accuracies) / len(accuracies) if accuracies else 0.0
            self.pixel_attempts[split] += 1

    def finals(self, task_id: str) -> list[dict[str, Any]]:
        """The slim final turns of a task so far, by attempt index."""
        return sorted(self._finals[task_id], key=lambda record: record["attempt"])

    def _turn1_scores(self, task_id: str, per_task: Mapping[str, Any]) -> dict[str, float]:
        """Vote scores of the task's attempts as they stood after their first turn."""
        firsts = self._firsts[task_id]
        finals = self._finals[task_id]
        if len(firsts) == len(finals) and all(firsts.get(f["attempt"]) is f for f in finals):
            return dict(per_task["scores"])  # every attempt ended on its first turn
        records = [firsts[a] for a in sorted(firsts)]
        vote = vote_task([_vote_input(r) for r in records], self.expected_test[task_id])
        return {method: vote.score(method) for method in METHODS}

    def per_round(self) -> list[dict[str, Any]]:
        """The run as it stood after each search round: one entry per round, in order.

        Each entry: ``round``; ``attempts`` and ``turns`` made in that round; ``cost_usd`` of
        that round (None when no turn of it had a known cost); and, counting every attempt
        of rounds up to this one, ``pass2_weighted``, ``pass2_train_majority``, ``oracle`` and
        ``all_train_correct`` as fractions of all tasks (a run of one round, such as every
        independent run, has one entry that matches its metrics).
        """
        rounds = sorted(self.round_turns)
        n_tasks = len(self.task_ids) or 1
        methods = ("weighted", "train_majority", "oracle")
        # per task, its scores after each round; re-voted only in rounds that added attempts
        # to it (a task whose search ended carries its last scores)
        after: dict[int, Counter[str]] = {r: Counter() for r in rounds}
        attempts_in: Counter[int] = Counter()
        for task_id in self.task_ids:
            finals = self.finals(task_id)
            scores: dict[str, float] = dict.fromkeys(methods, 0.0)
            for round_ in rounds:
                added = [f for f in finals if f["round"] == round_]
                if added:
                    upto = [f for f in finals if f["round"] <= round_]
                    vote = vote_task([_vote_input(f) for f in upto], self.expected_test[task_id])
                    scores = {method: vote.score(method) for method in methods}
                    scores["all_train_correct"] = float(any(f["all_train_correct"] for f in upto))
                    attempts_in[round_] += len(added)
                after[round_].update(scores)
        entries = []
        for round_ in rounds:
            sums, attempts = after[round_], attempts_in[round_]
            train_perfect = sums["all_train_correct"]
            costs = self.round_costs.get(round_)
            entries.append(
                {
                    "round": round_,
                    "attempts": attempts,
                    "turns": self.round_turns[round_],
                    "cost_usd": math.fsum(costs) if costs else None,
                    "pass2_weighted": sums["weighted"] / n_tasks,
                    "pass2_train_majority": sums["train_majority"] / n_tasks,
                    "oracle": sums["oracle"] / n_tasks,
                    "all_train_correct": train_perfect / n_tasks,
                }
            )
        return entries

    def result(self) -> dict[str, Any]:
        """The summary (see `summarize` for its keys)."""
        per_task = {
            task_id: task_summary(self.finals(task_id), self.expected_test[task_id])
            for task_id in self.task_ids
        }
        for task_id, task in per_task.items():
            task["scores_turn1"] = self._turn1_scores(task_id, task)
        counts: dict[str, float | int] = {}
        for name, method in _VOTE_METRICS.items():
            counts[name] = sum(task["scores"][method] for task in per_task.values())
        for name, method in _TURN1_METRICS.items():
            counts[name] = sum(task["scores_turn1"][method] for task in per_task.values())
        for name in ("all_train_correct", "min1_train_correct", "min1_code_success"):
            counts[name] = sum(bool(task[name]) for task in per_task.values())
        counts["mean_train_pixel_accuracy"] = self.pixel_sums["train"]
        counts["mean_test_pixel_accuracy"] = self.pixel_sums["test"]
        counts.update(self.counts)
        n_tasks = len(self.task_ids)
        n_attempts = sum(len(finals) for finals in self._finals.values())
        denominators = {name: n_tasks for name in TASK_METRICS}
        denominators["mean_train_pixel_accuracy"] = self.pixel_attempts["train"]
        denominators["mean_test_pixel_accuracy"] = self.pixel_attempts["test"]
        denominators.update({name: self.n_turns for name in RESPONSE_METRICS})
        metrics = {
            name: counts[name] / denominators[name] if denominators[name] else 0.0
            for name in METRICS
        }
        return {
            "schema": SCHEMA_VERSION,
            "n_tasks": n_tasks,
            "n_attempts": n_attempts,
            "n_turns": self.n_turns,
            "mean_turns": self.turns_used / n_attempts if n_attempts else 0.0,
            "metrics": metrics,
            "counts": counts,
            "denominators": denominators,
            "tokens": dict(self.tokens),
            "cost_usd": sum(self.known_costs) if self.known_costs or not self.n_turns else None,
            "cost_unknown_attempts": self.n_turns - len(self.known_costs),
            "per_task": per_task,
            "per_round": self.per_round(),
        }


def _vote_input(record: Mapping[str, Any]) -> dict[str, Any]:
    """The attempt as `vote_task` wants it; an API failure produced no outputs."""
    failed = record.get("failure") is not None
    tests = [] if failed else record.get("test") or []
    return {
        "test_outputs": [example.get("output") for example in tests],
        "train_accuracy": record.get("train_accuracy") or 0.0,
        "transductive": bool(record.get("transductive")),
    }


def _train(record: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [] if record.get("failure") is not None else list(record.get("train") or [])


def _code_ran(record: Mapping[str, Any]) -> bool:
    """The program ran with status ok on every train input (and there was one)."""
    train = _train(record)
    return bool(train) and all(example.get("status") == "ok" for example in train)


def task_summary(
    final_records: Sequence[Mapping[str, Any]],
    expected_test: Sequence[Grid | None],
    *,
    with_vote: bool = False,
) -> dict[str, Any]:
    """Summarise one task's attempts (their final turns).

    Args:
        final_records: One record per attempt, as `final_attempts` gives for a task.
        expected_test: The task's true test outputs, None where unknown.
        with_vote: Also include ``vote``: the full `TaskVote.to_dict` (answers, tallies),
            as written to ``tasks/<task_id>.json``.

    Returns:
        ``attempts``; ``test_correct`` (attempts with every test output exactly right;
        0 when a test answer is unknown); ``train_perfect`` (every train example right);
        ``train_partial`` (some but not all right); ``exec_errors`` (attempts whose
        program did not finish with status ok on some input); ``api_failures``;
        ``transductive``; ``all_train_correct``, ``min1_train_correct``,
        ``min1_code_success`` (bools); ``scores`` (voting method -> score 0.0-1.0).
    """
    vote = vote_task([_vote_input(record) for record in final_records], expected_test)
    test_correct = train_perfect = train_partial = exec_errors = 0
    min1_train = min1_code = False
    for record in final_records:
        train = _train(record)
        tests = [] if record.get("failure") is not None else list(record.get("test") or [])
        right = sum(bool(example.get("correct")) for example in train)
        test_correct += bool(tests) and all(bool(example.get("correct")) for example in tests)
        train_perfect += bool(record.get("all_train_correct"))
        train_partial += 0 < right < len(train)
        exec_errors += any(example.get("status") != "ok" for example in train + tests)
        min1_train = min1_train or right > 0
        min1_code = min1_code or _code_ran(record)
    summary: dict[str, Any] = {
        "attempts": len(final_records),
        "test_correct": test_correct,
        "train_perfect": train_perfect,
        "train_partial": train_partial,
        "exec_errors": exec_errors,
        "api_failures": sum(record.get("failure") is not None for record in final_records),
        "transductive": sum(bool(record.get("transductive")) for record in final_records),
        "all_train_correct": train_perfect > 0,
        "min1_train_correct": min1_train,
        "min1_code_success": min1_code,
        "scores": {method: vote.score(method) for method in METHODS},
    }
    if with_vote:
        summary["vote"] = vote.to_dict()
    return summary


def summarize(
    records: Iterable[Mapping[str, Any]],
    task_ids: Sequence[str],
    expected_test: Mapping[str, Sequence[Grid | None]],
) -> dict[str, Any]:
    """Compute a run's metrics from its attempt records.

    Denominators: task metrics (`TASK_METRICS`) divide by ``len(task_ids)``, every task
    asked for, including those with no record (scored 0). Response metrics
    (`RESPONSE_METRICS`) divide by the number of attempt turns recorded for those tasks.
    Voting and the other task metrics use each attempt's final turn. Records of tasks not
    in ``task_ids`` are ignored; repeats of a ``(task_id, attempt, turn)`` count once.

    Args:
        records: Attempt-turn records (``attempts.jsonl``).
        task_ids: The tasks the run was asked to solve (duplicates count once).
        expected_test: Per task id, its true test outputs (None where unknown).

    Returns:
        A JSON-serialisable dict: ``schema``; ``n_tasks``; ``n_attempts`` (attempts with a
        record); ``n_turns``; ``mean_turns`` (turns per attempt, its final turn's number,
        averaged); ``metrics`` (each name in `METRICS` -> fraction 0.0-1.0);
        ``counts`` (the numerators: summed task scores for ``pass2_*``/``oracle*``, which
        are fractional when a multi-test task is partly solved; summed accuracies for
        `ATTEMPT_METRICS`; integers otherwise);
        ``denominators`` (metric -> its denominator); ``tokens`` (``prompt``,
        ``completion``, ``total`` summed over turns); ``cost_usd`` (sum of the known
        costs; None when no turn had a known cost); ``cost_unknown_attempts`` (turns
        without a known cost); ``per_task`` (task id -> `task_summary`, plus
        ``scores_turn1``: the voting scores after each attempt's first turn); ``per_round``
        (the run after each search round, see `SummaryBuilder.per_round`).

    Raises:
        InputError: A task in ``task_ids`` has no entry in ``expected_test``.
    """
    builder = SummaryBuilder(task_ids, expected_test)
    turns = _unique(records)
    for record in turns:
        builder.add_turn(record)
    for record in latest_turns(turns):
        builder.add_final(record)
    return builder.result()


def summarize_run(run: Run) -> dict[str, Any]:
    """`summarize` a run directory by streaming its records (memory flat in attempts).

    Task ids and expected outputs come from the run (`Run.task_ids`,
    `Run.expected_outputs`); see `Run.warnings` afterwards for what was missing.
    """
    builder = SummaryBuilder(run.task_ids, run.expected_outputs())
    for record in run.final_turns(on_turn=builder.add_turn):
        builder.add_final(record)
    return builder.result()


def wilson_interval(successes: float, n: int) -> tuple[float, float]:
    """Wilson score 95% interval of a binomial fraction, within [0, 1] (NaNs for n = 0).

    ``successes`` may be fractional (a partly solved multi-test task). Unlike the normal
    approximation it stays informative at 0 or n successes: 0 of 30 gives [0, 0.114].
    """
    if n <= 0:
        return (math.nan, math.nan)
    p, z2 = successes / n, _Z975**2
    center = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = _Z975 / (1 + z2 / n) * math.sqrt(max(0.0, p * (1 - p)) / n + z2 / (4 * n * n))
    return (max(0.0, center - half), min(1.0, center + half))


def aggregate(summaries: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Combine repeat runs' summaries: mean, spread and 95% intervals of each metric.

    Two intervals, for two questions:

    * ``ci95_low``/``ci95_high``: over runs, ``mean +- t(0.975, n-1) * std / sqrt(n)``,
      clipped to [0, 1] (``ci95_half_width`` is the unclipped half width). Degenerate
      (width 0) for one run, and for runs that all scored the same.
    * ``pooled_ci95_low``/``pooled_ci95_high``: a Wilson score interval on every run's
      trials pooled (``pooled_count`` of ``pooled_n``: for task metrics each task of each
      run is a trial, for response metrics each turn). It stays informative when every
      run scored 0 or 100%, but treats the same task in two runs as independent trials,
      so it is narrower than the task sample justifies. Absent (None) for the
      `ATTEMPT_METRICS`, whose numerators are sums of accuracies, not counts, and when a
      summary lacks its counts.

    Args:
        summaries: `summarize` results of runs of the same configuration.

    Returns:
        ``{"n_runs": n, "metrics": {name: {"mean", "std", "ci95_low", "ci95_high",
        "ci95_half_width", "pooled_count", "pooled_n", "pooled_ci95_low",
        "pooled_ci95_high", "n_runs", "values"}}, "mean_turns": {"mean", "std",
        "values"}}`` for each name in `METRICS` that every summary has. ``std`` is the
        sample standard deviation (ddof=1), 0.0 for one run. Values are fractions 0.0-1.0
        like the metrics themselves.

    Raises:
        InputError: No summaries.
    """
    if not summaries:
        raise InputError("no run summaries to aggregate")
    n = len(summaries)
    names = [name for name in METRICS if all(name in s["metrics"] for s in summaries)]
    out: dict[str, Any] = {}
    for name in names:
        values = [float(s["metrics"][name]) for s in summaries]
        mean, std = _mean_std(values)
        half = t_quantile_975(n - 1) * std / math.sqrt(n) if n > 1 else 0.0
        pooled: tuple[float | None, ...] = (None, None, None, None)
        if name not in ATTEMPT_METRICS and all(
            name in s.get("counts", {}) and name in s.get("denominators", {}) for s in summaries
        ):
            count = math.fsum(float(s["counts"][name]) for s in summaries)
            trials = sum(int(s["denominators"][name]) for s in summaries)
            pooled = (count, trials, *wilson_interval(count, trials))
        out[name] = {
            "mean": mean,
            "std": std,
            "ci95_low": max(0.0, mean - half),
            "ci95_high": min(1.0, mean + half),
            "ci95_half_width": half,
            "pooled_count": pooled[0],
            "pooled_n": pooled[1],
            "pooled_ci95_low": pooled[2],
            "pooled_ci95_high": pooled[3],
            "n_runs": n,
            "values": values,
        }
    result: dict[str, Any] = {"n_runs": n, "metrics": out}
    if all("mean_turns" in s for s in summaries):
        turns = [float(s["mean_turns"]) for s in summaries]
        mean, std = _mean_std(turns)
        result["mean_turns"] = {"mean": mean, "std": std, "values": turns}
    return result


def _mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof=1; 0.0 for a single value)."""
    n = len(values)
    mean = math.fsum(values) / n
    std = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else 0.0
    return mean, std


def _number(value: float) -> str:
    """An integer count as ``12``, a fractional one as ``12.5`` (at most 2 decimals)."""
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.2f}".rstrip("0")


def format_table(summary: Mapping[str, Any]) -> str:
    """Return a plain-text table of a run's metrics (name, count / denominator, percent)."""
    counts, denominators = summary["counts"], summary["denominators"]
    rows = [
        (name, f"{_number(counts[name])}/{denominators[name]}", f"{100 * value:.1f}%")
        for name, value in summary["metrics"].items()
    ]
    width = max(len(row[0]) for row in rows)
    count_width = max(len(row[1]) for row in rows)
    turns = f" (mean {summary['mean_turns']:.2f} per attempt)" if "mean_turns" in summary else ""
    lines = [
        f"{summary['n_tasks']} tasks, {summary['n_attempts']} attempts, "
        f"{summary.get('n_turns', summary['n_attempts'])} turns{turns}",
        f"{'metric':<{width}}  {'count':>{count_width}}  {'%':>6}",
    ]
    lines += [f"{name:<{width}}  {count:>{count_width}}  {pct:>6}" for name, count, pct in rows]
    tokens = summary.get("tokens") or {}
    cost = summary.get("cost_usd")
    footer = (
        f"tokens: {tokens.get('prompt', 0):,} prompt, {tokens.get('completion', 0):,} completion"
    )
    footer += f"; cost: {format_cost(cost, summary.get('cost_unknown_attempts') or 0)}"
    budget = summary.get("budget")
    if budget:
        footer += f" of ${budget['cap_usd']:g} cap ({100 * budget['spent_fraction']:.0f}%)"
    rounds = summary.get("per_round") or []
    if len(rounds) > 1:  # a search strategy: how the score grew round by round
        header = "after round  attempts  pass2_weighted  oracle  all_train_correct  round cost"
        lines += ["", header]
        lines += [
            f"{r['round']:>11}  {r['attempts']:>8}  {100 * r['pass2_weighted']:>13.1f}%"
            f"  {100 * r['oracle']:>5.1f}%  {100 * r['all_train_correct']:>16.1f}%"
            f"  {format_cost(r['cost_usd'])}"
            for r in rounds
        ]
    return "\n".join([*lines, footer])


def format_cost(cost: float | None, unpriced: int = 0) -> str:
    """Cost as the end table and the progress bar both say it: ``$0.0123``, ``unknown`` (no
    turn had a known price), or ``$0.0123 (+3 turns unpriced)``.

    Args:
        cost: USD spent on the turns with a known cost, or None when none had one.
        unpriced: Turns whose cost is unknown.
    """
    if cost is None:
        return "unknown"
    return f"${cost:.4f}" + (f" (+{unpriced} turns unpriced)" if unpriced else "")


def _columns(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """Lines of a plain-text table: the first column left-aligned, the others right."""
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    lines = []
    for row in [header, *rows]:
        cells = [str(row[0]).ljust(widths[0])] + [
            str(c).rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)
        ]
        lines.append("  ".join(cells))
    return lines


def format_aggregate_table(agg: Mapping[str, Any]) -> str:
    """Return a plain-text table of `aggregate` results (percent): mean, the t interval over
    runs (half width, then clipped to [0, 100]), the pooled Wilson interval, std."""

    def pooled(m: Mapping[str, Any]) -> str:
        if m.get("pooled_ci95_low") is None:
            return "-"
        return f"[{100 * m['pooled_ci95_low']:.1f}, {100 * m['pooled_ci95_high']:.1f}]"

    rows = [
        (
            name,
            f"{100 * m['mean']:.1f}%",
            f"+-{100 * m['ci95_half_width']:.1f}",
            f"[{100 * m['ci95_low']:.1f}, {100 * m['ci95_high']:.1f}]",
            pooled(m),
            f"{100 * m['std']:.1f}",
        )
        for name, m in agg["metrics"].items()
    ]
    header = ("metric", "mean", "95% ci", "interval", "pooled 95%", "std")
    lines = [f"{agg['n_runs']} runs", *_columns(header, rows)]
    turns = agg.get("mean_turns")
    if turns:
        lines.append(f"mean turns per attempt: {turns['mean']:.2f} (std {turns['std']:.2f})")
    return "\n".join(lines)


def format_runs_table(summaries: Sequence[Mapping[str, Any]]) -> str:
    """Return one line per repeat run: tasks, attempts, pass@2 (weighted) after turn 1 and
    after all turns (count and percent), oracle after all turns, and cost."""
    header = ("run", "tasks", "attempts", "turn 1", "all turns", "turn 1 %", "all turns %",
              "oracle %", "cost")  # fmt: skip
    rows = []
    for i, s in enumerate(summaries, start=1):
        counts, metrics = s["counts"], s["metrics"]
        cost = s.get("cost_usd")
        rows.append(
            (
                str(i),
                str(s["n_tasks"]),
                str(s["n_attempts"]),
                _number(counts["pass2_weighted_turn1"]),
                _number(counts["pass2_weighted"]),
                f"{100 * metrics['pass2_weighted_turn1']:.1f}%",
                f"{100 * metrics['pass2_weighted']:.1f}%",
                f"{100 * metrics['oracle']:.1f}%",
                "unknown" if cost is None else f"${cost:.4f}",
            )
        )
    return "\n".join(_columns(header, rows))


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k estimate from ``n`` samples of which ``c`` are correct.

    ``1 - C(n - c, k) / C(n, k)``: the chance that ``k`` samples drawn without
    replacement from the ``n`` include a correct one (Chen et al., 2021).

    Raises:
        InputError: Not ``0 <= c <= n`` and ``1 <= k <= n``.
    """
    if not (0 <= c <= n and 1 <= k <= n):
        raise InputError(f"pass@k needs 0 <= c <= n and 1 <= k <= n; got n={n}, c={c}, k={k}")
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)
