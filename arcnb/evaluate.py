"""Evaluate one program on one task: run it on the task's inputs, score each output, and check
the code for transduction.

The runner (every turn of every attempt), the dataset builder (every program found in a run)
and the fine-tuning generation check judge a program this way, so that "right" means the same
everywhere. `evaluate_program_async` and `evaluate_program` run the program in an `Executor`;
`evaluate_results` scores results obtained elsewhere (the dataset builder's Ray backend).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from arcnb.executor import ExecResult, Executor
from arcnb.grid import Grid
from arcnb.scoring import score_example
from arcnb.tasks import Task
from arcnb.transduction import detect_transduction

__all__ = [
    "ExampleOutcome",
    "ProgramEvaluation",
    "evaluate_program",
    "evaluate_program_async",
    "evaluate_results",
]


@dataclass(frozen=True)
class ExampleOutcome:
    """What a program did on one input, scored against the known output.

    Attributes:
        status: The `ExecResult` status (ok, timeout, memory, error, invalid), or ``no_code``
            when there is no result for this input.
        output: The grid returned, when status is ok; else None.
        error: ``"ErrorType: detail"`` (or the detail alone) when the program failed.
        correct: The output equals the expected output; False when that is unknown.
        pixel_accuracy: Share of the expected cells matched, 0.0-1.0; 0.0 when unknown.
    """

    status: str
    output: Grid | None
    error: str | None
    correct: bool
    pixel_accuracy: float

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_dict(self) -> dict[str, Any]:
        """The per-example entry of an attempt record (``train`` / ``test`` lists)."""
        return {
            "status": self.status,
            "output": self.output,
            "error": self.error,
            "correct": self.correct,
            "pixel_accuracy": self.pixel_accuracy,
        }


@dataclass(frozen=True)
class ProgramEvaluation:
    """One program's evaluation on one task.

    Attributes:
        train: One outcome per train pair; empty when there was no code to run.
        test: One outcome per test input; empty when there was no code, or the test inputs
            were not run.
        transductive: The code looks like it hard-codes answers (`detect_transduction`);
            False when there was no code or the check was not asked for.
        transduction_reasons: One reason per finding; empty when not transductive.
        exec_s: Wall-clock seconds spent waiting for the executor; 0.0 when nothing ran.
    """

    train: list[ExampleOutcome]
    test: list[ExampleOutcome]
    transductive: bool = False
    transduction_reasons: list[str] = field(default_factory=list)
    exec_s: float = 0.0

    @property
    def n_train_correct(self) -> int:
        """Train pairs predicted exactly."""
        return sum(o.correct for o in self.train)

    @property
    def all_train_correct(self) -> bool:
        """Every train pair is predicted exactly (False when nothing ran)."""
        return bool(self.train) and self.n_train_correct == len(self.train)


def _outcomes(
    results: Sequence[ExecResult], expected: Sequence[Grid | None]
) -> list[ExampleOutcome]:
    """One outcome per expected output; empty when there was no program to run."""
    if not results:
        return []
    out = []
    for i, exp in enumerate(expected):
        r = results[i] if i < len(results) else None
        pred = r.output if r is not None and r.ok else None
        # Both are valid grids: the worker checked the output, Task.from_dict the answer.
        s = score_example(pred, exp, checked=True) if exp is not None else None
        out.append(
            ExampleOutcome(
                status=r.status if r is not None else "no_code",
                output=pred,
                error=(f"{r.error_type}: {r.error}" if r.error_type else r.error) if r else None,
                correct=bool(s and s.correct),
                pixel_accuracy=s.pixel_accuracy if s else 0.0,
            )
        )
    return out


def evaluate_results(
    task: Task,
    code: str | None,
    results: Sequence[ExecResult],
    *,
    transduction: bool = True,
    exec_s: float = 0.0,
) -> ProgramEvaluation:
    """Score a program's execution results on a task (the program has already run).

    Args:
        task: The task; outputs that are None (hidden test answers) are not scored.
        code: The program's source, for the transduction check; None or "" when there was none.
        results: One result per train input, then one per test input; the test part may be
            missing (only the train inputs ran). Empty when nothing ran.
        transduction: Run `detect_transduction` on the code.
        exec_s: Seconds the execution took, recorded as is.

    Returns:
        The evaluation.
    """
    n_train = len(task.train)
    transductive, reasons = False, []
    if code and transduction:
        transductive, reasons = detect_transduction(
            code, [ex.output for ex in task.train], [ex.output for ex in task.test]
        )
    return ProgramEvaluation(
        train=_outcomes(results[:n_train], [ex.output for ex in task.train]),
        test=_outcomes(results[n_train:], [ex.output for ex in task.test]),
        transductive=transductive,
        transduction_reasons=reasons,
        exec_s=exec_s,
    )


def _scored(
    task: Task, code: str | None, results: Sequence[ExecResult], transduction: bool, start: float
) -> ProgramEvaluation:
    """`evaluate_results`, timed from ``start`` when the program ran (0.0 when there was none)."""
    exec_s = time.monotonic() - start if code else 0.0
    return evaluate_results(task, code, results, transduction=transduction, exec_s=exec_s)


def _inputs(task: Task, test: bool) -> list[Grid]:
    return [ex.input for ex in task.train] + ([ex.input for ex in task.test] if test else [])


async def evaluate_program_async(
    code: str | None,
    task: Task,
    executor: Executor,
    *,
    test: bool = True,
    transduction: bool = True,
) -> ProgramEvaluation:
    """Run a program on a task's inputs in the executor and score it.

    Args:
        code: Python source defining ``transform(grid)``; None or "" evaluates to nothing ran.
        task: The task.
        executor: Where the program runs (its per-grid timeout applies).
        test: Also run the test inputs (False: only the train inputs; ``test`` stays empty).
        transduction: Run `detect_transduction` on the code.

    Returns:
        The evaluation.
    """
    start = time.monotonic()
    results = await executor.arun(code, _inputs(task, test)) if code else []
    return _scored(task, code, results, transduction, start)


def evaluate_program(
    code: str | None,
    task: Task,
    executor: Executor,
    *,
    test: bool = True,
    transduction: bool = True,
) -> ProgramEvaluation:
    """Synchronous twin of `evaluate_program_async` (blocks until the program has run)."""
    start = time.monotonic()
    results = executor.run(code, _inputs(task, test)) if code else []
    return _scored(task, code, results, transduction, start)
