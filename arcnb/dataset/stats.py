"""The statistics of one `build_dataset` call: counters, log lines, a printable table."""

from __future__ import annotations

import logging
from typing import Any

logger = logging.getLogger("arcnb")

_REJECTS = ("transductive", "format", "exec")


def _new_stats() -> dict[str, Any]:
    return {
        "runs": 0,
        "programs_found": 0,
        "skipped_model": 0,
        "skipped_unknown_task": 0,
        "executed": 0,
        "cache_hits": 0,
        "rejected": dict.fromkeys(_REJECTS, 0),
        "qualified": 0,
        "transductive_kept": 0,
        "deduplicated": {"code": 0, "outputs": 0},
        "rows": 0,
        "test_correct_rows": 0,
        "reasoning_rows": 0,
        "clean_code": {"programs": 0, "kept_original": 0, "chars_before": 0, "chars_after": 0},
        "balance": {
            "applied": False,
            "tasks_with_correct": 0,
            "tasks_without_correct": 0,
            "dropped_tasks": 0,
            "dropped_rows": 0,
        },
        "splits": {},
        "split_tasks": {},
        "seconds": 0.0,
    }


def _log_programs(stats: dict) -> None:
    rejected, dedup = stats["rejected"], stats["deduplicated"]
    stats["qualified"] = stats["programs_found"] - sum(rejected.values())
    logger.info(
        "dataset: %d programs found, %d qualified; rejected %d transductive, %d format, %d exec; "
        "%d executed (%d repeats not re-run)",
        stats["programs_found"],
        stats["qualified"],
        rejected["transductive"],
        rejected["format"],
        rejected["exec"],
        stats["executed"],
        stats["cache_hits"],
    )
    logger.info(
        "dataset: deduplicated %d by code, %d by outputs; %d rows (%d test-correct)",
        dedup["code"],
        dedup["outputs"],
        stats["rows"],
        stats["test_correct_rows"],
    )


def format_stats(stats: dict[str, Any]) -> str:
    """Render `build_dataset` statistics as aligned lines for printing."""
    r, d, b = stats["rejected"], stats["deduplicated"], stats["balance"]
    lines = [
        ("runs", f"{stats['runs']}"),
        (
            "programs found",
            f"{stats['programs_found']:,}"
            + (
                f" (skipped: {stats['skipped_model']:,} other model)"
                if stats["skipped_model"]
                else ""
            ),
        ),
        ("qualified", f"{stats['qualified']:,}"),
        (
            "rejected",
            f"{r['transductive']:,} transductive, {r['format']:,} format, {r['exec']:,} exec",
        ),
        (
            "executed",
            f"{stats['executed']:,} unique programs ({stats['cache_hits']:,} repeats not re-run)",
        ),
        ("deduplicated", f"{d['code']:,} by code, {d['outputs']:,} by outputs"),
        (
            "rows",
            f"{stats['rows']:,} ({stats['test_correct_rows']:,} test-correct, "
            f"{stats['reasoning_rows']:,} with reasoning)",
        ),
    ]
    if stats["transductive_kept"]:
        lines.append(("transductive kept", f"{stats['transductive_kept']:,}"))
    c = stats["clean_code"]
    if c["programs"]:
        saved = c["chars_before"] - c["chars_after"]
        share = saved / c["chars_before"] if c["chars_before"] else 0.0
        lines.append(
            (
                "code cleaning",
                f"saved {saved:,} of {c['chars_before']:,} characters "
                f"({share:.1%}); {c['kept_original']:,} kept as written",
            )
        )
    if b["applied"] or b["tasks_with_correct"] or b["tasks_without_correct"]:
        lines.append(
            (
                "balance",
                f"{b['tasks_with_correct']} tasks with a test-correct program, "
                f"{b['tasks_without_correct']} without; dropped {b['dropped_tasks']} "
                f"task(s), {b['dropped_rows']:,} row(s)",
            )
        )
    for split, n in stats["splits"].items():
        lines.append((f"split {split}", f"{n:,} rows ({stats['split_tasks'][split]} task(s))"))
    if stats.get("seconds"):
        rate = stats["programs_found"] / stats["seconds"]
        lines.append(("time", f"{stats['seconds']:.1f} s ({rate:,.0f} programs/s)"))
    width = max(len(k) for k, _ in lines)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in lines)
