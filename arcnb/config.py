"""The settings of one evaluation run (`arcnb run`), kept free of heavy imports so that the
CLI can build its flags from them without loading the openai SDK."""

from __future__ import annotations

import dataclasses
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from arcnb.errors import InputError
from arcnb.executor import ISOLATION_LEVELS
from arcnb.settings import setting

# The model asked when none is given and an endpoint or API key is (else the bundled one).
DEFAULT_MODEL = "gpt-4.1-mini"
# Reasoning-token budget of each effort level (the older tool's low/medium/high); `llm` sends
# these, the CLI offers the keys as choices.
REASONING_BUDGETS: dict[str, int] = {"low": 2000, "medium": 8000, "high": 32000}
REASONING_EFFORTS = tuple(REASONING_BUDGETS)
# How grids are written in prompts (`arcnb.prompts.encode_grid`): one digit per cell ("007"),
# digits separated by spaces ("0 0 7": one token per cell), or a JSON list of lists.
GRID_FORMATS = ("dense", "spaced", "json")
# Grids as PNG images too (`arcnb.gridimage`): no, after each grid's text, or instead of it.
IMAGE_MODES = ("off", "with-text", "only")
# How a task's requests are spent (`arcnb.search`): independent samples; a first round of
# samples, then rounds refining the best programs so far; or a population evolved from
# several parents per prompt.
STRATEGIES = ("independent", "refine-best", "evolve")
DEFAULT_LOGS_DIR = "logs"  # where run directories are written, and read back from
REQUIRE_ISOLATION_HELP = (
    "lowest sandbox level to run model code under (README: 'What each mode guarantees'): "
    "full (root: every mechanism), partial (refuse only where nothing confines the "
    "filesystem, network or signals), none (run it unconfined: unsafe)"
)


def project_dir(path: str | os.PathLike[str] = DEFAULT_LOGS_DIR) -> Path:
    """Where a relative folder such as ``logs`` lies: in the project, whatever the working
    directory.

    Jupyter runs a notebook with its own folder (``notebooks/``) as the working directory,
    where ``logs`` would be a second, untracked ``notebooks/logs/`` that the CLI never
    sees. So a relative ``path`` is taken from the project root: the nearest folder at or
    above the working directory whose ``pyproject.toml`` names the ``arcnb`` project (a
    source checkout). Outside one (arcnb installed from a wheel), and for an absolute
    ``path``, it is the path as given, from the working directory.

    Args:
        path: A folder, e.g. `DEFAULT_LOGS_DIR`; ``~`` is expanded.

    Returns:
        The folder (absolute when it was found in a project), which need not exist.
    """
    folder = Path(path).expanduser()
    if folder.is_absolute():
        return folder
    here = Path.cwd()
    for root in (here, *here.parents):
        pyproject = root / "pyproject.toml"
        try:
            named = re.search(r'(?m)^name\s*=\s*"arcnb"', pyproject.read_text(errors="replace"))
        except OSError:  # no file there (or unreadable): keep climbing
            continue
        if named:
            return root / folder
    return folder


# --max-failures as a fraction is judged only after this many answered requests, so that the
# first few failures of a healthy endpoint (a 500 that outlived its retries) stop nothing.
MIN_TURNS_FOR_FRACTION = 20
# --exec-timeout's ceiling: a grid that needs more than an hour is a hung program, and the
# executor turns the timeout into deadlines that must stay finite.
MAX_EXEC_TIMEOUT_S = 3600.0
MAX_EXEC_WORKERS_PER_CORE = 8
"""--exec-workers above this many per core only add memory (each worker holds numpy and its
libraries, about 40 MB) and contention: programs are CPU-bound."""

_BUDGETS_TEXT = ", ".join(f"{k} {v // 1000}k" for k, v in REASONING_BUDGETS.items())


@dataclass
class RunConfig:
    """Every setting of one evaluation; written unchanged into config.json (never a secret).

    Field names are the CLI flags in snake_case (``--max-attempts`` is ``max_attempts``) and
    the notebook's parameter names; each field's `setting` holds its ``--help`` text.
    """

    dataset: str = setting(
        "arc-agi-1",
        help="arc-agi-1 (corrected), arc-agi-1-2019 (the uncorrected 2019 snapshot), arc-agi-2, "
        "arc-prize-2024, arc-prize-2025, or a folder of task JSON files",
    )
    subset: str = setting(
        "shortest_training_10",
        help="a named subset (see `arcnb subsets`), comma-separated task ids, or a file of ids",
    )
    task_ids: str | None = setting(None, help="run exactly these task ids", metavar="A,B,C")
    limit: int | None = setting(None, help="only the first N tasks", metavar="N")
    model: str | None = setting(
        None,
        help=f"model id (default: {DEFAULT_MODEL}; with no --model, no --base-url, no "
        "--api-key-env and no OPENAI_API_KEY: the bundled demonstration model)",
    )
    base_url: list[str] | None = setting(
        None,
        help="OpenAI-compatible endpoint; repeat to spread requests over several "
        "(least outstanding first)",
        metavar="URL",
    )
    max_attempts: int = setting(8, help="attempts per task", metavar="N")
    max_workers: int = setting(16, help="concurrent API requests; 256+ is fine", metavar="N")
    rpm: int | None = setting(
        None,
        help="at most N request starts a minute, shared by all workers, endpoints and retries: "
        "starts are spaced evenly, 60/N seconds apart (so never more than N in any 60 s)",
        metavar="N",
    )
    rate_limit_delay: float = setting(
        0.0,
        help="at least S seconds between request starts, shared as --rpm; with both, the "
        "longer spacing wins",
        metavar="S",
    )
    max_turns: int = setting(
        1, help="turns per attempt; >1 refines with train feedback", metavar="N"
    )
    strategy: str = setting(
        "independent",
        help="independent (--max-attempts samples, each refined on its own with --max-turns); "
        "refine-best (a first round of samples, then rounds refining the best programs so far "
        "with train feedback); evolve (rounds of prompts showing several high-scoring parents "
        "with different outputs); both search strategies spend --max-attempts requests per "
        "task at most and stop a task once a program is right on every train example",
        choices=STRATEGIES,
    )
    first_round: int | None = setting(
        None,
        help="refine-best, evolve: samples in the first round (default: half of "
        "--max-attempts, at least 1)",
        metavar="N",
    )
    round_size: int = setting(
        2,
        help="refine-best, evolve: requests in each later round (refine-best refines the N "
        "best programs, one request each; evolve writes N children)",
        metavar="N",
    )
    parents: int = setting(
        3, help="evolve: parent programs shown in each prompt, best first", metavar="N"
    )
    reasoning_effort: str | None = setting(
        None, help=f"reasoning budget: {_BUDGETS_TEXT} tokens", choices=REASONING_EFFORTS
    )
    max_tokens: int | None = setting(None, help="overrides the reasoning budget", metavar="N")
    temperature: float | None = setting(None, help="sampling temperature, 0-2")
    grid_format: str = setting(
        "dense",
        help="how grids are written: dense (one digit per cell, 007), spaced (digits "
        "separated by spaces, one token per cell), json (a JSON list of rows)",
        choices=GRID_FORMATS,
    )
    images: str = setting(
        "off",
        help="a PNG of every grid of the first turn for vision models (ARC palette, cell "
        "borders, name and shape in a caption): with-text (after each grid's text) or only "
        "(instead of the rows)",
        choices=IMAGE_MODES,
    )
    qwen_no_think: bool = setting(False, help="chat_template_kwargs.enable_thinking=false")
    api_timeout: float = setting(600.0, help="seconds per request", metavar="S")
    max_cost: float | None = setting(
        None,
        help="stop issuing requests before spent plus in-flight cost passes this",
        metavar="USD",
    )
    repeat_runs: int = setting(
        1, help="independent runs (1-10) and an aggregate with 95% intervals", metavar="N"
    )
    exec_timeout: float = setting(0.5, help="seconds per grid for generated programs", metavar="S")
    output_dir: str = setting(DEFAULT_LOGS_DIR, help="where run directories go", metavar="DIR")
    resume: str | None = setting(
        None,
        help="continue a killed run; finished attempts are never requested again",
        metavar="RUN_DIR",
    )
    api_key_env: str | None = setting(
        None,
        help="environment variable (or .env entry) holding the key for --base-url, never the "
        "key itself; unset: OPENAI_API_KEY is sent to https://api.openai.com only, and other "
        "endpoints get no key",
        metavar="NAME",
    )
    allow_insecure_key: bool = setting(
        False,
        help="send the key over plain http to a host other than 127.0.0.1/localhost "
        "(refused otherwise: anyone on the path can read it)",
    )
    max_failures: float | None = setting(
        None,
        help="stop the run (exit 1) once N requests have failed after their retries (N >= 1), "
        f"or a fraction F (0 < F < 1) of them once {MIN_TURNS_FOR_FRACTION} have been answered",
        metavar="N|F",
    )
    price_in: float | None = setting(
        None, help="USD per million input tokens (overrides the price table)", metavar="USD"
    )
    price_out: float | None = setting(
        None, help="USD per million output tokens (overrides the price table)", metavar="USD"
    )
    exec_workers: int | None = setting(
        None, help="executor processes (default: cores)", metavar="N"
    )
    require_isolation: str = setting(
        "partial", help=REQUIRE_ISOLATION_HELP, choices=ISOLATION_LEVELS, metavar="LEVEL"
    )
    # On by default, so the flag is --no-progress and its help says what that does.
    progress: bool = setting(True, help="no progress bar or per-task lines")

    def validate(self) -> None:
        """Raise InputError naming the bad setting and what is allowed."""
        checks = [
            (self.max_attempts >= 1, f"--max-attempts must be >= 1, got {self.max_attempts}"),
            (self.max_workers >= 1, f"--max-workers must be >= 1, got {self.max_workers}"),
            (self.max_turns >= 1, f"--max-turns must be >= 1, got {self.max_turns}"),
            (
                self.rpm is None or self.rpm >= 1,
                f"--rpm must be a number of requests per minute >= 1, got {self.rpm}",
            ),
            (
                0 <= self.rate_limit_delay < math.inf,
                "--rate-limit-delay must be a finite number of seconds >= 0, "
                f"got {self.rate_limit_delay}",
            ),
            (
                1 <= self.repeat_runs <= 10,
                f"--repeat-runs must be between 1 and 10, got {self.repeat_runs}",
            ),
            (
                0 < self.exec_timeout <= MAX_EXEC_TIMEOUT_S,
                f"--exec-timeout must be > 0 and <= {MAX_EXEC_TIMEOUT_S:g} seconds, "
                f"got {self.exec_timeout}",
            ),
            (
                0 < self.api_timeout < math.inf,
                f"--api-timeout must be a finite number of seconds > 0, got {self.api_timeout}",
            ),
            (
                self.exec_workers is None or 1 <= self.exec_workers <= _max_exec_workers(),
                f"--exec-workers must be >= 1 and <= {_max_exec_workers()} "
                f"({MAX_EXEC_WORKERS_PER_CORE} per CPU core here), got {self.exec_workers}",
            ),
            (
                self.task_ids is None or any(i.strip() for i in self.task_ids.split(",")),
                f"--task-ids names no task id, got {self.task_ids!r} (omit it to run --subset)",
            ),
            (self.limit is None or self.limit >= 1, f"--limit must be >= 1, got {self.limit}"),
            (
                self.max_tokens is None or self.max_tokens >= 1,
                f"--max-tokens must be >= 1, got {self.max_tokens}",
            ),
            (
                self.max_cost is None or 0 < self.max_cost < math.inf,
                f"--max-cost must be a finite number of USD > 0, got {self.max_cost}",
            ),
            *(
                (
                    price is None or 0 <= price < math.inf,
                    f"--{name} must be a finite number of USD >= 0, got {price}",
                )
                for name, price in (("price-in", self.price_in), ("price-out", self.price_out))
            ),
            (
                self.reasoning_effort in (None, *REASONING_EFFORTS),
                f"--reasoning-effort must be one of {', '.join(REASONING_EFFORTS)}, "
                f"got {self.reasoning_effort!r}",
            ),
            (
                self.grid_format in GRID_FORMATS,
                f"--grid-format must be one of {', '.join(GRID_FORMATS)}, got {self.grid_format!r}",
            ),
            (
                self.images in IMAGE_MODES,
                f"--images must be one of {', '.join(IMAGE_MODES)}, got {self.images!r}",
            ),
            (
                self.strategy in STRATEGIES,
                f"--strategy must be one of {', '.join(STRATEGIES)}, got {self.strategy!r}",
            ),
            (
                self.first_round is None or 1 <= self.first_round <= self.max_attempts,
                f"--first-round must be between 1 and --max-attempts ({self.max_attempts}), "
                f"got {self.first_round}",
            ),
            (self.round_size >= 1, f"--round-size must be >= 1, got {self.round_size}"),
            (self.parents >= 1, f"--parents must be >= 1, got {self.parents}"),
            (
                self.temperature is None or 0 <= self.temperature <= 2,
                f"--temperature must be between 0 and 2, got {self.temperature}",
            ),
        ]
        for ok, message in checks:
            if not ok:
                raise InputError(message)
        self._check_strategy()
        count = self.max_failures is not None and self.max_failures >= 1
        if self.max_failures is not None and not (
            (count and float(self.max_failures).is_integer()) or 0 < self.max_failures < 1
        ):
            raise InputError(
                "--max-failures must be a count (1, 2, ...) or a fraction between 0 and 1, "
                f"got {self.max_failures}"
            )
        # A name, so that a key pasted here by mistake is refused (and never echoed or logged).
        if self.api_key_env is not None and not re.fullmatch(r"[A-Za-z_]\w*", self.api_key_env):
            raise InputError(
                "--api-key-env takes the name of the variable holding the key "
                "(e.g. OPENROUTER_API_KEY), not the key itself"
            )
        for url in self.base_url or []:
            if not re.match(r"^https?://[^/\s]+", url):
                raise InputError(f"--base-url must be an http(s) URL, got {url!r}")
        if self.resume and not (Path(self.resume) / "config.json").is_file():
            raise InputError(f"--resume {self.resume}: not a run directory (no config.json)")
        if not self.resume:  # a resumed run writes into its own directory instead
            _check_output_dir(self.output_dir)

    def _check_strategy(self) -> None:
        """Refuse search settings that would be silently ignored, or turns within a search."""
        if self.strategy == "independent":
            given = [
                f"--{name.replace('_', '-')}"
                for name in ("first_round", "round_size", "parents")
                if getattr(self, name) != getattr(RunConfig, name)
            ]
            if given:
                raise InputError(
                    f"{', '.join(given)} only apply to --strategy refine-best or evolve "
                    "(the strategy is independent)"
                )
            return
        if self.max_turns != 1:
            raise InputError(
                f"--strategy {self.strategy} refines across attempts (each refinement is a new "
                f"attempt with its parents recorded): --max-turns must be 1, got {self.max_turns}"
            )
        if self.parents != RunConfig.parents and self.strategy != "evolve":
            raise InputError(
                "--parents only applies to --strategy evolve (refine-best refines one program "
                "per request)"
            )

    @property
    def first_round_size(self) -> int:
        """Samples in a search strategy's first round (`first_round`, or its default)."""
        if self.first_round is not None:
            return self.first_round
        return max(1, self.max_attempts // 2)

    def to_dict(self) -> dict[str, Any]:
        """Every setting by name, as written into config.json."""
        return dataclasses.asdict(self)


def _check_output_dir(output_dir: str) -> None:
    """Raise InputError unless run directories can be made under ``output_dir``.

    Its nearest existing ancestor must be a directory this process may write into (the
    missing levels are made at the start of the run).
    """
    path = Path(output_dir or ".")
    existing = path
    try:
        while not existing.exists() and existing != existing.parent:
            existing = existing.parent
    except OSError as error:  # e.g. a name longer than the filesystem allows
        raise InputError(f"--output-dir {output_dir}: {error.strerror}") from None
    if not existing.is_dir():
        what = "is" if existing == path else f"is under {existing}, which is"
        raise InputError(f"--output-dir {output_dir}: {what} a file, not a directory")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise InputError(f"--output-dir {output_dir}: {existing} is not writable")


def _max_exec_workers() -> int:
    return MAX_EXEC_WORKERS_PER_CORE * (os.cpu_count() or 1)
