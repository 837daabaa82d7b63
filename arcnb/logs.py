"""Writing a run directory: crash-safe appends, atomic JSON files, secrets refused, parquet.

What the files hold and how to read them back is `arcnb.rundir`'s (the one owner of the
layout and the attempt record); this module is the writer the runner uses, plus a few
small readers kept for existing callers, each a thin call into `arcnb.rundir`.

Crash safety: JSON files are replaced atomically (temporary file + ``os.replace``), so a
reader sees the old or the new file, never half of one. ``attempts.jsonl`` is only ever
appended to, one ``write`` per line (fsynced at most a second later); a ``kill -9`` can at
worst leave a torn final line, which readers skip and `RunWriter` cuts off before it
appends again.
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from arcnb.errors import ArcnbError, DiskFullError, InputError
from arcnb.rundir import (
    ATTEMPTS_FILE,
    CONFIG_FILE,
    PROGRAMS_FILE,
    PROMPTS_FILE,
    SCHEMA_VERSION,
    SUMMARY_FILE,
    TASKS_DIR,
    Run,
    check_task_id,
    iter_prompt_entries,
    latest_turns,
    list_runs,
    parse_line,
    read_json,
    record_key,
    run_dir_name,
)
from arcnb.scoring import Grid, as_grid

__all__ = [
    "ATTEMPTS_FILE",
    "CONFIG_FILE",
    "PROGRAMS_FILE",
    "PROGRAMS_SCHEMA",
    "PROMPTS_FILE",
    "SCHEMA_VERSION",
    "SUMMARY_FILE",
    "TASKS_DIR",
    "RunWriter",
    "SecretLeakError",
    "done_keys",
    "latest_turns",
    "list_runs",
    "program_rows",
    "read_attempts",
    "read_config",
    "read_programs",
    "read_summary",
    "read_task",
    "run_dir_name",
]

logger = logging.getLogger("arcnb")

MIN_SECRET_LENGTH = 8
PROGRAMS_BATCH = 1000  # rows per parquet write: bounds memory, keeps row groups large
FSYNC_INTERVAL_S = 1.0  # attempts.jsonl reaches the disk at most this long after a write
"""Registered secrets shorter than this are ignored: placeholders such as ``EMPTY`` or
``none`` (local servers) are not secrets and would match ordinary text."""

_GRID = pa.list_(pa.list_(pa.int64()))
PROGRAMS_SCHEMA = pa.schema(
    [
        ("task_id", pa.string()),
        ("attempt", pa.int64()),
        ("turn", pa.int64()),
        ("model", pa.string()),
        ("code", pa.string()),
        ("reasoning", pa.string()),
        ("predicted_train_output", pa.list_(_GRID)),
        ("correct_train_input", pa.list_(pa.bool_())),
        ("predicted_test_output", pa.list_(_GRID)),
        ("correct_test_input", pa.list_(pa.bool_())),
        ("train_accuracy", pa.float64()),
        ("transductive", pa.bool_()),
    ],
    metadata={"arcnb_schema": str(SCHEMA_VERSION)},
)
"""Columns of ``programs.parquet``. A grid is ``list<list<int64>>``; a failed or invalid
prediction is null."""


class SecretLeakError(ArcnbError):
    """`RunWriter` was asked to write text containing a registered secret (an API key)."""


def _json_default(value: Any) -> Any:
    """Serialise numpy scalars and arrays (``item``/``tolist``) and paths."""
    if isinstance(value, Path):
        return str(value)
    for method in ("tolist", "item"):
        if hasattr(value, method):
            return getattr(value, method)()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


_FULL = (errno.ENOSPC, errno.EDQUOT)


def _full(error: OSError, run_dir: Path, what: str) -> DiskFullError | None:
    """A DiskFullError for an out-of-space error (errno, or pyarrow's message), else None."""
    if error.errno not in _FULL and "No space left on device" not in str(error):
        return None
    return DiskFullError(
        f"no space left on the device holding {run_dir} (writing {what}); every record "
        f"written before is intact: free space, then `arcnb run --resume {run_dir}`",
        str(run_dir),
    )


def _dumps(value: Any, indent: int | None = None) -> str:
    return json.dumps(value, ensure_ascii=False, indent=indent, default=_json_default)


def _atomic_write(path: Path, text: str, sync: bool = True) -> None:
    """Write ``text`` to ``path`` so that readers see the old file or the new, never half.

    ``sync=False`` skips the fsync: the file still survives a killed process (the kernel
    holds it), just not a power cut; used for files that can be recomputed.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            if sync:
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _append_line(fd: int, line: str, run_dir: Path, what: str) -> int:
    """Append ``line`` and a newline to the O_APPEND file ``fd``, in as few writes as the
    kernel takes, and return the byte offset where it starts (this process is the file's one
    writer). When the disk is full, the part written is cut off again (the file ends with its
    last whole line) and DiskFullError is raised."""
    data = (line + "\n").encode("utf-8")
    size = os.fstat(fd).st_size
    try:
        while data:
            data = data[os.write(fd, data) :]
    except OSError as error:
        full = _full(error, run_dir, what)
        if full is None:
            raise
        os.ftruncate(fd, size)  # frees blocks: works on a full disk
        raise full from None
    return size


def _cut_torn_tail(path: Path) -> None:
    """Cut a torn final line left by a killed writer, so that appends start clean.

    Reads only the file's tail (back to its last newline), never the whole file.
    """
    with open(path, "r+b") as handle:
        end = handle.seek(0, os.SEEK_END)
        start = end
        while start > 0:
            step = min(start, 65536)
            handle.seek(start - step)
            chunk = handle.read(step)
            if start == end and chunk.endswith(b"\n"):
                return  # the last line is whole
            cut = chunk.rfind(b"\n")
            if cut >= 0:
                start = start - step + cut + 1
                break
            start -= step
        if start == end:
            return  # empty file
        handle.seek(start)
        tail = handle.read()
        if parse_line(tail) is not None:
            handle.seek(0, os.SEEK_END)  # a whole record that only lacks its newline
            handle.write(b"\n")
        else:
            logger.warning("%s: dropping a torn final line (%d bytes)", path, len(tail))
            handle.truncate(start)
        handle.flush()
        os.fsync(handle.fileno())


class RunWriter:
    """Writes one run directory; refuses to write any registered secret.

    Args:
        run_dir: The run's directory; created (with ``tasks/``) if missing. An existing
            one is resumed: new attempt records are appended after the old ones.
        secrets: Strings that must never reach disk (API keys). Every line and file is
            checked with a substring test before it is written; shorter than
            `MIN_SECRET_LENGTH` characters are ignored (placeholders, not secrets).

    Raises:
        SecretLeakError: From any write method, when the text contains a secret. Nothing
            is written then.
    """

    def __init__(self, run_dir: str | os.PathLike[str], secrets: Iterable[str] = ()) -> None:
        self.run_dir = Path(run_dir)
        self._needles: list[str] = []
        for secret in secrets:
            self.add_secret(secret)
        (self.run_dir / TASKS_DIR).mkdir(parents=True, exist_ok=True)
        self._append_fd: int | None = None
        self._last_sync = time.monotonic()
        if self.attempts_path.exists():
            _cut_torn_tail(self.attempts_path)
        self._stored = self._load_stored()  # text and prompt hashes in prompts.jsonl

    def __repr__(self) -> str:
        return f"RunWriter({str(self.run_dir)!r})"

    @property
    def attempts_path(self) -> Path:
        """Path of ``attempts.jsonl``."""
        return self.run_dir / ATTEMPTS_FILE

    def add_secret(self, secret: str | None) -> None:
        """Register one more string that must never be written (ignored if too short)."""
        if not secret or len(secret) < MIN_SECRET_LENGTH:
            return
        # The raw text, and the form json.dumps gives it when it holds quotes, backslashes
        # or control characters.
        for needle in (secret, json.dumps(secret, ensure_ascii=False)[1:-1]):
            if needle not in self._needles:
                self._needles.append(needle)

    def _check(self, text: str, where: str) -> None:
        if any(needle in text for needle in self._needles):
            # Never repeat the secret in the message: it would land in logs and tracebacks.
            raise SecretLeakError(f"refusing to write {where}: it contains a registered secret")

    def write_config(self, config: Mapping[str, Any]) -> Path:
        """Write ``config.json`` atomically and return its path."""
        return self._write_json(self.run_dir / CONFIG_FILE, config)

    def write_task(self, task_id: str, data: Mapping[str, Any]) -> Path:
        """Write ``tasks/<task_id>.json`` atomically and return its path.

        Raises:
            InputError: ``task_id`` is not a safe file name.
        """
        path = self.run_dir / TASKS_DIR / f"{check_task_id(task_id)}.json"
        # Compact and not fsynced: tallies hold many grids, and the file can be recomputed
        # from attempts.jsonl (json's indented encoder is pure Python, ten times slower).
        return self._write_json(path, data, sync=False, indent=None)

    def write_summary(self, summary: Mapping[str, Any]) -> Path:
        """Write ``summary.json`` atomically and return its path."""
        return self._write_json(self.run_dir / SUMMARY_FILE, summary)

    def _write_json(
        self, path: Path, data: Mapping[str, Any], sync: bool = True, indent: int | None = 2
    ) -> Path:
        text = _dumps(data, indent=indent) + "\n"
        self._check(text, path.name)
        try:
            _atomic_write(path, text, sync)
        except OSError as error:
            raise _full(error, self.run_dir, path.name) or error from None
        return path

    def append_attempt(self, record: Mapping[str, Any]) -> int:
        """Append one attempt-turn record to ``attempts.jsonl``; return its byte offset (for
        `arcnb.rundir.Run.read_at`).

        The line goes to the kernel with a single unbuffered ``write`` before this returns,
        so a record the caller saw written survives a crash or ``kill -9`` of the process.
        It is also fsynced to disk (against power loss) at most `FSYNC_INTERVAL_S` later:
        an fsync per line would stall the event loop for milliseconds each time.

        Raises:
            DiskFullError: No space left; the part of the line written was cut off again.
        """
        line = _dumps(record)
        if "\n" in line:  # json.dumps escapes newlines; guard against a future indent
            raise ArcnbError("attempt record serialised to more than one line")
        self._check(line, ATTEMPTS_FILE)
        if self._append_fd is None:
            self._append_fd = os.open(self.attempts_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        offset = _append_line(self._append_fd, line, self.run_dir, ATTEMPTS_FILE)
        now = time.monotonic()
        if now - self._last_sync >= FSYNC_INTERVAL_S:
            os.fsync(self._append_fd)
            self._last_sync = now
        return offset

    def append_prompt(self, prompt_sha256: str, messages: Sequence[Mapping[str, Any]]) -> None:
        """Store a first-turn prompt in ``prompts.jsonl`` unless it is there already.

        Each distinct message text is stored once (a ``text`` line keyed by its SHA-256:
        the system prompt, shared by every task, appears once per run), then the prompt as
        a ``prompt`` line listing its messages' roles and text hashes. The runner calls this
        before the first record that names ``prompt_sha256``; `arcnb.rundir.Run.messages`
        reads it back. Written like ``attempts.jsonl`` (one ``write`` per line).

        Raises:
            DiskFullError: No space left; the part of the line written was cut off again.
        """
        if prompt_sha256 in self._stored:
            return
        lines = []
        parts = []
        for message in messages:
            content = message.get("content") or ""
            # A list of content parts (text and images: --images) is stored as its JSON.
            parts_list = isinstance(content, list)
            text = json.dumps(content) if parts_list else str(content)
            text_sha = hashlib.sha256(text.encode("utf-8")).hexdigest()
            if text_sha not in self._stored:
                lines.append(_dumps({"kind": "text", "sha256": text_sha, "text": text}))
            entry = {"role": message["role"], "text_sha256": text_sha}
            parts.append({**entry, "parts": True} if parts_list else entry)
        lines.append(_dumps({"kind": "prompt", "sha256": prompt_sha256, "messages": parts}))
        fd = os.open(self.run_dir / PROMPTS_FILE, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        try:
            for line in lines:
                self._check(line, PROMPTS_FILE)
                _append_line(fd, line, self.run_dir, PROMPTS_FILE)
                self._stored.add(json.loads(line)["sha256"])
        finally:
            os.close(fd)

    def _load_stored(self) -> set[str]:
        """The hashes already in ``prompts.jsonl`` (a resumed run); a torn line is cut."""
        path = self.run_dir / PROMPTS_FILE
        if not path.exists():
            return set()
        _cut_torn_tail(path)
        return {entry["sha256"] for entry in iter_prompt_entries(path)}

    def close(self) -> None:
        """Fsync and close ``attempts.jsonl`` (appending again reopens it)."""
        if self._append_fd is not None:
            os.fsync(self._append_fd)
            os.close(self._append_fd)
            self._append_fd = None

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass

    def write_programs(self, records: Iterable[Mapping[str, Any]]) -> Path:
        """Write ``programs.parquet`` from in-memory attempt records (see `program_rows`)."""
        return self.write_final_programs(latest_turns(records))

    def write_final_programs(self, final_records: Iterable[Mapping[str, Any]]) -> Path:
        """Write ``programs.parquet`` from attempts' final turns, streaming in row batches.

        Args:
            final_records: One record per attempt, its final turn (`Run.final_turns`);
                those without code are left out (see `program_rows`).

        An empty run writes a valid file with no rows and the full schema.
        """
        path = self.run_dir / PROGRAMS_FILE
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        batch: list[dict[str, Any]] = []
        try:
            with pq.ParquetWriter(tmp, PROGRAMS_SCHEMA) as parquet:
                for row in _rows(final_records):
                    batch.append(row)
                    if len(batch) >= PROGRAMS_BATCH:
                        self._write_rows(parquet, batch)
                        batch = []
                self._write_rows(parquet, batch)
            os.replace(tmp, path)
        except OSError as error:
            raise _full(error, self.run_dir, PROGRAMS_FILE) or error from None
        finally:
            tmp.unlink(missing_ok=True)
        return path

    def _write_rows(self, parquet: pq.ParquetWriter, rows: list[dict[str, Any]]) -> None:
        for row in rows:  # grids are numbers: only the texts can hold a secret
            self._check(f"{row['code']}\n{row['reasoning'] or ''}\n{row['model']}", PROGRAMS_FILE)
        parquet.write_table(pa.Table.from_pylist(rows, schema=PROGRAMS_SCHEMA))


def iter_attempts(run_dir: str | os.PathLike[str]) -> Iterator[dict[str, Any]]:
    """Yield a run's attempt-turn records, streamed and de-duplicated (see `Run.records`)."""
    path = Path(run_dir)
    if path.name == ATTEMPTS_FILE:
        path = path.parent
    if not (path / ATTEMPTS_FILE).exists():
        return iter(())
    return Run.open(path).records()


def read_attempts(run_dir: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Every attempt-turn record of a run, in the order written (see `Run.records`)."""
    return list(iter_attempts(run_dir))


def done_keys(records: Iterable[Mapping[str, Any]]) -> set[tuple[str, int, int]]:
    """Return the ``(task_id, attempt, turn)`` of every record."""
    return {record_key(record) for record in records}


def _grid_or_null(value: Any) -> Grid | None:
    return as_grid(value)  # colours 0-9 (`arcnb.grid`): always within the int64 column


def _examples(record: Mapping[str, Any], split: str) -> tuple[list[Grid | None], list[bool]]:
    examples: Sequence[Mapping[str, Any]] = record.get(split) or []
    outputs = [_grid_or_null(example.get("output")) for example in examples]
    return outputs, [bool(example.get("correct")) for example in examples]


def _rows(final_records: Iterable[Mapping[str, Any]]) -> Iterator[dict[str, Any]]:
    for record in final_records:
        if not record.get("code"):
            continue
        train_out, train_ok = _examples(record, "train")
        test_out, test_ok = _examples(record, "test")
        response = record.get("response") or {}
        yield {
            "task_id": record["task_id"],
            "attempt": record["attempt"],
            "turn": record["turn"],
            "model": record.get("model"),
            "code": record["code"],
            "reasoning": response.get("reasoning"),
            "predicted_train_output": train_out,
            "correct_train_input": train_ok,
            "predicted_test_output": test_out,
            "correct_test_input": test_ok,
            "train_accuracy": float(record.get("train_accuracy") or 0.0),
            "transductive": bool(record.get("transductive")),
        }


def program_rows(records: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Turn attempt records into ``programs.parquet`` rows.

    One row per attempt (its final turn, see `arcnb.rundir.latest_turns`) whose response
    held code.

    Returns:
        Dicts with the columns of `PROGRAMS_SCHEMA`.
    """
    return list(_rows(latest_turns(records)))


def read_programs(run_dir: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Read ``programs.parquet`` back as plain rows (grids as nested lists, or None)."""
    path = Path(run_dir) / PROGRAMS_FILE
    if not path.exists():
        raise InputError(f"{path}: no such file (the run has not finished?)")
    return pq.read_table(path).to_pylist()


def read_config(run_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a run's ``config.json``.

    Raises:
        InputError: It is missing (not a run directory) or malformed.
    """
    path = Path(run_dir) / CONFIG_FILE
    if not path.exists():
        raise InputError(f"{run_dir}: not a run directory (no {CONFIG_FILE})")
    return read_json(path)


def read_summary(run_dir: str | os.PathLike[str]) -> dict[str, Any] | None:
    """Read a run's ``summary.json``; None when the run has not finished."""
    path = Path(run_dir) / SUMMARY_FILE
    return read_json(path) if path.exists() else None


def read_task(run_dir: str | os.PathLike[str], task_id: str) -> dict[str, Any] | None:
    """Read ``tasks/<task_id>.json``; None when that task has not been voted yet."""
    path = Path(run_dir) / TASKS_DIR / f"{check_task_id(task_id)}.json"
    return read_json(path) if path.exists() else None
