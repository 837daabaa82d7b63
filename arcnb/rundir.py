"""The run directory: its layout, the attempt record, its name, and one way to read it back.

This module is the one owner of what a run directory holds and means. The runner writes it
(through `arcnb.logs.RunWriter`); resume, metrics, ``arcnb stats``, compare, plotting, the
explorer and the dataset builder read it through `Run`. Adding a field to the attempt record
is an edit to `AttemptRecord` here (and to the runner that fills it).

Layout of ``<output_dir>/<UTC timestamp>_<model>_<dataset>_<subset>/`` (see `run_dir_name`):

* ``config.json``: settings, endpoints, request parameters, isolation, task ids (no secret).
* ``attempts.jsonl``: one `AttemptRecord` per finished attempt turn, appended as it ends.
  The source of truth: everything else can be recomputed from it.
* ``prompts.jsonl``: every distinct prompt text sent, once (keyed by its SHA-256), and each
  first-turn prompt as the list of its messages' roles and text hashes; a record's
  ``prompt_sha256`` names one. With the records' answers and ``feedback`` texts, any turn's
  exact messages can be rebuilt (`Run.messages`).
* ``tasks/<task_id>.json``: a task's votes, written when its attempts are all in.
* ``summary.json`` and ``programs.parquet``: written at the end, by streaming the records.

Definitions used by every reader:

* Records are keyed by ``(task_id, attempt, turn)``; a resumed run may repeat a key, and the
  first copy is the one that counts.
* An attempt's **final turn** is its highest recorded turn. The attempt is **complete** when
  that turn carries ``final: true`` (a killed multi-turn attempt is represented by the last
  turn it finished, and is not complete).

Memory: `Run.records` streams one line at a time; `Run.final_turns` keeps one small index
entry per attempt (a few dozen bytes), never the records themselves.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypedDict

from arcnb.errors import InputError

__all__ = [
    "ATTEMPTS_FILE",
    "CONFIG_FILE",
    "PROGRAMS_FILE",
    "PROMPTS_FILE",
    "SCHEMA_VERSION",
    "SUMMARY_FILE",
    "TASKS_DIR",
    "AttemptRecord",
    "ExampleResult",
    "Response",
    "Run",
    "RunName",
    "iter_prompt_entries",
    "latest_turns",
    "list_runs",
    "parse_run_dir_name",
    "run_dir_name",
    "safe_name",
    "subset_label",
]

logger = logging.getLogger("arcnb")

SCHEMA_VERSION = 1
"""Version of the attempt record layout in ``attempts.jsonl`` (the ``schema`` field)."""

CONFIG_FILE = "config.json"
ATTEMPTS_FILE = "attempts.jsonl"
TASKS_DIR = "tasks"
SUMMARY_FILE = "summary.json"
PROGRAMS_FILE = "programs.parquet"
PROMPTS_FILE = "prompts.jsonl"

UNSAFE_CHARS = re.compile(r"[^A-Za-z0-9._-]+")
"""Characters that never appear in a file or directory name arcnb makes (run and dataset
names); each run of them becomes ``-``."""

STAMP_FORMAT = "%Y%m%dT%H%M%SZ"
"""UTC start time at the head of every run directory name; names sort chronologically."""

_NAME_RE = re.compile(r"^(?P<stamp>\d{8}T\d{6}Z)_(?P<rest>.*)$")
_TASK_ID_RE = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]*")


# ---- the record ---------------------------------------------------------------------------------
class ExampleResult(TypedDict):
    """One train or test input's result in an attempt turn."""

    status: str  # ok, error, timeout, memory, invalid_output, no_code, ... (see arcnb.executor)
    output: list[list[int]] | None  # the program's grid when it ran ok and was a valid grid
    error: str | None  # "<ErrorType>: message" when it failed
    correct: bool  # exactly equal to the expected output (False when that is unknown)
    pixel_accuracy: float  # 0.0-1.0 of cells right, 0.0 when the shapes differ


class Response(TypedDict):
    """What the model answered (absent when the call failed)."""

    content: str | None
    reasoning: str | None  # from reasoning / reasoning_content / reasoning_details
    finish_reason: str | None  # "length" marks a max-length response
    usage: dict[str, Any] | None  # prompt_tokens, completion_tokens, total_tokens, ...


class AttemptRecord(TypedDict):
    """One line of ``attempts.jsonl``: one finished turn of one attempt (schema 1).

    Every key is always written by the runner; readers may rely on each of them.
    """

    schema: int  # SCHEMA_VERSION at the time of writing
    run_id: str  # the run directory's name when it was created
    task_id: str
    attempt: int  # 0-based attempt index within the task
    turn: int  # 1 = first answer, 2 = first refinement, ...
    final: bool  # the attempt ends with this turn (solved train, failed call, or last turn)
    model: str
    endpoint: str | None  # base URL the request went to
    request: dict[str, Any]  # every request parameter sent (never the key)
    prompt_sha256: str  # of the first turn's messages (the same for all attempts of a task)
    # the refinement message this turn answered; on turn 1, a search strategy's text added
    # to the first prompt's user message (`with_search_text`); None for a fresh sample
    feedback: str | None
    round: int  # the search round that made this attempt, 1 = first (absent in older runs: 1)
    parents: list[int]  # attempt ids of the programs its prompt showed (absent in older runs: [])
    response: Response | None
    failure: str | None  # rate_limit, server_error, connection, timeout, malformed, empty, ...
    error: str | None  # the failure's message
    max_length: bool  # finish_reason was "length"
    tries: int  # HTTP requests made for this turn (retries included)
    code: str | None  # the extracted program, None when the answer held none
    train: list[ExampleResult]  # one per train input; empty when there was no program
    test: list[ExampleResult]  # one per test input; empty when there was no program
    train_accuracy: float  # fraction of train examples exactly right, 0.0-1.0
    all_train_correct: bool
    transductive: bool  # the program looks hard-coded (see arcnb.transduction)
    transduction_reasons: list[str]
    cost_usd: float | None  # None when the model's price is unknown
    usage: dict[str, Any] | None
    timings: dict[str, Any]  # api_s, exec_s (seconds), finished_at (ISO 8601 UTC)


def with_search_text(messages: list[dict[str, Any]], text: str) -> list[dict[str, Any]]:
    """A first-turn prompt with a search strategy's text appended to its last user message.

    Appended rather than sent as a second user message, because several chat templates
    (Gemma's, Mistral's) refuse two user messages in a row. A text content gets the text
    after a blank line; a list of content parts (images) gets one more text part.
    """
    *head, last = messages
    content = last["content"]
    if isinstance(content, list):
        content = [*content, {"type": "text", "text": text}]
    else:
        content = f"{content}\n\n{text}"
    return [*head, {**last, "content": content}]


def record_key(record: dict[str, Any]) -> tuple[str, int, int]:
    """``(task_id, attempt, turn)`` of a record."""
    return (record["task_id"], record["attempt"], record["turn"])


def latest_turns(records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each attempt's final turn among in-memory records (the rule `Run.final_turns` uses).

    The highest turn of each ``(task_id, attempt)``; of exact repeats, the first. In the
    order attempts first appear.
    """
    latest: dict[tuple[str, int], dict[str, Any]] = {}
    for record in records:
        key = (record["task_id"], record["attempt"])
        kept = latest.get(key)
        if kept is None or record["turn"] > kept["turn"]:
            latest[key] = record
    return list(latest.values())


# ---- names --------------------------------------------------------------------------------------
def safe_name(text: Any) -> str:
    """``text`` with each run of filename-unsafe characters replaced by ``-`` (never empty)."""
    return UNSAFE_CHARS.sub("-", str(text)).strip("-.") or "none"


def subset_label(settings: dict[str, Any]) -> str | None:
    """The subset as run names and summaries show it: ``ids`` for explicit task ids, the
    file's stem for an id file given as a path, else the subset name (None if unknown)."""
    if settings.get("task_ids"):
        return "ids"
    subset = settings.get("subset")
    return Path(subset).stem if subset and "/" in str(subset) else subset


def run_dir_name(model: str, dataset: str, subset: str, now: datetime | None = None) -> str:
    """Return the directory name of a new run, e.g. ``20261126T070000Z_gpt-4.1_arc-agi-1_x``.

    Args:
        model: Model id; ``/``, spaces and other unsafe characters become ``-``.
        dataset: Dataset name (sanitised the same way; a folder path keeps its last part).
        subset: Subset label (sanitised the same way).
        now: Start time; the current time when omitted. A naive datetime is taken as UTC.

    Returns:
        ``<YYYYmmddTHHMMSSZ>_<model>_<dataset>_<subset>``; names sort chronologically.
    """
    now = datetime.now(UTC) if now is None else now
    now = now.replace(tzinfo=UTC) if now.tzinfo is None else now.astimezone(UTC)
    parts = (safe_name(model), safe_name(dataset), safe_name(subset))
    return f"{now.strftime(STAMP_FORMAT)}_" + "_".join(parts)


@dataclass(frozen=True)
class RunName:
    """What a run directory's name says: its UTC start time and the rest of the name."""

    started: datetime  # timezone-aware UTC
    rest: str  # "<model>_<dataset>_<subset>[_r<n>]" (sanitised; not split, models hold "_")

    @property
    def date(self) -> str:
        """The UTC start day as ``YYYYMMDD``."""
        return self.started.strftime("%Y%m%d")


def parse_run_dir_name(name: str) -> RunName | None:
    """Parse a name made by `run_dir_name` (or ``..._aggregate.json``); None if not one."""
    match = _NAME_RE.match(Path(name).name)
    if not match:
        return None
    try:
        started = datetime.strptime(match["stamp"], STAMP_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        return None
    return RunName(started, match["rest"])


def check_task_id(task_id: Any) -> str:
    """Return ``task_id`` when it can be a file name under ``tasks/``.

    Raises:
        InputError: It cannot (path separators, leading dot, empty).
    """
    if not isinstance(task_id, str) or not _TASK_ID_RE.fullmatch(task_id):
        raise InputError(f"task id {task_id!r} cannot be used as a file name")
    return task_id


def list_runs(logs_dir: str | os.PathLike[str]) -> list[Path]:
    """Return the run directories under ``logs_dir``, oldest first.

    A run directory is a child holding ``config.json`` or ``attempts.jsonl``; names start
    with the UTC start time, so sorting by name sorts by time. A missing ``logs_dir``
    has no runs.
    """
    root = Path(logs_dir)
    if not root.is_dir():
        return []
    return sorted(
        child
        for child in root.iterdir()
        if child.is_dir() and ((child / CONFIG_FILE).exists() or (child / ATTEMPTS_FILE).exists())
    )


# ---- reading ------------------------------------------------------------------------------------
def parse_line(raw: bytes) -> dict[str, Any] | None:
    """One JSONL line as a dict, or None when it is not a JSON object."""
    try:
        value = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    return value if isinstance(value, dict) else None


def iter_prompt_entries(path: Path) -> Iterator[dict[str, Any]]:
    """The readable entries of a ``prompts.jsonl`` (``text`` and ``prompt`` lines), in order;
    a torn or corrupt line is skipped."""
    with open(path, "rb") as handle:
        for raw in handle:
            entry = parse_line(raw)
            if entry is not None and isinstance(entry.get("sha256"), str):
                yield entry


def read_json(path: Path) -> dict[str, Any]:
    """Read a JSON object file.

    Raises:
        InputError: Malformed, or not an object.
    """
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise InputError(f"{path}: not valid JSON ({error})") from None
    if not isinstance(value, dict):
        raise InputError(f"{path}: expected a JSON object")
    return value


def _valid(record: dict[str, Any]) -> bool:
    """The key fields have their types (anything else cannot be attributed to an attempt)."""
    task_id, attempt, turn = record.get("task_id"), record.get("attempt"), record.get("turn")
    return (
        isinstance(task_id, str)
        and type(attempt) is int
        and type(turn) is int
        and attempt >= 0
        and turn >= 1
    )


@dataclass
class Run:
    """A run directory, finished or not, read back through one set of definitions.

    Open one with `Run.open`. Records are streamed from ``attempts.jsonl`` on each call
    (a run still in progress shows its new records); what could not be read is named in
    `warnings` (an unfinished run, a torn final line, a corrupt line, a lost dataset).

    Attributes:
        path: The run directory.
        config: ``config.json`` (empty when it is missing; a warning says so).
        warnings: One line per problem found so far; reading records may add more.
    """

    path: Path
    config: dict[str, Any]
    warnings: list[str] = field(default_factory=list)
    _tasks: dict[str, Any] | None = field(default=None, repr=False)
    _prompts: dict[str, Any] | None = field(default=None, repr=False)
    _warned: set[str] = field(default_factory=set, repr=False)
    expected_inferred: list[str] = field(default_factory=list, repr=False)

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> Run:
        """Open a run directory.

        Raises:
            InputError: ``path`` is not a directory holding ``config.json`` or
                ``attempts.jsonl``, or ``config.json`` is malformed.
        """
        root = Path(path)
        if not str(path) or not root.is_dir():
            raise InputError(f"{str(path)!r}: not a run directory (no such directory)")
        has_config = (root / CONFIG_FILE).is_file()
        if not has_config and not (root / ATTEMPTS_FILE).exists():
            raise InputError(f"{path}: not a run directory (no {CONFIG_FILE} or {ATTEMPTS_FILE})")
        run = cls(root, read_json(root / CONFIG_FILE) if has_config else {})
        if not has_config:
            run._warn(f"no {CONFIG_FILE}: the dataset and settings are unknown")
        if not (root / SUMMARY_FILE).exists():
            run._warn(f"no {SUMMARY_FILE}: the run did not finish")
        return run

    def _warn(self, message: str) -> None:
        if message not in self._warned:
            self._warned.add(message)
            self.warnings.append(message)

    # -- identity and settings ------------------------------------------------------------
    @property
    def name(self) -> str:
        """The directory's name (``<time>_<model>_<dataset>_<subset>``)."""
        return self.path.resolve().name

    @property
    def run_id(self) -> str:
        return str(self.config.get("run_id") or self.name)

    @property
    def settings(self) -> dict[str, Any]:
        """The run's `RunConfig` as recorded (empty when unknown)."""
        return self.config.get("settings") or {}

    @property
    def model(self) -> str | None:
        return self.config.get("model") or self.settings.get("model")

    @property
    def dataset(self) -> str | None:
        return self.settings.get("dataset")

    @property
    def subset(self) -> str | None:
        """The subset label (see `subset_label`)."""
        return subset_label(self.settings)

    @property
    def started(self) -> datetime | None:
        """UTC start time, from the name (else ``created_at``); None when neither says."""
        parsed = parse_run_dir_name(self.name)
        if parsed is not None:
            return parsed.started
        try:
            return datetime.fromisoformat(str(self.config["created_at"])).astimezone(UTC)
        except (KeyError, ValueError):
            return None

    @property
    def max_attempts(self) -> int | None:
        value = self.settings.get("max_attempts")
        return value if type(value) is int else None

    @property
    def max_turns(self) -> int | None:
        value = self.settings.get("max_turns")
        return value if type(value) is int else None

    @property
    def task_ids(self) -> list[str]:
        """The tasks the run was asked to solve, in run order.

        From ``config.json``; for a run without one, from ``summary.json``, ``tasks/`` and
        finally the records.
        """
        ids = [str(i) for i in self.config.get("task_ids") or []]
        if ids:
            return list(dict.fromkeys(ids))
        summary = self.summary() or {}
        ids = list(summary.get("per_task") or [])
        ids = ids or sorted(p.stem for p in (self.path / TASKS_DIR).glob("*.json"))
        return ids or list(dict.fromkeys(r["task_id"] for r in self.records()))

    def summary(self) -> dict[str, Any] | None:
        """``summary.json``; None while the run has not finished.

        Raises:
            InputError: The file is malformed.
        """
        path = self.path / SUMMARY_FILE
        return read_json(path) if path.exists() else None

    def saved_vote(self, task_id: str) -> dict[str, Any] | None:
        """``tasks/<task_id>.json``; None when that task has not been voted yet.

        Raises:
            InputError: The file is malformed, or the id is not a file name.
        """
        path = self.path / TASKS_DIR / f"{check_task_id(task_id)}.json"
        return read_json(path) if path.exists() else None

    # -- records ----------------------------------------------------------------------------
    @property
    def attempts_path(self) -> Path:
        return self.path / ATTEMPTS_FILE

    def scan(self) -> Iterator[tuple[int, AttemptRecord]]:
        """Yield ``(byte offset, record)`` for every readable line, in file order.

        Not de-duplicated (see `records`). A torn final line (a writer killed mid-line, or
        one still writing) is skipped; so is a corrupt line elsewhere, a record whose key
        fields are missing or mistyped, each named once in `warnings`.

        Raises:
            InputError: A record has a newer schema than this arcnb reads.
        """
        path = self.attempts_path
        if not path.exists():
            self._warn(f"no {ATTEMPTS_FILE}: the run recorded no attempts")
            return
        corrupt = invalid = 0
        offset = 0
        with open(path, "rb") as handle:
            for number, raw in enumerate(handle, start=1):
                start, offset = offset, offset + len(raw)
                if not raw.strip():
                    continue
                record = parse_line(raw)
                if record is None:
                    if not raw.endswith(b"\n"):
                        self._warn(
                            f"{ATTEMPTS_FILE}: ignored a torn final line ({len(raw)} bytes; "
                            "the run was killed mid-write or is still writing)"
                        )
                    else:
                        corrupt += 1
                    continue
                schema = record.get("schema", SCHEMA_VERSION)
                if type(schema) is not int or schema > SCHEMA_VERSION:
                    raise InputError(
                        f"{path}:{number}: attempt schema {schema!r} is newer than this arcnb "
                        f"reads ({SCHEMA_VERSION}); upgrade arcnb"
                    )
                if not _valid(record):
                    invalid += 1
                    continue
                yield start, record  # type: ignore[misc]
        if corrupt:
            self._warn(f"{ATTEMPTS_FILE}: skipped {corrupt} line(s) that are not JSON objects")
        if invalid:
            self._warn(
                f"{ATTEMPTS_FILE}: skipped {invalid} record(s) without a valid task_id/attempt/turn"
            )

    def records(self) -> Iterator[AttemptRecord]:
        """Yield every attempt-turn record once, in file order (first copy of each key)."""
        seen: set[tuple[str, int, int]] = set()
        for _, record in self.scan():
            key = record_key(record)
            if key not in seen:
                seen.add(key)
                yield record

    def index(
        self, on_turn: Callable[[AttemptRecord], None] | None = None
    ) -> dict[tuple[str, int], list[tuple[int, int, bool]]]:
        """Per ``(task_id, attempt)``: ``(turn, byte offset, final)`` of each distinct turn,
        ascending by turn. Small (no record is kept): what resume and `final_turns` plan from.

        Args:
            on_turn: Called with each distinct record (first copy of each key) as the file
                is read, so one pass can also feed a summary or a cost total.
        """
        turns: dict[tuple[str, int], dict[int, tuple[int, int, bool]]] = {}
        for offset, record in self.scan():
            mine = turns.setdefault((record["task_id"], record["attempt"]), {})
            if record["turn"] in mine:  # a repeated key: the first copy counts
                continue
            mine[record["turn"]] = (record["turn"], offset, bool(record.get("final")))
            if on_turn is not None:
                on_turn(record)
        return {key: [mine[t] for t in sorted(mine)] for key, mine in turns.items()}

    def read_at(self, offsets: Iterable[int]) -> Iterator[AttemptRecord]:
        """Yield the records starting at these byte offsets (from `index`), in that order."""
        offsets = list(offsets)
        if not offsets:  # nothing asked (a run may not have written attempts.jsonl yet)
            return
        with open(self.attempts_path, "rb") as handle:
            for offset in offsets:
                handle.seek(offset)
                record = parse_line(handle.readline())
                if record is None:
                    raise InputError(f"{self.attempts_path}: no record at byte {offset}")
                yield record  # type: ignore[misc]

    def final_turns(
        self, on_turn: Callable[[AttemptRecord], None] | None = None
    ) -> Iterator[AttemptRecord]:
        """Yield each attempt's final turn (its highest recorded turn), in file order.

        Whether the attempt is complete is the record's ``final`` field.

        Args:
            on_turn: Called first with every distinct record (see `index`).
        """
        index = self.index(on_turn)
        yield from self.read_at(sorted(turns[-1][1] for turns in index.values()))

    # -- prompts ----------------------------------------------------------------------------
    def prompt(self, prompt_sha256: str) -> list[dict[str, str]]:
        """The first-turn messages a record's ``prompt_sha256`` names, exactly as sent.

        Raises:
            InputError: The run has no ``prompts.jsonl`` (made before arcnb stored prompts)
                or lacks this prompt or one of its texts.
        """
        if self._prompts is None:
            path = self.path / PROMPTS_FILE
            if not path.exists():
                raise InputError(
                    f"{self.path}: no {PROMPTS_FILE} (the run predates stored prompts): "
                    "only the prompts' hashes are recorded"
                )
            self._prompts = {}
            for entry in iter_prompt_entries(path):
                self._prompts[(entry.get("kind"), entry["sha256"])] = entry
        entry = self._prompts.get(("prompt", prompt_sha256))
        if entry is None:
            raise InputError(f"{PROMPTS_FILE}: no prompt {prompt_sha256[:12]}...")
        messages = []
        for part in entry["messages"]:
            text = self._prompts.get(("text", part["text_sha256"]))
            if text is None:
                raise InputError(f"{PROMPTS_FILE}: no text {part['text_sha256'][:12]}...")
            content = json.loads(text["text"]) if part.get("parts") else text["text"]
            messages.append({"role": part["role"], "content": content})
        return messages

    def messages(self, task_id: str, attempt: int, turn: int = 1) -> list[dict[str, str]]:
        """The exact messages sent for one turn of an attempt.

        The first-turn prompt (`prompt`), with a search strategy's text appended
        (`with_search_text`) where the first turn has one, then for each earlier turn the model's answer
        (its ``content``, as it was sent back) and the next turn's ``feedback``.

        Raises:
            InputError: That turn (or an earlier one of the attempt) is not recorded, or the
                run lacks its prompt (see `prompt`).
        """
        turns = {t: offset for t, offset, _ in self.index().get((task_id, attempt), [])}
        missing = [t for t in range(1, turn + 1) if t not in turns]
        if missing:
            raise InputError(
                f"{self.path}: task {task_id!r} attempt {attempt} has no recorded turn {missing[0]}"
            )
        records = list(self.read_at(turns[t] for t in range(1, turn + 1)))
        messages = self.prompt(records[0]["prompt_sha256"])
        if records[0].get("feedback"):  # a search strategy's request
            messages = with_search_text(messages, records[0]["feedback"])
        for earlier, record in zip(records, records[1:], strict=False):
            answer = (earlier.get("response") or {}).get("content") or ""
            messages.append({"role": "assistant", "content": answer})
            messages.append({"role": "user", "content": record.get("feedback") or ""})
        return messages

    # -- tasks ------------------------------------------------------------------------------
    def tasks(self) -> dict[str, Any]:
        """Task id -> `arcnb.tasks.Task` for the run's tasks that its dataset still holds.

        The dataset is the one recorded in ``config.json`` (a folder is recorded as its
        path). Ids it no longer holds (a folder edited since the run), or a dataset that
        cannot be loaded at all, are named in `warnings`; their tasks are absent.
        """
        if self._tasks is None:
            self._tasks = self._load_tasks()
        return self._tasks

    def task(self, task_id: str) -> Any:
        """The task (inputs and expected outputs), or None when it cannot be loaded."""
        return self.tasks().get(task_id)

    def expected_outputs(self) -> dict[str, list[Any]]:
        """Task id -> its true test outputs (None where unknown), for every run task.

        From the dataset when the task loads. Otherwise inferred from the records marked
        correct, which is exact for every metric (a test input no attempt got right scores
        0 whatever its answer); `expected_inferred` then names those tasks, and
        `warnings` says so.
        """
        tasks = self.tasks()
        expected = {i: [ex.output for ex in t.test] for i, t in tasks.items()}
        missing = [i for i in self.task_ids if i not in expected]
        self.expected_inferred = missing
        if not missing:
            return expected
        self._warn(
            f"{len(missing)} task(s) without their dataset: expected outputs inferred "
            "from attempts marked correct"
        )
        inferred: dict[str, list[Any]] = {}
        for task_id in missing:
            try:
                vote = (self.saved_vote(task_id) or {}).get("vote") or {}
            except InputError:
                vote = {}
            n_test = vote.get("n_test")
            inferred[task_id] = [None] * (n_test if type(n_test) is int else 0)
        for record in self.records():
            truth = inferred.get(record["task_id"])
            if truth is None or record.get("failure") is not None:
                continue
            tests = record.get("test") or []
            truth.extend([None] * (len(tests) - len(truth)))
            for index, example in enumerate(tests):
                if example.get("correct") and truth[index] is None:
                    truth[index] = example.get("output")
        expected.update(inferred)
        return expected

    def _load_tasks(self) -> dict[str, Any]:
        from arcnb.tasks import list_subsets, load_tasks

        ids = self.task_ids
        if not ids:
            return {}
        dataset = self.dataset
        if not isinstance(dataset, str) or not dataset:
            self._warn(
                f"{CONFIG_FILE} names no dataset: task inputs and expected outputs are missing"
            )
            return {}
        # Whole splits, then narrowed: a comma list of a few hundred ids would be taken for
        # (and be too long as) a file path by load_tasks.
        everything: dict[str, Any] = {}
        try:
            for split, _ in list_subsets(dataset).items():
                if split.startswith("all_"):
                    everything.update((t.id, t) for t in load_tasks(dataset, split))
        except (InputError, OSError, ValueError) as error:
            problem = " ".join(str(error).split())
            self._warn(
                f"dataset {dataset!r} could not be loaded ({problem}): task inputs and "
                "expected outputs are missing"
            )
            return {}
        lost = [i for i in ids if i not in everything]
        if lost:
            self._warn(
                f"{len(lost)} task(s) not in dataset {dataset!r} any more "
                f"({', '.join(lost[:5])}{', ...' if len(lost) > 5 else ''}): their inputs and "
                "expected outputs are missing"
            )
        return {i: everything[i] for i in ids if i in everything}
