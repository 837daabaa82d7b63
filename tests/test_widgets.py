"""The run explorer, on a real run against a scripted server (the static report: test_report.py)."""

from __future__ import annotations

import html
import json
import re
import shutil
from pathlib import Path

import pytest
from arcfixtures import FLIP, WRONG, key_of, make_tasks

from arcnb.errors import InputError
from arcnb.logs import read_attempts
from arcnb.widgets import (
    FILTERS,
    RIGHT_BORDER,
    UNKNOWN_BORDER,
    WRONG_BORDER,
    Explorer,
    explore,
    lineage_html,
)

PLANT = "<script>alert('pwned')</script>"


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, scripted_run) -> Path:
    """Three tasks: 'alpha' solved (planted <script> in the answer text and the reasoning),
    'beta' wrong at turn 1 then right at turn 2, 'gamma' refused by the server (HTTP 400)."""
    root = tmp_path_factory.mktemp("widgets")
    tasks = make_tasks(root / "tasks", ["alpha", "beta", "gamma"])
    script = {
        "rules": [
            {"match": key_of(tasks["alpha"]), "responses": [
                {"content": f"{PLANT}\n{FLIP}", "reasoning": f"think {PLANT}"}]},
            {"match": key_of(tasks["beta"]), "responses": [
                {"turns": {"1": {"content": WRONG}, "2": {"content": FLIP}}}]},
            {"match": key_of(tasks["gamma"]), "responses": [{"status": 400}]},
        ],
    }  # fmt: skip
    return scripted_run(root, script, max_attempts=2, max_turns=2).run_dir


def _record(run_dir: Path, task_id: str, attempt: int, turn: int) -> dict:
    for record in read_attempts(run_dir):
        if (record["task_id"], record["attempt"], record["turn"]) == (task_id, attempt, turn):
            return record
    raise AssertionError(f"no record {task_id} {attempt} {turn}")


def _plain(markup: str) -> str:
    """The text a browser would show (tags dropped, entities decoded)."""
    return html.unescape(re.sub(r"<[^>]+>", "", markup))


def _borders(text: str) -> tuple[int, int]:
    return text.count(f"border:{RIGHT_BORDER}"), text.count(f"border:{WRONG_BORDER}")


def test_dropdowns_and_selection(run_dir):
    ex = explore(run_dir)
    assert isinstance(ex, Explorer)
    assert list(ex.task_dropdown.options) == ["alpha", "beta", "gamma"]
    assert list(ex.attempt_dropdown.options) == [1, 2]  # numbered from 1, as `arcnb viz`
    assert ex.selection == ("alpha", 1, 1)
    # alpha: the flip program, right on 2 train + 1 test examples
    assert "return [row[::-1] for row in grid]" in _plain(ex.code_view.value)
    assert _borders(ex.grids_view.value) == (3, 0)
    assert "all train correct" in ex.failure_view.value

    # the dropdown itself: picking beta resets attempt/turn and shows the latest turn
    ex.task_dropdown.value = "beta"
    assert ex.selection == ("beta", 1, 2)
    assert list(ex.turn_dropdown.options) == [1, 2]
    ex.turn_dropdown.value = 1
    wrong = _record(run_dir, "beta", 0, 1)
    assert _plain(ex.code_view.value).strip() == wrong["code"].strip()
    assert _borders(ex.grids_view.value) == (0, 3)  # identity is wrong everywhere
    assert "wrong on train" in ex.failure_view.value

    ex.select("beta", 2, 2)
    assert ex.selection == ("beta", 2, 2)
    assert "attempt 2, turn 2" in ex.header_view.value
    assert _borders(ex.grids_view.value) == (3, 0)
    # both attempts agreed on the right test answer: weighted score 2 * (1 + 1000)
    tally = ex.tally_view.value
    assert "test 1" in tally and "weighted" in tally and "score 2002" in tally
    assert "&times;2" in tally and "tasks/beta.json" in tally

    ex.select("gamma")
    assert "api failure (client_error)" in ex.failure_view.value
    assert "client_error" in ex.failure_view.value
    assert _borders(ex.grids_view.value) == (0, 0)  # nothing ran
    assert "no program was extracted" in ex.code_view.value
    assert "no response" in ex.reasoning_view.value

    with pytest.raises(InputError):
        ex.select("nope")
    with pytest.raises(InputError):
        ex.select("beta", 7)
    with pytest.raises(InputError):
        ex.select("beta", 0)  # attempts count from 1


def test_explorer_shows_the_messages_sent(run_dir):
    """Turn 2 of beta: the system prompt, the task, the wrong first answer and the feedback
    on it, as the run stored them (plain text of the view, in that order)."""
    ex = explore(run_dir)
    ex.select("beta", 1, 2)
    shown = _plain(ex.messages_view.value)
    first = _record(run_dir, "beta", 0, 1)
    second = _record(run_dir, "beta", 0, 2)
    parts = ["system", "user", "assistant", first["response"]["content"], "user",
             second["feedback"]]  # fmt: skip
    at = 0
    for part in parts:  # each after the one before
        found = shown.find(part, at)
        assert found >= 0, (part, shown[at:])
        at = found + len(part)
    assert _plain(ex.feedback_view.value).strip() == second["feedback"].strip()
    assert "refinement feedback" in ex._repr_html_()
    ex.select("beta", 1, 1)
    assert "assistant" not in _plain(ex.messages_view.value)  # turn 1: the prompt only
    assert "none: a first turn" in ex.feedback_view.value
    assert "messages sent" in ex._repr_html_()
    (run_dir / "prompts.jsonl").rename(run_dir / "prompts.moved")
    try:
        ex.refresh()
        assert "predates stored prompts" in ex.messages_view.value
    finally:
        (run_dir / "prompts.moved").rename(run_dir / "prompts.jsonl")


def test_untrusted_text_is_escaped(run_dir):
    ex = explore(run_dir)
    ex.select("alpha", 2)
    assert "&lt;script&gt;" in ex.reasoning_view.value
    assert "&lt;script&gt;" in ex.response_view.value
    for text in (ex.reasoning_view.value, ex.response_view.value, ex._repr_html_()):
        assert "<script" not in text


def test_display_bundle_has_static_html(run_dir):
    ex = explore(run_dir)
    ex.select("beta", 1, 1)
    bundle = ex._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert "text/plain" in bundle
    static = bundle["text/html"]
    assert static == ex._repr_html_()
    assert "attempt 1 &middot; turn 1" in static and "<details>" in static
    assert _borders(static)[1] == 3


def test_incomplete_run(run_dir, tmp_path):
    broken = tmp_path / "run"
    shutil.copytree(run_dir, broken)
    (broken / "summary.json").unlink()
    shutil.rmtree(broken / "tasks")
    with open(broken / "attempts.jsonl", "a") as f:
        f.write('{"task_id": "alpha", "attempt": 9, "tu')  # torn by a kill
    ex = explore(broken)
    assert list(ex.task_dropdown.options) == ["alpha", "beta", "gamma"]
    assert list(ex.attempt_dropdown.options) == [1, 2]  # the torn attempt 10 is ignored
    assert any("torn final line" in w for w in ex.data.warnings)
    ex.select("beta", 2, 2)
    tally = ex.tally_view.value
    assert "recomputed from attempts.jsonl" in tally and "score 2002" in tally


def test_missing_dataset_and_empty_run(run_dir, tmp_path):
    moved = tmp_path / "run"
    shutil.copytree(run_dir, moved)
    config = json.loads((moved / "config.json").read_text())
    config["settings"]["dataset"] = str(tmp_path / "gone")
    (moved / "config.json").write_text(json.dumps(config))
    ex = explore(moved)
    ex.select("alpha", 1)
    assert "could not be loaded" in ex.header_view.value
    # inputs are missing, the predictions still show (true outputs unknown: dashed frame)
    assert ex.grids_view.value.count(f"border:{UNKNOWN_BORDER}") == 3
    assert "expected outputs inferred from attempts marked correct" in ex.tally_view.value

    empty = tmp_path / "empty"  # started: config.json written, no attempt finished yet
    empty.mkdir()
    shutil.copy(run_dir / "config.json", empty)
    ex = explore(empty)
    assert list(ex.task_dropdown.options) == [] and "no attempt records" in ex.header_view.value
    assert "no attempt records" in ex._repr_html_()
    with pytest.raises(InputError):
        explore(tmp_path / "absent")
    (tmp_path / "bare").mkdir()  # neither config.json nor attempts.jsonl: not a run
    with pytest.raises(InputError, match="not a run directory"):
        explore(tmp_path / "bare")


def test_filter_and_search_tasks(run_dir):
    ex = explore(run_dir)
    assert list(ex.filter_dropdown.options) == list(FILTERS)
    assert "3 of 3 tasks" in ex.count_view.value
    expected = {"all": ["alpha", "beta", "gamma"], "solved": ["alpha", "beta"],
                "unsolved": ["gamma"], "train": ["alpha", "beta"], "transductive": [],
                "errors": [], "api": ["gamma"]}  # fmt: skip
    for name, tasks in expected.items():
        ex.filter_dropdown.value = name
        assert list(ex.task_dropdown.options) == tasks, name
        assert ex.selection[0] == (tasks[0] if tasks else None)
        assert f"{len(tasks)} of 3 tasks" in ex.count_view.value
        assert ("no task matches" in ex.header_view.value) == (not tasks)
    ex.filter_dropdown.value = "all"
    ex.search_box.value = "ET"  # beta, case ignored
    assert list(ex.task_dropdown.options) == ["beta"] and ex.selection == ("beta", 1, 2)
    ex.select("gamma")  # outside the filter: offered too
    assert ex.selection[0] == "gamma" and "gamma" in ex.task_dropdown.options
    with pytest.raises(InputError):
        ex.data.matching("nope")


def test_refresh_and_watch_a_run_still_writing(run_dir, tmp_path):
    """A copy of the run cut after its alpha records, then written back line by line."""
    live = tmp_path / "run"
    shutil.copytree(run_dir, live)
    (live / "summary.json").unlink()
    lines = (live / "attempts.jsonl").read_text().splitlines(keepends=True)
    first = [line for line in lines if '"alpha"' in line]
    rest = [line for line in lines if '"alpha"' not in line]
    (live / "attempts.jsonl").write_text("".join(first))
    ex = explore(live)
    assert list(ex.task_dropdown.options) == ["alpha"] and "(2 not started)" in ex.count_view.value
    ex.select("alpha", 2)
    with open(live / "attempts.jsonl", "a") as f:
        f.write("".join(rest[: len(rest) // 2]))
    ex.refresh_button.click()
    assert "beta" in ex.task_dropdown.options and ex.selection == ("alpha", 2, 1)  # kept

    ex.watch(every=0.05)
    with open(live / "attempts.jsonl", "a") as f:
        f.write("".join(rest[len(rest) // 2 :]))
    shutil.copy(run_dir / "summary.json", live)  # the run finishes: watching stops
    ex._watcher.join(timeout=60)
    assert not ex._watcher.is_alive()
    assert list(ex.task_dropdown.options) == ["alpha", "beta", "gamma"]
    assert ex.selection == ("alpha", 2, 1) and "3 of 3 tasks" in ex.count_view.value
    ex.stop_watching()


@pytest.fixture()
def search_run_dir(search_run) -> Path:
    return search_run.run_dir


def _ancestors(records: dict[int, dict], attempt: int) -> set[int]:
    """Every attempt ``attempt`` descends from, through any parent."""
    found: set[int] = set()
    todo = list(records[attempt]["parents"])
    while todo:
        parent = todo.pop()
        found.add(parent)
        todo += records[parent]["parents"]
    return found


def _marks(view: str) -> dict[int, str]:
    """Each lineage row's mark (selected, ancestor or ''), by attempt number (from 1)."""
    found = re.findall(r"data-attempt='(\d+)' data-depth='\d+' data-mark='(\w*)'", view)
    return {int(attempt): mark for attempt, mark in found}


def test_lineage_marks_the_selected_attempt_and_its_ancestors(search_run_dir):
    records = {r["attempt"]: r for r in read_attempts(search_run_dir)}  # one turn each
    # a refinement of a refinement: it has a grandparent
    deepest = next(
        a for a, r in records.items() if any(records[p]["parents"] for p in r["parents"])
    )
    above = _ancestors(records, deepest)
    ex = explore(search_run_dir)
    ex.select("t", deepest + 1)
    view = ex.lineage_view.value
    assert _marks(view) == {
        a + 1: "selected" if a == deepest else "ancestor" if a in above else "" for a in records
    }
    assert len(above) == 2 and view == lineage_html(ex.data, "t", deepest)
    assert view in ex._repr_html_()
    shown = _plain(view)
    for a, r in records.items():
        parents = ", ".join(str(p + 1) for p in r["parents"])
        origin = f", from attempt {parents}" if parents else ""
        assert f"attempt {a + 1} (round {r['round']}{origin}): " in shown
    # the attempt dropdown names each attempt's round; its values stay attempt numbers
    rounds = [(f"{a + 1} (round {records[a]['round']})", a + 1) for a in sorted(records)]
    assert [tuple(o) for o in ex.attempt_dropdown.options] == rounds
    root = min(records)  # a fresh sample: selected, nothing above it
    ex.attempt_dropdown.value = root + 1
    assert ex.selection == ("t", root + 1, 1)
    marks = _marks(ex.lineage_view.value)
    assert marks[root + 1] == "selected" and "ancestor" not in marks.values()


def test_independent_run_shows_no_lineage(run_dir):
    ex = explore(run_dir)
    ex.select("beta", 2, 2)
    assert ex.lineage_view.value == "" and lineage_html(ex.data, "beta", 1) == ""
    assert "arcnb-lineage" not in ex._repr_html_()
    assert list(ex.attempt_dropdown.options) == [1, 2]


@pytest.mark.slow  # a kernel start
def test_explore_run_notebook_headless(run_dir, tmp_path):
    import papermill as pm
    from arcfixtures import ROOT

    out = tmp_path / "out.ipynb"
    pm.execute_notebook(
        str(ROOT / "notebooks" / "explore_run.ipynb"), str(out),
        parameters={"run_dir": str(run_dir), "report_dir": str(tmp_path / "reports")},
        kernel_name="python3", cwd=str(tmp_path), progress_bar=False,
    )  # fmt: skip
    cells = json.loads(out.read_text())["cells"]
    shown = [o["data"] for c in cells for o in c.get("outputs", []) if "data" in o]
    widgets = [d for d in shown if "application/vnd.jupyter.widget-view+json" in d]
    assert len(widgets) == 2  # the explorer, before and after filtering
    assert "task alpha &middot; attempt 1 &middot; turn 1" in "".join(widgets[0]["text/html"])
    index = tmp_path / "reports" / run_dir.name / "index.html"
    assert index.is_file() and (index.parent / "tasks" / "alpha.html").is_file()
