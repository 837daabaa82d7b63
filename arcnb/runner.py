"""`arcnb run`: all attempts of all tasks at once against any OpenAI-compatible endpoint.

One attempt's path: Task -> prompts -> llm -> extract -> evaluate (executor, scoring,
transduction) -> one line appended to attempts.jsonl (per turn). When a task's attempts are all
in: voting -> tasks/<id>.json. At the end: metrics -> summary.json and programs.parquet.
Everything after the model call can be recomputed from attempts.jsonl, which is what makes
`--resume` exact.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import logging
import math
import sys
import time
from collections import Counter, deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from arcnb.config import DEFAULT_MODEL, MIN_TURNS_FOR_FRACTION, RunConfig
from arcnb.errors import AuthError, DiskFullError, InputError, RunFailedError
from arcnb.evaluate import evaluate_program_async
from arcnb.executor import Executor
from arcnb.extract import extract_code
from arcnb.llm import (
    ANSWER_ROOM_TOKENS,
    OPENAI_KEY_ENV,
    LLMClient,
    RateLimiter,
    api_key_for,
    price_for,
    request_params,
    resolve_api_key,
)
from arcnb.logs import RunWriter
from arcnb.metrics import (
    SummaryBuilder,
    aggregate,
    format_aggregate_table,
    format_cost,
    format_runs_table,
    format_table,
    task_summary,
)
from arcnb.prompts import (
    build_messages,
    build_refinement_message,
    build_search_message,
    format_sha256,
    templates_sha256,
)
from arcnb.rundir import (
    ATTEMPTS_FILE,
    CONFIG_FILE,
    SCHEMA_VERSION,
    Run,
    run_dir_name,
    subset_label,
    with_search_text,
)
from arcnb.search import SEARCH_VERSION, Request, candidate, plan_round
from arcnb.tasks import Task, dataset_record, load_tasks, tasks_sha256

logger = logging.getLogger("arcnb")

LOCAL_MAX_TOKENS = 1024  # default answer budget for the bundled demonstration model
_ESTIMATE_WINDOW = 1000  # the budget estimates a request from the latest turns' costs


@dataclass
class RunResult:
    """What one run produced; everything here is also on disk in `run_dir`."""

    run_dir: Path
    summary: dict[str, Any]

    def per_task_frame(self):  # -> pandas.DataFrame
        """One row per task: attempts, test-correct, train-perfect, pass@2 score, cost."""
        import pandas as pd

        rows = [{"task_id": t, **v} for t, v in self.summary.get("per_task", {}).items()]
        return pd.DataFrame(rows).set_index("task_id") if rows else pd.DataFrame()

    def table(self) -> str:
        return format_table(self.summary)


@dataclass
class EvalResult:
    """All runs of one `run_eval` call (several with repeat_runs), and their aggregate."""

    runs: list[RunResult]
    aggregate: dict[str, Any] | None = None
    aggregate_path: Path | None = None

    @property
    def run_dir(self) -> Path:
        return self.runs[-1].run_dir

    @property
    def summary(self) -> dict[str, Any]:
        return self.runs[-1].summary

    def per_task_frame(self):
        return self.runs[-1].per_task_frame()

    def table(self) -> str:
        """One run's metrics table; for repeat runs, the per-run table and the aggregate."""
        if self.aggregate:
            per_run = format_runs_table([r.summary for r in self.runs])
            return per_run + "\n\n" + format_aggregate_table(self.aggregate)
        return self.runs[-1].table()


# ---- public entry points ------------------------------------------------------------------
async def run_eval_async(**kwargs: Any) -> EvalResult:
    """Evaluate a model on ARC tasks: every attempt of every task, concurrently.

    Args:
        **kwargs: Any RunConfig field (the CLI flags in snake_case).

    Returns:
        An EvalResult with each run's directory and summary (and the repeat-run aggregate).

    Raises:
        InputError: A setting, dataset, subset or task id is invalid, or the key a model needs
            is missing or would go where it must not (see `arcnb.llm.api_key_for`), or the
            bundled model is to answer and the ``local`` extra is missing (`MissingExtraError`);
            nothing is written then.
        AuthError: The endpoint refused the key (401/403); the run stopped at once and is
            resumable (the refused requests were not recorded).
        RunFailedError: Every request of the run failed, or ``max_failures`` stopped it; the
            run directory holds every record and the summary.
    """
    unknown = set(kwargs) - {f.name for f in dataclasses.fields(RunConfig)}
    if unknown:
        raise InputError(f"unknown setting(s): {', '.join(sorted(unknown))}")
    if isinstance(kwargs.get("base_url"), str):
        kwargs["base_url"] = [kwargs["base_url"]]
    cfg = RunConfig(**kwargs)
    if cfg.resume:
        cfg = _config_for_resume(cfg)
    cfg.validate()
    tasks = _select_tasks(cfg)
    if cfg.resume:
        _check_resume_data(cfg, tasks)
    use_local = _wants_local_model(cfg)
    if use_local:  # without the local extra: one line saying how to get it, nothing written
        from arcnb.localmodel import require_extra

        require_extra()
    api_key = None
    if not use_local:  # every key check before anything is written or started
        if cfg.model is None:
            cfg.model = DEFAULT_MODEL
        api_key = api_key_for(
            cfg.model, cfg.base_url, cfg.api_key_env, allow_insecure_key=cfg.allow_insecure_key
        )
    # The sandbox first: a machine where model code cannot be confined is refused
    # (IsolationError, exit 2) before a model starts, a request is sent or a file is written.
    executor = Executor(
        workers=cfg.exec_workers, timeout=cfg.exec_timeout, require_isolation=cfg.require_isolation
    )
    local = None
    try:
        executor.start()
        if use_local:
            local = _start_local_model(cfg)
        prices = price_for(cfg.model, cfg.price_in, cfg.price_out)
        if cfg.max_cost is not None and prices is None:
            raise InputError(
                f"--max-cost needs a price for model {cfg.model!r}, which the price table lacks; "
                "pass --price-in and --price-out (USD per million tokens)"
            )
        with executor:
            stamp = datetime.now(UTC)
            runs = []
            # one limiter for the whole call: repeat runs follow each other at its spacing too
            limiter = RateLimiter(cfg.rpm, cfg.rate_limit_delay)
            for r in range(cfg.repeat_runs):
                suffix = f"_r{r + 1}" if cfg.repeat_runs > 1 else ""
                run = _Run(
                    cfg, tasks, api_key, prices, executor, stamp, suffix, local is not None, limiter
                )
                runs.append(await run.execute())
        result = EvalResult(runs)
        if len(runs) > 1:
            result.aggregate = aggregate([r.summary for r in runs])
            name = run_dir_name(cfg.model, cfg.dataset, _subset_label(cfg), now=stamp)
            path = Path(cfg.output_dir) / f"{name}_aggregate.json"
            result.aggregate["runs"] = [str(r.run_dir) for r in runs]
            path.write_text(json.dumps(result.aggregate, indent=2))
            result.aggregate_path = path
        return result
    finally:
        executor.close()
        if local is not None:
            local.stop()


def run_eval(**kwargs: Any) -> EvalResult:
    """Synchronous twin of `run_eval_async`, safe to call from a notebook cell."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(run_eval_async(**kwargs))
    import nest_asyncio  # Jupyter already runs a loop: re-enter it

    nest_asyncio.apply(loop)
    return loop.run_until_complete(run_eval_async(**kwargs))


# ---- helpers -------------------------------------------------------------------------------
# Settings a resume must keep: they decide which attempts exist and what each one asked.
_RESUME_FIXED = (
    *("model", "dataset", "subset", "task_ids", "limit", "max_attempts", "max_turns"),
    *("reasoning_effort", "max_tokens", "temperature", "qwen_no_think", "price_in", "price_out"),
    *("grid_format", "images", "strategy", "first_round", "round_size", "parents"),
)
# Settings a resume may change (recorded in config.json's "resumed" list): where requests go
# and how fast, not what they ask. max_cost may only rise (checked on its own).
_RESUME_CHANGEABLE = (
    *("base_url", "max_workers", "api_timeout", "progress", "exec_workers", "exec_timeout"),
    *("rpm", "rate_limit_delay"),
    *("max_failures", "api_key_env", "allow_insecure_key"),  # e.g. after a refused key
    "require_isolation",
)


def _config_for_resume(cfg: RunConfig) -> RunConfig:
    """The run's recorded settings, with the changeable ones the user gave.

    A setting counts as given when it differs from RunConfig's default (the CLI passes every
    flag, so a default cannot be told from a flag left out).

    Raises:
        InputError: A given setting differs from the run's (each difference named, one line),
            or the prompt templates changed since the run.
    """
    if not (Path(cfg.resume) / CONFIG_FILE).is_file():
        raise InputError(f"--resume {cfg.resume}: not a run directory (no {CONFIG_FILE})")
    run = Run.open(cfg.resume)
    fields = {f.name for f in dataclasses.fields(RunConfig)}
    new = RunConfig(**{k: v for k, v in run.settings.items() if k in fields})
    new.resume = str(run.path)
    new.repeat_runs = 1

    def given(name: str) -> bool:
        return getattr(cfg, name) not in (None, getattr(RunConfig, name, None))

    differences = [
        f"{name} {getattr(new, name)!r}, not {getattr(cfg, name)!r}"
        for name in _RESUME_FIXED
        if given(name) and getattr(cfg, name) != getattr(new, name)
    ]
    if given("max_cost") and new.max_cost is not None and cfg.max_cost < new.max_cost:
        differences.append(f"max_cost {new.max_cost:g}, not {cfg.max_cost:g} (it may only rise)")
    recorded_sha = run.config.get("prompt_templates_sha256")
    if recorded_sha and recorded_sha != templates_sha256(strategy=new.strategy):
        differences.append("prompt templates that have changed since")
    recorded_format = (run.config.get("grid_format") or {}).get("sha256")
    if recorded_format and recorded_format != format_sha256(new.grid_format, new.images):
        differences.append("a grid rendering (text or image) that has changed since")
    recorded_search = run.config.get("search_version", SEARCH_VERSION)
    if new.strategy != "independent" and recorded_search != SEARCH_VERSION:
        differences.append(
            f"search planner version {recorded_search} (this arcnb plans rounds with version "
            f"{SEARCH_VERSION}, which would not replay them)"
        )
    if differences:
        raise InputError(f"--resume: the run was made with {'; '.join(differences)}")
    for name in (*_RESUME_CHANGEABLE, "max_cost"):
        if given(name):
            setattr(new, name, getattr(cfg, name))
    if cfg.base_url:
        new.base_url = cfg.base_url
    elif run.config.get("local_model"):  # that server is gone: start the bundled model again
        new.base_url = None
    new.progress = cfg.progress
    return new


def _check_resume_data(cfg: RunConfig, tasks: list[Task]) -> None:
    """Refuse a resume whose tasks are not the data the run was made on.

    Raises:
        InputError: The tasks' checksum differs from the one in config.json.
    """
    recorded = Run.open(cfg.resume).config.get("dataset")
    if not isinstance(recorded, dict) or not recorded.get("tasks_sha256"):
        logger.warning(
            "--resume: %s records no dataset checksum (made by an older arcnb): the tasks "
            "cannot be checked against the run's (arc-agi-1 was the 2019 snapshot then, "
            "now arc-agi-1-2019)",
            cfg.resume,
        )
        return
    now = tasks_sha256(tasks)
    if now != recorded["tasks_sha256"]:
        made_on = f", version {recorded['version']}" if recorded.get("version") else ""
        raise InputError(
            f"--resume: the tasks of {cfg.dataset!r} differ from the ones the run was made on"
            f"{made_on} (tasks checksum {now[:12]}, the run's {recorded['tasks_sha256'][:12]}): "
            "the data changed since; start a new run"
        )


def _wants_local_model(cfg: RunConfig) -> bool:
    """The bundled model answers only when nothing else was asked for: no model, endpoint,
    key variable or OPENAI_API_KEY (or when resuming a run it answered, with no --base-url)."""
    if cfg.resume and not cfg.base_url:
        return bool(Run.open(cfg.resume).config.get("local_model"))
    return (
        cfg.model is None
        and not cfg.base_url
        and cfg.api_key_env is None
        and resolve_api_key(OPENAI_KEY_ENV) is None
    )


def _select_tasks(cfg: RunConfig) -> list[Task]:
    tasks = list(load_tasks(cfg.dataset, cfg.task_ids or cfg.subset))
    if cfg.limit:
        tasks = tasks[: cfg.limit]
    if not tasks:
        raise InputError(f"subset {cfg.subset!r} of {cfg.dataset} has no tasks")
    return tasks


def _subset_label(cfg: RunConfig) -> str:
    return subset_label(cfg.to_dict()) or "none"


def _start_local_model(cfg: RunConfig):
    from arcnb.localmodel import DEMO_NOTICE, LocalModelServer

    server = LocalModelServer()
    server.start()
    cfg.base_url = [server.base_url]
    if cfg.model is None:
        cfg.model = server.model
    if cfg.max_tokens is None:  # a 135M model rambles to the context limit otherwise
        cfg.max_tokens = LOCAL_MAX_TOKENS
    if cfg.price_in is None and cfg.price_out is None:  # it runs here: it costs nothing
        cfg.price_in = cfg.price_out = 0.0
    port = server.base_url.rsplit(":", 1)[1].split("/")[0]
    print(DEMO_NOTICE.format(port=port), file=sys.stderr)
    return server


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("arcnb")
    except PackageNotFoundError:
        return "unknown"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _train_feedback(task: Task, rec: dict) -> list[dict]:
    """A record's results on the train pairs, as the refinement prompts show them."""
    return [
        {"correct": t["correct"], "predicted": t["output"], "error": t.get("error")}
        for t in rec["train"]
    ] or [{"correct": False, "predicted": None, "error": "no program"}] * len(task.train)


class _Stop(Exception):
    """No more requests: the budget, an auth refusal or --max-failures stopped the run."""


class _Run:
    """One run: schedules every attempt, writes through RunWriter, summarises at the end.

    Memory is flat in the number of attempts: attempts are drawn from a generator by a
    fixed pool of workers, a task's records and prompt are held only while it has attempts
    in flight (freed once its votes are written), and the summary and programs.parquet are
    streamed back from attempts.jsonl at the end.
    """

    def __init__(
        self,
        cfg: RunConfig,
        tasks: list[Task],
        api_key: str | None,
        prices: tuple[float, float] | None,
        executor: Executor,
        stamp: datetime,
        suffix: str,
        local_model: bool,
        limiter: RateLimiter,
    ) -> None:
        self.cfg, self.tasks, self.executor, self.prices = cfg, tasks, executor, prices
        self.spent = 0.0
        self.n_cost_samples = 0  # turns of known cost (in `spent`)
        # the known costs of the latest turns (USD), for the budget's estimate of a request
        self.costs: deque[float] = deque(maxlen=_ESTIMATE_WINDOW)
        self.estimate: float | None = None  # USD per request, last used by the budget
        self._observed: float | None = None  # the percentile of `costs`; None: to compute
        self.n_cost_unknown = 0  # turns whose cost is unknown (no price for the model)
        # (task id, attempt) -> (turn, byte offset, final) of each turn logged before a resume
        self.previous: dict[tuple[str, int], list[tuple[int, int, bool]]] = {}
        if cfg.resume:
            self.run_dir = Path(cfg.resume)
            done = Run.open(self.run_dir)
            self.previous = done.index(on_turn=self._count_cost)
            for warning in done.warnings:  # lines skipped: their attempts are asked again
                if warning.startswith(ATTEMPTS_FILE):
                    logger.warning("--resume: %s", warning)
            self.run_id = done.run_id
        else:
            name = run_dir_name(cfg.model, cfg.dataset, _subset_label(cfg), now=stamp) + suffix
            self.run_dir = Path(cfg.output_dir) / name
            if self.run_dir.exists():
                raise InputError(f"run directory {self.run_dir} already exists")
            self.run_id = self.run_dir.name
        self.writer = RunWriter(self.run_dir, secrets=[api_key] if api_key else [])
        self.params = request_params(
            cfg.model,
            (cfg.base_url or [None])[0],
            reasoning_effort=cfg.reasoning_effort,
            max_tokens=cfg.max_tokens,
            temperature=cfg.temperature,
            qwen_no_think=cfg.qwen_no_think,
        )
        self.llm = LLMClient(
            cfg.model,
            cfg.base_url,
            api_key=api_key,
            params=self.params,
            api_timeout=cfg.api_timeout,
            prices=prices,
            rate_limiter=limiter,
        )
        self.local_model = local_model
        self._prompts: dict[str, tuple[list[dict], str]] = {}  # live task -> messages, sha256
        self._live: dict[str, dict[int, dict]] = {}  # live task -> attempt -> latest record
        # a search's live task -> attempt -> byte offset of its record (this session's too)
        self._offsets: dict[str, dict[int, int]] = {}
        self.in_flight = 0
        self._settled = asyncio.Event()  # set (and replaced) each time a request ends
        self.stopped_by: str | None = None  # "budget", "auth", "max_failures", "disk_full"
        self.disk_error: DiskFullError | None = None
        self.auth_error: str | None = None
        # the variable the key came from (named in an auth error), None when none was sent
        self.key_env = (cfg.api_key_env or OPENAI_KEY_ENV) if api_key else None
        self.n_requests = 0  # answered or failed (after retries) in this session
        self.failures: Counter[str] = Counter()  # failure kind -> requests
        self.first_error: str | None = None
        self.sem = asyncio.Semaphore(cfg.max_workers)
        self.remaining = {t.id: cfg.max_attempts for t in tasks}
        self.solved_tasks = 0
        self.bar = None

    def _count_failure(self, failure: str | None, error: str | None) -> None:
        """Count one finished request; set stopped_by when --max-failures is reached."""
        self.n_requests += 1
        if failure is None:
            return
        self.failures[failure] += 1
        self.first_error = self.first_error or error
        limit, n_failed = self.cfg.max_failures, sum(self.failures.values())
        if limit is None or self.stopped_by:
            return
        if limit >= 1:
            reached = n_failed >= limit
        else:
            enough = self.n_requests >= MIN_TURNS_FOR_FRACTION
            reached = enough and n_failed / self.n_requests >= limit
        if reached:
            self.stopped_by = "max_failures"

    def _failure_text(self) -> str:
        """'connection: 12, timeout: 2; first: <error>' (one line, short)."""
        kinds = ", ".join(f"{kind}: {n}" for kind, n in self.failures.most_common())
        first = " ".join((self.first_error or "").split())[:200]
        return f"{kinds}; first: {first}" if first else kinds

    def _check_outcome(self) -> None:
        """Raise RunFailedError when --max-failures stopped the run or every request failed."""
        n_failed = sum(self.failures.values())
        if self.stopped_by == "max_failures":
            raise RunFailedError(
                f"stopped after {n_failed} of {self.n_requests} requests failed "
                f"(--max-failures {self.cfg.max_failures:g}: {self._failure_text()}); "
                f"the records are in {self.run_dir}",
                str(self.run_dir),
            )
        if self.n_requests and n_failed == self.n_requests:
            raise RunFailedError(
                f"all {n_failed} requests failed ({self._failure_text()}); "
                f"the records are in {self.run_dir}",
                str(self.run_dir),
            )

    def _count_cost(self, record: dict) -> None:
        if record.get("cost_usd") is not None:
            self.spent += record["cost_usd"]
            self.n_cost_samples += 1
            self.costs.append(record["cost_usd"])
            self._observed = None
        else:
            self.n_cost_unknown += 1

    # -- orchestration ------------------------------------------------------------------
    async def execute(self) -> RunResult:
        t0 = time.monotonic()
        self._write_config()
        if self.cfg.progress:  # shown first, so an interrupted user knows what to --resume
            print(f"run directory: {self.run_dir}", file=sys.stderr)
        n_work = self._count_done()
        self._open_progress(n_work)
        # Enough workers to keep max_workers requests in flight while others execute code.
        slots = self.cfg.max_workers + 2 * self.executor.n_workers
        if self.cfg.strategy == "independent":
            work = self._plan()
            workers = [self._work(work) for _ in range(min(n_work, slots))]
        else:  # a task's rounds follow each other: several tasks search at once
            tasks = iter(self.tasks)
            workers = [self._search_work(tasks) for _ in range(min(len(self.tasks), slots))]
        try:
            await asyncio.gather(*workers)
        finally:
            if self.bar is not None:
                self.bar.close()
            await self.llm.aclose()
        if self.stopped_by == "disk_full":  # no summary: unfinished, resumable
            try:
                self.writer.close()
            except OSError:
                pass  # the records are with the kernel already
            raise self.disk_error
        if self.stopped_by == "auth":  # no summary: the run is unfinished and resumable
            self.writer.close()
            if self.key_env:
                fix = f"the key in {self.key_env} was refused: fix it"
            else:
                fix = "no key was sent: name the variable holding its key with --api-key-env"
            error = " ".join((self.auth_error or "").split())[:200]
            raise AuthError(
                f"the endpoint refused the request ({error}); {fix}, then continue with "
                f"`arcnb run --resume {self.run_dir}`",
                str(self.run_dir),
            )
        for task in self.tasks:  # tasks cut short (budget), or all done before the resume
            if not (self.run_dir / "tasks" / f"{task.id}.json").exists():
                self._finish_task(task, quiet=True)
        self.writer.close()
        summary = self._summarise(time.monotonic() - t0)
        self.writer.write_summary(summary)
        self._check_outcome()
        return RunResult(self.run_dir, summary)

    def _done_turns(self, task_id: str, attempt: int) -> list[tuple[int, int, bool]]:
        """The turns logged before a resume, up to the first gap."""
        done: list[tuple[int, int, bool]] = []
        for entry in self.previous.get((task_id, attempt), []):
            if entry[0] != len(done) + 1:
                break
            done.append(entry)
        return done

    def _count_done(self) -> int:
        """Take attempts already complete before a resume off `remaining`; return the rest."""
        n = 0
        for task in self.tasks:
            for a in range(self.cfg.max_attempts):
                done = self._done_turns(task.id, a)
                if done and done[-1][2]:
                    self.remaining[task.id] -= 1
                else:
                    n += 1
        return n

    def _plan(self) -> Iterator[tuple[Task, int, list[int]]]:
        """(task, attempt, byte offsets of its logged turns) for every attempt not yet final,
        task by task, so that tasks finish (and free their state) in order."""
        for task in self.tasks:
            for a in range(self.cfg.max_attempts):
                done = self._done_turns(task.id, a)
                if not (done and done[-1][2]):
                    yield task, a, [offset for _, offset, _ in done]

    async def _work(self, work: Iterator[tuple[Task, int, list[int]]]) -> None:
        for task, attempt, offsets in work:  # one shared generator: each item is taken once
            await self._attempt(task, attempt, offsets)

    async def _search_work(self, tasks: Iterator[Task]) -> None:
        for task in tasks:  # one shared iterator: each task is searched once
            if self.stopped_by:
                return
            await self._search(task)

    async def _search(self, task: Task) -> None:
        """Run a task's rounds (`arcnb.search.plan_round`) until it is done or the run stops.

        The records so far decide each round, so a resumed task replays its logged rounds
        (those attempts are not asked again) and continues exactly where it stopped. Only a
        `arcnb.search.candidate` and the byte offset of each attempt are held: a parent's
        code and results are read back from ``attempts.jsonl`` when a prompt shows them.
        """
        if self._first_prompt(task) is None:
            return
        offsets = self._offsets.setdefault(task.id, {})  # attempt -> its record's offset
        for a in range(self.cfg.max_attempts):
            if (turns := self._done_turns(task.id, a)) and turns[-1][2]:
                offsets[a] = turns[-1][1]
        logged = dict(zip(offsets, map(candidate, self._read(offsets.values())), strict=True))
        candidates: list[dict] = []
        round_, asked = 0, False
        while not self.stopped_by:
            plan = plan_round(
                self.cfg.strategy,
                candidates,
                budget=self.cfg.max_attempts,
                first_round=self.cfg.first_round_size,
                round_size=self.cfg.round_size,
                parents=self.cfg.parents,
            )
            if not plan:
                break
            round_ += 1
            asked = asked or any(request.attempt not in logged for request in plan)
            answers = await asyncio.gather(
                *(self._search_request(task, request, round_, logged) for request in plan)
            )
            if any(answer is None for answer in answers):  # the run stopped: keep what is in
                return
            candidates.extend(answers)
        if self.stopped_by:
            return
        skipped = self.cfg.max_attempts - len(candidates)  # budget a solved task left unspent
        if self.bar is not None and skipped:
            self.bar.update(skipped)
        self.remaining[task.id] = 0
        if not asked and (self.run_dir / "tasks" / f"{task.id}.json").exists():
            self._live.pop(task.id, None)  # finished before the resume: nothing new to vote
            self._prompts.pop(task.id, None)
            self._offsets.pop(task.id, None)
            return
        try:
            self._finish_task(task)
        except DiskFullError as error:
            self._disk_full(error)
        self._update_bar()

    async def _search_request(
        self, task: Task, request: Request, round_: int, logged: dict[int, dict]
    ) -> dict | None:
        """One request of a round (or its record logged before a resume), as its
        `arcnb.search.candidate`; None: the run stopped."""
        if request.attempt in logged:
            return logged[request.attempt]
        first, prompt_sha = self._prompts[task.id]
        offsets = self._offsets[task.id]
        text = None
        if request.parents:
            shown = self._read(offsets[a] for a in request.parents)
            parents = [(r["code"], _train_feedback(task, r)) for r in shown]
            text = build_search_message(
                task, self.cfg.strategy, parents, grid_format=self.cfg.grid_format
            )
        messages = with_search_text(first, text) if text else first
        try:
            rec = await self._turn(
                task, request.attempt, 1, messages, prompt_sha, text, round_, request.parents,
                offsets=offsets,
            )  # fmt: skip
        except _Stop:
            return None
        self.remaining[task.id] -= 1
        if self.bar is not None:
            self.bar.update(1)
        return candidate(rec)

    def _read(self, offsets: Iterable[int]) -> list[dict]:
        """The records at these byte offsets of attempts.jsonl."""
        return list(Run(self.run_dir, {}).read_at(offsets))

    def _write_config(self) -> None:
        if self.cfg.resume:
            self._record_resume()
            return
        self.writer.write_config(
            {
                "schema": 1,
                "run_id": self.run_id,
                "arcnb_version": _version(),
                "created_at": _now(),
                "settings": self.cfg.to_dict(),
                "model": self.cfg.model,
                "endpoints": self.cfg.base_url or ["https://api.openai.com/v1"],
                "local_model": self.local_model,
                "request_params": self.params,
                "prices_usd_per_million": list(self.prices) if self.prices else None,
                "isolation": self.executor.isolation,
                "task_ids": [t.id for t in self.tasks],
                "dataset": dataset_record(self.cfg.dataset, self.tasks),  # name, source, sha256
                "prompt_templates_sha256": templates_sha256(strategy=self.cfg.strategy),
                # the planner's rules (arcnb.search): a resume replays the rounds with them
                "search_version": SEARCH_VERSION,
                # how grids were shown: a change in their rendering changes this too
                "grid_format": {
                    "name": self.cfg.grid_format,
                    "images": self.cfg.images,
                    "sha256": format_sha256(self.cfg.grid_format, self.cfg.images),
                },
                "python": sys.version.split()[0],
            }
        )

    def _record_resume(self) -> None:
        """Append this session to config.json's ``resumed`` list: when (UTC) and each setting
        that differs from the recorded ones, ``{name: [recorded, now]}`` (``settings`` stays
        as the run was made)."""
        config = Run.open(self.run_dir).config
        recorded = config.get("settings") or {}
        now = self.cfg.to_dict()
        changed = {
            name: [recorded.get(name), value]
            for name, value in now.items()
            if name not in ("resume", "repeat_runs") and recorded.get(name) != value
        }
        resumed = [*(config.get("resumed") or []), {"at": _now(), "changed": changed}]
        self.writer.write_config({**config, "resumed": resumed})

    def _open_progress(self, n: int) -> None:
        if not self.cfg.progress:
            return
        from tqdm.auto import tqdm

        self.bar = tqdm(total=n, desc="attempts", unit="att", dynamic_ncols=True, file=sys.stderr)
        self._update_bar()

    def _update_bar(self) -> None:
        if self.bar is None:
            return
        done_tasks = sum(1 for v in self.remaining.values() if v == 0)
        self.bar.set_postfix_str(
            f"tasks {done_tasks}/{len(self.tasks)} solved {self.solved_tasks} "
            f"cost {self.cost_text()}",
            refresh=False,
        )

    def cost_text(self) -> str:
        """The cost so far, worded as the end table words it (`arcnb.metrics.format_cost`)."""
        known = self.n_cost_samples > 0 or self.n_cost_unknown == 0
        return format_cost(self.spent if known else None, self.n_cost_unknown)

    # -- one attempt --------------------------------------------------------------------
    def _first_prompt(self, task: Task) -> tuple[list[dict], str] | None:
        """The task's first-turn messages and their sha256, stored once in prompts.jsonl;
        None when the disk is full (the run stops)."""
        if task.id not in self._prompts:  # every attempt of a task sends the same first turn
            first = build_messages(task, grid_format=self.cfg.grid_format, images=self.cfg.images)
            sha = hashlib.sha256(json.dumps(first).encode()).hexdigest()
            try:
                self.writer.append_prompt(sha, first)  # before any record names it
            except DiskFullError as error:
                self._disk_full(error)
                return None
            self._prompts[task.id] = (first, sha)
            self._live[task.id] = {}
        return self._prompts[task.id]

    async def _attempt(self, task: Task, attempt: int, offsets: list[int]) -> None:
        if self._first_prompt(task) is None:
            return
        messages, prompt_sha = self._prompts[task.id]
        done = list(Run(self.run_dir, {}).read_at(offsets)) if offsets else []
        for rec in done:  # rebuild the conversation of the turns recorded before a crash
            messages = self._extend(task, messages, rec)
        turn = len(done) + 1
        feedback = messages[-1]["content"] if done else None
        try:
            while True:
                rec = await self._turn(task, attempt, turn, messages, prompt_sha, feedback)
                self._live[task.id][attempt] = rec
                if rec["final"]:
                    break
                messages = self._extend(task, messages, rec)
                feedback = messages[-1]["content"]
                turn += 1
        except _Stop:
            if self.bar is not None:
                self.bar.update(1)
            return
        if self.bar is not None:
            self.bar.update(1)
        self.remaining[task.id] -= 1
        if self.remaining[task.id] == 0:
            try:
                self._finish_task(task)
            except DiskFullError as error:  # tasks/<id>.json: redone by the resume
                self._disk_full(error)
        self._update_bar()

    def _disk_full(self, error: DiskFullError) -> None:
        """Stop asking: nothing more can be recorded (raised once the workers are done)."""
        if self.stopped_by != "disk_full":
            self.stopped_by, self.disk_error = "disk_full", error

    def _extend(self, task: Task, messages: list[dict], rec: dict) -> list[dict]:
        """The conversation after `rec`'s turn: its answer, then the refinement request."""
        content = (rec.get("response") or {}).get("content") or ""
        feedback = _train_feedback(task, rec)
        code = rec.get("code") or "(no ```python code block defining transform was found)"
        return [
            *messages,
            {"role": "assistant", "content": content},
            build_refinement_message(task, code, feedback, grid_format=self.cfg.grid_format),
        ]

    async def _admit(self, messages: list[dict]) -> None:
        """Wait until one more request fits under --max-cost beside those in flight.

        A request is sent when the cost spent plus the estimate (`_request_estimate`) for it
        and for each request in flight stays within the cap; otherwise it waits for one in
        flight to end, so concurrency shrinks with the remaining budget. With nothing in
        flight and still no room, the run stops issuing requests (``stopped_by`` "budget").

        Raises:
            _Stop: The run has stopped (budget, auth, --max-failures or a full disk).
        """
        while True:
            if self.stopped_by:
                raise _Stop
            if self.cfg.max_cost is None:
                return
            self.estimate = self._request_estimate(messages)
            if self.spent + (self.in_flight + 1) * self.estimate <= self.cfg.max_cost:
                return
            if self.in_flight == 0:
                self.stopped_by = "budget"
                logger.warning(
                    "budget: stopping new requests at $%.4f spent of $%g (about $%.4f a request)",
                    *(self.spent, self.cfg.max_cost, self.estimate),
                )
                self._settle()  # the others waiting stop too
                raise _Stop
            await self._settled.wait()

    def _settle(self) -> None:
        """Wake the requests waiting for budget (a request ended, or the run stopped)."""
        self._settled.set()
        self._settled = asyncio.Event()

    def _request_estimate(self, messages: list[dict]) -> float:
        """USD one more request is expected to cost, from this run's own costs.

        With costs seen: the 90th percentile of the turns' known costs (the highest of them
        until there are 10), so that a request in flight is rarely under-counted. Before any:
        a cautious guess from the prompt, 2 characters a token (ARC grids are about one token
        per cell and its separator), with the full output budget (max tokens, or 8000 when
        none is sent).
        """
        if self.costs:
            if self._observed is None:  # once per cost seen, not once per waiter woken
                ordered = sorted(self.costs)
                self._observed = ordered[math.ceil(0.9 * len(ordered)) - 1]
            return self._observed
        p_in, p_out = self.prices
        prompt_tokens = sum(len(str(m.get("content") or "")) for m in messages) / 2
        out_tokens = self.params.get("max_tokens") or self.params.get("max_completion_tokens")
        return (prompt_tokens * p_in + (out_tokens or ANSWER_ROOM_TOKENS) * p_out) / 1e6

    async def _turn(
        self,
        task: Task,
        attempt: int,
        turn: int,
        messages: list[dict],
        prompt_sha: str,
        feedback: str | None,
        round_: int = 1,
        parents: tuple[int, ...] = (),
        offsets: dict[int, int] | None = None,
    ) -> dict:
        """Ask once, evaluate the answer and log its record (with its byte offset put in
        ``offsets`` under its attempt, when given)."""
        async with self.sem:
            await self._admit(messages)
            self.in_flight += 1
            resp = None
            try:
                resp = await self.llm.complete(messages)
            finally:
                self.in_flight -= 1
                if resp is not None and resp.failure != "auth":
                    self._count_failure(resp.failure, resp.error)
                    self._count_cost({"cost_usd": resp.cost_usd})
                self._settle()
        if resp.failure == "auth":  # not recorded: a resume with the right key asks again
            if self.stopped_by != "auth":
                self.stopped_by, self.auth_error = "auth", resp.error
            raise _Stop
        code = None if resp.failure else extract_code(resp.content, resp.reasoning)
        ev = await evaluate_program_async(code, task, self.executor)
        all_train = ev.all_train_correct
        final = bool(resp.failure) or all_train or turn >= self.cfg.max_turns
        rec = {
            "schema": SCHEMA_VERSION,
            "run_id": self.run_id,
            "task_id": task.id,
            "attempt": attempt,
            "turn": turn,
            "final": final,
            "model": self.cfg.model,
            "endpoint": resp.endpoint,
            "request": self.params,
            "prompt_sha256": prompt_sha,
            "feedback": feedback,
            "round": round_,
            "parents": list(parents),
            "response": None
            if resp.failure
            else {
                "content": resp.content,
                "reasoning": resp.reasoning,
                "finish_reason": resp.finish_reason,
                "usage": resp.usage,
            },
            "failure": resp.failure,
            "error": resp.error,
            "max_length": resp.max_length,
            "tries": resp.tries,
            "code": code,
            "train": [o.to_dict() for o in ev.train],
            "test": [o.to_dict() for o in ev.test],
            "train_accuracy": ev.n_train_correct / len(task.train) if task.train else 0.0,
            "all_train_correct": all_train,
            "transductive": ev.transductive,
            "transduction_reasons": ev.transduction_reasons,
            "cost_usd": resp.cost_usd,
            "usage": resp.usage,
            "timings": {"api_s": resp.latency_s, "exec_s": ev.exec_s, "finished_at": _now()},
        }
        try:
            offset = self.writer.append_attempt(rec)
            if offsets is not None:
                offsets[attempt] = offset
        except DiskFullError as error:  # the answer is lost; the resume asks again
            self._disk_full(error)
            raise _Stop from None
        return rec

    # -- task and run summaries -----------------------------------------------------------
    def _finish_task(self, task: Task, quiet: bool = False) -> None:
        """Vote a task's attempts, write tasks/<id>.json, and free the task's state."""
        live = self._live.pop(task.id, {})
        self._prompts.pop(task.id, None)
        offsets = self._offsets.pop(task.id, {})  # a search keeps its records on disk
        earlier = []
        for a in range(self.cfg.max_attempts):
            if a in offsets:
                earlier.append(offsets[a])
            elif a not in live and (turns := self.previous.get((task.id, a))):
                earlier.append(turns[-1][1])
        finals = self._read(earlier)
        finals = sorted([*finals, *live.values()], key=lambda r: r["attempt"])
        stats = task_summary(finals, [ex.output for ex in task.test], with_vote=True)
        solved = stats["scores"]["weighted"] == 1.0
        self.solved_tasks += solved
        self.writer.write_task(task.id, {"task_id": task.id, **stats})
        if self.cfg.progress and not quiet:
            line = (
                f"{task.id}: {stats['attempts']} attempts, {stats['test_correct']} test-correct, "
                f"{stats['train_perfect']} train-perfect, {stats['train_partial']} train-partial, "
                f"{stats['exec_errors']} exec errors" + (" - SOLVED" if solved else "")
            )
            if self.bar is not None:
                self.bar.write(line, file=sys.stderr)
            else:
                print(line, file=sys.stderr)

    def _budget(self, spent: float | None) -> dict | None:
        """summary.json's spent vs cap (None without --max-cost)."""
        if self.cfg.max_cost is None:
            return None
        return {
            "cap_usd": self.cfg.max_cost,
            "spent_usd": spent or 0.0,
            "spent_fraction": (spent or 0.0) / self.cfg.max_cost,
            "request_estimate_usd": self.estimate,  # the last one the budget used
        }

    def _summarise(self, duration_s: float) -> dict:
        """summary.json and programs.parquet, streamed from attempts.jsonl in one read."""
        builder = SummaryBuilder(
            [t.id for t in self.tasks], {t.id: [e.output for e in t.test] for t in self.tasks}
        )

        def finals() -> Iterator[dict]:
            for record in Run(self.run_dir, {}).final_turns(on_turn=builder.add_turn):
                builder.add_final(record)
                yield record

        self.writer.write_final_programs(finals())
        summary = builder.result()
        summary.update(
            run_id=self.run_id,
            model=self.cfg.model,
            dataset=self.cfg.dataset,
            subset=_subset_label(self.cfg),
            stopped_by=self.stopped_by,
            max_cost=self.cfg.max_cost,
            budget=self._budget(summary["cost_usd"]),
            duration_s=duration_s,
            finished_at=_now(),
            resumed=bool(self.cfg.resume),
            isolation=self.executor.isolation.get("level"),
            endpoint_requests=self.llm.stats,
        )
        return summary
