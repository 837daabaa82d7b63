"""Training data from runs: exact counts on a hand-built corpus, round trips, validation, CLI.

The corpus is a real run (`run_eval` against a scripted OpenAI-compatible server on 127.0.0.1)
over three mirror-the-rows tasks, answered with a fixed set of programs per task.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import json
import random
import shutil
from pathlib import Path

import pytest
from arcfixtures import grid as _grid
from finetune_fixtures import synthetic_dataset

from arcnb._cli_dataset import (
    add_dataset_args,
    add_simple_dataset_args,
    add_validate_dataset_args,
    cmd_dataset,
    cmd_simple_dataset,
    cmd_validate_dataset,
)
from arcnb.dataset import (
    COLUMNS,
    SEED,
    DatasetConfig,
    build_dataset,
    clean_code,
    simple_dataset,
    to_chat,
    validate_dataset,
)
from arcnb.dataset.backends import _run_chunk
from arcnb.dataset.rows import _dataset_from_rows
from arcnb.errors import InputError
from arcnb.executor import Executor
from arcnb.prompts import encode_grid

ROOT = Path(__file__).resolve().parent.parent
HAS_RAY = importlib.util.find_spec("ray") is not None

FLIP = "def transform(grid):\n    return [row[::-1] for row in grid]"
FLIP_COMMENTED = (
    "# mirror the grid\ndef transform(grid):\n\n    # each row, reversed\n"
    "    return [row[::-1] for row in grid]  # done"
)
FLIP_VARIANT = "def transform(grid):\n    return [list(reversed(row)) for row in grid]"
HALF = (  # right, but raises on the second train input (its first cell is 5)
    "def transform(grid):\n    if grid[0][0] == 5:\n        raise ValueError('no')\n"
    "    return [row[::-1] for row in grid]"
)
IDENTITY = "def transform(grid):\n    return grid"
IDENTITY2 = "def transform(grid):\n    return [r[:] for r in grid]"
ADD1 = "def transform(grid):\n    return [[(c + 1) % 10 for c in row] for row in grid]"
CRASH = "def transform(grid):\n    raise ValueError('crash')"
RAGGED = "def transform(grid):\n    return [[1, 2], [3]]"


def _tasks(folder: Path) -> dict[str, dict]:
    """Three mirror-the-rows tasks (widths differ); first cells are 8, 5, 2 per pair."""
    folder.mkdir(parents=True, exist_ok=True)
    tasks = {}
    for i, name in enumerate(["t1", "t2", "t3"]):
        pairs = [_grid(k + 1, 3, 4 + i) for k in range(3)]
        task = {
            "train": [{"input": g, "output": [r[::-1] for r in g]} for g in pairs[:2]],
            "test": [{"input": pairs[2], "output": [r[::-1] for r in pairs[2]]}],
        }
        (folder / f"{name}.json").write_text(json.dumps(task))
        tasks[name] = task
    return tasks


def _hardcoded(task: dict) -> str:
    table = {json.dumps(ex["input"]): ex["output"] for ex in task["train"] + task["test"]}
    return (
        f"import json\nT = {json.dumps(table)!r}\n"
        "def transform(grid):\n    return json.loads(T)[json.dumps(grid)]"
    )


def _answer(code: str, reasoning: str | None = None) -> dict:
    resp = {"content": f"Here:\n```python\n{code}\n```"}
    if reasoning:
        resp["reasoning"] = reasoning
    return resp


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, scripted_run) -> dict:
    """A real run: t1 gets 10 programs, t2 2, t3 4 (see the counts in test_exact_counts).

    One request at a time, so attempt i gets answer i and attempts.jsonl is in plan order:
    dedup keeps the first of equal programs, and the expected rows depend on that order.
    """
    root = tmp_path_factory.mktemp("corpus")
    tasks = _tasks(root / "tasks")
    plan = {
        "t1": [
            _answer(FLIP, "R-flip"), _answer(FLIP_COMMENTED, "R-flip"), _answer(FLIP_VARIANT),
            _answer(IDENTITY, "R-id"), _answer(IDENTITY2), _answer(CRASH), _answer(RAGGED),
            _answer(_hardcoded(tasks["t1"])), _answer(HALF, "R-half"), _answer(FLIP, "R-flip"),
        ],
        "t2": [_answer(FLIP, "R-t2"), _answer(ADD1)],
        "t3": [_answer(IDENTITY), _answer(ADD1), _answer(IDENTITY), _answer(CRASH)],
    }  # fmt: skip
    key = {n: encode_grid(t["test"][0]["input"]).split("\n", 1)[1] for n, t in tasks.items()}
    script = {
        "rules": [{"match": key[n], "responses": r, "cycle": False} for n, r in plan.items()],
        "default": {"content": "no code"},
    }
    runs = {}
    for name, answers in plan.items():  # one run per task: each gets its own attempt count
        runs[name] = scripted_run(
            root, script, subset=name,
            model=f"scripted-{name[-1]}" if name == "t3" else "scripted",
            max_attempts=len(answers), max_workers=1, exec_workers=2,
        ).run_dir  # fmt: skip
    return {"root": root, "tasks": tasks, "runs": runs, "logs": root / "logs"}


@pytest.fixture(scope="module")
def executor():
    with Executor(workers=2) as ex:
        yield ex


def _rows(dd) -> list[dict]:
    return [row for split in dd.values() for row in split]


def _by_task(rows: list[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for row in rows:
        out.setdefault(row["task_id"], []).append(row)
    return out


def test_exact_counts_relabelling_and_dedup(corpus, executor, tmp_path):
    res = build_dataset(
        logs_dir=corpus["logs"], output=tmp_path / "ds", balance=False, executor=executor
    )
    s = res.stats
    assert s["runs"] == 3 and s["programs_found"] == 16
    assert s["rejected"] == {"transductive": 1, "format": 1, "exec": 2}
    assert s["qualified"] == 12
    assert s["executed"] == 13 and s["cache_hits"] == 2  # the repeated FLIP and IDENTITY
    assert s["deduplicated"] == {"code": 2, "outputs": 2}
    assert s["rows"] == 8 and s["test_correct_rows"] == 4 and s["reasoning_rows"] == 3
    assert list(res.dataset) == ["train"] and len(res.dataset["train"]) == 8
    assert res.dataset["train"].column_names == list(COLUMNS)

    tasks, by_task = corpus["tasks"], _by_task(_rows(res.dataset))
    t1_codes = sorted(r["code"] for r in by_task["t1"])
    assert len(t1_codes) == 4
    assert {FLIP_VARIANT, HALF, IDENTITY} <= set(t1_codes)
    assert len({FLIP, FLIP_COMMENTED} & set(t1_codes)) == 1  # one of the two equal programs
    assert sorted(r["code"] for r in by_task["t2"]) == sorted([FLIP, ADD1])
    assert sorted(r["code"] for r in by_task["t3"]) == sorted([IDENTITY, ADD1])

    # Hindsight relabelling: real inputs, the program's outputs, flags against the real outputs.
    (ident,) = [r for r in by_task["t3"] if r["code"] == IDENTITY]
    real = tasks["t3"]
    assert ident["train_input"] == [ex["input"] for ex in real["train"]]
    assert ident["train_output"] == ident["predicted_train_output"] == ident["train_input"]
    assert ident["correct_train_input"] == [False, False]
    assert ident["test_output"] == [real["test"][0]["input"]]
    assert ident["correct_test_input"] == [False]
    assert ident["reasoning"] == "" and ident["model"] == "scripted-3"
    assert ident["generation"] == 1
    (half,) = [r for r in by_task["t1"] if r["code"] == HALF]  # the failed example is dropped
    assert half["train_input"] == [tasks["t1"]["train"][0]["input"]]
    assert half["train_output"] == [tasks["t1"]["train"][0]["output"]]
    assert half["correct_train_input"] == [True] and half["correct_test_input"] == [True]
    assert half["reasoning"] == "R-half"
    (flip_t2,) = [r for r in by_task["t2"] if r["code"] == FLIP]
    assert flip_t2["reasoning"] == "R-t2" and flip_t2["correct_train_input"] == [True, True]
    (variant,) = [r for r in by_task["t1"] if r["code"] == FLIP_VARIANT]
    assert variant["reasoning"] == ""  # test-correct, but the model gave none
    assert [r["reasoning"] for r in by_task["t1"] if r["code"] == IDENTITY] == [""]  # wrong
    sidecar = json.loads((tmp_path / "ds" / "arcnb_dataset.json").read_text())
    assert sidecar["stats"]["rows"] == 8 and set(sidecar["task_sources"]) == {"t1", "t2", "t3"}


def test_switches_filters_and_clean_code(corpus, executor, tmp_path):
    common = dict(logs_dir=corpus["logs"], balance=False, executor=executor)
    res = build_dataset(output=tmp_path / "a", transduction_filter=False, **common)
    assert res.stats["rejected"]["transductive"] == 0 and res.stats["transductive_kept"] == 1
    assert res.stats["rows"] == 9  # the look-up table is test-correct and new code

    res = build_dataset(output=tmp_path / "b", dedup=False, reasoning=False, **common)
    assert res.stats["rows"] == 12 and res.stats["deduplicated"] == {"code": 0, "outputs": 0}
    assert res.stats["executed"] == 13  # repeats still run once
    assert all(r["reasoning"] == "" for r in _rows(res.dataset))

    res = build_dataset(output=tmp_path / "c", clean_code=True, **common)
    assert res.stats["rows"] == 8
    t1 = _by_task(_rows(res.dataset))["t1"]
    assert sorted(r["code"] for r in t1) == sorted([FLIP, FLIP_VARIANT, HALF, IDENTITY])
    cleaning = res.stats["clean_code"]
    assert cleaning["programs"] == 16 and cleaning["kept_original"] == 0
    assert cleaning["chars_before"] - cleaning["chars_after"] == len(FLIP_COMMENTED) - len(FLIP)
    assert res.stats["executed"] == 12  # the commented FLIP cleans to FLIP: not run again

    res = build_dataset(output=tmp_path / "d", model="scripted", **common)  # t3 is scripted-3
    assert res.stats["runs"] == 2 and set(_by_task(_rows(res.dataset))) == {"t1", "t2"}
    res = build_dataset(
        [corpus["runs"]["t3"], corpus["runs"]["t2"]], output=tmp_path / "e", **common
    )
    assert res.stats["runs"] == 2 and res.stats["rows"] == 4
    res = build_dataset(output=tmp_path / "f", pattern="_t2", **common)
    assert set(_by_task(_rows(res.dataset))) == {"t2"}
    res = build_dataset(output=tmp_path / "g", limit=1, **common)
    assert res.stats["runs"] == 1
    with pytest.raises(InputError, match="no run matches"):
        build_dataset(output=tmp_path / "h", date_to="20000101", **common)
    with pytest.raises(InputError, match="YYYYMMDD"):
        build_dataset(output=tmp_path / "h", date_from="2025-01-01", **common)
    with pytest.raises(InputError, match="already exists"):
        build_dataset(output=tmp_path / "a", **common)


def test_config_object_overrides_and_unknown_settings(corpus, executor, tmp_path):
    cfg = DatasetConfig(logs_dir=str(corpus["logs"]), balance=False, model=["scripted"])
    res = build_dataset(cfg, output=tmp_path / "a", executor=executor)  # override one field
    assert res.stats["runs"] == 2 and set(_by_task(_rows(res.dataset))) == {"t1", "t2"}
    assert cfg.output is None  # the caller's config is not changed
    sidecar = json.loads((tmp_path / "a" / "arcnb_dataset.json").read_text())
    assert sidecar["settings"] == {**dataclasses.asdict(cfg), "output": str(tmp_path / "a")}
    # The stored settings rebuild the same dataset.
    again = build_dataset(
        DatasetConfig(**sidecar["settings"]), output=str(tmp_path / "b"), executor=executor
    )
    assert again.stats["rows"] == res.stats["rows"] == 6

    res = build_dataset(corpus["runs"]["t2"], output=tmp_path / "c", executor=executor)  # a path
    assert res.stats["runs"] == 1 and set(_by_task(_rows(res.dataset))) == {"t2"}
    with pytest.raises(InputError, match=r"unknown setting 'dedupe'; did you mean 'dedup'\?"):
        build_dataset(cfg, dedupe=False)
    with pytest.raises(InputError, match="unknown setting 'colour'"):
        build_dataset(colour="red")
    with pytest.raises(InputError, match="given both"):
        build_dataset(corpus["runs"]["t2"], run_dirs=[corpus["runs"]["t1"]])


def test_balance_and_validation_split(corpus, executor, tmp_path):
    res = build_dataset(logs_dir=corpus["logs"], output=tmp_path / "bal", executor=executor)
    b = res.stats["balance"]
    assert b["applied"] and (b["tasks_with_correct"], b["tasks_without_correct"]) == (2, 1)
    (kept,) = random.Random(SEED).sample(["t1", "t2"], 1)  # the documented seeded choice
    assert b["dropped_tasks"] == 1 and b["dropped_rows"] == {"t1": 2, "t2": 4}[kept]
    assert set(_by_task(_rows(res.dataset))) == {kept, "t3"}

    res = build_dataset(
        logs_dir=corpus["logs"], output=tmp_path / "val", balance=False, validation=True,
        executor=executor,
    )  # fmt: skip
    train = set(res.dataset["train"]["task_id"])
    val = set(res.dataset["validation"]["task_id"])
    assert val and train and not train & val and train | val == {"t1", "t2", "t3"}
    assert len(res.dataset["train"]) + len(res.dataset["validation"]) == 8
    assert res.stats["splits"] == {
        "train": len(res.dataset["train"]),
        "validation": len(res.dataset["validation"]),
    }


def test_round_trip_keeps_empty_rows_and_types(tmp_path):
    from datasets import load_from_disk

    row = {c: [] for c in COLUMNS}
    row.update(
        reasoning="", code="x", task_id="t", model="m", generation=2,
        train_input=[[[1, 2], [3, 4]]], train_output=[[[], [8, 8, 8]]],
        predicted_train_output=[[[], [8, 8, 8]]], correct_train_input=[False],
    )  # fmt: skip
    ds = _dataset_from_rows([row])
    ds.save_to_disk(str(tmp_path / "rt"))
    back = load_from_disk(str(tmp_path / "rt"))[0]
    assert back == row
    assert type(back["train_output"][0][1][0]) is int


def test_synthetic_fixture_is_in_the_row_format(executor, tmp_path):
    """The benchmark's synthetic rows (tests/finetune_fixtures.py) pass `validate_dataset`."""
    from datasets import load_from_disk

    path = synthetic_dataset(tmp_path / "syn", subset="shortest_training_10", n_validation=2)
    assert validate_dataset(path, executor=executor) == []
    assert {k: len(v) for k, v in load_from_disk(str(path)).items()} == {
        "train": 8,
        "validation": 2,
    }


def test_validate_catches_tampering(corpus, executor, tmp_path):
    from datasets import DatasetDict, load_from_disk

    path = tmp_path / "ok"
    build_dataset(logs_dir=corpus["logs"], output=path, balance=False, executor=executor)
    assert validate_dataset(path, executor=executor) == []

    ds = load_from_disk(str(path))["train"]
    target = next(i for i, r in enumerate(ds) if r["code"] == ADD1 and r["task_id"] == "t3")
    flag_row = next(i for i, r in enumerate(ds) if r["code"] == IDENTITY and r["task_id"] == "t3")
    sub = "def transform(grid):\n    return [[(c + 2) % 10 for c in row] for row in grid]"

    def tamper(row, i):
        if i == target:
            row["code"] = sub
        if i == flag_row:
            row["correct_train_input"] = [True, False]
        return row

    bad = tmp_path / "bad"
    DatasetDict({"train": ds.map(tamper, with_indices=True)}).save_to_disk(str(bad))
    shutil.copy(path / "arcnb_dataset.json", bad / "arcnb_dataset.json")
    failures = validate_dataset(bad, executor=executor)
    assert sorted(f.index for f in failures) == sorted([target, flag_row])
    by_index = {f.index: " ".join(f.problems) for f in failures}
    assert "re-execution gives a different grid" in by_index[target]
    assert "flag says True" in by_index[flag_row]
    limited = validate_dataset(bad, limit=max(target, flag_row), executor=executor)
    assert [f.index for f in limited] == [min(target, flag_row)]

    code, out = _cli(add_validate_dataset_args, cmd_validate_dataset, [str(bad)])
    assert code == 1
    code, out = _cli(add_validate_dataset_args, cmd_validate_dataset, [str(path)])
    assert code == 0 and "every row holds" in out


def test_chat_view_uses_the_evaluation_prompt(corpus, executor, tmp_path):
    from arcnb.prompts import build_messages, encode_grid
    from arcnb.tasks import Example, Task

    res = build_dataset(logs_dir=corpus["logs"], output=tmp_path / "c", executor=executor)
    chat = to_chat(res.dataset)
    assert list(chat) == ["train"] and chat["train"].column_names == ["messages"]
    for row, conv in zip(res.dataset["train"], chat["train"]["messages"], strict=True):
        train = [
            Example(i, o) for i, o in zip(row["train_input"], row["train_output"], strict=True)
        ]
        task = Task(row["task_id"], train, [Example(i) for i in row["test_input"]])
        assert conv[:2] == build_messages(task)
        assert (
            conv[2]["role"] == "assistant"
            and f"```python\n{row['code']}\n```" in conv[2]["content"]
        )
        assert conv[2]["content"].startswith("<think>\n") == bool(row["reasoning"])
    assert list(to_chat(res.dataset["train"])) == ["train"]
    spaced = to_chat(res.dataset, grid_format="spaced")["train"]["messages"]
    first = res.dataset["train"][0]
    task = Task(first["task_id"], [Example(first["train_input"][0], first["train_output"][0])],
                [])  # fmt: skip
    assert spaced[0][0] == build_messages(task, grid_format="spaced")[0]
    rows = encode_grid(first["train_input"][0], "spaced").split("\n", 1)[1]
    assert (
        rows in spaced[0][1]["content"] and rows not in chat["train"]["messages"][0][1]["content"]
    )


def test_simple_dataset_from_tasks(corpus, tmp_path):
    dd = simple_dataset(str(corpus["root"] / "tasks"), "all_evaluation")
    rows = list(dd["train"])
    assert [r["task_id"] for r in rows] == ["t1", "t2", "t3"]
    t1 = corpus["tasks"]["t1"]
    assert rows[0]["train_output"] == [ex["output"] for ex in t1["train"]]
    assert rows[0]["code"] == "" and rows[0]["predicted_train_output"] == []
    code, out = _cli(
        add_simple_dataset_args,
        cmd_simple_dataset,
        [str(corpus["root"] / "tasks"), "t1,t3", "--output", str(tmp_path / "s")],
    )
    assert code == 0 and "2 tasks saved" in out
    assert validate_dataset(tmp_path / "s") == []  # format only: no code to run


def test_clean_code_keeps_meaning():
    src = (
        "# header\nimport numpy as np  # numpy\n\n\ndef transform(grid):\n"
        "    s = '# not a comment'\n    doc = '''a\n\n  b   \n'''\n\n    return grid  # end\n"
    )
    out = clean_code(src)
    assert out == (
        "import numpy as np\ndef transform(grid):\n    s = '# not a comment'\n"
        "    doc = '''a\n\n  b   \n'''\n    return grid\n"
    )
    assert clean_code("def transform(grid) return grid") == "def transform(grid) return grid"


def test_cli_dataset_prints_stats_and_push_needs_a_token(corpus, tmp_path, monkeypatch, capsys):
    import huggingface_hub.constants

    code, out = _cli(
        add_dataset_args,
        cmd_dataset,
        ["--logs_dir", str(corpus["logs"]), "--output", str(tmp_path / "cli"), "--no-balance",
         "--model", "scripted", "--model", "scripted-3,other", "--exec-workers", "2"],
    )  # fmt: skip
    assert code == 0
    assert "programs found  16" in out and "rejected" in out and "split train" in out
    assert "programs found" in capsys.readouterr().err  # progress lines, as they come

    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setattr(huggingface_hub.constants, "HF_TOKEN_PATH", str(tmp_path / "no-token"))
    code, out = _cli(add_dataset_args, cmd_dataset, ["--logs-dir", str(corpus["logs"]), "--push"])
    assert code == 2 and "HF_TOKEN" in out
    with pytest.raises(InputError, match="HF_TOKEN"):
        build_dataset(logs_dir=corpus["logs"], push=True)


def test_ray_missing_is_a_clear_input_error(corpus, tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    with pytest.raises(InputError, match="install the ray extra: uv sync --extra ray"):
        build_dataset(logs_dir=corpus["logs"], output=tmp_path / "r", ray_address="local")


def test_ray_chunk_function_runs_programs():
    """What each Ray task runs, without Ray: a chunk through its own local executor."""
    out = _run_chunk([(FLIP, [[[1, 2]]]), (CRASH, [[[1]]])], 0.5, 512)
    assert out[0][0]["status"] == "ok" and out[0][0]["output"] == [[2, 1]]
    assert out[1][0]["status"] == "error"


@pytest.mark.slow
@pytest.mark.skipif(
    not HAS_RAY, reason="ray is not installed (optional extra: uv sync --extra ray)"
)
def test_ray_backend_matches_local(corpus, executor, tmp_path, monkeypatch):
    monkeypatch.setenv("RAY_ENABLE_UV_RUN_RUNTIME_ENV", "0")  # workers: this interpreter
    import ray

    ray.init(num_cpus=1, include_dashboard=False)
    try:
        remote = build_dataset(
            logs_dir=corpus["logs"], output=tmp_path / "ray", balance=False, ray_address="local"
        )
    finally:
        ray.shutdown()
    local = build_dataset(
        logs_dir=corpus["logs"], output=tmp_path / "local", balance=False, executor=executor
    )
    assert remote.stats["rows"] == local.stats["rows"] == 8
    assert _rows(remote.dataset) == _rows(local.dataset)


@pytest.mark.slow
def test_notebook_headless_with_papermill(corpus, tmp_path):
    import papermill as pm

    out = tmp_path / "out.ipynb"
    pm.execute_notebook(
        str(ROOT / "notebooks" / "generate_dataset.ipynb"),
        str(out),
        parameters={
            "run_dirs": [str(p) for p in corpus["runs"].values()],
            "output": str(tmp_path / "nb"),
            "balance": False,
            "validation": True,
            "clean_code": True,
        },
        kernel_name="python3",
        cwd=str(tmp_path),
    )
    sidecar = json.loads((tmp_path / "nb" / "arcnb_dataset.json").read_text())
    assert sidecar["stats"]["rows"] == 8 and set(sidecar["stats"]["splits"]) == {
        "train",
        "validation",
    }
    text = out.read_text()
    assert "programs found" in text


def _cli(add, cmd, argv: list[str]) -> tuple[int, str]:
    """Run one command as `arcnb.cli.main` would: InputError -> one line and exit code 2."""
    import contextlib
    import io

    parser = argparse.ArgumentParser()
    add(parser)
    args = parser.parse_args(argv)
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        try:
            code = cmd(args)
        except InputError as error:
            return 2, str(error)
    return code, buf.getvalue()


def test_nothing_qualifies_is_a_clear_error_and_a_lone_task_gets_no_empty_split(
    corpus, executor, tmp_path, scripted_run
):
    crashing = scripted_run(
        tmp_path, {"default": {"content": "```python\n" + CRASH + "\n```"}},
        dataset=str(corpus["root"] / "tasks"), subset="t2", max_attempts=2,
    ).run_dir  # fmt: skip
    with pytest.raises(InputError, match="no program qualified.*exec 2"):
        build_dataset([crashing], output=tmp_path / "none", executor=executor)
    assert not (tmp_path / "none").exists()
    res = build_dataset([corpus["runs"]["t2"]], output=tmp_path / "one", executor=executor,
                        validation=True, balance=False)  # fmt: skip
    assert list(res.dataset) == ["train"] and res.dataset["train"].num_rows >= 1


def test_edited_task_folder_and_repeated_records(corpus, executor, tmp_path, caplog, scripted_run):
    """A task deleted from the folder since the run is skipped (the others still load), and a
    record repeated by a resumed run counts once."""
    folder = tmp_path / "tasks"
    shutil.copytree(corpus["root"] / "tasks", folder)
    run = scripted_run(
        tmp_path, {"default": {"content": "```python\n" + FLIP + "\n```"}}, subset="t1,t2",
        max_attempts=1,
    ).run_dir  # fmt: skip
    attempts = Path(run) / "attempts.jsonl"
    lines = attempts.read_text().splitlines(keepends=True)
    attempts.write_text("".join(lines + lines[:1]))  # as a resume that wrote a turn again
    (folder / "t2.json").unlink()
    with caplog.at_level("WARNING", logger="arcnb"):
        res = build_dataset(run, output=tmp_path / "ds", balance=False, executor=executor)
    assert res.stats["programs_found"] == 1 and res.stats["skipped_unknown_task"] == 1
    assert [r["task_id"] for r in _rows(res.dataset)] == ["t1"]
    assert any("not in dataset" in m and "t2" in m for m in caplog.messages)
