"""The settings of one evaluation run (`arcnb run`), kept free of heavy imports so that the
CLI can build its flags from them without loading the openai SDK."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from arcnb.errors import InputError

REASONING_EFFORTS = ("low", "medium", "high")


@dataclass
class RunConfig:
    """Every setting of one evaluation; written unchanged into config.json (never a secret).

    Field names are the CLI flags in snake_case and the notebook's parameter names.
    """

    dataset: str = "arc-agi-1"  # arc-agi-1, arc-agi-2, arc-prize-2024/2025, or a task folder
    subset: str = "shortest_training_10"  # see `arcnb subsets`; also "id1,id2" or an id file
    task_ids: str | None = None  # comma-separated ids; overrides subset
    limit: int | None = None  # run only the first N tasks of the subset
    model: str | None = None  # default: gpt-4.1-mini, or the bundled model when run locally
    base_url: list[str] | None = None  # one or more OpenAI-compatible endpoints
    max_attempts: int = 8  # independent attempts per task
    max_workers: int = 16  # concurrent API requests
    max_turns: int = 1  # turns per attempt; > 1 adds refinement turns with train feedback
    reasoning_effort: str | None = None  # low (2k tokens), medium (8k), high (32k)
    max_tokens: int | None = None  # overrides the reasoning-effort budget
    temperature: float | None = None
    qwen_no_think: bool = False  # chat_template_kwargs.enable_thinking = false
    api_timeout: float = 600.0  # seconds per request
    max_cost: float | None = None  # USD: stop issuing requests before passing it
    repeat_runs: int = 1  # 1-10 independent runs, then an aggregate with 95% intervals
    exec_timeout: float = 0.5  # seconds per grid
    output_dir: str = "logs"
    resume: str | None = None  # a run directory to continue
    api_key_env: str = "OPENAI_API_KEY"  # name of the variable holding the key, never the key
    price_in: float | None = None  # USD per million input tokens (overrides the price table)
    price_out: float | None = None  # USD per million output tokens
    exec_workers: int | None = None  # executor processes (default: one per core)
    progress: bool = True  # tqdm bar and one line per finished task

    def validate(self) -> None:
        """Raise InputError naming the bad setting and what is allowed."""
        checks = [
            (self.max_attempts >= 1, f"--max-attempts must be >= 1, got {self.max_attempts}"),
            (self.max_workers >= 1, f"--max-workers must be >= 1, got {self.max_workers}"),
            (self.max_turns >= 1, f"--max-turns must be >= 1, got {self.max_turns}"),
            (
                1 <= self.repeat_runs <= 10,
                f"--repeat-runs must be between 1 and 10, got {self.repeat_runs}",
            ),
            (self.exec_timeout > 0, f"--exec-timeout must be > 0 seconds, got {self.exec_timeout}"),
            (self.api_timeout > 0, f"--api-timeout must be > 0 seconds, got {self.api_timeout}"),
            (self.limit is None or self.limit >= 1, f"--limit must be >= 1, got {self.limit}"),
            (
                self.max_tokens is None or self.max_tokens >= 1,
                f"--max-tokens must be >= 1, got {self.max_tokens}",
            ),
            (
                self.max_cost is None or self.max_cost > 0,
                f"--max-cost must be > 0 USD, got {self.max_cost}",
            ),
            (
                self.reasoning_effort in (None, *REASONING_EFFORTS),
                f"--reasoning-effort must be one of low, medium, high, got {self.reasoning_effort!r}",
            ),
            (
                self.temperature is None or 0 <= self.temperature <= 2,
                f"--temperature must be between 0 and 2, got {self.temperature}",
            ),
        ]
        for ok, message in checks:
            if not ok:
                raise InputError(message)
        for url in self.base_url or []:
            if not re.match(r"^https?://[^/\s]+", url):
                raise InputError(f"--base-url must be an http(s) URL, got {url!r}")
        if self.resume and not (Path(self.resume) / "config.json").is_file():
            raise InputError(f"--resume {self.resume}: not a run directory (no config.json)")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)
