"""Search strategies: which programs a task's next round of requests builds on.

`STRATEGIES` (``arcnb.config``) names them; the runner asks `plan_round` what to request
next, from the task's attempt records so far, and records each request's round and parents.

- ``independent``: every request is a fresh sample of the first prompt (one round).
- ``refine-best``: a first round of fresh samples; then each round refines the ``round_size``
  best programs of the task so far, one request each, showing the program and its results on
  the train examples (sample-and-refine, as in SOAR and Greenblatt's revision of the top
  programs).
- ``evolve``: a first round of fresh samples; then each round writes ``round_size`` children,
  each prompt showing up to ``parents`` programs with their train scores (Berman's
  evolutionary test-time compute). Parents are chosen for train accuracy and for diversity:
  of programs whose outputs are the same, only the best is eligible, every child sees the best
  program, and its other parents rotate through the next-best distinct ones.

Both search strategies stop a task when its request budget (``max_attempts``) is spent or
some program is right on every train example. The ranking, best first, is: more train
examples right; then fewer times already shown as a parent (so a plateau spreads the search
rather than refining one program over and over); then higher mean pixel accuracy on the
train examples; then the earlier attempt. Requests that failed or answered no program are
never parents; when no program is eligible, the round's requests are fresh samples.

Every function here is pure: the same records give the same plan, which is what lets a
resumed run rebuild its rounds exactly from ``attempts.jsonl``. Planning reads a `candidate`
of each record (a few hundred bytes whatever its grids), so a task's search holds no grids.
`SEARCH_VERSION` changes whenever a rule here does: a run is resumed only by the planner that
made it.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

SEARCH_VERSION = 1
"""The planner's rules; recorded in config.json and checked on resume."""


@dataclass(frozen=True)
class Request:
    """One request of a round: its attempt id and the parents it builds on (attempt ids)."""

    attempt: int
    parents: tuple[int, ...] = ()


def candidate(record: Mapping[str, Any]) -> dict[str, Any]:
    """What planning reads of an attempt record: ``attempt``, ``parents``, ``answered`` (the
    request succeeded), ``eligible`` (it also held a program: it can be a parent),
    ``train_accuracy``, ``train_pixels`` (mean pixel accuracy on the train examples),
    ``all_train_correct`` and ``outputs`` (a sha256 of its outputs on every input)."""
    train = [] if record.get("failure") is not None else record.get("train") or []
    test = [] if record.get("failure") is not None else record.get("test") or []
    outputs = [[e.get("output"), e.get("status")] for e in (*train, *test)]
    return {
        "attempt": record["attempt"],
        "parents": list(record.get("parents") or ()),
        "answered": record.get("failure") is None,
        "eligible": record.get("failure") is None and bool(record.get("code")),
        "train_accuracy": float(record.get("train_accuracy") or 0.0),
        "train_pixels": (
            sum(float(e.get("pixel_accuracy") or 0.0) for e in train) / len(train) if train else 0.0
        ),
        "all_train_correct": bool(record.get("all_train_correct")),
        "outputs": hashlib.sha256(json.dumps(outputs, separators=(",", ":")).encode()).hexdigest(),
    }


def parent_uses(candidates: Iterable[Mapping[str, Any]]) -> Counter[int]:
    """How many answered requests each attempt has been shown to as a parent (a request that
    failed never reached the model, so it does not count)."""
    uses: Counter[int] = Counter()
    for c in candidates:
        if c["answered"]:
            uses.update(c["parents"])
    return uses


def ranked(candidates: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The `candidate` s that can be parents, best first (see the module's ranking)."""
    candidates = list(candidates)
    uses = parent_uses(candidates)
    return sorted(
        (c for c in candidates if c["eligible"]),
        key=lambda c: (-c["train_accuracy"], uses[c["attempt"]], -c["train_pixels"], c["attempt"]),
    )


def diverse(candidates: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """`ranked`, keeping only the best program of each distinct set of outputs."""
    seen: set[str] = set()
    kept = []
    for c in ranked(candidates):
        if c["outputs"] not in seen:
            seen.add(c["outputs"])
            kept.append(c)
    return kept


def plan_round(
    strategy: str,
    candidates: Sequence[Mapping[str, Any]],
    *,
    budget: int,
    first_round: int,
    round_size: int,
    parents: int = 1,
) -> list[Request]:
    """The next round's requests for one task, or ``[]`` when the task is done.

    Args:
        strategy: One of `arcnb.config.STRATEGIES`.
        candidates: The `candidate` of every attempt of the task so far, attempt ids 0, 1,
            ... in order.
        budget: Requests the task may make in all (``max_attempts``).
        first_round: Fresh samples in the first round (``budget`` for independent).
        round_size: Requests in each later round.
        parents: Parents shown per evolve request.

    Returns:
        The requests, with attempt ids continuing from ``len(candidates)``; fewer than a
        round when the budget runs out.
    """
    start = len(candidates)
    if strategy == "independent":
        return [Request(a) for a in range(start, budget)]
    if not candidates:
        return [Request(a) for a in range(min(first_round, budget))]
    room = budget - start
    if room <= 0 or any(c["all_train_correct"] for c in candidates):
        return []
    n = min(round_size, room)
    ids = range(start, start + n)
    if strategy == "refine-best":
        best = ranked(candidates)
        # the n best, one request each; with fewer programs, the best are refined again
        return [
            Request(a, (best[j % len(best)]["attempt"],) if best else ()) for j, a in enumerate(ids)
        ]
    if strategy == "evolve":
        pool = diverse(candidates)
        if not pool:
            return [Request(a) for a in ids]
        others = pool[1:]
        k = min(parents, len(pool)) - 1  # parents besides the best
        plan = []
        for j, a in enumerate(ids):
            rest = [others[(j * k + i) % len(others)]["attempt"] for i in range(k)]
            plan.append(Request(a, (pool[0]["attempt"], *dict.fromkeys(rest))))
        return plan
    raise ValueError(f"unknown strategy {strategy!r}")


def attempt_tree(records: Iterable[Mapping[str, Any]]) -> list[tuple[int, Mapping[str, Any]]]:
    """A task's attempts as a tree of lineage, for display: ``(depth, record)`` in depth-first
    order, each child under its first parent (``parents[0]``: for evolve, the best one; the
    others are in its ``parents``), children by attempt id.

    Fresh samples (no parents, as every attempt of an independent run) are roots at depth 0.
    An attempt whose first parent is not among ``records`` is a root too. One record per
    attempt is expected (each attempt's final turn).
    """
    by_id = {r["attempt"]: r for r in records}
    children: dict[int | None, list[int]] = {}
    for attempt in sorted(by_id):
        parents = by_id[attempt].get("parents") or ()
        parent = parents[0] if parents and parents[0] in by_id else None
        children.setdefault(parent, []).append(attempt)
    out: list[tuple[int, Mapping[str, Any]]] = []
    stack = [(0, a) for a in reversed(children.get(None, []))]
    while stack:
        depth, attempt = stack.pop()
        out.append((depth, by_id[attempt]))
        stack.extend((depth + 1, c) for c in reversed(children.get(attempt, [])))
    return out


__all__ = [
    "SEARCH_VERSION",
    "Request",
    "attempt_tree",
    "candidate",
    "diverse",
    "parent_uses",
    "plan_round",
    "ranked",
]
