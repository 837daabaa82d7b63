"""arcnb: program-synthesis evaluation of language models on ARC-AGI, Jupyter first.

The public API is re-exported here and imported lazily: `import arcnb` stays fast, and a
notebook that only plots does not pay for the openai SDK (and the reverse).
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# public name -> module of arcnb that defines it
_EXPORTS: dict[str, str] = {
    "load_runs": "compare",
    "pass_at_k_curves": "compare",
    "recompute_summary": "compare",
    "DatasetResult": "dataset",
    "build_dataset": "dataset",
    "clean_code": "dataset",
    "simple_dataset": "dataset",
    "to_chat": "dataset",
    "validate_dataset": "dataset",
    "ArcnbError": "errors",
    "AuthError": "errors",
    "ExecutorError": "errors",
    "InputError": "errors",
    "RunFailedError": "errors",
    "ProgramEvaluation": "evaluate",
    "evaluate_program": "evaluate",
    "evaluate_program_async": "evaluate",
    "ExecResult": "executor",
    "Executor": "executor",
    "extract_code": "extract",
    "LLMClient": "llm",
    "LLMResponse": "llm",
    "read_attempts": "logs",
    "read_summary": "logs",
    "aggregate": "metrics",
    "pass_at_k": "metrics",
    "summarize": "metrics",
    "plot_attempt": "plotting",
    "plot_grid": "plotting",
    "plot_task": "plotting",
    "render_run": "plotting",
    "build_messages": "prompts",
    "build_refinement_message": "prompts",
    "encode_grid": "prompts",
    "EvalResult": "runner",
    "RunConfig": "config",
    "RunResult": "runner",
    "run_eval": "runner",
    "run_eval_async": "runner",
    "Grid": "grid",
    "ExampleScore": "scoring",
    "ProgramScore": "scoring",
    "score_example": "scoring",
    "score_examples": "scoring",
    "DATASETS": "tasks",
    "Example": "tasks",
    "Task": "tasks",
    "TaskSet": "tasks",
    "list_subsets": "tasks",
    "load_task": "tasks",
    "load_tasks": "tasks",
    "detect_transduction": "transduction",
    "METHODS": "voting",
    "TaskVote": "voting",
    "vote_task": "voting",
    "save_html": "report",
    "build_submission": "submission",
    "load_submission": "submission",
    "score_submission": "submission",
    "write_submission": "submission",
    "explore": "widgets",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'arcnb' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"arcnb.{module}"), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
