"""The settings of one evaluation run (`arcnb run`), kept free of heavy imports so that the
CLI can build its flags from them without loading the openai SDK."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from arcnb.errors import InputError
from arcnb.settings import setting

# The model asked when none is given and an endpoint or API key is (else the bundled one).
DEFAULT_MODEL = "gpt-4.1-mini"
# Reasoning-token budget of each effort level (the older tool's low/medium/high); `llm` sends
# these, the CLI offers the keys as choices.
REASONING_BUDGETS: dict[str, int] = {"low": 2000, "medium": 8000, "high": 32000}
REASONING_EFFORTS = tuple(REASONING_BUDGETS)
DEFAULT_LOGS_DIR = "logs"  # where run directories are written, and read back from

_BUDGETS_TEXT = ", ".join(f"{k} {v // 1000}k" for k, v in REASONING_BUDGETS.items())


@dataclass
class RunConfig:
    """Every setting of one evaluation; written unchanged into config.json (never a secret).

    Field names are the CLI flags in snake_case (``--max-attempts`` is ``max_attempts``) and
    the notebook's parameter names; each field's `setting` holds its ``--help`` text.
    """

    dataset: str = setting(
        "arc-agi-1",
        help="arc-agi-1, arc-agi-2, arc-prize-2024, arc-prize-2025, or a folder of task JSON files",
    )
    subset: str = setting(
        "shortest_training_10",
        help="a named subset (see `arcnb subsets`), comma-separated task ids, or a file of ids",
    )
    task_ids: str | None = setting(None, help="run exactly these task ids", metavar="A,B,C")
    limit: int | None = setting(None, help="only the first N tasks", metavar="N")
    model: str | None = setting(
        None,
        help=f"model id (default: {DEFAULT_MODEL}; the bundled local model when neither "
        "--base-url nor an API key is given)",
    )
    base_url: list[str] | None = setting(
        None,
        help="OpenAI-compatible endpoint; repeat to spread requests over several "
        "(least outstanding first)",
        metavar="URL",
    )
    max_attempts: int = setting(8, help="attempts per task", metavar="N")
    max_workers: int = setting(16, help="concurrent API requests; 256+ is fine", metavar="N")
    max_turns: int = setting(
        1, help="turns per attempt; >1 refines with train feedback", metavar="N"
    )
    reasoning_effort: str | None = setting(
        None, help=f"reasoning budget: {_BUDGETS_TEXT} tokens", choices=REASONING_EFFORTS
    )
    max_tokens: int | None = setting(None, help="overrides the reasoning budget", metavar="N")
    temperature: float | None = setting(None, help="sampling temperature, 0-2")
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
    api_key_env: str = setting(
        "OPENAI_API_KEY",
        help="environment variable (or .env entry) holding the API key, never the key itself",
        metavar="NAME",
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
    # On by default, so the flag is --no-progress and its help says what that does.
    progress: bool = setting(True, help="no progress bar or per-task lines")

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
                f"--reasoning-effort must be one of {', '.join(REASONING_EFFORTS)}, "
                f"got {self.reasoning_effort!r}",
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
        """Every setting by name, as written into config.json."""
        return dataclasses.asdict(self)
