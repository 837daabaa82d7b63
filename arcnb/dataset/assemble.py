"""Balance tasks 50/50 and split them into ``train`` / ``validation`` (no task in both)."""

from __future__ import annotations

import collections
import logging
import random
from pathlib import Path
from typing import TYPE_CHECKING

from arcnb.dataset.config import DatasetConfig
from arcnb.dataset.relabel import _TaskRows

if TYPE_CHECKING:
    pass

logger = logging.getLogger("arcnb")

VALIDATION_FRACTION = 0.1  # share of tasks held out by validation=True (at least one task)
SEED = 0  # for balancing and the validation split: the same inputs give the same dataset


def _balance(tasks: dict[str, _TaskRows], stats: dict, rng: random.Random) -> list[str]:
    """Task ids kept so that tasks with and without a test-correct program are 50/50."""
    with_correct = sorted(t for t, s in tasks.items() if s.correct)
    without = sorted(t for t, s in tasks.items() if not s.correct)
    info = stats["balance"]
    info.update(tasks_with_correct=len(with_correct), tasks_without_correct=len(without))
    if not with_correct or not without:
        if with_correct or without:
            logger.warning(
                "balance: every task is %s; nothing to balance against",
                "solved" if with_correct else "unsolved",
            )
        return sorted(tasks)
    big, small = (
        (with_correct, without) if len(with_correct) > len(without) else (without, with_correct)
    )
    dropped = set(big) - set(rng.sample(big, len(small)))
    info.update(
        applied=True,
        dropped_tasks=len(dropped),
        dropped_rows=sum(len(tasks[t].rows) for t in dropped),
    )
    return sorted(set(tasks) - dropped)


def _split(ids: list[str], tasks: dict[str, _TaskRows], rng: random.Random) -> tuple[list, list]:
    """(train ids, validation ids): ~`VALIDATION_FRACTION` of each difficulty bucket."""
    buckets: dict[int, list[str]] = collections.defaultdict(list)
    for t in ids:
        share = tasks[t].correct / len(tasks[t].rows)
        buckets[0 if share == 0 else 1 if share < 0.5 else 2].append(t)
    held: list[str] = []
    for bucket in sorted(buckets):
        members = buckets[bucket]
        rng.shuffle(members)
        held += members[: int(len(members) * VALIDATION_FRACTION + 0.5)]
    if not held and len(ids) >= 2:  # too few tasks to round to one: hold out one anyway
        largest = max(buckets.values(), key=len)
        held.append(largest[0])
    held_set = set(held)
    return [t for t in ids if t not in held_set], sorted(held_set)


def _assemble(arrow: Path, tasks: dict[str, _TaskRows], cfg: DatasetConfig, stats: dict):
    """Balance and split the rows written to ``arrow`` into a DatasetDict."""
    from datasets import Dataset, DatasetDict

    rng = random.Random(SEED)
    rows = Dataset.from_file(str(arrow))
    ids = _balance(tasks, stats, rng) if cfg.balance else sorted(tasks)
    if cfg.balance:
        b = stats["balance"]
        logger.info(
            "dataset: balance: %d tasks with a test-correct program, %d without; "
            "dropped %d task(s), %d row(s)",
            b["tasks_with_correct"],
            b["tasks_without_correct"],
            b["dropped_tasks"],
            b["dropped_rows"],
        )
    splits = (
        dict(zip(("train", "validation"), _split(ids, tasks, rng), strict=True))
        if cfg.validation
        else {"train": ids}
    )
    out = {}
    for split, members in splits.items():
        if not members:  # e.g. --validation with a single task: no split can be held out
            logger.warning("dataset: the %s split would be empty; leaving it out", split)
            continue
        indices = sorted(i for t in members for i in tasks[t].rows)
        out[split] = rows.select(indices)
        stats["splits"][split] = len(indices)
        stats["split_tasks"][split] = len(members)
    logger.info(
        "dataset: splits %s",
        ", ".join(
            f"{s} {stats['splits'][s]} rows ({stats['split_tasks'][s]} task(s))" for s in out
        ),
    )
    return DatasetDict(out)
