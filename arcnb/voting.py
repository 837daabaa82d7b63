"""Combine a task's attempts into at most two answers per test input, several ways.

Each attempt is one program sampled for a task. It carries its predicted test outputs
(one per test input, None where it failed), its train accuracy (fraction of train pairs
exactly right, 0.0-1.0) and whether it was flagged transductive. Attempts may be dicts
or objects with those attributes.

Methods (see `METHODS`), each also run with transductive attempts left out (``_excl_trans``):

* ``weighted``: every distinct grid scores ``sum(1 + 1000 * train_accuracy)`` over the
  attempts that produced it, i.e. its frequency plus 1000 x its summed train accuracy,
  so one program right on every train pair outweighs up to 1000 that are right on none.
* ``train_majority``: the attempts with the best train accuracy among those that
  produced a grid for this test input vote first, one vote each. When they agree on
  fewer than two grids, the attempts at the next lower train accuracy vote on the grids
  not ranked yet, and so on down: a grid ranks by the best train accuracy of any attempt
  that produced it, then by its votes at that accuracy.
* ``oracle``: solved when any attempt's prediction is right (an upper bound).

Following the ARC Prize rule, a test input is solved when either of the top two answers
is exactly right; a task's score for a method is the fraction of its test inputs solved.
``weighted`` and ``train_majority`` rank every distinct grid some counted attempt produced,
so both answer slots are filled whenever there are two distinct grids: slot 1 is the top
of the ranking above, slot 2 the next distinct grid. One distinct grid leaves slot 2
empty; a grid never fills both.

Ties are broken deterministically: higher score first, then more attempts, then the
grid first produced by the lower attempt index.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from numbers import Real
from typing import Any

from arcnb.errors import InputError
from arcnb.grid import Grid, GridKey, as_grid, grid_key

__all__ = [
    "METHODS",
    "TRAIN_ACCURACY_WEIGHT",
    "Candidate",
    "MethodResult",
    "TaskVote",
    "mean_scores",
    "rank_candidates",
    "vote_task",
]

METHODS = (
    "weighted",
    "weighted_excl_trans",
    "train_majority",
    "train_majority_excl_trans",
    "oracle",
    "oracle_excl_trans",
)

TRAIN_ACCURACY_WEIGHT = 1000.0
"""Weight of train accuracy against frequency in the ``weighted`` vote."""

TOP_K = 2
"""Answers allowed per test input (ARC Prize rule)."""

# Scores are sums of floats such as 1 + 1000/3, so mathematically equal scores can differ
# in the last bit depending on which attempts were summed; compare them rounded.
_DECIMALS = 9


@dataclass(frozen=True)
class Candidate:
    """One distinct predicted grid for one test input, with its support.

    Attributes:
        grid: The predicted grid.
        score: The method's score for it (weighted sum, or number of votes).
        count: How many counted attempts produced it.
        attempts: Indices of those attempts, ascending.
    """

    grid: Grid
    score: float
    count: int
    attempts: tuple[int, ...]

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable copy."""
        return {
            "grid": self.grid,
            "score": self.score,
            "count": self.count,
            "attempts": list(self.attempts),
        }


@dataclass(frozen=True)
class MethodResult:
    """A voting method's answers and correctness for one task.

    Attributes:
        top2: Per test input, up to two answers, best first. For the oracle methods it
            holds the correct grid when some attempt produced it, else nothing.
        per_test_correct: Per test input, whether an answer in ``top2`` is exactly right.
            False where the true output is unknown.
        score: Fraction of test inputs solved, 0.0-1.0 (0.0 for a task without tests).
        all_correct: Every test input is solved (False for a task without tests).
    """

    top2: list[list[Grid]]
    per_test_correct: list[bool]
    score: float
    all_correct: bool

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable copy."""
        return {
            "top2": self.top2,
            "per_test_correct": self.per_test_correct,
            "score": self.score,
            "all_correct": self.all_correct,
        }


@dataclass(frozen=True)
class TaskVote:
    """Every voting method's result for one task.

    Attributes:
        n_test: Test inputs in the task.
        n_attempts: Attempts voted over.
        methods: `MethodResult` per name in `METHODS`.
    """

    n_test: int
    n_attempts: int
    methods: dict[str, MethodResult]
    _tallies: dict[str, list[list[Candidate]]] = field(repr=False)

    def __getitem__(self, method: str) -> MethodResult:
        return self.methods[_check_method(method)]

    def score(self, method: str) -> float:
        """Return the task's score (0.0-1.0) under ``method``."""
        return self[method].score

    def tally(self, method: str, test_index: int) -> list[Candidate]:
        """Return every candidate a method considered for one test input, best first.

        For ``weighted`` the score is the weighted sum; for ``train_majority`` and
        ``oracle`` it is the number of votes. For ``train_majority`` those are the votes
        at the best train accuracy of any attempt that produced the grid (``count`` and
        ``attempts`` likewise), and the grids from the best-accuracy attempts come first,
        so a later candidate may have more votes than an earlier one; for ``oracle``
        every attempt votes.

        Args:
            method: A name in `METHODS`.
            test_index: 0-based test input.

        Returns:
            The ranked candidates (empty when no counted attempt produced a grid).

        Raises:
            InputError: Unknown method or test index out of range.
        """
        _check_method(method)
        if not 0 <= test_index < self.n_test:
            raise InputError(f"test index {test_index} out of range (task has {self.n_test})")
        return list(self._tallies[method][test_index])

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable copy, tallies included."""
        return {
            "n_test": self.n_test,
            "n_attempts": self.n_attempts,
            "methods": {name: result.to_dict() for name, result in self.methods.items()},
            "tallies": {
                name: [[c.to_dict() for c in ranked] for ranked in per_test]
                for name, per_test in self._tallies.items()
            },
        }


def _check_method(method: str) -> str:
    if method not in METHODS:
        raise InputError(f"unknown voting method {method!r}; choose from {', '.join(METHODS)}")
    return method


def _field(attempt: Any, name: str, default: Any) -> Any:
    """Read ``name`` from a mapping or an object, ``default`` when absent."""
    if isinstance(attempt, Mapping):
        return attempt.get(name, default)
    return getattr(attempt, name, default)


@dataclass(frozen=True)
class _Attempt:
    outputs: list[Grid | None]  # valid grids only; padded/truncated to the task's tests
    train_accuracy: float
    transductive: bool
    keys: list[GridKey | None]  # grid_key of each output, computed once for every method


def _read_attempt(attempt: Any, index: int, n_test: int) -> _Attempt:
    raw_outputs = _field(attempt, "test_outputs", None)
    if raw_outputs is None:
        raw_outputs = []  # an attempt that never ran produced nothing
    outputs = [as_grid(grid) for grid in list(raw_outputs)[:n_test]]
    outputs += [None] * (n_test - len(outputs))
    accuracy = _field(attempt, "train_accuracy", None)
    accuracy = 0.0 if accuracy is None else accuracy
    if not isinstance(accuracy, Real) or not 0.0 <= accuracy <= 1.0:
        raise InputError(f"attempt {index}: train_accuracy must be in 0..1, got {accuracy!r}")
    keys = [None if grid is None else grid_key(grid) for grid in outputs]
    return _Attempt(outputs, float(accuracy), bool(_field(attempt, "transductive", False)), keys)


def rank_candidates(
    outputs: Sequence[Grid | None], weights: Sequence[float] | None = None
) -> list[Candidate]:
    """Rank the distinct grids among attempts' outputs by summed weight.

    Args:
        outputs: One output per attempt (index = attempt index); None, or anything that
            is not a grid, casts no vote. Pass None for attempts to leave out, so the
            others keep their indices.
        weights: Weight of each attempt's vote; 1.0 each when omitted (plain majority).

    Returns:
        Candidates ordered by score descending, then count descending, then the lowest
        attempt index that produced the grid.

    Raises:
        InputError: ``weights`` and ``outputs`` differ in length.
    """
    if weights is None:
        weights = [1.0] * len(outputs)
    if len(weights) != len(outputs):
        raise InputError(f"{len(weights)} weights for {len(outputs)} outputs")
    grids = [as_grid(output) for output in outputs]
    keys = [None if grid is None else grid_key(grid) for grid in grids]
    return _rank(grids, keys, weights)


def _rank(
    grids: Sequence[Grid | None], keys: Sequence[GridKey | None], weights: Sequence[float]
) -> list[Candidate]:
    """`rank_candidates` on outputs already checked, with their keys (None: no vote)."""
    first: dict[GridKey, Grid] = {}
    scores: dict[GridKey, float] = {}
    supporters: dict[GridKey, list[int]] = {}
    for index, key in enumerate(keys):
        if key is None:
            continue
        if key not in first:
            first[key] = grids[index]
            scores[key] = 0.0
            supporters[key] = []
        scores[key] += weights[index]
        supporters[key].append(index)
    ranked = sorted(
        first,
        key=lambda k: (-round(scores[k], _DECIMALS), -len(supporters[k]), supporters[k][0]),
    )
    return [
        Candidate(first[k], scores[k], len(supporters[k]), tuple(supporters[k])) for k in ranked
    ]


def _weighted(attempts: list[_Attempt], test_index: int) -> list[Candidate]:
    weights = [1.0 + TRAIN_ACCURACY_WEIGHT * a.train_accuracy for a in attempts]
    return _rank(
        [a.outputs[test_index] for a in attempts], [a.keys[test_index] for a in attempts], weights
    )


def _train_majority(attempts: list[_Attempt], test_index: int) -> list[Candidate]:
    """Majority among the best-train attempts, then each lower train accuracy in turn.

    Each lower level only ranks grids no higher level produced, so every distinct grid
    appears once and the second slot is filled whenever a second grid exists.
    """
    grids = [a.outputs[test_index] for a in attempts]
    levels = sorted(
        {round(a.train_accuracy, _DECIMALS) for a in attempts if a.keys[test_index] is not None},
        reverse=True,
    )
    ranked: list[Candidate] = []
    seen: set[GridKey] = set()
    for level in levels:
        keys: list[GridKey | None] = []
        for a in attempts:
            key = a.keys[test_index]
            at_level = round(a.train_accuracy, _DECIMALS) == level
            keys.append(key if at_level and key not in seen else None)
        ranked += _rank(grids, keys, [1.0] * len(attempts))
        seen.update(key for key in keys if key is not None)
    return ranked


def _oracle(attempts: list[_Attempt], test_index: int) -> list[Candidate]:
    return _rank(
        [a.outputs[test_index] for a in attempts],
        [a.keys[test_index] for a in attempts],
        [1.0] * len(attempts),
    )


def _result(top2: list[list[Grid]], expected: list[Grid | None], n_test: int) -> MethodResult:
    correct = [
        truth is not None and any(answer == truth for answer in answers)
        for answers, truth in zip(top2, expected, strict=True)
    ]
    solved = sum(correct)
    return MethodResult(
        top2=top2,
        per_test_correct=correct,
        score=solved / n_test if n_test else 0.0,
        all_correct=n_test > 0 and solved == n_test,
    )


def vote_task(attempts: Sequence[Any], expected_test: Sequence[Grid | None]) -> TaskVote:
    """Vote over a task's attempts with every method in `METHODS` and score the answers.

    Args:
        attempts: The task's attempts, dicts or objects with ``test_outputs`` (one grid
            or None per test input; missing entries count as None), ``train_accuracy``
            (0.0-1.0; missing or None counts as 0.0) and ``transductive`` (missing counts
            as False). Predictions that are not valid grids count as None.
        expected_test: The true test outputs; None where unknown, which makes that test
            input count as not solved (it stays in the denominator).

    Returns:
        The answers, correctness and tallies of each method. With no attempts, or no
        attempt producing a grid, every method scores 0.0.

    Raises:
        InputError: A train accuracy is outside 0..1, or an expected output is malformed.
    """
    n_test = len(expected_test)
    expected: list[Grid | None] = []
    for index, truth in enumerate(expected_test):
        grid = None if truth is None else as_grid(truth)
        if truth is not None and grid is None:
            raise InputError(f"expected test output {index} is not a grid: {truth!r:.80}")
        expected.append(grid)
    everyone = [_read_attempt(a, i, n_test) for i, a in enumerate(attempts)]
    # Left-out attempts become empty placeholders so that every attempt keeps its index
    # in tallies and tie-breaks.
    blank = _Attempt([None] * n_test, 0.0, False, [None] * n_test)
    inductive = [blank if a.transductive else a for a in everyone]

    methods: dict[str, MethodResult] = {}
    tallies: dict[str, list[list[Candidate]]] = {}
    for suffix, pool in (("", everyone), ("_excl_trans", inductive)):
        for base, ranker in (("weighted", _weighted), ("train_majority", _train_majority)):
            ranked = [ranker(pool, t) for t in range(n_test)]
            top2 = [[c.grid for c in per_test[:TOP_K]] for per_test in ranked]
            tallies[base + suffix] = ranked
            methods[base + suffix] = _result(top2, expected, n_test)
        ranked = [_oracle(pool, t) for t in range(n_test)]
        oracle_top = [
            [c.grid for c in per_test if truth is not None and c.grid == truth][:1]
            for per_test, truth in zip(ranked, expected, strict=True)
        ]
        tallies["oracle" + suffix] = ranked
        methods["oracle" + suffix] = _result(oracle_top, expected, n_test)
    ordered = {name: methods[name] for name in METHODS}
    return TaskVote(n_test=n_test, n_attempts=len(everyone), methods=ordered, _tallies=tallies)


def mean_scores(votes: Iterable[TaskVote]) -> dict[str, float]:
    """Average each method's task score over tasks (every task weighs the same).

    Args:
        votes: One `TaskVote` per task.

    Returns:
        Mean score (0.0-1.0) per name in `METHODS`; 0.0 for no tasks.
    """
    votes = list(votes)
    return {
        name: sum(v.methods[name].score for v in votes) / len(votes) if votes else 0.0
        for name in METHODS
    }
