"""Settings declared once: RunConfig / DatasetConfig fields vs CLI flags and notebook parameters.

The flags are read from the real ``--help`` of a subprocess, and the notebooks' parameters cells
from the .ipynb files, so a field added to a config without a flag (or a notebook parameter that
drifts from its field) fails here.
"""

import ast
import dataclasses
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from arcnb import cli, llm
from arcnb.config import DEFAULT_MODEL, REASONING_BUDGETS, REASONING_EFFORTS, RunConfig
from arcnb.dataset.config import DatasetConfig
from arcnb.settings import add_flags, setting, settings_from_args

ROOT = Path(__file__).resolve().parent.parent

# Fields with no flag of their own, each with its reason. Empty today: every setting is a flag.
RUN_NOT_FLAGS: dict[str, str] = {}
# DatasetConfig fields spelled differently on the command line.
DATASET_FLAGS = {"run_dirs": "RUN_DIR", "ray_address": "--ray"}
# run_eval.ipynb runs small by default (it is executed headless in the suite): these values
# differ from RunConfig's on purpose, and the notebook's comments say so.
RUN_NOTEBOOK_SMALLER = {"subset": "shortest_training_1", "max_attempts": 2}
# RunConfig fields the notebook leaves at their defaults (passing nothing for them).
RUN_NOT_IN_NOTEBOOK = {"resume", "price_in", "price_out", "exec_workers", "progress"}


def _help(*command: str) -> str:
    # A wide terminal, so that argparse wraps no help line inside a value.
    env = {**os.environ, "COLUMNS": "250"}
    result = subprocess.run(
        [sys.executable, "-m", "arcnb.cli", *command, "--help"],
        capture_output=True, text=True, timeout=60, env=env, check=True,
    )  # fmt: skip
    return result.stdout


def _options(help_text: str) -> dict[str, str]:
    """``--help`` text -> {each flag spelling: its whole entry (flags and help)}."""
    entries: dict[str, str] = {}
    blocks = re.split(r"\n(?=  \S)", help_text.split("options:", 1)[1])
    for block in blocks:
        if not block.strip():  # the rest of the "options:" line itself
            continue
        entry = " ".join(block.split())
        for flag in re.findall(
            r"(?:^|, )(--[\w-]+)", entry.split("  ")[0] if "  " in entry else entry
        ):
            entries[flag] = entry
        for flag in re.findall(r"(?<![\w-])(--[\w-]+)", block.strip().splitlines()[0]):
            entries.setdefault(flag, entry)
    return entries


def _kebab(name: str) -> str:
    return name.replace("_", "-")


def _parameters(notebook: str) -> dict[str, Any]:
    """The literal assignments of a notebook's cell tagged ``parameters``."""
    cells = json.loads((ROOT / notebook).read_text())["cells"]
    (cell,) = [c for c in cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    tree = ast.parse("".join(cell["source"]))
    return {node.target.id: ast.literal_eval(node.value) for node in tree.body}


NOTEBOOKS = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_stored_notebook_has_no_outputs_and_a_parameters_cell(notebook):
    cells = json.loads((ROOT / notebook).read_text())["cells"]
    code = [c for c in cells if c["cell_type"] == "code"]
    assert all(not c["outputs"] and c["execution_count"] is None for c in code)
    assert "parameters" in code[0]["metadata"]["tags"]


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_papermill_help_notebook_shows_each_parameter_typed(notebook):
    """`papermill --help-notebook` lists every parameter with its type (not "Unknown type")
    and help; one that is a config's field has that field's type, None aside."""
    import typing

    result = subprocess.run(
        [sys.executable, "-m", "papermill", "--help-notebook", str(ROOT / notebook)],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    shown = dict(re.findall(r"^  (\w+): (.+?) \(default ", result.stdout, re.MULTILINE))
    assert list(shown) == list(_parameters(notebook))  # none dropped (an "=" in a comment)
    config = DatasetConfig if "dataset" in notebook else RunConfig
    hints = typing.get_type_hints(config)
    for name, type_name in shown.items():
        assert type_name != "Unknown type", name
        if name in hints:
            options = typing.get_args(hints[name]) or (hints[name],)
            names = {getattr(o, "__name__", None) if not typing.get_args(o) else str(o)
                     for o in options}  # fmt: skip
            assert type_name in names, (name, type_name, names)


def _defaults(cls: type) -> dict[str, Any]:
    return {f.name: f.default for f in dataclasses.fields(cls)}


# -- arcnb run <-> RunConfig ------------------------------------------------------------------


def test_every_run_config_field_is_a_flag_of_arcnb_run():
    options = _options(_help("run"))
    for field in dataclasses.fields(RunConfig):
        if field.name in RUN_NOT_FLAGS:
            continue
        name = _kebab(field.name)
        flag = f"--no-{name}" if field.default is True else f"--{name}"
        assert flag in options, f"RunConfig.{field.name} has no flag {flag}"
        if "-" in flag:  # the older tool's spelling is accepted too
            assert flag.replace("-", "_").replace("__", "--", 1) in options[flag]


def test_run_help_shows_each_default_and_the_choices():
    options = _options(_help("run"))
    for field in dataclasses.fields(RunConfig):
        if field.default is None or isinstance(field.default, bool):
            continue  # None's meaning (if any) is in the help text; a switch has no value
        entry = options[f"--{_kebab(field.name)}"]
        assert f"(default: {field.default})" in entry, entry
    assert "{low,medium,high}" in options["--reasoning-effort"]
    assert tuple(REASONING_BUDGETS) == REASONING_EFFORTS == ("low", "medium", "high")
    assert "low 2k, medium 8k, high 32k tokens" in options["--reasoning-effort"]
    assert f"(default: {DEFAULT_MODEL};" in options["--model"]
    assert llm.REASONING_BUDGETS is REASONING_BUDGETS  # one table, sent and offered


def _parse(*argv: str) -> dict[str, Any]:
    return settings_from_args(RunConfig, cli._build_parser().parse_args(["run", *argv]))


def test_no_flags_give_exactly_run_config_defaults():
    assert _parse() == RunConfig().to_dict()


@pytest.mark.parametrize("spelling", ["--max-attempts", "--max_attempts"])
def test_dash_and_underscore_spellings_both_work(spelling):
    assert _parse(spelling, "3")["max_attempts"] == 3


def test_repeatable_and_switch_flags():
    got = _parse(
        "--base-url", "http://a:1/v1", "--base_url", "http://b:2/v1", "--no-progress",
        "--qwen-no-think", "--api-timeout", "5", "--reasoning_effort", "high",
    )  # fmt: skip
    assert got["base_url"] == ["http://a:1/v1", "http://b:2/v1"]
    assert got["progress"] is False and got["qwen_no_think"] is True
    assert got["api_timeout"] == 5.0 and got["reasoning_effort"] == "high"


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--reasoning-effort", "extreme"], "arcnb run: error: argument --reasoning-effort/"
         "--reasoning_effort: invalid choice: 'extreme' (choose from 'low', 'medium', 'high')"),
        (["--max-attempts", "x"], "arcnb run: error: argument --max-attempts/--max_attempts: "
         "invalid int value: 'x'"),
        (["--max-attempts", "0"], "arcnb: error: --max-attempts must be >= 1, got 0"),
    ],
)  # fmt: skip
def test_bad_value_is_exit_2_with_one_error_line(argv, message):
    result = subprocess.run(
        [sys.executable, "-m", "arcnb.cli", "run", *argv],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stdout == "" and "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if "error:" in line]
    assert errors == [message]
    assert result.stderr.rstrip().splitlines()[-1] == message  # after argparse's usage, if any


def test_run_eval_notebook_parameters_are_run_config_fields_with_its_defaults():
    params = _parameters("notebooks/run_eval.ipynb")
    defaults = _defaults(RunConfig)
    assert set(params) <= set(defaults), set(params) - set(defaults)
    assert set(defaults) - set(params) == RUN_NOT_IN_NOTEBOOK
    for name, value in params.items():
        expected = RUN_NOTEBOOK_SMALLER.get(name, defaults[name])
        assert value == expected and type(value) is type(expected), name


# -- arcnb dataset <-> DatasetConfig ----------------------------------------------------------


def test_every_dataset_config_field_is_a_flag_of_arcnb_dataset():
    help_text = _help("dataset")
    options = _options(help_text)
    for field in dataclasses.fields(DatasetConfig):
        name = _kebab(field.name)
        flag = DATASET_FLAGS.get(field.name) or (
            f"--no-{name}" if field.default is True else f"--{name}"
        )
        assert flag in (options if flag.startswith("--") else help_text), field.name
    assert "(default: logs)" in options["--logs-dir"]
    assert "--logs_dir" in options["--logs-dir"]


def test_dataset_flags_map_to_fields():
    parser = cli._build_parser()
    args = parser.parse_args(
        ["dataset", "r1", "--no-dedup", "--no_balance", "--ray", "local", "--model", "a",
         "--model", "b,c", "--date_from", "20250101", "--limit", "3"]
    )  # fmt: skip
    got = settings_from_args(DatasetConfig, args)
    assert got == {
        **_defaults(DatasetConfig),
        "run_dirs": ["r1"], "dedup": False, "balance": False, "ray_address": "local",
        "model": ["a", "b,c"], "date_from": "20250101", "limit": 3,
    }  # fmt: skip
    plain = settings_from_args(DatasetConfig, parser.parse_args(["dataset"]))
    assert plain == {**_defaults(DatasetConfig), "run_dirs": []}


def test_generate_dataset_notebook_parameters_are_dataset_config_fields():
    params = _parameters("notebooks/generate_dataset.ipynb")
    assert params == _defaults(DatasetConfig)


# -- the flag builder itself ------------------------------------------------------------------


def test_add_flags_escapes_percent_and_refuses_types_without_a_flag_form():
    import argparse

    @dataclasses.dataclass
    class Toy:
        share: float = setting(0.1, help="~10% of it", metavar="F")
        hidden: bool | None = setting(None, flag=False)

    parser = argparse.ArgumentParser(prog="toy")
    add_flags(parser, Toy)
    assert "~10% of it (default: 0.1)" in " ".join(parser.format_help().split())
    assert parser.parse_args(["--share", "0.5"]).share == 0.5

    @dataclasses.dataclass
    class Bad:
        either: bool | None = setting(None)

    with pytest.raises(TypeError, match="Bad.either"):
        add_flags(argparse.ArgumentParser(), Bad)
