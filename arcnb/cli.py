"""Command-line interface: ``arcnb <command> ...``.

Each command is a pair of functions, ``_add_<name>_args(parser)`` and ``_cmd_<name>(args) -> int``,
registered in ``_COMMANDS``; adding a command means writing those two and one entry there.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from arcnb import _cli_dataset, tasks
from arcnb.config import DEFAULT_LOGS_DIR, RunConfig
from arcnb.errors import InputError, RunFailedError
from arcnb.settings import add_flags, settings_from_args

_EXIT_RUN_FAILED = 1  # the run ran, but every request failed or --max-failures stopped it
_EXIT_INPUT_ERROR = 2  # same code argparse uses for bad arguments; also a refused API key


def main(argv: Sequence[str] | None = None) -> int:
    """Runs one ``arcnb`` command.

    Args:
        argv: Arguments without the program name; defaults to ``sys.argv[1:]``.

    Returns:
        The exit code: 0 on success, 1 when a run failed (every request failed, or
        ``--max-failures`` stopped it), 2 on bad input, including a key the endpoint refused
        (the message is printed to stderr as one line, without a traceback).
    """
    parser = _build_parser()
    args = parser.parse_args(argv)
    command: Callable[[argparse.Namespace], int] = args.func
    try:
        return command(args)
    except (InputError, RunFailedError) as e:
        message = " ".join(str(e).split())  # one line, whatever the message holds
        print(f"arcnb: error: {message}", file=sys.stderr)
        return _EXIT_INPUT_ERROR if isinstance(e, InputError) else _EXIT_RUN_FAILED


def entry() -> None:
    """Console-script entry point: exits with ``main``'s code."""
    sys.exit(main())


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="arcnb", description="Program-synthesis evaluation of language models on ARC-AGI."
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (help_text, add_args, run) in _COMMANDS.items():
        sub = subparsers.add_parser(name, help=help_text, description=help_text)
        add_args(sub)
        sub.set_defaults(func=run)
    return parser


def _flag(parser: argparse.ArgumentParser, name: str, **kwargs) -> None:
    """Add --a-b, also accepted as --a_b, for a flag that is no config's setting.

    Settings of a config (RunConfig, DatasetConfig) get their flags from `add_flags` instead.
    """
    flags = [f"--{name}"] + ([f"--{name.replace('-', '_')}"] if "-" in name else [])
    parser.add_argument(*flags, dest=name.replace("-", "_"), **kwargs)


# -- subsets ----------------------------------------------------------------------------------


def _add_subsets_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dataset",
        default=RunConfig.dataset,
        help=f"one of {', '.join(tasks.DATASETS)}, or a folder of task JSON files "
        "(default: %(default)s)",
    )


def _cmd_subsets(args: argparse.Namespace) -> int:
    subsets = tasks.list_subsets(args.dataset)
    width = max(len(name) for name in subsets)
    print(f"{'subset':<{width}}  tasks")
    for name, count in subsets.items():
        print(f"{name:<{width}}  {count:>5}")
    return 0


# -- run ------------------------------------------------------------------------------------


def _add_run_args(parser: argparse.ArgumentParser) -> None:
    # Every RunConfig field is a flag: names, defaults, help and choices come from its `setting`.
    add_flags(parser, RunConfig)
    parser.formatter_class = argparse.RawDescriptionHelpFormatter  # the epilog's lines as written
    parser.epilog = """\
API keys: OPENAI_API_KEY (environment or .env) is sent only to OpenAI's API
(https://api.openai.com). Any other endpoint gets the key in the variable named
by --api-key-env, or no key (the placeholder 'none': the SDK needs a string).
A key never goes over plain http to a host other than 127.0.0.1/localhost
unless --allow-insecure-key is given.

exit codes: 0 done; 1 the run failed (every request failed, or --max-failures
stopped it); 2 bad input, or the endpoint refused the key (401/403: the run
stops at once, and --resume finishes it once the key is fixed); 130 interrupted."""


def _cmd_run(args: argparse.Namespace) -> int:
    from arcnb.runner import run_eval

    try:
        result = run_eval(**settings_from_args(RunConfig, args))
    except KeyboardInterrupt:
        print(
            "arcnb: interrupted; every finished attempt is saved: continue with "
            "`arcnb run --resume RUN_DIR` (the run directory printed at the start)",
            file=sys.stderr,
        )
        return 130
    print(result.table())
    for run in result.runs:
        print(f"run directory: {run.run_dir}")
    if result.aggregate_path:
        print(f"aggregate: {result.aggregate_path}")
    return 0


# -- stats ------------------------------------------------------------------------------------


def _add_stats_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="run directories")
    parser.add_argument(
        "--json",
        action="store_true",
        help="print a JSON list instead, one object per run: every metric with its count and "
        "denominator, tokens, cost, per-task results, completeness and warnings",
    )


def _cmd_stats(args: argparse.Namespace) -> int:
    from arcnb.compare import recompute_summary
    from arcnb.metrics import format_table

    summaries = [recompute_summary(d) for d in args.run_dirs]  # every dir checked before output
    if args.json:
        import json

        print(json.dumps(summaries, indent=1, default=str))
        return 0
    for i, s in enumerate(summaries):
        if i:
            print()
        print(f"== {s['run_id']} ({s['model']}, {s['dataset']}/{s['subset']})")
        print(format_table(s))
        if not s["complete"]:
            print(f"incomplete: {'; '.join(s['reasons'])}")
        for warning in s["warnings"]:
            print(f"warning: {warning}")
    return 0


# -- cleanup-logs -----------------------------------------------------------------------------


def _add_cleanup_logs_args(parser: argparse.ArgumentParser) -> None:
    _flag(parser, "logs-dir", default=DEFAULT_LOGS_DIR, metavar="DIR",
          help="the folder of run directories to clean up (default: %(default)s)")  # fmt: skip
    _flag(parser, "older-than", required=True, metavar="DAYS",
          help="delete runs started more than DAYS days ago (by the UTC time in the name, "
          "else the modification time)")  # fmt: skip
    parser.add_argument("--yes", action="store_true", help="delete without asking")


def _cmd_cleanup_logs(args: argparse.Namespace) -> int:
    import math
    import shutil
    import time
    from pathlib import Path

    from arcnb.rundir import list_runs, parse_run_dir_name

    try:
        days = float(args.older_than)
    except ValueError:
        raise InputError(
            f"--older-than must be a number of days, got {args.older_than!r}"
        ) from None
    if not math.isfinite(days) or days < 0:
        raise InputError(f"--older-than must be a number of days >= 0, got {args.older_than!r}")
    root = Path(args.logs_dir)
    if not root.is_dir():
        raise InputError(f"--logs-dir {args.logs_dir}: no such directory")

    def started(path: Path) -> float:  # seconds since the epoch
        parsed = parse_run_dir_name(path.name)
        return parsed.started.timestamp() if parsed else path.lstat().st_mtime

    cutoff = time.time() - days * 86400
    # Symbolic links are never followed or removed: they may point outside the logs.
    runs = [p for p in list_runs(root) if not p.is_symlink() and started(p) < cutoff]
    aggregates = [
        p for p in sorted(root.glob("*_aggregate.json"))
        if p.is_file() and not p.is_symlink() and started(p) < cutoff
    ]  # fmt: skip
    if not runs and not aggregates:
        print(f"no run directories older than {args.older_than} days in {root}")
        return 0
    for path in runs + aggregates:
        print(path)
    what = f"{len(runs)} run directories"
    if aggregates:
        what += f" and {len(aggregates)} aggregate files"
    if not args.yes:
        if not sys.stdin.isatty():
            print(f"not deleting {what}: stdin is not a terminal; pass --yes", file=sys.stderr)
            return 1
        answer = input(f"Delete {what}? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            print("nothing deleted")
            return 0
    for path in runs:
        shutil.rmtree(path)
        print(f"removed {path}")
    for path in aggregates:
        path.unlink()
        print(f"removed {path}")
    return 0


# -- viz ------------------------------------------------------------------------------------


def _add_viz_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", metavar="RUN_DIR", help="a run directory under logs/")
    parser.add_argument(
        "--task", action="append", metavar="ID", help="only this task (repeatable; default: all)"
    )
    parser.add_argument(
        "--out", default="plots", metavar="DIR",
        help="folder for the PNG figures, created if missing (default: %(default)s)",
    )  # fmt: skip


def _cmd_viz(args: argparse.Namespace) -> int:
    from arcnb.plotting import format_evolution_table, load_run, render_run

    run = load_run(args.run_dir)
    for warning in run.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    rows = render_run(run, task_ids=args.task, out_dir=args.out)
    print(format_evolution_table(rows))
    print(f"{len(rows)} figures in {args.out}/")
    return 0


# -- report ---------------------------------------------------------------------------------


def _add_report_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", metavar="RUN_DIR", help="a run directory (finished or not)")
    parser.add_argument(
        "--out",
        metavar="DIR",
        help="folder for index.html and tasks/<id>.html, created if missing; pages of an "
        "earlier report there are replaced (default: reports/<run directory's name>)",
    )


def _cmd_report(args: argparse.Namespace) -> int:
    from pathlib import Path

    from arcnb.report import save_html

    out = args.out or Path("reports") / Path(args.run_dir).resolve().name
    index = save_html(args.run_dir, out)
    print(f"report: {index} ({sum(1 for _ in (index.parent / 'tasks').glob('*.html'))} task pages)")
    return 0


# -- submission, score -------------------------------------------------------------------


def _add_submission_args(parser: argparse.ArgumentParser) -> None:
    from arcnb.submission import DEFAULT_METHOD, SUBMISSION_METHODS

    parser.add_argument("run_dir", metavar="RUN_DIR", help="a run directory (finished or not)")
    parser.add_argument("--out", default="submission.json", metavar="FILE",
                        help="the submission file to write (default: %(default)s)")  # fmt: skip
    parser.add_argument(
        "--method", default=DEFAULT_METHOD, choices=SUBMISSION_METHODS,
        help="the voting method whose top two answers are the attempts (default: %(default)s, "
        "the run's pass2_weighted)",
    )  # fmt: skip


def _cmd_submission(args: argparse.Namespace) -> int:
    from arcnb.submission import build_submission, write_submission

    submission, warnings = build_submission(args.run_dir, args.method)
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
    path = write_submission(submission, args.out)
    n_tests = sum(len(entries) for entries in submission.values())
    print(f"{path}: {len(submission)} tasks, {n_tests} test inputs ({args.method} vote)")
    return 0


def _add_score_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("submission", metavar="SUBMISSION", help="a submission JSON file")
    parser.add_argument("--dataset", required=True,
                        help=f"{', '.join(tasks.DATASETS)}, or a folder of task JSON files")  # fmt: skip
    parser.add_argument("--subset", help="the tasks asked for (a named subset, ids a,b,c or a "
                        "file of ids; tasks missing from the submission score 0); default: "
                        "the submission's tasks")  # fmt: skip
    parser.add_argument("--json", action="store_true", help="print the score and every "
                        "task's score as JSON")  # fmt: skip


def _cmd_score(args: argparse.Namespace) -> int:
    import dataclasses
    import json

    from arcnb.submission import score_submission

    result = score_submission(args.submission, args.dataset, args.subset)
    if args.json:
        print(json.dumps(dataclasses.asdict(result), indent=1))
        return 0
    print(result.line())
    if result.ignored:
        print(f"{len(result.ignored)} task(s) of the submission outside --subset, not scored")
    return 0


# -- notebooks ------------------------------------------------------------------------------


def _add_notebooks_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dir", metavar="DIR", help="folder to copy the notebooks into")
    parser.add_argument(
        "--force", action="store_true", help="replace notebooks of the same names already there"
    )


def _cmd_notebooks(args: argparse.Namespace) -> int:
    from arcnb.notebooks import copy_notebooks

    for path in copy_notebooks(args.dir, overwrite=args.force):
        print(path)
    print("each runs as is (a demonstration run when given none): jupyter lab " + args.dir)
    return 0


# Command name -> (help, add its flags, run it).
_COMMANDS: dict[
    str,
    tuple[str, Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int]],
] = {
    "subsets": ("list a dataset's named subsets and their sizes", _add_subsets_args, _cmd_subsets),
    "run": ("evaluate a model on ARC tasks (all attempts at once)", _add_run_args, _cmd_run),
    "viz": (
        "plot every attempt or turn of a run, and print the evolution table",
        _add_viz_args,
        _cmd_viz,
    ),
    "report": (
        "write a run's static HTML report: an index of tasks (filter, search), a page per task",
        _add_report_args,
        _cmd_report,
    ),
    "submission": (
        "write a run's ARC Prize (Kaggle) submission.json: both attempts for every test input",
        _add_submission_args,
        _cmd_submission,
    ),
    "score": (
        "score a submission file against a dataset by the official ARC Prize rule",
        _add_score_args,
        _cmd_score,
    ),
    "notebooks": (
        "copy the notebooks that ship with arcnb into a folder",
        _add_notebooks_args,
        _cmd_notebooks,
    ),
    "dataset": (
        "build a fine-tuning dataset from logged programs",
        _cli_dataset.add_dataset_args,
        _cli_dataset.cmd_dataset,
    ),
    "validate-dataset": (
        "re-execute a dataset's code and check its rows",
        _cli_dataset.add_validate_dataset_args,
        _cli_dataset.cmd_validate_dataset,
    ),
    "simple-dataset": (
        "tasks in the training-data format, without programs",
        _cli_dataset.add_simple_dataset_args,
        _cli_dataset.cmd_simple_dataset,
    ),
    "stats": ("recompute and print runs' metrics (finished or not)", _add_stats_args, _cmd_stats),
    "cleanup-logs": (
        "delete run directories older than some days",
        _add_cleanup_logs_args,
        _cmd_cleanup_logs,
    ),
}


if __name__ == "__main__":
    sys.exit(main())
