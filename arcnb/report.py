"""The static report of a run: a small index page, and one page per task loaded on demand.

``arcnb report RUN_DIR --out DIR`` (or `save_html`) writes::

    DIR/index.html          run facts, metrics, one row per task; filter and search
    DIR/tasks/<task_id>.html  the task's examples, its vote, every attempt's turns

No page loads anything from the network, and each opens from disk (``file://``). A task
page's content (its markup, its distinct grids as digit strings, its distinct programs) is
packed as gzip-compressed JSON and unpacked by the browser, which draws the grids into
canvases: equal grids and programs of a task are stored once, and programs (most of a report)
compress several times. Sizes for 400 tasks x 32 attempts are in the README
(``bench/report.py``).

What the report leaves out: the model's response and reasoning texts (tens of KB per attempt;
`arcnb.explore` and `arcnb.rundir.Run.messages` show them in full) and the prompts. Error
messages are cut at `ERROR_CHARS`.

The index's filter and search state lives in the URL fragment
(``index.html#filter=solved&q=0a``), so a filtered view can be linked to (and tested).
"""

from __future__ import annotations

import base64
import gzip
import html
import json
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from arcnb.errors import InputError
from arcnb.metrics import task_summary
from arcnb.rundir import check_task_id
from arcnb.tasks import ARC_PALETTE, Task
from arcnb.widgets import FILTERS, RunView, lineage, lineage_label, outcome, task_flags

__all__ = ["FILTERS", "ERROR_CHARS", "pack_page", "save_html", "unpack_page"]

ERROR_CHARS = 300
"""Error messages are cut to this many characters in the report."""


_CSS = """
body{font-family:sans-serif;margin:1em 2em;color:#222}
table.list{border-collapse:collapse}
table.list td,table.list th{padding:2px 8px;border-bottom:1px solid #ddd;text-align:right}
table.list td:first-child,table.list th:first-child{text-align:left}
.badge{font-size:smaller;padding:0 4px;border-radius:3px;margin-left:3px;background:#eee}
.b-solved{background:#c8e6c9}.b-errors{background:#ffe0b2}.b-api{background:#ffcdd2}
.b-transductive{background:#e1bee7}.b-train{background:#bbdefb}
.filters button{margin-right:4px}.filters button.on{font-weight:bold;background:#ddd}
canvas.g{border:1px solid #444;margin:2px;image-rendering:pixelated;vertical-align:middle}
.right canvas.g{outline:3px solid #2e7d32}.wrong canvas.g{outline:3px solid #c62828}
.ex{display:inline-block;margin:0 1em 1em 0;vertical-align:top;font-size:smaller}
.turn{margin:.5em 0 1em 1em;padding-left:.5em;border-left:3px solid #ccc}
.lineage details{padding-left:.5em;border-left:2px solid #90caf9}
pre{background:#f6f6f6;padding:4px;white-space:pre-wrap;max-width:60em}
"""

# Draws every <canvas class="g" data-g="..."> (rows of digits, '|' between rows) in the ARC
# palette, and marks the page data-drawn="N" once done (what a test of the page checks).
_DRAW_JS = """
const P=%s;
function draw(c){const rows=c.dataset.g.split('|'),h=rows.length,w=rows[0].length;
const s=Math.max(3,Math.min(16,Math.floor(160/Math.max(h,w))));c.width=w*s;c.height=h*s;
const x=c.getContext('2d');for(let r=0;r<h;r++)for(let k=0;k<w;k++){
x.fillStyle=P[+rows[r][k]]||'#fff';x.fillRect(k*s,r*s,s,s);}}
function drawAll(root){const cs=root.querySelectorAll('canvas.g');cs.forEach(draw);
document.body.dataset.drawn=cs.length;}
"""

# A task page's content travels as gzip-compressed JSON ({"html", "G": grids, "C": programs}) in
# base64: model programs and grids are most of a report, and compress 3-10x. The browser unpacks
# it (DecompressionStream: Chromium 80, Firefox 113, Safari 16.4), puts in the markup (escaped
# when it was written), fills the programs in as text, and draws the grids.
_TASK_JS = """
async function unpack(b64){const bytes=Uint8Array.from(atob(b64),c=>c.charCodeAt(0));
const s=new Blob([bytes]).stream().pipeThrough(new DecompressionStream('gzip'));
return JSON.parse(await new Response(s).text());}
unpack(DATA).then(d=>{const root=document.getElementById('page');root.innerHTML=d.html;
root.querySelectorAll('[data-gi]').forEach(e=>{const c=document.createElement('canvas');
c.className='g';c.dataset.g=d.G[+e.dataset.gi];e.replaceWith(c);});
root.querySelectorAll('pre[data-ci]').forEach(e=>{e.textContent=d.C[+e.dataset.ci];});
drawAll(root);}).catch(e=>{document.getElementById('page').textContent=
'this page could not be unpacked (it needs a browser with DecompressionStream): '+e;});
"""

_INDEX_JS = """
const rows=[...document.querySelectorAll('#tasks tbody tr')];
function state(){const p=new URLSearchParams(location.hash.slice(1));
return {f:p.get('filter')||'all',q:(p.get('q')||'').toLowerCase()};}
function apply(){const s=state();let n=0;
rows.forEach(r=>{const ok=(s.f==='all'||r.dataset[s.f]==='1')&&r.dataset.id.includes(s.q);
r.hidden=!ok;n+=ok;});
document.querySelectorAll('.filters button').forEach(b=>b.classList.toggle('on',b.value===s.f));
document.getElementById('q').value=s.q;document.getElementById('shown').textContent=n;
document.body.dataset.shown=n;}
function set(f,q){const s=state();const p=new URLSearchParams();
p.set('filter',f===undefined?s.f:f);p.set('q',q===undefined?s.q:q);location.hash=p.toString();}
document.querySelectorAll('.filters button').forEach(b=>b.onclick=()=>set(b.value));
document.getElementById('q').oninput=e=>set(undefined,e.target.value.toLowerCase());
window.onhashchange=apply;apply();
"""


def save_html(
    run_dir: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    tasks: Sequence[Task] | None = None,
) -> Path:
    """Write the report of a run (finished or not) into ``out_dir``; return its index page.

    Args:
        run_dir: The run directory.
        out_dir: A folder for ``index.html`` and ``tasks/``; created if missing. The pages
            of a previous report there (``tasks/*.html``) are replaced; no other file is
            touched.
        tasks: The run's tasks, when its dataset cannot be loaded from ``config.json``.

    Raises:
        InputError: Not a run directory (or a record of a newer schema), or ``out_dir`` is
            a file, inside the run directory, or a new name ending in ``.html``.
    """
    data = RunView(run_dir, tasks)
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out}: is a file; the report is a folder (index.html, tasks/)")
    if out.resolve().is_relative_to(data.run_dir.resolve()):
        raise InputError(f"--out {out}: inside the run directory; choose a folder outside it")
    if out.suffix.lower() in (".html", ".htm") and not out.exists():
        raise InputError(
            f"--out {out}: the report is a folder (index.html, tasks/); give a folder name"
        )
    pages = out / "tasks"
    if pages.exists() and not pages.is_dir():
        raise InputError(f"--out {out}: {pages} is a file; the report needs it as a folder")
    pages.mkdir(parents=True, exist_ok=True)
    for stale in pages.glob("*.html"):  # a previous report's pages; nothing else is touched
        stale.unlink()
    rows = []
    for task_id in data.task_ids:  # one task's records in memory at a time
        stats, page = _task_page(data, task_id)
        (pages / f"{check_task_id(task_id)}.html").write_text(page, encoding="utf-8")
        rows.append(_index_row(task_id, stats))
    rows += [_index_row(task_id, None) for task_id in data.unstarted]
    index = out / "index.html"
    index.write_text(_index_page(data, rows), encoding="utf-8")
    return index


# ---- the index --------------------------------------------------------------------------------
def _index_row(task_id: str, stats: Mapping[str, Any] | None) -> str:
    flags = task_flags(stats)
    data = " ".join(f"data-{name}='{int(on)}'" for name, on in flags.items() if name != "all")
    esc = html.escape(task_id)
    badges = "".join(
        f"<span class='badge b-{name}'>{name}</span>"
        for name in ("solved", "train", "transductive", "errors", "api")
        if flags[name]
    )
    if stats is None:
        cells = "<td colspan=6><i>no attempt recorded</i></td>"
        link = esc
    else:
        numbers = (
            f"{stats['scores']['weighted']:.2f}",
            f"{stats['scores']['oracle']:.2f}",
            str(stats["attempts"]),
            str(stats["test_correct"]),
            str(stats["train_perfect"]),
            str(stats["exec_errors"]),
        )
        cells = "".join(f"<td>{n}</td>" for n in numbers)
        link = f"<a href='tasks/{esc}.html'>{esc}</a>"
    return (
        f"<tr data-id='{html.escape(task_id.lower())}' {data}><td>{link}{badges}</td>{cells}</tr>"
    )


def _index_page(data: RunView, rows: list[str]) -> str:
    run = data.run
    try:
        summary = run.summary()
    except InputError:
        summary = None
    facts = [
        ("model", run.model),
        ("dataset", run.dataset),
        ("subset", run.subset),
        ("run id", run.run_id),
        ("attempt turns recorded", data.n_records),
    ]
    if summary is None:
        facts.append(("summary", "none: the run has not finished"))
    metrics = ""
    if summary:
        counts, denominators = summary.get("counts", {}), summary.get("denominators", {})
        metrics = "".join(
            f"<tr><td>{html.escape(name)}</td><td>{_count(counts.get(name))}/"
            f"{html.escape(str(denominators.get(name, '')))}</td><td>{100 * value:.1f}%</td></tr>"
            for name, value in (summary.get("metrics") or {}).items()
            if isinstance(value, int | float)
        )
        metrics = (
            "<details><summary>every metric</summary><table class='list'>"
            f"<tr><th>metric</th><th>count</th><th>%</th></tr>{metrics}</table></details>"
        )
        for name in ("pass2_weighted", "oracle"):  # the headline figures, beside the facts
            value = (summary.get("metrics") or {}).get(name)
            if isinstance(value, int | float):
                facts.append((name, f"{100 * value:.1f}%"))
    header = "".join(
        f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>" for k, v in facts
    )
    buttons = "".join(
        f"<button value='{name}' title='{html.escape(what)}'>{name}</button>"
        for name, what in FILTERS.items()
    )
    head = "".join(
        f"<th>{h}</th>"
        for h in ("task", "pass@2", "oracle", "attempts", "test right", "train right", "errors")
    )
    warnings = "".join(f"<li>{html.escape(w)}</li>" for w in data.warnings)
    return _page(
        f"arcnb report {run.name}",
        f"<h1>{html.escape(run.name)}</h1><table>{header}</table>"
        + (f"<ul>{warnings}</ul>" if warnings else "")
        + metrics
        + f"<h2>tasks (<span id='shown'>{len(rows)}</span> of {len(rows)} shown)</h2>"
        f"<div class='filters'>{buttons} <input id='q' placeholder='search task id'></div>"
        f"<table class='list' id='tasks'><thead><tr>{head}</tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table><p><small>Responses, reasoning and prompts are not in this report: "
        "<code>arcnb.explore(run_dir)</code> shows them.</small></p>",
        _INDEX_JS,
    )


def _count(value: Any) -> str:
    if isinstance(value, float) and not value.is_integer():
        return f"{value:.2f}"
    return str(int(value)) if isinstance(value, int | float) else ""


# ---- a task's page ----------------------------------------------------------------------------
class _Shared:
    """A page's table of distinct strings (grids or programs), referenced by index."""

    def __init__(self) -> None:
        self.items: list[str] = []
        self._index: dict[str, int] = {}

    def ref(self, text: str) -> int:
        if text not in self._index:
            self._index[text] = len(self.items)
            self.items.append(text)
        return self._index[text]


def _grid_text(grid: Any) -> str | None:
    """A grid as rows of digits joined by '|', or None when it is not a drawable grid."""
    if not isinstance(grid, list) or not grid or not all(isinstance(r, list) and r for r in grid):
        return None
    if any(
        not isinstance(c, int) or isinstance(c, bool) or not 0 <= c <= 9 for r in grid for c in r
    ):
        return None
    if len({len(r) for r in grid}) != 1:
        return None
    return "|".join("".join(map(str, row)) for row in grid)


def _grid(grids: _Shared, grid: Any, label: str = "") -> str:
    text = _grid_text(grid)
    if text is None:
        inner = "<i>none</i>" if grid is None else "<i>not a grid</i>"
    else:
        inner = f"<span data-gi='{grids.ref(text)}'></span>"
    caption = f"<div>{html.escape(label)}</div>" if label else ""
    return f"<div class='ex'>{caption}{inner}</div>"


def _task_page(data: RunView, task_id: str) -> tuple[dict[str, Any], str]:
    """The task's stats (`arcnb.metrics.task_summary` of its final turns) and its page."""
    task = data.task(task_id)
    expected = data.expected_test(task_id)
    finals = data.finals(task_id)
    stats = task_summary(finals, expected, with_vote=True)
    grids, programs = _Shared(), _Shared()
    parts = [f"<p><a href='../index.html'>&larr; all tasks</a></p><h1>{html.escape(task_id)}</h1>"]
    if task is None:
        parts.append(
            "<p><i>the task could not be loaded: inputs and expected outputs missing</i></p>"
        )
    else:
        for split, examples in (("train", task.train), ("test", task.test)):
            for i, ex in enumerate(examples, 1):
                parts.append(
                    f"<div class='ex'><b>{split} {i}</b><br>{_grid(grids, ex.input, 'input')}"
                    f"{_grid(grids, ex.output, 'output')}</div>"
                )
    parts.append(_vote_html(stats, expected, grids))
    parts.append(f"<h2>attempts ({stats['attempts']})</h2>")
    parts.append(_attempts_html(data, task_id, finals, expected, grids, programs))
    packed = pack_page("".join(parts), grids.items, programs.items)
    page = _page(
        f"{task_id} - arcnb report {data.run.name}",
        "<div id='page'><noscript>this page needs JavaScript</noscript></div>",
        f"const DATA='{packed}';{_TASK_JS}",
    )
    stats.pop("vote", None)
    return stats, page


def _attempts_html(
    data: RunView,
    task_id: str,
    finals: Sequence[Mapping[str, Any]],
    expected: Sequence[Any],
    grids: _Shared,
    programs: _Shared,
) -> str:
    """Every attempt with its turns: a flat list, or in a search run (some attempt has
    parents) the lineage tree, each attempt indented under its first parent."""
    tree = lineage(finals)
    out = []
    for depth, record in tree or [(0, r) for r in finals]:
        attempt = record["attempt"]
        label, attrs = f"attempt {attempt + 1}: {outcome(record)}", ""
        if tree:
            label = lineage_label(record)
            attrs = f" class='node' data-attempt='{attempt + 1}' data-depth='{depth}'"
            attrs += f" style='margin-left:{2 * depth}em'"
        turns = data.turns(task_id, attempt)
        records = [data.record(task_id, attempt, turn) for turn in turns]
        summary = html.escape(label) + (f" ({len(turns)} turns)" if len(turns) > 1 else "")
        body = "".join(_turn_html(r, expected, grids, programs) for r in records)
        out.append(f"<details{attrs}><summary>{summary}</summary>{body}</details>")
    if not tree:
        return "".join(out)
    return (
        "<p><small>A search run: each attempt sits under the program its prompt showed first; "
        "&ldquo;from&rdquo; names every program it was shown.</small></p>"
        f"<div class='lineage'>{''.join(out)}</div>"
    )


def _vote_html(stats: Mapping[str, Any], expected: Sequence[Any], grids: _Shared) -> str:
    vote = stats.get("vote") or {}
    methods = vote.get("methods") or {}
    rows = []
    for method in ("weighted", "train_majority", "oracle"):
        result = methods.get(method)
        if result is None:
            continue
        cells = []
        for i, answers in enumerate(result["top2"]):
            right = result["per_test_correct"][i] if i < len(result["per_test_correct"]) else False
            known = i < len(expected) and expected[i] is not None
            shown = "".join(_grid(grids, g, f"answer {k + 1}") for k, g in enumerate(answers))
            mark = "" if not known else (" right" if right else " wrong")
            cells.append(
                f"<td class='{mark.strip()}'>test {i + 1}{mark}: {shown or '<i>no answer</i>'}</td>"
            )
        rows.append(
            f"<tr><th>{method}</th><td>score {result['score']:.2f}</td>{''.join(cells)}</tr>"
        )
    return f"<h2>vote (pass@2)</h2><table>{''.join(rows)}</table>"


def _turn_html(
    record: Mapping[str, Any], expected: Sequence[Any], grids: _Shared, programs: _Shared
) -> str:
    parts = [f"<div class='turn'><b>turn {record['turn']}</b>: {html.escape(outcome(record))}"]
    if record.get("failure"):
        error = str(record.get("error") or "")[:ERROR_CHARS]
        parts.append(f"<pre>{html.escape(str(record['failure']))}: {html.escape(error)}</pre>")
    for split in ("train", "test"):
        for i, result in enumerate(record.get(split) or [], 1):
            if not isinstance(result, Mapping):
                continue
            known = split == "train" or (i - 1 < len(expected) and expected[i - 1] is not None)
            css = ("right" if result.get("correct") else "wrong") if known else ""
            pixels = result.get("pixel_accuracy")
            label = f"{split} {i}: {result.get('status')}"
            if isinstance(pixels, int | float):
                label += f", {100 * pixels:.0f}% pixels"
            cell = _grid(grids, result.get("output"), label)
            if result.get("error"):
                error = html.escape(str(result["error"])[:ERROR_CHARS])
                cell = cell[: -len("</div>")] + f"<pre>{error}</pre></div>"
            parts.append(f"<span class='{css}'>{cell}</span>")
    code = record.get("code")
    if code:
        parts.append(f"<pre data-ci='{programs.ref(code)}'></pre>")
    else:
        parts.append("<p><i>no program was extracted from the response</i></p>")
    parts.append("</div>")
    return "".join(parts)


# ---- pages ------------------------------------------------------------------------------------
def _json(value: Any) -> str:
    """JSON safe inside a <script> element: no ``<`` at all (``</script>`` cannot end it
    early, ``<!--`` cannot change how the rest is parsed); ``\\u003c`` means the same in JS."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).replace("<", "\\u003c")


def pack_page(markup: str, grids: list[str], programs: list[str]) -> str:
    """A task page's content as its page carries it: gzip-compressed JSON, in base64.

    Args:
        markup: The page's HTML, with ``data-gi`` (grid) and ``data-ci`` (program) references.
        grids: The grids referenced, as rows of digits joined by ``|``.
        programs: The programs referenced (put in as text, never as markup).

    Returns:
        Base64 text (no quotes, no ``<``: safe inside a script's string literal).
    """
    data = json.dumps({"html": markup, "G": grids, "C": programs}, separators=(",", ":"))
    return base64.b64encode(gzip.compress(data.encode(), mtime=0)).decode("ascii")


def unpack_page(page: str) -> dict[str, Any]:
    """The content of a task page that `pack_page` packed: ``{"html", "G", "C"}``.

    Raises:
        ValueError: ``page`` is not a task page of this report format.
    """
    found = re.search(r"const DATA='([A-Za-z0-9+/=]*)';", page)
    if found is None:
        raise ValueError("not a task page of an arcnb report")
    return json.loads(gzip.decompress(base64.b64decode(found.group(1))))


def _page(title: str, body: str, script: str) -> str:
    draw = _DRAW_JS % _json(ARC_PALETTE)
    return (
        f"<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{_CSS}</style></head><body>{body}<script>{draw}{script}</script></body></html>\n"
    )
