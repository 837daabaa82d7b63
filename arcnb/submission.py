"""ARC Prize (Kaggle) submissions: written from a run's votes, read back, scored officially.

The format: ``{task_id: [{"attempt_1": grid, "attempt_2": grid}, ...]}``, one dict per test
input in the task's order. An empty slot (a test input with no answer, or with one distinct
answer only, or a task not voted yet) gets the placeholder ``[[0]]``: the format needs a grid
in both slots. It is scored like any other grid.

The official rule: a test input counts when either attempt equals its true output exactly;
a task scores the fraction of its test inputs that count; the total is the mean over every
task asked for (one missing from the submission scores 0). The run's own pass@2 for a voting
method (`arcnb.metrics`) is the same number, since the submission holds that method's top two
answers (`tasks/<id>.json`, through `arcnb.rundir.Run`).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from arcnb.errors import InputError
from arcnb.grid import Grid, task_grid
from arcnb.rundir import Run
from arcnb.scoring import score_example
from arcnb.voting import METHODS

PLACEHOLDER: Grid = [[0]]
"""The grid written where there is no answer (the format's convention)."""
ATTEMPT_KEYS = ("attempt_1", "attempt_2")
SUBMISSION_METHODS = tuple(m for m in METHODS if not m.startswith("oracle"))
"""Voting methods a submission can use: the oracle ones pick by the true outputs."""
DEFAULT_METHOD = "weighted"  # the README's headline pass@2 (summary metric pass2_weighted)

Submission = dict[str, list[dict[str, Grid]]]


def build_submission(
    run_dir: str | os.PathLike[str], method: str = DEFAULT_METHOD
) -> tuple[Submission, list[str]]:
    """A submission for every task of a run, from the run's votes.

    Args:
        run_dir: A run directory (finished or not).
        method: A voting method in `SUBMISSION_METHODS`.

    Returns:
        ``(submission, warnings)``: the warnings name tasks with no vote yet (an unfinished
        run), which get placeholders, and problems reading the run.

    Raises:
        InputError: Not a run directory, an unknown method, or a malformed votes file.
    """
    if method not in SUBMISSION_METHODS:
        raise InputError(
            f"--method must be one of {', '.join(SUBMISSION_METHODS)}, got {method!r} "
            "(the oracle methods choose by the true outputs)"
        )
    run = Run.open(run_dir)
    submission: Submission = {}
    unvoted: list[str] = []
    for task_id in run.task_ids:
        vote = (run.saved_vote(task_id) or {}).get("vote")
        if vote is None:
            unvoted.append(task_id)
            task = run.task(task_id)
            top2: list[list[Any]] = [[] for _ in (task.test if task else [None])]
        else:
            top2 = vote["methods"][method]["top2"]
        submission[task_id] = [_answers(answers) for answers in top2]
    warnings = list(run.warnings)
    if unvoted:
        shown = ", ".join(unvoted[:5]) + (", ..." if len(unvoted) > 5 else "")
        warnings.append(f"{len(unvoted)} task(s) not voted yet, given placeholders: {shown}")
    return submission, warnings


def _answers(answers: list[Any]) -> dict[str, Grid]:
    slots = [*answers[: len(ATTEMPT_KEYS)], *[PLACEHOLDER] * len(ATTEMPT_KEYS)]
    return dict(zip(ATTEMPT_KEYS, slots, strict=False))


def write_submission(submission: Submission, path: str | os.PathLike[str]) -> Path:
    """Write a submission as JSON (compact, as Kaggle takes it); returns the path."""
    out = Path(path)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(submission, separators=(",", ":")))
    except OSError as error:
        raise InputError(f"--out {path}: {error.strerror}") from None
    return out


def load_submission(path: str | os.PathLike[str]) -> Submission:
    """Read and check a submission file.

    Raises:
        InputError: The file is missing or not JSON, or is not in the format: an object of
            task ids to lists of ``{"attempt_1": grid, "attempt_2": grid}`` (each grid a
            non-empty rectangular list of rows of colours 0-9).
    """
    try:
        text = Path(path).read_text()
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"{path}: cannot be read ({error})") from None
    try:
        data = json.loads(text)
    except ValueError as error:
        raise InputError(f"{path}: not JSON ({error})") from None
    return check_submission(data, str(path))


def check_submission(data: Any, path: str = "submission") -> Submission:
    """Check that ``data`` is in the submission format; returns it.

    Raises:
        InputError: It is not (see `load_submission`); the message starts with ``path``.
    """
    if not isinstance(data, dict):
        raise InputError(f"{path}: a submission is a JSON object of task ids, not a {_kind(data)}")
    for task_id, entries in data.items():
        if not isinstance(entries, list) or not entries:
            raise InputError(
                f"{path}: task {task_id}: expected a list with one object per test input, "
                f"got {_kind(entries)}"
            )
        for i, entry in enumerate(entries):
            if not isinstance(entry, dict) or set(entry) != set(ATTEMPT_KEYS):
                raise InputError(
                    f"{path}: task {task_id} test {i}: expected an object with exactly "
                    f"attempt_1 and attempt_2, got {json.dumps(entry)[:80]}"
                )
            for key in ATTEMPT_KEYS:
                task_grid(entry[key], f"{path}: task {task_id} test {i} {key}")
    return data


def _kind(value: Any) -> str:
    return {list: "list", dict: "object", str: "string"}.get(type(value), type(value).__name__)


@dataclass
class SubmissionScore:
    """A submission's score by the official rule.

    Attributes:
        score: Mean task score over the tasks asked for, 0.0-1.0.
        n_tasks: Tasks asked for (the denominator).
        solved: Summed task scores (fractional when a task is partly solved).
        per_task: Task id -> its score (0.0 for a task missing from the submission).
        test_inputs_right: Test inputs where an attempt matched, over all tasks asked for.
        test_inputs: Test inputs of those tasks.
        missing: Tasks asked for that the submission lacks.
        ignored: Tasks of the submission outside those asked for (not scored).
    """

    score: float
    n_tasks: int
    solved: float
    per_task: dict[str, float]
    test_inputs_right: int
    test_inputs: int
    missing: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)

    def line(self) -> str:
        """One line: ``score 62.50% (2.5 of 4 tasks; 3 of 5 test inputs right)``."""
        extra = f"; {len(self.missing)} task(s) missing, scored 0" if self.missing else ""
        return (
            f"score {100 * self.score:.2f}% ({self.solved:g} of {self.n_tasks} tasks; "
            f"{self.test_inputs_right} of {self.test_inputs} test inputs right{extra})"
        )


def score_submission(
    submission: Submission | str | os.PathLike[str], dataset: str, subset: str | None = None
) -> SubmissionScore:
    """Score a submission against a dataset's true test outputs by the official rule.

    Args:
        submission: A submission dict (checked as `load_submission` checks a file) or a path.
        dataset: A dataset name or task folder, as `arcnb.tasks.load_tasks` takes.
        subset: The tasks asked for (a subset name, comma-separated ids or a file of ids);
            None: the tasks the submission names.

    Returns:
        The score.

    Raises:
        InputError: A malformed submission, task ids the dataset does not hold, a task whose
            number of entries differs from its test inputs, or a test output the dataset
            does not know.
    """
    from arcnb.tasks import list_subsets, load_tasks

    if isinstance(submission, dict):
        submission = check_submission(submission)
    else:
        submission = load_submission(submission)
    everything = {}
    for split in list_subsets(dataset):
        if split.startswith("all_"):
            everything.update((t.id, t) for t in load_tasks(dataset, split))
    unknown = [i for i in submission if i not in everything]
    if unknown:
        shown = ", ".join(unknown[:5]) + (", ..." if len(unknown) > 5 else "")
        raise InputError(f"{len(unknown)} task id(s) not in dataset {dataset!r}: {shown}")
    asked = [t.id for t in load_tasks(dataset, subset)] if subset else list(submission)
    if not asked:
        raise InputError("nothing to score: the submission names no task")
    per_task: dict[str, float] = {}
    right = total = 0
    for task_id in asked:
        tests = everything[task_id].test
        total += len(tests)
        entries = submission.get(task_id)
        if entries is None:
            per_task[task_id] = 0.0
            continue
        if len(entries) != len(tests):
            raise InputError(
                f"task {task_id}: the submission has {len(entries)} answer(s), the task "
                f"{len(tests)} test input(s)"
            )
        n_right = 0
        for i, (entry, example) in enumerate(zip(entries, tests, strict=True)):
            if example.output is None:
                raise InputError(f"task {task_id} test {i}: dataset {dataset!r} has no solution")
            n_right += any(score_example(entry[k], example.output).correct for k in ATTEMPT_KEYS)
        right += n_right
        per_task[task_id] = n_right / len(tests)
    solved = sum(per_task.values())
    return SubmissionScore(
        score=solved / len(asked),
        n_tasks=len(asked),
        solved=solved,
        per_task=per_task,
        test_inputs_right=right,
        test_inputs=total,
        missing=[i for i in asked if i not in submission],
        ignored=[i for i in submission if i not in per_task],
    )
