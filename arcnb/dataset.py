"""Fine-tuning data from logged programs: re-executed, relabelled in hindsight, deduplicated.

`build_dataset` reads run directories (see `arcnb.logs`) and turns every program an attempt
produced (every turn's) into at most one row of the competition format (`COLUMNS`):

1. **Re-execution.** Logged outputs are never trusted: each program runs again on its task's
   train and test inputs in the foundation's `Executor` (or on a Ray cluster). A program whose
   output breaks the grid format anywhere is dropped whole (``format``); failed examples
   (error, timeout, memory) are dropped one by one; a program with no train example left is
   dropped (``exec``).
2. **Hindsight relabelling.** A program wrong on the real task is right on the task whose
   outputs are its own: a row holds the real inputs, the program's outputs as both
   ``*_output`` and ``predicted_*_output``, and ``correct_*_input`` flags saying which of them
   match the real outputs.
3. **Filters.** Transductive programs (`arcnb.transduction`) are removed. Per task, test-correct
   programs are deduplicated by cleaned code, the others by their outputs on the train inputs.
4. **Balance and split.** Tasks with and without a test-correct program are balanced 50/50 by
   dropping random tasks of the larger group; ``validation`` holds out ~10% of the tasks,
   stratified by difficulty (share of test-correct rows), so no task is in both splits.

Scale: records are read lazily, one line at a time; programs go to the executor with a bounded
number in flight and results are consumed in order (so the output is deterministic); rows are
streamed to an Arrow file that the `datasets.Dataset` memory-maps; a program identical to one
seen before for the same task is never executed again (only its outcome, one short label, is
remembered). Memory therefore grows with the number of distinct programs by a few dozen bytes
each, not with their outputs.
"""

from __future__ import annotations

import ast
import collections
import contextlib
import dataclasses
import fnmatch
import functools
import hashlib
import io
import json
import logging
import os
import random
import re
import shutil
import tempfile
import time
import tokenize
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from arcnb._worker import validate_grid
from arcnb.errors import InputError
from arcnb.executor import ExecResult, Executor
from arcnb.logs import iter_attempts, list_runs, read_config
from arcnb.prompts import build_messages
from arcnb.tasks import Example, Task, list_subsets, load_task, load_tasks
from arcnb.transduction import detect_transduction

if TYPE_CHECKING:
    from datasets import Dataset, DatasetDict, Features

__all__ = [
    "COLUMNS",
    "DatasetConfig",
    "DatasetResult",
    "RowFailure",
    "build_dataset",
    "clean_code",
    "dataset_features",
    "format_stats",
    "simple_dataset",
    "to_chat",
    "validate_dataset",
]

logger = logging.getLogger("arcnb")

COLUMNS = (
    "reasoning", "code", "train_input", "train_output", "predicted_train_output",
    "correct_train_input", "test_input", "test_output", "predicted_test_output",
    "correct_test_input", "task_id", "model", "generation",
)  # fmt: skip
"""Columns of every row, in order (the competition format)."""

DEFAULT_OUTPUT_DIR = "training_data"
SIDECAR_FILE = "arcnb_dataset.json"  # build settings, stats and each task's source dataset
VALIDATION_FRACTION = 0.1  # share of tasks held out by validation=True (at least one task)
SEED = 0  # for balancing and the validation split: the same inputs give the same dataset
RAY_CHUNK = 256  # programs per Ray task: amortises the task's own executor start (~0.5 s)
_ROW_BATCH = 256  # rows buffered before they are written to the Arrow file
_PROGRESS_EVERY = 10_000  # programs between progress log lines
_REJECTS = ("transductive", "format", "exec")
_DATE_RE = re.compile(r"^\d{8}$")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


# ---- row format -----------------------------------------------------------------------------
def dataset_features() -> Features:
    """The `datasets.Features` of a row: grids are nested int64 lists, flags are bools."""
    import datasets

    lst = getattr(datasets, "List", None) or datasets.Sequence  # List: datasets >= 4
    value = datasets.Value
    grids = lst(lst(lst(value("int64"))))
    flags = lst(value("bool"))
    return datasets.Features(
        {
            "reasoning": value("string"),
            "code": value("string"),
            "train_input": grids,
            "train_output": grids,
            "predicted_train_output": grids,
            "correct_train_input": flags,
            "test_input": grids,
            "test_output": grids,
            "predicted_test_output": grids,
            "correct_test_input": flags,
            "task_id": value("string"),
            "model": value("string"),
            "generation": value("int64"),
        }
    )


def _dataset_from_rows(rows: list[dict[str, Any]]) -> Dataset:
    from datasets import Dataset

    return Dataset.from_list(rows, features=dataset_features())


# ---- configuration --------------------------------------------------------------------------
@dataclass
class DatasetConfig:
    """Every setting of one `build_dataset` call; written into the output's sidecar file.

    Field names are `build_dataset`'s keyword arguments, the CLI flags in snake_case, and the
    notebook's parameter names.
    """

    run_dirs: list[str] | None = None  # run directories; None: every run under logs_dir
    logs_dir: str | None = None  # where runs live (default: logs)
    output: str | None = None  # dataset directory (default: training_data/<name>)
    model: list[str] | None = None  # keep only programs of these models
    dataset: str | None = None  # keep only runs on this dataset (name or folder)
    subset: str | None = None  # keep only runs on this subset
    date_from: str | None = None  # YYYYMMDD, runs started on or after this UTC day
    date_to: str | None = None  # YYYYMMDD, runs started on or before this UTC day
    pattern: str | None = None  # substring (or glob) of the run directory name
    limit: int | None = None  # only the newest N matching runs
    transduction_filter: bool = True  # drop programs that hard-code answers
    dedup: bool = True  # deduplicate programs per task
    clean_code: bool = False  # strip comments and blank lines from the stored code
    balance: bool = True  # 50/50 tasks with and without a test-correct program
    validation: bool = False  # hold out ~10% of the tasks as a validation split
    reasoning: bool = True  # keep the reasoning of test-correct programs
    push: bool = False  # upload to the Hugging Face Hub (needs a token)
    hf_org: str | None = None  # Hub organisation (default: the token's user)
    hf_private: bool = False  # make the Hub dataset private
    hf_dataset_name: str | None = None  # name (default: synth_<dataset>_<subset>_<UTC time>)
    ray_address: str | None = None  # run the programs on this Ray cluster ("local": start one)

    def validate(self) -> None:
        """Raise InputError naming the bad setting."""
        for flag, value in (("--date-from", self.date_from), ("--date-to", self.date_to)):
            if value is None:
                continue
            try:
                ok = bool(_DATE_RE.match(value)) and bool(datetime.strptime(value, "%Y%m%d"))
            except ValueError:
                ok = False
            if not ok:
                raise InputError(f"{flag} must be a date as YYYYMMDD, got {value!r}")
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise InputError(f"--date-from {self.date_from} is after --date-to {self.date_to}")
        if self.limit is not None and self.limit < 1:
            raise InputError(f"--limit must be >= 1, got {self.limit}")
        if self.hf_dataset_name is not None and not re.fullmatch(
            r"[A-Za-z0-9][A-Za-z0-9._-]*", self.hf_dataset_name
        ):
            raise InputError(
                f"--hf-dataset-name must be letters, digits, '.', '_' or '-', "
                f"got {self.hf_dataset_name!r}"
            )


def _model_list(model: str | Sequence[str] | None) -> list[str] | None:
    """``"a,b"`` or ``["a", "b,c"]`` -> ``["a", "b", "c"]``; None or empty -> None."""
    if model is None:
        return None
    items = [model] if isinstance(model, str) else list(model)
    names = [m.strip() for item in items for m in str(item).split(",") if m.strip()]
    return names or None


@dataclass
class DatasetResult:
    """What `build_dataset` produced; the dataset is also on disk at `path`."""

    dataset: DatasetDict
    path: Path
    stats: dict[str, Any]
    name: str
    hub_id: str | None = None

    def __repr__(self) -> str:
        splits = ", ".join(f"{k} {len(v)} rows" for k, v in self.dataset.items())
        return f"<DatasetResult {self.name}: {splits} at {self.path}>"

    def table(self) -> str:
        """The statistics as aligned text lines (see `format_stats`)."""
        return format_stats(self.stats)


# ---- runs -----------------------------------------------------------------------------------
@dataclass
class _Run:
    path: Path
    config: dict[str, Any]
    model: str | None
    dataset: str
    subset: str
    date: str  # YYYYMMDD (UTC start day), "" when unknown


def _run_info(path: Path, config: dict[str, Any]) -> _Run:
    settings = config.get("settings") or {}
    dataset = str(settings.get("dataset") or "")
    if settings.get("task_ids"):
        subset = "ids"
    else:
        subset = str(settings.get("subset") or "")
        subset = Path(subset).stem if "/" in subset else subset
    match = re.match(r"^(\d{8})T", path.name)
    date = match.group(1) if match else str(config.get("created_at") or "")[:10].replace("-", "")
    return _Run(path, config, config.get("model") or settings.get("model"), dataset, subset, date)


def _matches(run: _Run, cfg: DatasetConfig) -> bool:
    if cfg.model and run.model and run.model not in cfg.model:
        return False
    if cfg.dataset and cfg.dataset not in (run.dataset, Path(run.dataset).name):
        return False
    if cfg.subset and cfg.subset != run.subset:
        return False
    if cfg.date_from and (not run.date or run.date < cfg.date_from):
        return False
    if cfg.date_to and (not run.date or run.date > cfg.date_to):
        return False
    if cfg.pattern:
        glob = any(c in cfg.pattern for c in "*?[")
        name = run.path.name
        if not (fnmatch.fnmatch(name, cfg.pattern) if glob else cfg.pattern in name):
            return False
    return True


def _select_runs(cfg: DatasetConfig) -> list[_Run]:
    """The runs to read, oldest first, after the filters and `limit` (the newest N)."""
    if cfg.run_dirs:
        candidates = []
        for item in cfg.run_dirs:
            path = Path(item)
            if not path.is_dir():
                raise InputError(f"{item}: no such run directory")
            candidates.append(_run_info(path, read_config(path)))
    else:
        logs_dir = cfg.logs_dir or "logs"
        paths = list_runs(logs_dir)
        if not paths:
            raise InputError(f"no run directories under {logs_dir}")
        candidates = []
        for path in paths:
            try:
                candidates.append(_run_info(path, read_config(path)))
            except InputError as error:
                logger.warning("skipping %s: %s", path, error)
    runs = sorted((r for r in candidates if _matches(r, cfg)), key=lambda r: (r.date, r.path.name))
    if cfg.limit:
        runs = runs[-cfg.limit :]
    if not runs:
        raise InputError(f"no run matches the filters ({len(candidates)} run(s) looked at)")
    return runs


def _run_tasks(run: _Run) -> dict[str, Task]:
    """The run's tasks by id: the whole dataset, both splits, narrowed to the run's ids.

    (Loading by a comma-joined id list would pass a path-like string of every id to
    `load_tasks`, too long for a file name once a run has a few hundred tasks.)
    """
    ids = run.config.get("task_ids")
    settings = run.config.get("settings") or {}
    try:
        if not ids:
            spec = settings.get("task_ids") or settings.get("subset") or ""
            return {task.id: task for task in load_tasks(run.dataset, spec)}
        everything = {}
        for split in ("all_training", "all_evaluation"):
            if split in list_subsets(run.dataset):  # a flat folder has evaluation tasks only
                everything.update((task.id, task) for task in load_tasks(run.dataset, split))
    except InputError as error:
        raise InputError(f"{run.path}: cannot load the run's tasks: {error}") from None
    return {i: everything[i] for i in ids if i in everything}


@dataclass
class _Program:
    task: Task
    code: str  # as logged
    reasoning: str
    model: str
    generation: int  # the attempt's turn: 1 = first answer, 2 = first refinement, ...


def _iter_programs(runs: list[_Run], cfg: DatasetConfig, stats: dict) -> Iterator[_Program]:
    for run in runs:
        tasks = _run_tasks(run)
        for record in iter_attempts(run.path):
            code = record.get("code")
            if not code or not isinstance(code, str):
                continue
            model = str(record.get("model") or run.model or "")
            if cfg.model and model not in cfg.model:
                stats["skipped_model"] += 1
                continue
            task = tasks.get(str(record.get("task_id")))
            if task is None:
                stats["skipped_unknown_task"] += 1
                continue
            response = record.get("response")
            reasoning = response.get("reasoning") if isinstance(response, dict) else None
            turn = record.get("turn")
            yield _Program(task, code, reasoning or "", model, int(turn) if turn else 1)


# ---- code cleaning ----------------------------------------------------------------------------
def clean_code(code: str) -> str:
    """Strip comments and blank lines from a program, keeping it exactly equivalent.

    Uses Python's tokenizer (so ``#`` inside strings is left alone, and so are blank lines
    inside multi-line strings), then checks that the result compiles to the same syntax tree
    as the original; when it would not (or the original does not parse), the original is
    returned unchanged.

    Args:
        code: Python source.

    Returns:
        The cleaned source, or ``code`` itself.
    """
    return _clean(code)[0]


@functools.lru_cache(maxsize=4096)
def _clean(code: str) -> tuple[str, bool]:
    """(cleaned code, whether cleaning succeeded); on failure the original is returned."""
    try:
        before = ast.dump(ast.parse(code))
        tokens = list(tokenize.generate_tokens(io.StringIO(code).readline))
    except (SyntaxError, ValueError, tokenize.TokenError):
        return code, False
    lines = [line.rstrip("\r\n") for line in io.StringIO(code).readlines()]
    keep_blank: set[int] = set()  # rows inside a multi-line string: never dropped
    keep_tail: set[int] = set()  # rows a multi-line string continues past: never rstripped
    fstrings: list[int] = []
    for tok in tokens:
        start, end = tok.start[0], tok.end[0]
        name = tokenize.tok_name.get(tok.type, "")
        if name == "FSTRING_START":  # Python 3.12+: f-strings arrive in pieces
            fstrings.append(start)
            continue
        if name == "FSTRING_END" and fstrings:
            start = fstrings.pop()
        if tok.type == tokenize.COMMENT:
            row = start - 1
            lines[row] = lines[row][: tok.start[1]]
        elif end > start and tok.type not in (tokenize.NEWLINE, tokenize.NL):
            keep_blank.update(range(start + 1, end + 1))
            keep_tail.update(range(start, end))
    out = []
    for number, line in enumerate(lines, start=1):
        if number not in keep_tail:
            line = line.rstrip()
        if line or number in keep_blank:
            out.append(line)
    cleaned = "\n".join(out) + ("\n" if code.endswith("\n") else "")
    try:
        compile(cleaned, "<program>", "exec")
        same = ast.dump(ast.parse(cleaned)) == before
    except (SyntaxError, ValueError):
        same = False
    return (cleaned, True) if same else (code, False)


# ---- execution backends ---------------------------------------------------------------------
class _LocalBackend:
    """The foundation's executor: results arrive as futures."""

    def __init__(self, executor: Executor) -> None:
        self.executor = executor
        self.window = max(256, 16 * executor.n_workers * executor.depth)

    def submit(self, code: str, grids: list) -> Any:
        return self.executor.submit(code, grids)

    def result(self, handle: Any) -> list[ExecResult]:
        return handle.result()

    def close(self) -> None:
        pass


def _run_chunk(
    programs: list[tuple[str, list]], timeout: float, memory_mb: int
) -> list[list[dict[str, Any]]]:
    """Run a chunk of (code, grids) through a local executor of its own (one Ray task)."""
    with Executor(workers=1, timeout=timeout, memory_mb=memory_mb) as executor:
        return [[r.to_dict() for r in rs] for rs in executor.run_many(programs)]


class _RayBackend:
    """Chunks of `RAY_CHUNK` programs, each a Ray task with its own local executor."""

    def __init__(self, address: str, timeout: float = 0.5, memory_mb: int = 512) -> None:
        if address == "local":
            # A local instance runs on this very interpreter; under `uv run`, Ray's default
            # would ship the project to its workers through `uv run` again and rebuild every
            # dependency from source first. (Read once, when ray is first imported.)
            os.environ.setdefault("RAY_ENABLE_UV_RUN_RUNTIME_ENV", "0")
        try:
            import ray
        except ImportError:
            raise InputError(
                "--ray needs Ray: install the ray extra: uv sync --extra ray"
            ) from None
        self.ray = ray
        self.started = False
        if not ray.is_initialized():
            if address == "local":
                ray.init(include_dashboard=False, log_to_driver=False)
            else:
                ray.init(address=address, log_to_driver=False)
            self.started = True
        cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))
        self.remote = ray.remote(num_cpus=1)(_run_chunk)
        self.timeout, self.memory_mb = timeout, memory_mb
        self.window = RAY_CHUNK * 2 * cpus  # two chunks queued per CPU keeps the cluster busy
        self.chunk: list[tuple[str, list]] = []
        self.n_chunks = 0
        self.refs: dict[int, Any] = {}
        self.done: dict[int, list[list[dict]]] = {}
        self.left: dict[int, int] = {}

    def submit(self, code: str, grids: list) -> tuple[int, int]:
        self.chunk.append((code, grids))
        handle = (self.n_chunks, len(self.chunk) - 1)
        if len(self.chunk) >= RAY_CHUNK:
            self._flush()
        return handle

    def _flush(self) -> None:
        if self.chunk:
            self.refs[self.n_chunks] = self.remote.remote(self.chunk, self.timeout, self.memory_mb)
            self.left[self.n_chunks] = len(self.chunk)
            self.n_chunks += 1
            self.chunk = []

    def result(self, handle: tuple[int, int]) -> list[ExecResult]:
        number, index = handle
        if number == self.n_chunks:  # still being filled: send it now
            self._flush()
        if number not in self.done:
            self.done[number] = self.ray.get(self.refs.pop(number))
        results = [ExecResult(**r) for r in self.done[number][index]]
        self.left[number] -= 1
        if not self.left[number]:
            del self.done[number], self.left[number]
        return results

    def close(self) -> None:
        if self.started:
            self.ray.shutdown()


# ---- the build --------------------------------------------------------------------------------
class _RowWriter:
    """Appends rows to an Arrow stream file, `_ROW_BATCH` at a time."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.schema = dataset_features().arrow_schema
        self.sink = pa.OSFile(str(path), "wb")
        self.writer = pa.ipc.new_stream(self.sink, self.schema)
        self.buffer: list[dict[str, Any]] = []
        self.count = 0

    def append(self, row: dict[str, Any]) -> int:
        self.buffer.append(row)
        self.count += 1
        if len(self.buffer) >= _ROW_BATCH:
            self.flush()
        return self.count - 1

    def flush(self) -> None:
        if self.buffer:
            self.writer.write_table(pa.Table.from_pylist(self.buffer, schema=self.schema))
            self.buffer = []

    def close(self) -> None:
        self.flush()
        self.writer.close()
        self.sink.close()


@dataclass
class _TaskRows:
    rows: list[int] = field(default_factory=list)  # indices in the Arrow file
    correct: int = 0  # test-correct rows
    codes: set[bytes] = field(default_factory=set)  # digests of cleaned test-correct code
    outputs: set[bytes] = field(default_factory=set)  # digests of train output signatures


def _digest(*parts: str) -> bytes:
    h = hashlib.blake2b(digest_size=16)
    for part in parts:
        h.update(part.encode("utf-8", "surrogatepass"))
        h.update(b"\0")
    return h.digest()


_DUP, _TRANS = object(), object()  # pending markers: seen before; rejected as transductive


class _Builder:
    """Streams programs through execution, filtering and dedup into the row file."""

    def __init__(self, cfg: DatasetConfig, backend: Any, writer: _RowWriter, stats: dict) -> None:
        self.cfg, self.backend, self.writer, self.stats = cfg, backend, writer, stats
        self.seen: set[bytes] = set()  # (task, code) digests already submitted or decided
        self.outcome: dict[bytes, str] = {}  # digest -> transductive|format|exec|correct|other
        self.cached: dict[bytes, tuple[list[ExecResult], bool]] = {}  # only without dedup
        self.tasks: dict[str, _TaskRows] = {}
        self.sources: dict[str, str] = {}
        self.pending: collections.deque = collections.deque()

    def run(self, programs: Iterator[_Program]) -> None:
        window = self.backend.window
        for program in programs:
            self._submit(program)
            while len(self.pending) >= window:
                self._consume(*self.pending.popleft())
        while self.pending:
            self._consume(*self.pending.popleft())

    def _submit(self, p: _Program) -> None:
        code = p.code
        if self.cfg.clean_code:
            code, ok = _clean(p.code)
            cleaning = self.stats["clean_code"]
            cleaning["programs"] += 1
            cleaning["kept_original"] += not ok
            cleaning["chars_before"] += len(p.code)
            cleaning["chars_after"] += len(code)
        key = _digest(p.task.id, code)
        self.stats["programs_found"] += 1
        if self.stats["programs_found"] % _PROGRESS_EVERY == 0:
            logger.info(
                "dataset: %d programs read, %d rows so far",
                self.stats["programs_found"],
                self.writer.count,
            )
        if key in self.seen:
            self.stats["cache_hits"] += 1
            self.pending.append((p, code, key, _DUP, False))
            return
        self.seen.add(key)
        task = p.task
        flagged, reasons = detect_transduction(
            code, [ex.output for ex in task.train], [ex.output for ex in task.test]
        )
        if flagged and self.cfg.transduction_filter:
            logger.debug("transductive %s: %s", task.id, "; ".join(reasons))
            self.pending.append((p, code, key, _TRANS, True))
            return
        grids = [ex.input for ex in task.train] + [ex.input for ex in task.test]
        self.stats["executed"] += 1
        self.pending.append((p, code, key, self.backend.submit(code, grids), flagged))

    def _consume(self, p: _Program, code: str, key: bytes, handle: Any, flagged: bool) -> None:
        if handle is _TRANS:
            self.outcome[key] = "transductive"
            self.stats["rejected"]["transductive"] += 1
            return
        if handle is _DUP:
            label = self.outcome[key]
            if label in _REJECTS:
                self.stats["rejected"][label] += 1
                return
            if self.cfg.dedup:  # the same code on the same task: same outputs, same verdict
                self.stats["deduplicated"]["code" if label == "correct" else "outputs"] += 1
                return
            results, flagged = self.cached[key]
        else:
            results = self.backend.result(handle)
            if not self.cfg.dedup:
                self.cached[key] = (results, flagged)
        self.outcome[key] = self._evaluate(p, code, results, flagged)

    def _evaluate(self, p: _Program, code: str, results: list[ExecResult], flagged: bool) -> str:
        task, stats = p.task, self.stats
        n_train = len(task.train)
        if any(r.status == "invalid" for r in results):
            stats["rejected"]["format"] += 1
            return "format"
        train_ok = [i for i in range(n_train) if results[i].ok]
        if not train_ok:
            stats["rejected"]["exec"] += 1
            return "exec"
        test_ok = [j for j in range(len(task.test)) if results[n_train + j].ok]
        pred_train = [results[i].output for i in train_ok]
        pred_test = [results[n_train + j].output for j in test_ok]
        correct_train = [
            out == task.train[i].output for out, i in zip(pred_train, train_ok, strict=True)
        ]
        correct_test = [
            task.test[j].output is not None and out == task.test[j].output
            for out, j in zip(pred_test, test_ok, strict=True)
        ]
        test_correct = bool(task.test) and len(test_ok) == len(task.test) and all(correct_test)
        label = "correct" if test_correct else "other"
        state = self.tasks.setdefault(task.id, _TaskRows())
        if self.cfg.dedup:
            if test_correct:
                kind, seen, digest = "code", state.codes, _digest(clean_code(code))
            else:
                signature = json.dumps([r.output if r.ok else None for r in results[:n_train]])
                kind, seen, digest = "outputs", state.outputs, _digest(signature)
            if digest in seen:
                stats["deduplicated"][kind] += 1
                return label
            seen.add(digest)
        reasoning = p.reasoning if self.cfg.reasoning and test_correct else ""
        row = {
            "reasoning": reasoning,
            "code": code,
            "train_input": [task.train[i].input for i in train_ok],
            "train_output": pred_train,  # hindsight: the program's outputs define the task
            "predicted_train_output": pred_train,
            "correct_train_input": correct_train,
            "test_input": [task.test[j].input for j in test_ok],
            "test_output": pred_test,
            "predicted_test_output": pred_test,
            "correct_test_input": correct_test,
            "task_id": task.id,
            "model": p.model,
            "generation": p.generation,
        }
        state.rows.append(self.writer.append(row))
        state.correct += test_correct
        self.sources.setdefault(task.id, _task_source(task))
        stats["rows"] += 1
        stats["test_correct_rows"] += test_correct
        stats["reasoning_rows"] += bool(reasoning.strip())
        stats["transductive_kept"] += flagged
        return label


def _task_source(task: Task) -> str:
    """Where `load_task` finds this task again: a bundled dataset name or an absolute folder."""
    dataset = task.dataset or ""
    return str(Path(dataset).resolve()) if dataset and Path(dataset).is_dir() else dataset


def _balance(tasks: dict[str, _TaskRows], stats: dict, rng: random.Random) -> list[str]:
    """Task ids kept so that tasks with and without a test-correct program are 50/50."""
    with_correct = sorted(t for t, s in tasks.items() if s.correct)
    without = sorted(t for t, s in tasks.items() if not s.correct)
    info = stats["balance"]
    info.update(tasks_with_correct=len(with_correct), tasks_without_correct=len(without))
    if not with_correct or not without:
        if with_correct or without:
            logger.warning(
                "balance: every task is %s; nothing to balance against",
                "solved" if with_correct else "unsolved",
            )
        return sorted(tasks)
    big, small = (
        (with_correct, without) if len(with_correct) > len(without) else (without, with_correct)
    )
    dropped = set(big) - set(rng.sample(big, len(small)))
    info.update(
        applied=True,
        dropped_tasks=len(dropped),
        dropped_rows=sum(len(tasks[t].rows) for t in dropped),
    )
    return sorted(set(tasks) - dropped)


def _split(ids: list[str], tasks: dict[str, _TaskRows], rng: random.Random) -> tuple[list, list]:
    """(train ids, validation ids): ~`VALIDATION_FRACTION` of each difficulty bucket."""
    buckets: dict[int, list[str]] = collections.defaultdict(list)
    for t in ids:
        share = tasks[t].correct / len(tasks[t].rows)
        buckets[0 if share == 0 else 1 if share < 0.5 else 2].append(t)
    held: list[str] = []
    for bucket in sorted(buckets):
        members = buckets[bucket]
        rng.shuffle(members)
        held += members[: int(len(members) * VALIDATION_FRACTION + 0.5)]
    if not held and len(ids) >= 2:  # too few tasks to round to one: hold out one anyway
        largest = max(buckets.values(), key=len)
        held.append(largest[0])
    held_set = set(held)
    return [t for t in ids if t not in held_set], sorted(held_set)


def _default_name(cfg: DatasetConfig, runs: list[_Run], prefix: str = "synth") -> str:
    def label(given: str | None, values: set[str]) -> str:
        text = given or (values.pop() if len(values) == 1 else "mixed")
        text = Path(text).name if "/" in text else text
        return _UNSAFE.sub("-", text).strip("-.") or "none"

    dataset = label(cfg.dataset, {r.dataset for r in runs})
    subset = label(cfg.subset, {r.subset for r in runs})
    return f"{prefix}_{dataset}_{subset}_{datetime.now(UTC):%Y%m%d_%H%M%S}"


def _output_path(output: str | None, name: str) -> Path:
    path = Path(output) if output else Path(DEFAULT_OUTPUT_DIR) / name
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise InputError(f"output {path} already exists; choose another --output or remove it")
    return path


def _new_stats() -> dict[str, Any]:
    return {
        "runs": 0,
        "programs_found": 0,
        "skipped_model": 0,
        "skipped_unknown_task": 0,
        "executed": 0,
        "cache_hits": 0,
        "rejected": dict.fromkeys(_REJECTS, 0),
        "qualified": 0,
        "transductive_kept": 0,
        "deduplicated": {"code": 0, "outputs": 0},
        "rows": 0,
        "test_correct_rows": 0,
        "reasoning_rows": 0,
        "clean_code": {"programs": 0, "kept_original": 0, "chars_before": 0, "chars_after": 0},
        "balance": {
            "applied": False,
            "tasks_with_correct": 0,
            "tasks_without_correct": 0,
            "dropped_tasks": 0,
            "dropped_rows": 0,
        },
        "splits": {},
        "split_tasks": {},
        "seconds": 0.0,
    }


def build_dataset(
    run_dirs: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | None = None,
    *,
    logs_dir: str | os.PathLike[str] | None = None,
    output: str | os.PathLike[str] | None = None,
    model: str | Sequence[str] | None = None,
    dataset: str | None = None,
    subset: str | None = None,
    date_from: str | None = None,
    date_to: str | None = None,
    pattern: str | None = None,
    limit: int | None = None,
    transduction_filter: bool = True,
    dedup: bool = True,
    clean_code: bool = False,
    balance: bool = True,
    validation: bool = False,
    reasoning: bool = True,
    push: bool = False,
    hf_org: str | None = None,
    hf_private: bool = False,
    hf_dataset_name: str | None = None,
    ray_address: str | None = None,
    executor: Executor | None = None,
) -> DatasetResult:
    """Build a fine-tuning dataset from the programs of one or many runs.

    Every program is re-executed, relabelled in hindsight, filtered, deduplicated, balanced and
    split as the module docstring describes, then saved with `datasets.DatasetDict.save_to_disk`
    (plus ``arcnb_dataset.json``: these settings, the statistics and each task's source).

    Args:
        run_dirs: One or more run directories; None reads every run under ``logs_dir``.
        logs_dir: Folder of run directories (default ``logs``); used when run_dirs is None.
        output: Directory to save to (default ``training_data/<name>``); must not exist or be
            empty.
        model: Keep only programs of these models: ``"a,b"`` or a list.
        dataset: Keep only runs on this dataset (a name, or a folder or its base name).
        subset: Keep only runs on this subset (``ids`` for runs given explicit task ids).
        date_from: ``YYYYMMDD``: runs started on or after this UTC day.
        date_to: ``YYYYMMDD``: runs started on or before this UTC day.
        pattern: Substring of the run directory's name, or a glob when it has ``*?[``.
        limit: Only the newest N runs that pass the other filters.
        transduction_filter: Drop programs that hard-code answers (`detect_transduction`).
        dedup: Deduplicate per task: test-correct programs by cleaned code, others by outputs.
        clean_code: Store code without comments and blank lines (see `clean_code`).
        balance: Drop random tasks until tasks with and without a test-correct program are
            equally many.
        validation: Hold out ~10% of the tasks, stratified by difficulty, as ``validation``.
        reasoning: Keep the model's reasoning for test-correct programs that have one.
        push: Also upload to the Hugging Face Hub (needs ``HF_TOKEN`` or a stored token).
        hf_org: Hub organisation; default the token's own namespace.
        hf_private: Make the Hub dataset private.
        hf_dataset_name: Name of the dataset (default ``synth_<dataset>_<subset>_<UTC time>``).
        ray_address: Run programs on this Ray cluster (``"local"`` starts one; an already
            initialised Ray is used as is). Needs the ``ray`` extra.
        executor: An executor to use (not closed); default a fresh one with a worker per core.

    Returns:
        A DatasetResult: the DatasetDict (memory-mapped from ``path``), ``path``, ``stats``.

    Raises:
        InputError: A bad setting, no matching run, an existing output, ``push`` without a
            token, or ``ray_address`` without Ray installed.
    """
    if isinstance(run_dirs, (str, os.PathLike)):
        run_dirs = [run_dirs]
    cfg = DatasetConfig(
        run_dirs=[str(p) for p in run_dirs] if run_dirs else None,
        logs_dir=str(logs_dir) if logs_dir is not None else None,
        output=str(output) if output is not None else None,
        model=_model_list(model),
        dataset=dataset,
        subset=subset,
        date_from=date_from,
        date_to=date_to,
        pattern=pattern,
        limit=limit,
        transduction_filter=transduction_filter,
        dedup=dedup,
        clean_code=clean_code,
        balance=balance,
        validation=validation,
        reasoning=reasoning,
        push=push,
        hf_org=hf_org,
        hf_private=hf_private,
        hf_dataset_name=hf_dataset_name,
        ray_address=ray_address,
    )
    cfg.validate()
    token = _require_token() if cfg.push else None
    t0 = time.monotonic()
    runs = _select_runs(cfg)
    name = cfg.hf_dataset_name or _default_name(cfg, runs)
    path = _output_path(cfg.output, name)
    stats = _new_stats()
    stats["runs"] = len(runs)
    logger.info("dataset: %d run(s) selected", len(runs))

    own = None
    if cfg.ray_address:
        backend: Any = _RayBackend(cfg.ray_address)
    else:
        own = Executor() if executor is None else None
        backend = _LocalBackend(executor or own)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".arcnb-dataset-", dir=path.parent))
    try:
        writer = _RowWriter(tmp / "rows.arrow")
        builder = _Builder(cfg, backend, writer, stats)
        try:
            builder.run(_iter_programs(runs, cfg, stats))
        finally:
            writer.close()
            backend.close()
            if own is not None:
                own.close()
        _log_programs(stats)
        if writer.count == 0:  # nothing to save: say why instead of writing an empty dataset
            rejected = ", ".join(f"{k} {v}" for k, v in stats["rejected"].items())
            raise InputError(
                f"no program qualified for a dataset: {stats['programs_found']} found in "
                f"{len(runs)} run(s); rejected: {rejected or 'none'}"
            )
        dd = _assemble(tmp / "rows.arrow", builder.tasks, cfg, stats)
        with _quiet_datasets():
            dd.save_to_disk(str(path))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    from datasets import load_from_disk

    dd = load_from_disk(str(path))
    stats["seconds"] = time.monotonic() - t0
    settings = dataclasses.asdict(cfg)
    sidecar = {
        "schema": 1,
        "name": name,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "settings": settings,
        "runs": [str(r.path) for r in runs],
        "stats": stats,
        "task_sources": builder.sources,
    }
    (path / SIDECAR_FILE).write_text(json.dumps(sidecar, indent=2) + "\n")
    logger.info("dataset: saved to %s", path)
    hub_id = _push(dd, name, cfg.hf_org, cfg.hf_private, token, path) if cfg.push else None
    return DatasetResult(dd, path, stats, name, hub_id)


@contextlib.contextmanager
def _quiet_datasets() -> Iterator[None]:
    """No `datasets` progress bars (the CLI prints its own lines); the setting is restored."""
    from datasets.utils import logging as ds_logging

    was_enabled = ds_logging.is_progress_bar_enabled()
    ds_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            ds_logging.enable_progress_bar()


def _log_programs(stats: dict) -> None:
    rejected, dedup = stats["rejected"], stats["deduplicated"]
    stats["qualified"] = stats["programs_found"] - sum(rejected.values())
    logger.info(
        "dataset: %d programs found, %d qualified; rejected %d transductive, %d format, %d exec; "
        "%d executed (%d repeats not re-run)",
        stats["programs_found"],
        stats["qualified"],
        rejected["transductive"],
        rejected["format"],
        rejected["exec"],
        stats["executed"],
        stats["cache_hits"],
    )
    logger.info(
        "dataset: deduplicated %d by code, %d by outputs; %d rows (%d test-correct)",
        dedup["code"],
        dedup["outputs"],
        stats["rows"],
        stats["test_correct_rows"],
    )


def _assemble(arrow: Path, tasks: dict[str, _TaskRows], cfg: DatasetConfig, stats: dict):
    """Balance and split the rows written to ``arrow`` into a DatasetDict."""
    from datasets import Dataset, DatasetDict

    rng = random.Random(SEED)
    rows = Dataset.from_file(str(arrow))
    ids = _balance(tasks, stats, rng) if cfg.balance else sorted(tasks)
    if cfg.balance:
        b = stats["balance"]
        logger.info(
            "dataset: balance: %d tasks with a test-correct program, %d without; "
            "dropped %d task(s), %d row(s)",
            b["tasks_with_correct"],
            b["tasks_without_correct"],
            b["dropped_tasks"],
            b["dropped_rows"],
        )
    splits = (
        dict(zip(("train", "validation"), _split(ids, tasks, rng), strict=True))
        if cfg.validation
        else {"train": ids}
    )
    out = {}
    for split, members in splits.items():
        if not members:  # e.g. --validation with a single task: no split can be held out
            logger.warning("dataset: the %s split would be empty; leaving it out", split)
            continue
        indices = sorted(i for t in members for i in tasks[t].rows)
        out[split] = rows.select(indices)
        stats["splits"][split] = len(indices)
        stats["split_tasks"][split] = len(members)
    logger.info(
        "dataset: splits %s",
        ", ".join(
            f"{s} {stats['splits'][s]} rows ({stats['split_tasks'][s]} task(s))" for s in out
        ),
    )
    return DatasetDict(out)


def format_stats(stats: dict[str, Any]) -> str:
    """Render `build_dataset` statistics as aligned lines for printing."""
    r, d, b = stats["rejected"], stats["deduplicated"], stats["balance"]
    lines = [
        ("runs", f"{stats['runs']}"),
        (
            "programs found",
            f"{stats['programs_found']:,}"
            + (
                f" (skipped: {stats['skipped_model']:,} other model)"
                if stats["skipped_model"]
                else ""
            ),
        ),
        ("qualified", f"{stats['qualified']:,}"),
        (
            "rejected",
            f"{r['transductive']:,} transductive, {r['format']:,} format, {r['exec']:,} exec",
        ),
        (
            "executed",
            f"{stats['executed']:,} unique programs ({stats['cache_hits']:,} repeats not re-run)",
        ),
        ("deduplicated", f"{d['code']:,} by code, {d['outputs']:,} by outputs"),
        (
            "rows",
            f"{stats['rows']:,} ({stats['test_correct_rows']:,} test-correct, "
            f"{stats['reasoning_rows']:,} with reasoning)",
        ),
    ]
    if stats["transductive_kept"]:
        lines.append(("transductive kept", f"{stats['transductive_kept']:,}"))
    c = stats["clean_code"]
    if c["programs"]:
        saved = c["chars_before"] - c["chars_after"]
        share = saved / c["chars_before"] if c["chars_before"] else 0.0
        lines.append(
            (
                "code cleaning",
                f"saved {saved:,} of {c['chars_before']:,} characters "
                f"({share:.1%}); {c['kept_original']:,} kept as written",
            )
        )
    if b["applied"] or b["tasks_with_correct"] or b["tasks_without_correct"]:
        lines.append(
            (
                "balance",
                f"{b['tasks_with_correct']} tasks with a test-correct program, "
                f"{b['tasks_without_correct']} without; dropped {b['dropped_tasks']} "
                f"task(s), {b['dropped_rows']:,} row(s)",
            )
        )
    for split, n in stats["splits"].items():
        lines.append((f"split {split}", f"{n:,} rows ({stats['split_tasks'][split]} task(s))"))
    if stats.get("seconds"):
        rate = stats["programs_found"] / stats["seconds"]
        lines.append(("time", f"{stats['seconds']:.1f} s ({rate:,.0f} programs/s)"))
    width = max(len(k) for k, _ in lines)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in lines)


# ---- the Hub ----------------------------------------------------------------------------------
def _hf_token() -> str | None:
    token = os.environ.get("HF_TOKEN")
    if token:
        return token
    try:
        from huggingface_hub import get_token

        return get_token()
    except Exception:
        return None


def _require_token() -> str:
    token = _hf_token()
    if not token:
        raise InputError(
            "--push needs a Hugging Face token: set HF_TOKEN or log in with "
            "`hf auth login` (huggingface_hub's stored token)"
        )
    return token


def _push(
    dd: DatasetDict, name: str, org: str | None, private: bool, token: str, path: Path
) -> str:
    repo_id = f"{org}/{name}" if org else name
    try:
        from huggingface_hub import HfApi

        dd.push_to_hub(repo_id, private=private, token=token)
        sidecar = path / SIDECAR_FILE
        if sidecar.exists():
            HfApi(token=token).upload_file(
                path_or_fileobj=str(sidecar),
                path_in_repo=SIDECAR_FILE,
                repo_id=repo_id,
                repo_type="dataset",
            )
    except Exception as error:
        raise InputError(
            f"push to {repo_id} failed ({type(error).__name__}: {error}); "
            f"the dataset is saved at {path}"
        ) from None
    logger.info("dataset: pushed to https://huggingface.co/datasets/%s", repo_id)
    return repo_id


# ---- other views ------------------------------------------------------------------------------
def simple_dataset(dataset: str, subset: str) -> DatasetDict:
    """Tasks in the same row format, without programs: empty code, reasoning and predictions.

    Args:
        dataset: A dataset name or task folder (as `arcnb.load_tasks`).
        subset: A subset name, comma-separated ids, or a file of ids.

    Returns:
        A DatasetDict with one ``train`` split, one row per task; a hidden test output is an
        empty grid.
    """
    from datasets import DatasetDict

    rows = [
        {
            "reasoning": "",
            "code": "",
            "train_input": [ex.input for ex in task.train],
            "train_output": [ex.output for ex in task.train],
            "predicted_train_output": [],
            "correct_train_input": [],
            "test_input": [ex.input for ex in task.test],
            "test_output": [ex.output or [] for ex in task.test],
            "predicted_test_output": [],
            "correct_test_input": [],
            "task_id": task.id,
            "model": "",
            "generation": 0,
        }
        for task in load_tasks(dataset, subset)
    ]
    return DatasetDict({"train": _dataset_from_rows(rows)})


def assistant_text(reasoning: str, code: str) -> str:
    """The assistant turn of a row: ``<think>reasoning</think>`` (when any), then the code."""
    block = f"```python\n{code.strip()}\n```"
    return f"<think>\n{reasoning.strip()}\n</think>\n\n{block}" if reasoning.strip() else block


def _chat_row(row: dict[str, Any]) -> dict[str, Any]:
    train = [Example(i, o) for i, o in zip(row["train_input"], row["train_output"], strict=False)]
    task = Task(row["task_id"], train, [Example(i) for i in row["test_input"]])
    answer = {"role": "assistant", "content": assistant_text(row["reasoning"], row["code"])}
    return {"messages": [*build_messages(task), answer]}


def to_chat(data: Dataset | DatasetDict) -> DatasetDict:
    """A chat-format view for supervised fine-tuning: one ``messages`` column.

    Each row becomes the evaluation prompt (`arcnb.build_messages`) of the row's task, i.e. its
    train pairs (relabelled) and test inputs, followed by the assistant turn: the reasoning in
    ``<think>...</think>`` when the row has any, then the code in a ```` ```python ```` block.

    Args:
        data: A Dataset or DatasetDict in the row format (`COLUMNS`).

    Returns:
        A DatasetDict with the same splits (``train`` for a single Dataset), kept in memory.
    """
    from datasets import Dataset, DatasetDict

    dd = DatasetDict({"train": data}) if isinstance(data, Dataset) else data
    return DatasetDict(
        {
            split: ds.map(_chat_row, remove_columns=ds.column_names, keep_in_memory=True)
            for split, ds in dd.items()
        }
    )


# ---- validation ---------------------------------------------------------------------------------
@dataclass
class RowFailure:
    """A row that `validate_dataset` found inconsistent."""

    split: str
    index: int
    task_id: str
    problems: list[str]

    def __str__(self) -> str:
        return f"{self.split}[{self.index}] {self.task_id}: " + "; ".join(self.problems)


def _load_any(path_or_id: str) -> tuple[DatasetDict, dict[str, str]]:
    """(the DatasetDict, task id -> source dataset from the sidecar, if there is one)."""
    from datasets import Dataset, DatasetDict, load_dataset, load_from_disk

    path = Path(path_or_id)
    sources: dict[str, str] = {}
    if path.exists():
        try:
            data = load_from_disk(str(path))
        except Exception as error:
            raise InputError(f"{path}: not a saved dataset ({error})") from None
        if (path / SIDECAR_FILE).is_file():
            sources = json.loads((path / SIDECAR_FILE).read_text()).get("task_sources", {})
    else:
        if path_or_id.startswith((".", "/", "~")) or path_or_id.count("/") > 1:
            raise InputError(f"{path_or_id}: no such dataset directory")
        try:
            data = load_dataset(path_or_id)
        except Exception as error:
            raise InputError(f"cannot load {path_or_id} from the Hub ({error})") from None
        try:
            from huggingface_hub import hf_hub_download

            local = hf_hub_download(path_or_id, SIDECAR_FILE, repo_type="dataset")
            sources = json.loads(Path(local).read_text()).get("task_sources", {})
        except Exception:
            pass  # a dataset not built by arcnb: correctness flags are not checked
    dd = DatasetDict({"train": data}) if isinstance(data, Dataset) else data
    missing = [c for c in COLUMNS if any(c not in ds.column_names for ds in dd.values())]
    if missing:
        raise InputError(f"{path_or_id}: not in the row format; missing {', '.join(missing)}")
    return dd, sources


def _static_problems(row: dict[str, Any], real: Task | None) -> list[str]:
    problems = []
    has_code = bool(row["code"].strip())
    for part in ("train", "test"):
        inputs, outputs = row[f"{part}_input"], row[f"{part}_output"]
        predicted, flags = row[f"predicted_{part}_output"], row[f"correct_{part}_input"]
        if len(outputs) != len(inputs):
            problems.append(f"{len(inputs)} {part} inputs but {len(outputs)} outputs")
        if has_code and not (len(predicted) == len(flags) == len(inputs)):
            problems.append(
                f"{part}: {len(inputs)} inputs, {len(predicted)} predictions, {len(flags)} flags"
            )
        for kind, grids in (("input", inputs), ("output", outputs), ("prediction", predicted)):
            for i, grid in enumerate(grids):
                if part == "test" and kind == "output" and not has_code and grid == []:
                    continue  # a hidden test output in a simple dataset
                if validate_grid(grid)[0] is None:
                    problems.append(f"{part} {kind} {i + 1}: {validate_grid(grid)[1]}")
        if has_code and outputs != predicted:
            problems.append(f"{part} outputs differ from the predictions (not relabelled)")
        if has_code and real is not None and len(predicted) == len(inputs) == len(flags):
            truth = {json.dumps(ex.input): ex.output for ex in real.train + real.test}
            for i, (grid, out, flag) in enumerate(zip(inputs, predicted, flags, strict=True)):
                key = json.dumps(grid)
                if key not in truth:
                    problems.append(f"{part} input {i + 1} is not an input of task {real.id}")
                elif flag != (truth[key] is not None and out == truth[key]):
                    problems.append(
                        f"{part} {i + 1}: flag says {flag}, the real output says {not flag}"
                    )
    return problems


def _exec_problems(row: dict[str, Any], results: list[ExecResult]) -> list[str]:
    problems = []
    expected = row["predicted_train_output"] + row["predicted_test_output"]
    n_train = len(row["train_input"])
    for i, (result, want) in enumerate(zip(results, expected, strict=False)):
        where = f"train {i + 1}" if i < n_train else f"test {i - n_train + 1}"
        if not result.ok:
            problems.append(
                f"{where}: re-execution gave {result.status} ({result.error_type}: {result.error})"
            )
        elif result.output != want:
            problems.append(f"{where}: re-execution gives a different grid than predicted")
    return problems


def validate_dataset(
    path_or_id: str | os.PathLike[str],
    split: str | None = None,
    limit: int | None = None,
    *,
    executor: Executor | None = None,
) -> list[RowFailure]:
    """Re-check a dataset: re-execute each row's code and compare with what the row claims.

    Checks that every grid is a valid ARC grid, that list lengths agree, that outputs equal
    the predictions (hindsight relabelling), that re-executing the code reproduces the
    predictions, and, where the source task is known (the ``arcnb_dataset.json`` written by
    `build_dataset`), that the correctness flags match the real outputs. Rows without code
    (`simple_dataset`) are only checked for format.

    Args:
        path_or_id: A directory saved by `build_dataset`/`save_to_disk`, or a Hub dataset id.
        split: Only this split (default: all).
        limit: Only the first N rows of each split.
        executor: An executor to use (not closed); default a fresh one.

    Returns:
        One RowFailure per inconsistent row; empty when all hold.

    Raises:
        InputError: The dataset cannot be loaded, is not in the row format, or lacks ``split``.
    """
    dd, sources = _load_any(str(path_or_id))
    if split is not None and split not in dd:
        raise InputError(f"no split {split!r}; the dataset has {', '.join(dd)}")
    if limit is not None and limit < 1:
        raise InputError(f"--limit must be >= 1, got {limit}")
    real_tasks: dict[str, Task | None] = {}

    def real(task_id: str) -> Task | None:
        if task_id not in real_tasks:
            try:
                source = sources.get(task_id)
                real_tasks[task_id] = load_task(source, task_id) if source else None
            except InputError:
                real_tasks[task_id] = None
        return real_tasks[task_id]

    own = Executor() if executor is None else None
    ex = executor or own
    failures: list[RowFailure] = []
    pending: collections.deque = collections.deque()
    window = max(256, 16 * ex.n_workers * ex.depth)

    def finish(name: str, index: int, row: dict, problems: list[str], future: Any) -> None:
        if future is not None:
            problems += _exec_problems(row, future.result())
        if problems:
            failures.append(RowFailure(name, index, row["task_id"], problems))

    checked = 0
    try:
        for name in [split] if split else list(dd):
            ds = dd[name]
            n = len(ds) if limit is None else min(limit, len(ds))
            for index in range(n):
                row = ds[index]
                checked += 1
                problems = _static_problems(row, real(row["task_id"]))
                future = None
                if row["code"].strip():
                    future = ex.submit(row["code"], row["train_input"] + row["test_input"])
                pending.append((name, index, row, problems, future))
                while len(pending) >= window:
                    finish(*pending.popleft())
        while pending:
            finish(*pending.popleft())
    finally:
        if own is not None:
            own.close()
    logger.info("validate-dataset: %d rows checked, %d failed", checked, len(failures))
    return failures
