"""CLI commands for training data: ``arcnb dataset``, ``validate-dataset``, ``simple-dataset``.

Each command is a pair ``add_<name>_args(parser)`` / ``cmd_<name>(args) -> int``, in the style
of `arcnb.cli`; register them there in ``_COMMANDS``:

    "dataset": ("build a fine-tuning dataset from logged programs", add_dataset_args,
                cmd_dataset),
    "validate-dataset": ("re-execute a dataset's code and check its rows",
                         add_validate_dataset_args, cmd_validate_dataset),
    "simple-dataset": ("tasks in the training-data format, without programs",
                       add_simple_dataset_args, cmd_simple_dataset),

Bad input raises `arcnb.errors.InputError` (the CLI prints one line and exits 2).
"""

from __future__ import annotations

import argparse
import logging
import sys
from datetime import UTC, datetime
from pathlib import Path

from arcnb.errors import InputError

_EXIT_ROW_FAILURES = 1  # validate-dataset: at least one row does not hold


def _flag(parser: argparse.ArgumentParser, name: str, **kwargs) -> None:
    """Add --a-b, also accepted as --a_b (as users of the older tool type it)."""
    flags = [f"--{name}"] + ([f"--{name.replace('-', '_')}"] if "-" in name else [])
    parser.add_argument(*flags, dest=name.replace("-", "_"), **kwargs)


def _progress_to_stderr(debug: bool = False) -> None:
    """Show the package's progress lines (logger "arcnb", INFO) on stderr as they come."""
    log = logging.getLogger("arcnb")
    log.setLevel(logging.DEBUG if debug else logging.INFO)
    if not any(getattr(h, "_arcnb_cli", False) for h in log.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        handler._arcnb_cli = True  # type: ignore[attr-defined]
        log.addHandler(handler)


def _executor(args: argparse.Namespace):
    if args.exec_workers is None and args.exec_timeout is None:
        return None
    from arcnb.executor import Executor

    if args.exec_workers is not None and args.exec_workers < 1:
        raise InputError(f"--exec-workers must be >= 1, got {args.exec_workers}")
    if args.exec_timeout is not None and args.exec_timeout <= 0:
        raise InputError(f"--exec-timeout must be > 0 seconds, got {args.exec_timeout}")
    return Executor(workers=args.exec_workers, timeout=args.exec_timeout or 0.5)


def _add_exec_args(parser: argparse.ArgumentParser) -> None:
    _flag(parser, "exec-workers", type=int, metavar="N", help="executor processes "
          "(default: one per core)")  # fmt: skip
    _flag(parser, "exec-timeout", type=float, metavar="S", help="seconds per grid "
          "(default: 0.5)")  # fmt: skip


def _add_hub_args(parser: argparse.ArgumentParser) -> None:
    _flag(parser, "push", action="store_true", help="upload to the Hugging Face Hub (needs "
          "HF_TOKEN or a stored token)")  # fmt: skip
    _flag(parser, "hf-org", metavar="ORG", help="Hub organisation (default: your own namespace)")
    _flag(parser, "hf-private", action="store_true", help="make the Hub dataset private")
    _flag(parser, "hf-dataset-name", metavar="NAME", help="dataset name (default: "
          "synth_<dataset>_<subset>_<UTC time>)")  # fmt: skip


# -- dataset -------------------------------------------------------------------------------------


def add_dataset_args(parser: argparse.ArgumentParser) -> None:
    """Flags of ``arcnb dataset`` (names as in the older generate_training_data.py)."""
    parser.add_argument("run_dirs", nargs="*", metavar="RUN_DIR", help="run directories "
                        "(default: every run under --logs-dir)")  # fmt: skip
    _flag(parser, "logs-dir", default="logs", metavar="DIR", help="where runs live, when no "
          "RUN_DIR is given (default: %(default)s)")  # fmt: skip
    _flag(parser, "output", metavar="DIR", help="dataset directory (default: "
          "training_data/<name>)")  # fmt: skip
    _flag(parser, "model", action="append", metavar="A,B", help="only programs of these "
          "models; comma-separated or repeated")  # fmt: skip
    _flag(parser, "dataset", help="only runs on this dataset (e.g. arc-agi-1)")
    _flag(parser, "subset", help="only runs on this subset (e.g. middle_training_10)")
    _flag(parser, "date-from", metavar="YYYYMMDD", help="only runs started on or after this day")
    _flag(parser, "date-to", metavar="YYYYMMDD", help="only runs started on or before this day")
    _flag(parser, "pattern", help="only runs whose directory name contains this (or matches "
          "this glob)")  # fmt: skip
    _flag(parser, "limit", type=int, metavar="N", help="only the newest N matching runs")
    _flag(parser, "no-transduction-filter", action="store_true", help="keep programs that "
          "hard-code answers")  # fmt: skip
    _flag(parser, "no-dedup", action="store_true", help="keep duplicate programs")
    _flag(parser, "clean-code", action="store_true", help="strip comments and blank lines "
          "from the code")  # fmt: skip
    _flag(parser, "no-balance", action="store_true", help="do not balance tasks with and "
          "without a test-correct program 50/50")  # fmt: skip
    _flag(parser, "validation", action="store_true", help="hold out ~10%% of the tasks "
          "(stratified by difficulty) as a validation split")  # fmt: skip
    _flag(parser, "no-reasoning", action="store_true", help="leave the reasoning out")
    _add_hub_args(parser)
    _flag(parser, "ray", metavar="ADDRESS", help="run the programs on this Ray cluster "
          "('local' starts one; needs the ray extra)")  # fmt: skip
    _add_exec_args(parser)
    _flag(parser, "debug", action="store_true", help="log each transductive program found")


def cmd_dataset(args: argparse.Namespace) -> int:
    """Run ``arcnb dataset``: statistics go to stderr as they come, the summary to stdout."""
    from arcnb.dataset import build_dataset

    _progress_to_stderr(args.debug)
    executor = _executor(args)
    try:
        result = build_dataset(
            args.run_dirs or None,
            logs_dir=args.logs_dir,
            output=args.output,
            model=args.model,
            dataset=args.dataset,
            subset=args.subset,
            date_from=args.date_from,
            date_to=args.date_to,
            pattern=args.pattern,
            limit=args.limit,
            transduction_filter=not args.no_transduction_filter,
            dedup=not args.no_dedup,
            clean_code=args.clean_code,
            balance=not args.no_balance,
            validation=args.validation,
            reasoning=not args.no_reasoning,
            push=args.push,
            hf_org=args.hf_org,
            hf_private=args.hf_private,
            hf_dataset_name=args.hf_dataset_name,
            ray_address=args.ray,
            executor=executor,
        )
    finally:
        if executor is not None:
            executor.close()
    print(result.table())
    print(f"dataset: {result.path}")
    if result.hub_id:
        print(f"hub: https://huggingface.co/datasets/{result.hub_id}")
    return 0


# -- validate-dataset ----------------------------------------------------------------------------


def add_validate_dataset_args(parser: argparse.ArgumentParser) -> None:
    """Flags of ``arcnb validate-dataset``."""
    parser.add_argument("path_or_id", metavar="PATH_OR_HUB_ID", help="a saved dataset "
                        "directory or a Hugging Face dataset id")  # fmt: skip
    _flag(parser, "split", help="only this split (default: all)")
    _flag(parser, "limit", type=int, metavar="N", help="only the first N rows of each split")
    _add_exec_args(parser)


def cmd_validate_dataset(args: argparse.Namespace) -> int:
    """Print each failing row; exit 1 when any row fails, 0 when all hold."""
    from arcnb.dataset import validate_dataset

    executor = _executor(args)
    try:
        failures = validate_dataset(
            args.path_or_id, split=args.split, limit=args.limit, executor=executor
        )
    finally:
        if executor is not None:
            executor.close()
    for failure in failures:
        print(failure)
    if failures:
        print(f"validate-dataset: {len(failures)} row(s) failed", file=sys.stderr)
        return _EXIT_ROW_FAILURES
    print("validate-dataset: every row holds")
    return 0


# -- simple-dataset ------------------------------------------------------------------------------


def add_simple_dataset_args(parser: argparse.ArgumentParser) -> None:
    """Flags of ``arcnb simple-dataset``."""
    parser.add_argument("dataset", metavar="DATASET", help="arc-agi-1, arc-agi-2, "
                        "arc-prize-2024, arc-prize-2025, or a folder of task JSON files")  # fmt: skip
    parser.add_argument("subset", metavar="SUBSET", help="a named subset, comma-separated "
                        "task ids, or a file of ids")  # fmt: skip
    _flag(parser, "output", metavar="DIR", help="dataset directory (default: "
          "training_data/<name>)")  # fmt: skip
    _add_hub_args(parser)


def cmd_simple_dataset(args: argparse.Namespace) -> int:
    """Save the tasks of DATASET/SUBSET in the row format (and push them when asked)."""
    from arcnb.dataset import _UNSAFE, _output_path, _push, _require_token, simple_dataset

    token = _require_token() if args.push else None
    dd = simple_dataset(args.dataset, args.subset)
    parts = [_UNSAFE.sub("-", Path(p).name).strip("-.") for p in (args.dataset, args.subset)]
    name = args.hf_dataset_name or f"simple_{parts[0]}_{parts[1]}_{datetime.now(UTC):%Y%m%d_%H%M%S}"
    path = _output_path(args.output, name)
    dd.save_to_disk(str(path))
    print(f"{len(dd['train'])} tasks saved to {path}")
    if args.push:
        hub_id = _push(dd, name, args.hf_org, args.hf_private, token, path)
        print(f"hub: https://huggingface.co/datasets/{hub_id}")
    return 0
