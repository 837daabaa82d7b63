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

from arcnb.config import REQUIRE_ISOLATION_HELP, RunConfig
from arcnb.dataset.config import DatasetConfig
from arcnb.errors import InputError
from arcnb.executor import ISOLATION_LEVELS
from arcnb.settings import add_flags, help_of, settings_from_args

_EXIT_ROW_FAILURES = 1  # validate-dataset: at least one row does not hold
# The DatasetConfig settings that `simple-dataset` shares: where to save it, and the Hub.
_SIMPLE_SETTINGS = ("output", "push", "hf_org", "hf_private", "hf_dataset_name")


def _flag(parser: argparse.ArgumentParser, name: str, **kwargs) -> None:
    """Add --a-b, also accepted as --a_b, for a flag that is no config's setting."""
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
    if args.exec_workers is None and args.exec_timeout is None and args.require_isolation is None:
        return None
    from arcnb.executor import Executor

    if args.exec_workers is not None and args.exec_workers < 1:
        raise InputError(f"--exec-workers must be >= 1, got {args.exec_workers}")
    if args.exec_timeout is not None and args.exec_timeout <= 0:
        raise InputError(f"--exec-timeout must be > 0 seconds, got {args.exec_timeout}")
    return Executor(
        workers=args.exec_workers,
        timeout=args.exec_timeout or RunConfig.exec_timeout,
        require_isolation=args.require_isolation or RunConfig.require_isolation,
    )


def _add_exec_args(parser: argparse.ArgumentParser) -> None:
    # Not DatasetConfig settings: the executor is a live object passed beside the config. The
    # defaults stay None so that no executor is started here unless one is asked for.
    _flag(parser, "exec-workers", type=int, metavar="N", help="executor processes "
          "(default: one per core)")  # fmt: skip
    _flag(parser, "exec-timeout", type=float, metavar="S", help="seconds per grid "
          f"(default: {RunConfig.exec_timeout})")  # fmt: skip
    _flag(parser, "require-isolation", choices=ISOLATION_LEVELS, metavar="LEVEL",
          help=f"{REQUIRE_ISOLATION_HELP} (default: {RunConfig.require_isolation})")  # fmt: skip


# -- dataset -------------------------------------------------------------------------------------


def add_dataset_args(parser: argparse.ArgumentParser) -> None:
    """Flags of ``arcnb dataset``: DatasetConfig's settings, the executor's, ``--debug``.

    The names are those of the older generate_training_data.py.
    """
    parser.add_argument(
        "run_dirs", nargs="*", metavar="RUN_DIR", help=help_of(DatasetConfig, "run_dirs")
    )
    add_flags(parser, DatasetConfig)
    _add_exec_args(parser)
    _flag(parser, "debug", action="store_true", help="log each transductive program found")


def cmd_dataset(args: argparse.Namespace) -> int:
    """Run ``arcnb dataset``: statistics go to stderr as they come, the summary to stdout."""
    from arcnb.dataset import build_dataset

    _progress_to_stderr(args.debug)
    executor = _executor(args)
    try:
        settings = settings_from_args(DatasetConfig, args)
        settings["run_dirs"] = settings["run_dirs"] or None  # nargs="*" gives [] for none
        result = build_dataset(executor=executor, **settings)
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
    add_flags(parser, DatasetConfig, only=_SIMPLE_SETTINGS)


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
