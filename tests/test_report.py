"""The static report (`arcnb report`, `arcnb.save_html`) of a real run against a scripted server,
read as files and, in a real headless Chromium, as pages."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from arcfixtures import FLIP, WRONG, key_of, make_tasks

import arcnb
from arcnb.cli import main
from arcnb.errors import InputError
from arcnb.logs import read_attempts
from arcnb.report import ERROR_CHARS, FILTERS, save_html, unpack_page
from arcnb.tasks import ARC_PALETTE
from arcnb.widgets import outcome

# Model text that would run as script if any page put it into markup unescaped, or let it end
# the page's own <script> element early.
PLANT = "</script><script>document.body.dataset.pwned=1</script><!--<script>"
IMG = "<img src=x onerror=\"document.body.dataset.pwned='img'\">"
PLANTED = f"```python\n# {PLANT}\n# {IMG}\ndef transform(grid):\n    return [row[::-1] for row in grid]\n```"
LONG_LINE = "x" * 210  # a line over 200 characters: flagged as hard-coded (transductive)
TRANSDUCTIVE = f"```python\nNOTE = '{LONG_LINE}'\ndef transform(grid):\n    return [row[::-1] for row in grid]\n```"
RAISES = (
    f"```python\ndef transform(grid):\n    raise ValueError({IMG!r} + 'y' * {2 * ERROR_CHARS})\n```"
)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, scripted_run) -> Path:
    """Five tasks, two attempts of up to two turns each:
    alpha solved by a program with planted markup in its comments; beta wrong at turn 1 and
    right at turn 2; gamma refused by the server (HTTP 400); delta solved by a program with a
    200+ character line (transductive); epsilon's program raises with markup in its message."""
    root = tmp_path_factory.mktemp("report")
    tasks = make_tasks(root / "tasks", ["alpha", "beta", "gamma", "delta", "epsilon"])
    script = {
        "rules": [
            {"match": key_of(tasks["alpha"]), "responses": [{"content": PLANTED}]},
            {"match": key_of(tasks["beta"]), "responses": [
                {"turns": {"1": {"content": WRONG}, "2": {"content": FLIP}}}]},
            {"match": key_of(tasks["gamma"]), "responses": [{"status": 400}]},
            {"match": key_of(tasks["delta"]), "responses": [{"content": TRANSDUCTIVE}]},
            {"match": key_of(tasks["epsilon"]), "responses": [{"content": RAISES}]},
        ],
    }  # fmt: skip
    return scripted_run(root, script, max_attempts=2, max_turns=2).run_dir


@pytest.fixture(scope="module")
def report(run_dir, tmp_path_factory) -> Path:
    return save_html(run_dir, tmp_path_factory.mktemp("out") / "report")


def _rows(index_html: str) -> dict[str, dict[str, str]]:
    """Each task row's data-* attributes, by task id."""
    rows = {}
    for attrs in re.findall(r"<tr (data-id=[^>]*)>", index_html):
        data = dict(re.findall(r"data-([a-z]+)='([^']*)'", attrs))
        rows[data.pop("id")] = data
    return rows


def test_index_lists_every_task_with_its_status(report):
    assert report.name == "index.html"
    index = report.read_text(encoding="utf-8")
    rows = _rows(index)
    assert list(rows) == ["alpha", "beta", "gamma", "delta", "epsilon"]
    flags = {task: {name for name, on in row.items() if on == "1"} for task, row in rows.items()}
    assert flags == {
        "alpha": {"solved", "train"},
        "beta": {"solved", "train"},  # right after its second turn
        "gamma": {"unsolved", "api"},
        "delta": {"solved", "train", "transductive"},
        "epsilon": {"unsolved", "errors"},
    }
    for name, what in FILTERS.items():  # a button per filter, explained in its tooltip
        assert f"<button value='{name}' title='{html.escape(what)}'>" in index
    assert "<input id='q'" in index
    assert "pass2_weighted" in index  # the finished run's metrics
    for task in rows:
        assert f"<a href='tasks/{task}.html'>{task}</a>" in index
    pages = sorted(p.name for p in (report.parent / "tasks").iterdir())
    assert pages == sorted(f"{t}.html" for t in rows)


def _task(report: Path, task_id: str) -> dict:
    """A task page's content: ``html`` (its markup), ``G`` (grids), ``C`` (programs)."""
    return unpack_page((report.parent / "tasks" / f"{task_id}.html").read_text(encoding="utf-8"))


def test_task_page_holds_attempts_turns_grids_and_programs(report, run_dir):
    beta = _task(report, "beta")
    markup = beta["html"]
    # 1-based attempts, as `arcnb viz`; each attempt has both its turns
    assert markup.count("<details><summary>attempt ") == 2
    assert "attempt 1: all train correct (2 turns)" in markup
    assert "attempt 2: all train correct (2 turns)" in markup
    assert "attempt 0" not in markup
    assert markup.count("<b>turn 1</b>: wrong on train") == 2
    assert markup.count("<b>turn 2</b>: all train correct") == 2
    # grids and programs are stored once per page and referenced
    assert len(beta["C"]) == 2  # identity and flip, four turns
    assert "return [row[::-1] for row in grid]" in "".join(beta["C"])
    assert len(beta["G"]) == len(set(beta["G"]))
    refs = {int(i) for i in re.findall(r"data-gi='(\d+)'", markup)}
    assert refs == set(range(len(beta["G"])))
    task = json.loads((run_dir.parent.parent / "tasks" / "beta.json").read_text())
    first = task["train"][0]["input"]
    assert "|".join("".join(map(str, r)) for r in first) in beta["G"]
    assert "<h2>vote (pass@2)</h2>" in markup and "score 1.00" in markup

    gamma = _task(report, "gamma")["html"]
    assert "api failure (client_error)" in gamma
    assert "no program was extracted" in gamma
    with pytest.raises(ValueError):
        unpack_page(report.read_text(encoding="utf-8"))  # the index is not a task page


def test_model_text_is_escaped(report):
    alpha, epsilon = _task(report, "alpha"), _task(report, "epsilon")
    for page in ("alpha", "epsilon"):
        text = (report.parent / "tasks" / f"{page}.html").read_text(encoding="utf-8")
        assert text.count("<script>") == 1 and "pwned" not in text  # the page's own script
    for content in (alpha, epsilon):
        assert "<img" not in content["html"] and "<script" not in content["html"]
    assert PLANT in alpha["C"][0]  # the program, put in as text by the page's script
    # the error is escaped markup, cut at ERROR_CHARS characters
    assert html.escape(IMG) in epsilon["html"]
    errors = re.findall(r"<pre>([^<]*onerror[^<]*)</pre>", epsilon["html"])
    assert errors and all(len(html.unescape(e)) < ERROR_CHARS + 40 for e in errors)
    assert "exec error" in epsilon["html"]


def test_cli_report_and_refusals(run_dir, tmp_path, capsys):
    out = tmp_path / "r"
    (out / "tasks").mkdir(parents=True)
    (out / "tasks" / "stale.html").write_text("old")
    (out / "tasks" / "notes.txt").write_text("mine")  # not a page: left alone
    assert main(["report", str(run_dir), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert str(out / "index.html") in printed and "5 task pages" in printed
    assert not (out / "tasks" / "stale.html").exists()
    assert (out / "tasks" / "notes.txt").read_text() == "mine"
    assert arcnb.save_html is save_html

    (tmp_path / "file").write_text("x")
    refusals = {
        str(tmp_path / "file"): "is a file",
        str(tmp_path / "report.html"): "give a folder name",
        str(run_dir / "report"): "inside the run directory",
    }
    for target, message in refusals.items():
        assert main(["report", str(run_dir), "--out", target]) == 2
        err = capsys.readouterr().err
        assert err.startswith("arcnb: error:") and message in err and err.count("\n") == 1
    assert main(["report", str(tmp_path / "absent"), "--out", str(out)]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_unfinished_and_empty_runs(run_dir, tmp_path):
    broken = tmp_path / "run"
    shutil.copytree(run_dir, broken)
    (broken / "summary.json").unlink()
    shutil.rmtree(broken / "tasks")
    lines = (broken / "attempts.jsonl").read_text().splitlines(keepends=True)
    kept = [line for line in lines if '"epsilon"' not in line]
    (broken / "attempts.jsonl").write_text("".join(kept) + '{"task_id": "alpha", "attem')
    index = save_html(broken, tmp_path / "out").read_text(encoding="utf-8")
    assert "none: the run has not finished" in index
    assert "torn final line" in index
    rows = _rows(index)
    assert list(rows) == ["alpha", "beta", "gamma", "delta", "epsilon"]
    assert rows["epsilon"]["unsolved"] == "1" and "no attempt recorded" in index
    assert not (tmp_path / "out" / "tasks" / "epsilon.html").exists()

    empty = tmp_path / "empty"  # started: config.json written, no attempt finished yet
    empty.mkdir()
    shutil.copy(run_dir / "config.json", empty)
    index = save_html(empty, tmp_path / "out2").read_text(encoding="utf-8")
    assert len(_rows(index)) == 5 and index.count("no attempt recorded") == 5
    with pytest.raises(InputError, match="not a run directory"):
        (tmp_path / "bare").mkdir()
        save_html(tmp_path / "bare", tmp_path / "out3")


# ---- a search run: the attempts as a lineage tree ---------------------------------------------
@pytest.fixture()
def search_run_dir(search_run) -> Path:
    return search_run.run_dir


def _expected_label(record: dict) -> str:
    parents = [str(p + 1) for p in record["parents"]]
    origin = f", from attempt{'s' * (len(parents) > 1)} {', '.join(parents)}" if parents else ""
    right = sum(t["correct"] for t in record["train"])
    return (
        f"attempt {record['attempt'] + 1} (round {record['round']}{origin}): "
        f"{outcome(record)}, train {right}/{len(record['train'])}"
    )


def test_search_run_task_page_shows_the_lineage_tree(search_run_dir, tmp_path):
    records = {r["attempt"]: r for r in read_attempts(search_run_dir)}  # one turn each
    assert {r["round"] for r in records.values()} == {1, 2, 3}
    markup = _task(save_html(search_run_dir, tmp_path / "report"), "t")["html"]
    assert "<div class='lineage'>" in markup
    nodes = re.findall(
        r"<details class='node' data-attempt='(\d+)' data-depth='(\d+)' "
        r"style='margin-left:(\d+)em'><summary>([^<]*)</summary>",
        markup,
    )
    assert sorted(int(n) - 1 for n, _, _, _ in nodes) == sorted(records)  # each attempt once
    path: list[int] = []  # the attempts from the root down to the node before
    for shown, depth, margin, label in nodes:
        record, depth = records[int(shown) - 1], int(depth)
        del path[depth:]
        assert len(path) == depth and int(margin) == 2 * depth  # indented one level per depth
        # under its first parent (the node above at one level less), a fresh sample at the root
        assert path[-1:] == record["parents"][:1]
        assert html.unescape(label) == _expected_label(record)
        path.append(record["attempt"])
    assert max(int(d) for _, d, _, _ in nodes) == 2  # a refinement of a refinement


def test_independent_run_task_page_has_no_lineage_tree(report):
    markup = _task(report, "beta")["html"]
    assert "lineage" not in markup and "class='node'" not in markup
    assert "(round " not in markup and "from attempt" not in markup


# ---- in a real browser ------------------------------------------------------------------------
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _chromium(tmp_path: Path, url: str, *args: str) -> str:
    """Run headless Chromium on ``url`` (scripts run to completion first); its stdout."""
    command = [
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
        f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=20000", *args, url,
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="needs chromium on PATH (apt-get install chromium)")
def test_pages_in_headless_chromium(report, tmp_path):
    index_url = report.resolve().as_uri()
    dom = _chromium(tmp_path, index_url, "--dump-dom")
    assert 'data-shown="5"' in dom and "pwned" not in dom
    dom = _chromium(tmp_path, index_url + "#filter=solved&q=", "--dump-dom")
    shown = re.findall(r"<tr data-id=\"(\w+)\"[^>]*?(hidden=\"\")?>", dom)
    assert [task for task, hidden in shown if not hidden] == ["alpha", "beta", "delta"]
    assert 'data-shown="3"' in dom and '<button value="solved" title' in dom
    dom = _chromium(tmp_path, index_url + "#filter=all&q=ta", "--dump-dom")  # beta, delta
    assert 'data-shown="2"' in dom

    page = (report.parent / "tasks" / "alpha.html").resolve().as_uri()
    dom = _chromium(tmp_path, page, "--dump-dom")
    drawn = re.search(r'data-drawn="(\d+)"', dom)
    # 2 train pairs and a test pair, 2 vote answers (one distinct grid, its slot 2 empty:
    # 1 per method that answered), 3 outputs per turn of 2 attempts
    assert drawn is not None and int(drawn.group(1)) >= 6 + 2 * 3
    assert "data-pwned" not in dom  # nothing planted ran: it is text in a <pre>
    assert "# &lt;/script&gt;&lt;script&gt;document.body.dataset.pwned=1" in dom

    shot = tmp_path / "alpha.png"
    _chromium(tmp_path, page, f"--screenshot={shot}", "--window-size=1000,800")
    from matplotlib.image import imread

    pixels = (imread(shot)[..., :3] * 255).round().astype(int)
    colours = {tuple(p) for p in pixels.reshape(-1, 3)[::7]}
    # the grids drew in the ARC palette: some cells of colours other than black and white
    palette = {tuple(int(c[i : i + 2], 16) for i in (1, 3, 5)) for c in ARC_PALETTE}
    assert len(colours & palette - {(0, 0, 0), (255, 255, 255)}) >= 3
