"""Command-line interface: ``arcnb <command> ...``.

Each command is a pair of functions, ``_add_<name>_args(parser)`` and ``_cmd_<name>(args) -> int``,
registered in ``_COMMANDS``; adding a command means writing those two and one entry there.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from arcnb import tasks
from arcnb.errors import InputError

_EXIT_INPUT_ERROR = 2  # same code argparse uses for bad arguments


def main(argv: Sequence[str] | None = None) -> int:
    """Runs one ``arcnb`` command.

    Args:
        argv: Arguments without the program name; defaults to ``sys.argv[1:]``.

    Returns:
        The exit code: 0 on success, 2 on bad input (the message is printed to stderr as one
        line, without a traceback).
    """
    parser = _build_parser()
    args = parser.parse_args(argv)
    command: Callable[[argparse.Namespace], int] = args.func
    try:
        return command(args)
    except InputError as e:
        message = " ".join(str(e).split())  # one line, whatever the message holds
        print(f"arcnb: error: {message}", file=sys.stderr)
        return _EXIT_INPUT_ERROR


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


# -- subsets ----------------------------------------------------------------------------------


def _add_subsets_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dataset",
        default="arc-agi-1",
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


# Command name -> (help, add its flags, run it).
_COMMANDS: dict[
    str,
    tuple[str, Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int]],
] = {
    "subsets": ("list a dataset's named subsets and their sizes", _add_subsets_args, _cmd_subsets),
}


if __name__ == "__main__":
    sys.exit(main())
