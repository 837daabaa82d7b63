"""The streaming core of `build_dataset`: execute, relabel in hindsight, filter, deduplicate."""

from __future__ import annotations

import collections
import hashlib
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from arcnb.dataset.clean import _clean, clean_code
from arcnb.dataset.config import DatasetConfig
from arcnb.dataset.rows import _RowWriter
from arcnb.dataset.select import _Program
from arcnb.dataset.stats import _REJECTS
from arcnb.evaluate import ProgramEvaluation, evaluate_results
from arcnb.tasks import Task
from arcnb.transduction import detect_transduction

logger = logging.getLogger("arcnb")

_PROGRESS_EVERY = 10_000  # programs between progress log lines


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
        self.cached: dict[bytes, tuple[ProgramEvaluation, bool]] = {}  # only without dedup
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
            evaluation, flagged = self.cached[key]
        else:
            # Transduction was checked before execution (a flagged program may never run).
            results = self.backend.result(handle)
            evaluation = evaluate_results(p.task, code, results, transduction=False)
            if not self.cfg.dedup:
                self.cached[key] = (evaluation, flagged)
        self.outcome[key] = self._evaluate(p, code, evaluation, flagged)

    def _evaluate(self, p: _Program, code: str, ev: ProgramEvaluation, flagged: bool) -> str:
        task, stats = p.task, self.stats
        if any(o.status == "invalid" for o in ev.train + ev.test):
            stats["rejected"]["format"] += 1
            return "format"
        train_ok = [i for i, o in enumerate(ev.train) if o.ok]
        if not train_ok:
            stats["rejected"]["exec"] += 1
            return "exec"
        test_ok = [j for j, o in enumerate(ev.test) if o.ok]
        pred_train = [ev.train[i].output for i in train_ok]
        pred_test = [ev.test[j].output for j in test_ok]
        correct_train = [ev.train[i].correct for i in train_ok]
        correct_test = [ev.test[j].correct for j in test_ok]  # False where the answer is hidden
        test_correct = bool(task.test) and len(test_ok) == len(task.test) and all(correct_test)
        label = "correct" if test_correct else "other"
        state = self.tasks.setdefault(task.id, _TaskRows())
        if self.cfg.dedup:
            if test_correct:
                kind, seen, digest = "code", state.codes, _digest(clean_code(code))
            else:
                signature = json.dumps([o.output for o in ev.train])  # None where it failed
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
