"""Tests for the arcnb command line, run as a real subprocess."""

import subprocess
import sys


def _arcnb(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "arcnb.cli", *args], capture_output=True, text=True, timeout=60
    )


def test_subsets_prints_a_table():
    result = _arcnb("subsets", "--dataset", "arc-agi-1")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["subset", "tasks"]
    table = dict(line.split() for line in lines[1:])
    assert table["shortest_training_10"] == "10"
    assert table["grid_size_distributed_30_evaluation"] == "30"
    assert table["all_training"] == "400"
    assert table["all_evaluation"] == "400"
    assert len(table) == 28


def test_unknown_dataset_is_one_line_exit_2():
    result = _arcnb("subsets", "--dataset", "arc-agi-3")
    assert result.returncode == 2
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("arcnb: error: unknown dataset 'arc-agi-3'; did you mean: ")


def test_bad_arguments_exit_2():
    assert _arcnb().returncode == 2
    assert _arcnb("no-such-command").returncode == 2


def test_help_lists_commands():
    result = _arcnb("--help")
    assert result.returncode == 0
    assert "subsets" in result.stdout


def test_every_flag_of_every_command_has_help():
    """`arcnb COMMAND --help` explains every argument, not just its default."""
    import argparse

    from arcnb.cli import _build_parser

    parser = _build_parser()
    (commands,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    missing = []
    for name, sub in commands.choices.items():
        for action in sub._actions:
            text = (action.help or "").replace("(default: %(default)s)", "").strip()
            if action.help == argparse.SUPPRESS or len(text) < 8:
                missing.append(f"{name} {'/'.join(action.option_strings) or action.dest}")
    assert not missing, missing
    assert {"report", "stats", "viz", "run"} <= set(commands.choices)
