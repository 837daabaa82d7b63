"""Browse a run directory: an ipywidgets explorer, and the same views as static HTML.

`explore(run_dir)` picks a task, attempt and turn from dropdowns and shows that turn's grids
(input | expected | predicted per example, predictions framed green when right, red when
wrong), its code, the model's reasoning and answer, its failure, and the task's vote tally.
Without a kernel it shows the same views as static HTML. The static report of a whole run,
which scales to hundreds of tasks, is `arcnb.report` (`arcnb report RUN_DIR --out DIR`).

Everything is read through `arcnb.rundir.Run` (its records are `AttemptRecord`s), so an
unfinished run works: no ``summary.json`` or ``tasks/`` (the tally is then recomputed from
the attempts' final turns), a torn last line, a dataset that moved (inputs shown as
"missing"). Model text is untrusted: every string from a record is passed through
`html.escape`, or through pygments, which escapes.
"""

from __future__ import annotations

import html
import os
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from arcnb.errors import ArcnbError, InputError
from arcnb.grid import Grid, as_grid
from arcnb.metrics import task_summary
from arcnb.rundir import ATTEMPTS_FILE, TASKS_DIR, AttemptRecord, Run, record_key
from arcnb.search import attempt_tree
from arcnb.tasks import ARC_PALETTE, Task

__all__ = ["FILTERS", "Explorer", "RunView", "explore", "lineage_html", "task_flags"]

MISSING = "<i class='arcnb-missing' style='color:#b00'>missing</i>"
RIGHT_BORDER = "3px solid green"  # frame of a predicted grid that is exactly right
WRONG_BORDER = "3px solid red"
UNKNOWN_BORDER = "3px dashed gray"  # the true output is hidden: right or wrong is unknown
GRID_PX = 240  # a grid's longer side is at most this many CSS pixels (cells 4-16 px)
TALLY_TOP = 4  # candidates shown per method and test input; the rest are counted
TALLY_METHODS = ("weighted", "train_majority", "oracle")  # each also shown _excl_trans
MAX_TEXT = 100_000  # characters of model text shown per field; the rest is cut

_ABSENT = object()

FILTERS = {
    "all": "every task",
    "solved": "pass@2 (weighted) solves every test input",
    "unsolved": "pass@2 (weighted) solves no test input",
    "train": "some attempt is right on every train example",
    "transductive": "some attempt looks hard-coded",
    "errors": "some program failed (error, timeout, invalid output)",
    "api": "some request failed",
}
"""Task filters of the explorer and the report's index: name -> what a task must have."""


def task_flags(stats: Mapping[str, Any] | None) -> dict[str, bool]:
    """Which `FILTERS` a task passes, from `arcnb.metrics.task_summary` of its final turns
    (None: a task with no attempt recorded, which only "all" and "unsolved" show)."""
    if stats is None:
        return dict.fromkeys(FILTERS, False) | {"all": True, "unsolved": True}
    score = stats["scores"]["weighted"]
    return {
        "all": True,
        "solved": score == 1.0,
        "unsolved": score == 0.0,
        "train": bool(stats["all_train_correct"]),
        "transductive": stats["transductive"] > 0,
        "errors": stats["exec_errors"] > 0,
        "api": stats["api_failures"] > 0,
    }


# ---- reading a run --------------------------------------------------------------------------
def _int(value: Any, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


class RunView:
    """A run (`arcnb.rundir.Run`) indexed by task, attempt and turn, for browsing.

    Holds the run's index only (a byte offset per attempt turn, a few dozen bytes each),
    never the records: each view reads the records it shows. Tasks, expected outputs,
    final turns and saved votes are the run's (`Run.tasks`, `Run.expected_outputs`,
    `Run.final_turns`, `Run.saved_vote`), so the explorer shows what metrics count.

    Args:
        run_dir: The run directory.
        tasks: The run's tasks, when ``config.json`` names a dataset that cannot be loaded
            here (a moved folder); by default they are loaded from the config.

    Attributes:
        run: The opened run (opened again by `reload`).
        task_ids: Tasks with records: the run's tasks in run order, then any others.
        unstarted: The run's tasks without a record yet.

    Raises:
        InputError: ``run_dir`` is not a run directory, or a record has a newer schema.
    """

    def __init__(self, run_dir: str | os.PathLike[str], tasks: Sequence[Task] | None = None):
        self.run_dir = Path(run_dir)
        self._given = {t.id: t for t in tasks or []}
        self.reload()

    def reload(self) -> None:
        """Read the run again (a run still in progress has more records now)."""
        self.run = Run.open(self.run_dir)
        # task id -> attempt -> [(turn, byte offset, final)], turns ascending (`Run.index`)
        self._index: dict[str, dict[int, list[tuple[int, int, bool]]]] = {}
        for (task_id, attempt), turns in self.run.index().items():
            self._index.setdefault(task_id, {})[attempt] = turns
        planned = self.run.task_ids
        others = set(self._index).difference(planned)
        self.task_ids = [t for t in planned if t in self._index]
        self.task_ids += [t for t in self._index if t in others]
        self.unstarted = [t for t in planned if t not in self._index]
        self._expected: dict[str, list[Any]] | None = None
        self._stats: dict[str, dict[str, Any]] = {}

    @property
    def warnings(self) -> list[str]:
        """What the run lacks (see `Run.warnings`)."""
        return self.run.warnings

    @property
    def n_records(self) -> int:
        """Distinct attempt turns recorded."""
        return sum(len(turns) for task in self._index.values() for turns in task.values())

    def attempts(self, task_id: str) -> list[int]:
        """Attempt indices recorded for a task, ascending."""
        return sorted(self._index.get(task_id, {}))

    def turns(self, task_id: str, attempt: int | None) -> list[int]:
        """Turns recorded for one attempt, ascending (the last is its final turn)."""
        if attempt is None:
            return []
        return [turn for turn, _, _ in self._index.get(task_id, {}).get(attempt, [])]

    def record(self, task_id: str, attempt: int, turn: int) -> AttemptRecord:
        """Read one attempt turn's record.

        Raises:
            InputError: The run has no such turn, or its file changed since `reload`.
        """
        turns = self._index.get(task_id, {}).get(attempt, [])
        offset = next((at for n, at, _ in turns if n == turn), None)
        if offset is None:
            raise InputError(f"task {task_id} attempt {attempt}: no turn {turn}")
        record = next(self.run.read_at([offset]))
        if record_key(record) != (task_id, attempt, turn):
            raise InputError(f"{self.run.attempts_path} changed since it was read; refresh")
        return record

    def finals(self, task_id: str) -> list[AttemptRecord]:
        """Each attempt's final turn (its highest recorded, as `Run.final_turns`), by attempt."""
        attempts = sorted(self._index.get(task_id, {}).items())
        return list(self.run.read_at(turns[-1][1] for _, turns in attempts))

    def task(self, task_id: str) -> Task | None:
        """The task (inputs, expected outputs), or None when it cannot be loaded."""
        return self._given.get(task_id) or self.run.task(task_id)

    def expected_test(self, task_id: str) -> list[Grid | None]:
        """The task's true test outputs: its own, else what `Run.expected_outputs` infers."""
        task = self.task(task_id)
        if task is not None:
            return [ex.output for ex in task.test]
        if self._expected is None:
            self._expected = self.run.expected_outputs()
        if self._expected.get(task_id):
            return list(self._expected[task_id])
        n_test = max((len(r["test"]) for r in self.finals(task_id)), default=1)
        return [None] * max(n_test, 1)

    def stats(self, task_id: str) -> dict[str, Any] | None:
        """`arcnb.metrics.task_summary` of the task's final turns (None: no attempt yet);
        kept until `reload`."""
        if task_id not in self._index:
            return None
        if task_id not in self._stats:
            finals = self.finals(task_id)
            self._stats[task_id] = task_summary(finals, self.expected_test(task_id))
        return self._stats[task_id]

    def matching(self, filter: str = "all", search: str = "") -> list[str]:
        """Tasks with records that pass a filter (`FILTERS`) and contain ``search`` in their
        id (case ignored), in `task_ids` order. Any filter but "all" reads every task's
        final turns once (then kept until `reload`)."""
        if filter not in FILTERS:
            raise InputError(f"filter {filter!r}: one of {', '.join(FILTERS)}")
        needle = search.strip().lower()
        found = [t for t in self.task_ids if needle in t.lower()]
        if filter == "all":
            return found
        return [t for t in found if task_flags(self.stats(t))[filter]]

    def vote(self, task_id: str) -> tuple[dict[str, Any] | None, str]:
        """The task's vote (`TaskVote.to_dict`) and where it came from, or None and why not.

        The saved ``tasks/<id>.json``, else recomputed from the attempts' final turns. The
        source also says when the expected outputs shown were inferred (`Run.expected_outputs`).
        """
        inferred = ""
        if self.task(task_id) is None and any(g is not None for g in self.expected_test(task_id)):
            inferred = "; expected outputs inferred from attempts marked correct"
        try:
            saved = self.run.saved_vote(task_id)
        except InputError as error:
            saved = None
            problem = str(error)
        else:
            problem = ""
        if saved and isinstance(saved.get("vote"), Mapping):
            return dict(saved["vote"]), f"{TASKS_DIR}/{task_id}.json{inferred}"
        try:
            summary = task_summary(
                self.finals(task_id), self.expected_test(task_id), with_vote=True
            )
        except ArcnbError as error:
            return None, f"{problem} {error}".strip()
        return summary["vote"], f"recomputed from {ATTEMPTS_FILE}{inferred}"


# ---- HTML pieces ----------------------------------------------------------------------------
def _text(value: Any, limit: int = MAX_TEXT) -> str:
    """Escaped text, ``missing`` for an absent field, cut at ``limit`` characters."""
    if value is _ABSENT:
        return MISSING
    if value is None:
        return "<i>none</i>"
    text = value if isinstance(value, str) else repr(value)
    cut = f"... ({len(text) - limit} more characters)" if len(text) > limit else ""
    return html.escape(text[:limit] + cut)


def _get(record: Mapping[str, Any] | None, *path: str) -> Any:
    """``record[a][b]...``, or `_ABSENT` when any step is missing."""
    value: Any = record
    for key in path:
        if not isinstance(value, Mapping) or key not in value:
            return _ABSENT
        value = value[key]
    return value


def grid_html(grid: Any) -> str:
    """One grid as an HTML table in the ARC palette, every cell styled inline (so that it
    shows anywhere, also inside a widget).

    Args:
        grid: A grid; anything else is shown as "not a grid".
    """
    g = as_grid(grid)
    if g is None:
        return "<i>not a grid</i>" if grid is not None else "<i>none</i>"
    px = max(4, min(16, GRID_PX // max(len(g), len(g[0]))))
    size = f"width:{px}px;height:{px}px;padding:0;"
    rows = []
    for row in g:
        cells = []
        for c in row:
            colour = ARC_PALETTE[c] if 0 <= c <= 9 else "#ffffff"
            # the gaps between cells (border-spacing) show the table's grey
            cells.append(f"<td style='{size}background:{colour}'></td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    shape = f"{len(g)}x{len(g[0])}"
    style = "border-collapse:separate;border-spacing:1px;background:#444;display:inline-table"
    return f"<table class='arcnb-grid' title='{shape}' style='{style}'>{''.join(rows)}</table>"


def _framed(inner: str, border: str, correct: bool | None) -> str:
    flag = "unknown" if correct is None else str(correct).lower()
    return (
        f"<div data-correct='{flag}' style='display:inline-block;padding:2px;"
        f"border:{border}'>{inner}</div>"
    )


def grids_html(record: Mapping[str, Any] | None, task: Task | None) -> str:
    """Input | expected | predicted for each train and test example of one turn."""
    rows = []
    for split in ("train", "test"):
        examples = task.train if task is not None and split == "train" else None
        examples = task.test if task is not None and split == "test" else examples
        results = _get(record, split)
        results = results if isinstance(results, list) else []
        for i in range(max(len(examples or []), len(results))):
            example = examples[i] if examples is not None and i < len(examples) else None
            expected = example.output if example is not None else None
            if example is None:
                inp = exp = MISSING
            else:
                inp = grid_html(example.input)
                exp = grid_html(expected) if expected is not None else "<i>hidden</i>"
            rows.append(
                f"<tr><td style='vertical-align:middle'>{split} {i + 1}</td><td>{inp}</td>"
                f"<td>{exp}</td><td>{_prediction(results, i, expected)}</td></tr>"
            )
    if not rows:
        return "<p><i>no examples: the task could not be loaded and nothing ran</i></p>"
    head = "<tr><th></th><th>input</th><th>expected</th><th>predicted</th></tr>"
    return f"<table class='arcnb-examples'>{head}{''.join(rows)}</table>"


def _prediction(results: list[Any], i: int, expected: Grid | None) -> str:
    if i >= len(results) or not isinstance(results[i], Mapping):
        return "<i>not run</i>"
    result = results[i]
    output = result.get("output")
    inner = grid_html(output) if output is not None else "<i>no output</i>"
    if expected is None:
        framed = _framed(inner, UNKNOWN_BORDER, None)
    else:
        correct = bool(result.get("correct"))
        framed = _framed(inner, RIGHT_BORDER if correct else WRONG_BORDER, correct)
    notes = [f"status: {_text(_get(result, 'status'))}"]
    accuracy = result.get("pixel_accuracy")
    if isinstance(accuracy, int | float):
        notes.append(f"pixels: {100 * accuracy:.0f}%")
    if result.get("error"):
        notes.append(
            f"<pre style='white-space:pre-wrap;max-width:40em'>{_text(result['error'], 2000)}</pre>"
        )
    return f"{framed}<div style='font-size:smaller'>{'<br>'.join(notes)}</div>"


def code_html(record: Mapping[str, Any]) -> str:
    """The turn's extracted program, syntax-highlighted (inline styles) when pygments is there."""
    code = record["code"]
    if not code:
        return "<div><i>no program was extracted from the response</i></div>"
    try:
        from pygments import highlight
        from pygments.formatters import HtmlFormatter
        from pygments.lexers import PythonLexer
    except ImportError:
        return f"<pre>{_text(code)}</pre>"
    return highlight(code[:MAX_TEXT], PythonLexer(), HtmlFormatter(noclasses=True))


def text_html(record: Mapping[str, Any], field: str) -> str:
    """The response's ``reasoning`` or ``content`` as escaped, wrapped text."""
    response = record["response"]
    if response is None:
        return "<i>no response (the request failed)</i>"
    value = response[field]
    if value is None or value == "":
        return "<i>none</i>"
    return f"<pre style='white-space:pre-wrap'>{_text(value)}</pre>"


def messages_html(data: RunView, task_id: str, attempt: int, turn: int) -> str:
    """The exact messages sent for one turn (rebuilt by `arcnb.rundir.Run.messages`)."""
    try:
        messages = data.run.messages(task_id, attempt, turn)
    except InputError as error:
        return f"<i>{html.escape(str(error))}</i>"
    return "".join(
        f"<div><b>{html.escape(m['role'])}</b>{_content_html(m['content'])}</div>" for m in messages
    )


def _content_html(content: Any) -> str:
    """A message's text, or its parts (text and images: ``--images``) in order."""
    if not isinstance(content, list):
        return f"<pre style='white-space:pre-wrap'>{_text(content)}</pre>"
    out = []
    for part in content:
        url = str((part.get("image_url") or {}).get("url") or "")
        if part.get("type") == "image_url" and url.startswith("data:image/png;base64,"):
            out.append(f"<img src='{html.escape(url, quote=True)}'>")
        else:
            out.append(f"<pre style='white-space:pre-wrap'>{_text(part.get('text'))}</pre>")
    return "".join(out)


def feedback_html(record: Mapping[str, Any]) -> str:
    """The refinement feedback this turn answered (the previous turn's results), if any."""
    feedback = record.get("feedback")
    if not feedback:
        return "<i>none: a first turn answers the task itself</i>"
    return f"<pre style='white-space:pre-wrap'>{_text(feedback)}</pre>"


def _details(title: str, body: str) -> str:
    return f"<details><summary>{title}</summary>{body}</details>"


def outcome(record: Mapping[str, Any]) -> str:
    """A one-word reading of a turn: api failure, no code, exec error, partial, ..."""
    if record["failure"]:
        return f"api failure ({record['failure']})"
    if not record["code"]:
        return "no code"
    train = record["train"]
    if any(t["status"] != "ok" for t in train):
        return "exec error"
    right = sum(bool(t["correct"]) for t in train)
    if train and right == len(train):
        return "all train correct"
    return "partial train" if right else "wrong on train"


# ---- lineage: a search run's attempts as a tree ----------------------------------------------
LINEAGE_MARKS = {
    "selected": "background:#fff59d;font-weight:bold",  # the selected attempt
    "ancestor": "background:#e3f2fd",  # an attempt it descends from, through any parent
    "": "",
}


def lineage(finals: Sequence[Mapping[str, Any]]) -> list[tuple[int, Mapping[str, Any]]]:
    """A task's attempts (their final turns) as `arcnb.search.attempt_tree` orders them,
    ``(depth, record)``; ``[]`` when no attempt has parents (an independent run)."""
    if not any(r.get("parents") for r in finals):
        return []
    return attempt_tree(finals)


def lineage_label(record: Mapping[str, Any]) -> str:
    """``attempt 4 (round 2, from attempt 2): partial train, train 1/2``, as plain text (escape
    it). Attempt ids count from 1, as everywhere shown; the train score shows when code ran."""
    parents = [str(p + 1) for p in record.get("parents") or []]
    origin = f", from attempt{'s' * (len(parents) > 1)} {', '.join(parents)}" if parents else ""
    label = f"attempt {record['attempt'] + 1} (round {record.get('round') or 1}{origin})"
    train = record.get("train") or []
    score = f", train {sum(bool(t.get('correct')) for t in train)}/{len(train)}" if train else ""
    return f"{label}: {outcome(record)}{score}"


def ancestors(finals: Sequence[Mapping[str, Any]], attempt: int) -> set[int]:
    """Every attempt that ``attempt`` descends from, through any of its parents (ids from 0)."""
    parents = {r["attempt"]: r.get("parents") or [] for r in finals}
    found: set[int] = set()
    todo = list(parents.get(attempt, []))
    while todo:
        parent = todo.pop()
        if parent not in found:
            found.add(parent)
            todo.extend(parents.get(parent, []))
    return found


def lineage_html(data: RunView, task_id: str, selected: int | None = None) -> str:
    """The task's attempt tree (a search run's), the selected attempt and its ancestors marked.

    Args:
        data: The run.
        task_id: A task with records.
        selected: The selected attempt, as records count it (from 0); None marks none.

    Returns:
        One ``<div data-attempt data-depth data-mark>`` per attempt, each under its first
        parent (`lineage_label` names every parent); ``""`` when no attempt has parents.
    """
    finals = data.finals(task_id)
    tree = lineage(finals)
    if not tree:
        return ""
    above = ancestors(finals, selected) if selected is not None else set()
    rows = []
    for depth, record in tree:
        attempt = record["attempt"]
        mark = "selected" if attempt == selected else "ancestor" if attempt in above else ""
        arrow = "&#8627; " if depth else ""
        rows.append(
            f"<div data-attempt='{attempt + 1}' data-depth='{depth}' data-mark='{mark}' "
            f"style='margin-left:{1.5 * depth:g}em;{LINEAGE_MARKS[mark]}'>"
            f"{arrow}{html.escape(lineage_label(record))}</div>"
        )
    note = "each attempt under the program its prompt showed first; selected in yellow, its "
    note += "ancestors in blue"
    return (
        f"<div class='arcnb-lineage'><b>lineage</b> <span style='font-size:smaller'>({note})"
        f"</span>{''.join(rows)}</div>"
    )


def failure_html(record: Mapping[str, Any]) -> str:
    """The turn's outcome, failure category, error and bookkeeping, as a small table."""
    test = record["test"]
    response = record["response"]  # None when the request failed: nothing finished
    fields = [
        ("outcome", html.escape(outcome(record))),
        ("failure", _text(record["failure"])),
        ("error", _text(record["error"], 2000)),
        ("finish reason", _text(None if response is None else response["finish_reason"])),
        ("train accuracy", _text(record["train_accuracy"])),
        ("test correct", _text(f"{sum(bool(t['correct']) for t in test)}/{len(test)}")),
        ("transductive", _text(record["transductive"])),
        ("transduction reasons", _reasons(record["transduction_reasons"])),
        # `final` ends the attempt; the attempt's final turn is its highest (`Run.final_turns`)
        ("ends the attempt", _text(record["final"])),
        ("cost (USD)", _text(record["cost_usd"])),
    ]
    rows = "".join(f"<tr><th style='text-align:left'>{k}</th><td>{v}</td></tr>" for k, v in fields)
    return f"<table class='arcnb-failure'>{rows}</table>"


def _reasons(reasons: list[str]) -> str:
    if not reasons:
        return "<i>none</i>"
    return "; ".join(_text(r, 500) for r in reasons)


def tally_html(
    vote: Mapping[str, Any] | None,
    expected: Sequence[Grid | None],
    source: str,
) -> str:
    """Per test input, each voting method's ranked candidates with score, count and attempts."""
    if not vote:
        return f"<p><i>no vote tally: {html.escape(source or 'no attempts')}</i></p>"
    tallies = vote.get("tallies") or {}
    methods = vote.get("methods") or {}
    parts = [f"<p style='font-size:smaller'>vote tally ({html.escape(source)})</p>"]
    for t in range(_int(vote.get("n_test"), len(expected))):
        truth = expected[t] if t < len(expected) else None
        shown = grid_html(truth) if truth is not None else "<i>hidden</i>"
        rows = []
        for name in [m for base in TALLY_METHODS for m in (base, base + "_excl_trans")]:
            per_test = tallies.get(name) or []
            ranked = per_test[t] if t < len(per_test) else []
            correct = (_get(methods, name, "per_test_correct") or [None] * (t + 1))[t : t + 1]
            mark = {True: "&#10003;", False: "&#10007;"}.get(correct[0] if correct else None, "?")
            cells = [_candidate(c, truth, rank) for rank, c in enumerate(ranked[:TALLY_TOP])]
            if len(ranked) > TALLY_TOP:
                cells.append(f"<td>+{len(ranked) - TALLY_TOP} more</td>")
            cells = cells or ["<td><i>no candidates</i></td>"]
            rows.append(f"<tr><th style='text-align:left'>{name} {mark}</th>{''.join(cells)}</tr>")
        parts.append(
            f"<div class='arcnb-tally'><b>test {t + 1}</b> expected: {shown}"
            f"<table>{''.join(rows)}</table></div>"
        )
    return "".join(parts)


def _candidate(candidate: Any, truth: Grid | None, rank: int) -> str:
    if not isinstance(candidate, Mapping):
        return f"<td>{MISSING}</td>"
    grid = as_grid(candidate.get("grid"))
    right = truth is not None and grid == as_grid(truth)
    score = candidate.get("score")
    score_text = f"{score:g}" if isinstance(score, int | float) else _text(score)
    attempts = ",".join(str(a) for a in candidate.get("attempts") or [])
    label = (
        f"{'<b>' if rank < 2 else ''}#{rank + 1}{' &#10003;' if right else ''}"
        f"{'</b>' if rank < 2 else ''} score {score_text} &middot; "
        f"&times;{_text(candidate.get('count', _ABSENT))} &middot; attempts {html.escape(attempts)}"
    )
    return (
        f"<td style='vertical-align:top;padding:0 8px'>{grid_html(grid)}"
        f"<div style='font-size:smaller'>{label}</div></td>"
    )


def turn_html(
    data: RunView,
    task_id: str,
    attempt: int,
    turn: int,
    with_messages: bool = False,
) -> str:
    """Every view of one turn (reasoning and response collapsed in ``<details>``); with
    ``with_messages``, also the messages sent (collapsed: they are the largest part).
    ``attempt`` is the record's (from 0); the title shows it from 1, as everywhere."""
    record = data.record(task_id, attempt, turn)
    title = f"task {html.escape(task_id)} &middot; attempt {attempt + 1} &middot; turn {turn}"
    sent = messages_html(data, task_id, attempt, turn) if with_messages else ""
    return (
        f"<div class='arcnb-turn'><h4>{title}</h4>{failure_html(record)}"
        f"{grids_html(record, data.task(task_id))}"
        + (_details("messages sent", sent) if with_messages else "")
        + (_details("refinement feedback", feedback_html(record)) if record.get("feedback") else "")
        + _details("reasoning", text_html(record, "reasoning"))
        + _details("response", text_html(record, "content"))
        + f"{code_html(record)}</div>"
    )


# ---- the widget -----------------------------------------------------------------------------
class Explorer:
    """Task filter and search, dropdowns for task, attempt and turn, and HTML views of the
    selected turn. Attempts and turns are numbered from 1, as `arcnb viz` numbers them (a
    record's ``attempt`` field counts from 0: attempt 1 is ``"attempt": 0``).

    Attributes:
        widget: The ipywidgets box to display.
        filter_dropdown, search_box: Which tasks the task dropdown offers (`FILTERS`, and a
            substring of the id).
        task_dropdown, attempt_dropdown, turn_dropdown: The selectors.
        refresh_button: Re-reads the run (`refresh`); `watch` does it every few seconds.
        lineage_view: The task's attempt tree in a search run (`lineage_html`), the selected
            attempt and its ancestors marked; empty for an independent run.
        failure_view, grids_view, code_view, messages_view, feedback_view, reasoning_view,
        response_view, tally_view: ``ipywidgets.HTML`` views of the selection (the messages
            sent, the refinement feedback, reasoning and response sit in a collapsed
            Accordion).
    """

    def __init__(self, run_dir: str | os.PathLike[str], tasks: Sequence[Task] | None = None):
        import ipywidgets as w

        self.data = RunView(run_dir, tasks)
        self.filter_dropdown = w.Dropdown(description="show", options=list(FILTERS))
        self.search_box = w.Text(description="search", placeholder="part of a task id")
        self.refresh_button = w.Button(description="refresh", tooltip="re-read the run")
        self.count_view = w.HTML()
        self.task_dropdown = w.Dropdown(description="task", options=self.data.task_ids)
        self.attempt_dropdown = w.Dropdown(description="attempt", options=[])
        self.turn_dropdown = w.Dropdown(description="turn", options=[])
        self.header_view = w.HTML()
        self.lineage_view = w.HTML()
        self.failure_view = w.HTML()
        self.grids_view = w.HTML()
        self.code_view = w.HTML()
        self.reasoning_view = w.HTML()
        self.response_view = w.HTML()
        self.messages_view = w.HTML()
        self.feedback_view = w.HTML()
        self.tally_view = w.HTML()
        text = w.Accordion(
            children=[self.messages_view, self.feedback_view, self.reasoning_view,
                      self.response_view],
            titles=("messages sent", "refinement feedback", "reasoning", "response"),
            selected_index=None,
        )  # fmt: skip
        tally = w.Accordion(children=[self.tally_view], titles=("vote tally",), selected_index=0)
        self.widget = w.VBox(
            [
                w.HBox([self.filter_dropdown, self.search_box, self.refresh_button,
                        self.count_view]),
                w.HBox([self.task_dropdown, self.attempt_dropdown, self.turn_dropdown]),
                self.header_view,
                self.lineage_view,
                self.failure_view,
                self.grids_view,
                text,
                self.code_view,
                tally,
            ]
        )  # fmt: skip
        self._busy = False
        self._watcher: threading.Thread | None = None
        self._stop = threading.Event()
        self.filter_dropdown.observe(self._filtered, names="value")
        self.search_box.observe(self._filtered, names="value")
        self.refresh_button.on_click(lambda _: self.refresh())
        self.task_dropdown.observe(self._changed, names="value")
        self.attempt_dropdown.observe(self._changed, names="value")
        self.turn_dropdown.observe(self._changed, names="value")
        self._offer(self.data.task_ids)
        self._set(self.data.task_ids[0] if self.data.task_ids else None, None, None)

    @property
    def selection(self) -> tuple[str | None, int | None, int | None]:
        """The selected (task id, attempt, turn), attempt and turn numbered from 1."""
        return self.task_dropdown.value, self.attempt_dropdown.value, self.turn_dropdown.value

    def select(self, task_id: str, attempt: int | None = None, turn: int | None = None) -> None:
        """Select a turn, as the dropdowns would (the task need not pass the filter).

        Args:
            task_id: A task with records.
            attempt: An attempt number (from 1); default its first.
            turn: A turn of that attempt (from 1); default its latest.

        Raises:
            InputError: The task, attempt or turn has no record.
        """
        if task_id not in self.data.task_ids:
            raise InputError(f"no records for task {task_id!r}")
        numbers = [a + 1 for a in self.data.attempts(task_id)]
        if attempt is not None and attempt not in numbers:
            raise InputError(f"task {task_id}: no attempt {attempt} (it has {numbers})")
        if turn is not None:
            a = attempt if attempt is not None else numbers[0]
            if turn not in self.data.turns(task_id, a - 1):
                raise InputError(f"task {task_id} attempt {a}: no turn {turn}")
        if task_id not in self.task_dropdown.options:
            self._offer([*self.task_dropdown.options, task_id])
        self._set(task_id, attempt, turn)

    def refresh(self) -> None:
        """Re-read the run directory (for a run still writing) and keep the selection."""
        task_id, attempt, turn = self.selection
        self.data.reload()
        self._filtered(keep=(task_id, attempt, turn))

    def watch(self, every: float = 5.0) -> None:
        """`refresh` every ``every`` seconds, in a background thread, until the run has its
        ``summary.json`` (it finished) or `stop_watching`; then once more."""
        if self._watcher is not None and self._watcher.is_alive():
            return
        self._stop.clear()

        def loop() -> None:
            while not self._stop.wait(every):
                finished = (self.data.run_dir / "summary.json").exists()
                self.refresh()
                if finished:
                    return

        self._watcher = threading.Thread(target=loop, name="arcnb-explorer-watch", daemon=True)
        self._watcher.start()

    def stop_watching(self) -> None:
        """Stop `watch` (a refresh under way finishes first)."""
        self._stop.set()
        if self._watcher is not None:
            self._watcher.join()

    def _offer(self, task_ids: Sequence[str]) -> None:
        self._busy = True
        try:
            self.task_dropdown.options = list(task_ids)
        finally:
            self._busy = False
        self.count_view.value = f"{len(task_ids)} of {len(self.data.task_ids)} tasks" + (
            f" ({len(self.data.unstarted)} not started)" if self.data.unstarted else ""
        )

    def _filtered(self, change: Any = None, keep: tuple[Any, Any, Any] | None = None) -> None:
        task_id, attempt, turn = keep or self.selection
        shown = self.data.matching(self.filter_dropdown.value, self.search_box.value)
        self._offer(shown)
        if task_id not in shown:
            task_id, attempt, turn = (shown or [None])[0], None, None
        self._set(task_id, attempt, turn)

    def _changed(self, change: Any) -> None:
        if self._busy:
            return
        task_id, attempt, turn = self.selection
        if change["owner"] is self.task_dropdown:
            attempt = turn = None
        elif change["owner"] is self.attempt_dropdown:
            turn = None
        self._set(task_id, attempt, turn)

    def _set(self, task_id: str | None, attempt: int | None, turn: int | None) -> None:
        numbers = [a + 1 for a in self.data.attempts(task_id)] if task_id is not None else []
        attempt = attempt if attempt in numbers else (numbers[0] if numbers else None)
        turns = self.data.turns(task_id, attempt - 1) if attempt is not None else []
        turn = turn if turn in turns else (turns[-1] if turns else None)
        self._busy = True  # the three dropdowns change together: render once, below
        try:
            self.task_dropdown.value = task_id
            self.attempt_dropdown.options = self._attempt_options(task_id, numbers)
            self.attempt_dropdown.value = attempt
            self.turn_dropdown.options = turns
            self.turn_dropdown.value = turn
        finally:
            self._busy = False
        self._render()

    def _attempt_options(self, task_id: str | None, numbers: list[int]) -> list[Any]:
        """The attempt numbers, labelled ``4 (round 2)`` when the task had later rounds."""
        if task_id is None or not numbers:
            return numbers
        rounds = {r["attempt"] + 1: r.get("round") or 1 for r in self.data.finals(task_id)}
        if max(rounds.values()) <= 1:
            return numbers
        return [(f"{n} (round {rounds.get(n, 1)})", n) for n in numbers]

    def _render(self) -> None:
        task_id, attempt, turn = self.selection
        if task_id is None or attempt is None or turn is None:
            for view in (self.lineage_view, self.failure_view, self.grids_view, self.code_view,
                         self.tally_view, self.messages_view, self.feedback_view):  # fmt: skip
                view.value = ""
            none = "this run has no attempt records yet" if not self.data.task_ids else (
                "no task matches the filter and search")  # fmt: skip
            self.header_view.value = f"<p><i>{none}</i></p>"
            return
        record = self.data.record(task_id, attempt - 1, turn)
        task = self.data.task(task_id)
        loaded = "" if task is not None else " (task could not be loaded: inputs missing)"
        self.header_view.value = (
            f"<b>{html.escape(task_id)}</b> attempt {attempt}, turn {turn}: "
            f"{html.escape(outcome(record))}{loaded}"
        )
        self.lineage_view.value = lineage_html(self.data, task_id, attempt - 1)
        self.failure_view.value = failure_html(record)
        self.grids_view.value = grids_html(record, task)
        self.code_view.value = code_html(record)
        self.reasoning_view.value = text_html(record, "reasoning")
        self.response_view.value = text_html(record, "content")
        self.messages_view.value = messages_html(self.data, task_id, attempt - 1, turn)
        self.feedback_view.value = feedback_html(record)
        vote, source = self.data.vote(task_id)
        self.tally_view.value = tally_html(vote, self.data.expected_test(task_id), source)

    # -- display --------------------------------------------------------------------------
    def _repr_html_(self) -> str:
        """Static HTML of the current selection and its task's tally (no kernel needed)."""
        task_id, attempt, turn = self.selection
        if task_id is None or attempt is None or turn is None:
            return "<p><i>this run has no attempt records yet</i></p>"
        vote, source = self.data.vote(task_id)
        tally = tally_html(vote, self.data.expected_test(task_id), source)
        turn_view = turn_html(self.data, task_id, attempt - 1, turn, with_messages=True)
        tree = lineage_html(self.data, task_id, attempt - 1)
        return f"<div>{turn_view}{tree}{_details('vote tally', tally)}</div>"

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        bundle = dict(self.widget._repr_mimebundle_(**kwargs) or {})
        bundle["text/html"] = self._repr_html_()  # shown where no kernel renders the widget
        return bundle

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self._repr_mimebundle_(), raw=True)

    def __repr__(self) -> str:
        task_id, attempt, turn = self.selection
        return f"<Explorer {self.data.run.name}: {task_id} attempt {attempt} turn {turn}>"


def explore(run_dir: str | os.PathLike[str], tasks: Sequence[Task] | None = None) -> Explorer:
    """Open an interactive explorer on a run directory.

    Args:
        run_dir: The run directory (finished or still running; `Explorer.refresh` re-reads).
        tasks: The run's tasks, when its dataset cannot be loaded from ``config.json``.

    Returns:
        The explorer; display it (last expression of a cell) to show the widget.

    Raises:
        InputError: Not a run directory, or a record of a newer schema.
    """
    return Explorer(run_dir, tasks)
