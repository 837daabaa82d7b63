"""arcnb: program-synthesis evaluation of language models on ARC-AGI, Jupyter first."""

from arcnb.compare import load_runs, pass_at_k_curves, recompute_summary
from arcnb.errors import ArcnbError, ExecutorError, InputError
from arcnb.executor import ExecResult, Executor
from arcnb.extract import extract_code
from arcnb.llm import LLMClient, LLMResponse
from arcnb.logs import read_attempts, read_summary
from arcnb.metrics import aggregate, pass_at_k, summarize
from arcnb.plotting import plot_attempt, plot_grid, plot_task, render_run
from arcnb.prompts import build_messages, build_refinement_message, encode_grid
from arcnb.runner import EvalResult, RunConfig, RunResult, run_eval, run_eval_async
from arcnb.scoring import ExampleScore, ProgramScore, score_example, score_examples
from arcnb.tasks import DATASETS, Example, Task, TaskSet, list_subsets, load_task, load_tasks
from arcnb.transduction import detect_transduction
from arcnb.voting import METHODS, TaskVote, vote_task
from arcnb.widgets import explore, render_html, save_html

__version__ = "0.1.0"

__all__ = [
    "DATASETS",
    "METHODS",
    "ArcnbError",
    "Example",
    "ExampleScore",
    "ExecResult",
    "Executor",
    "EvalResult",
    "ExecutorError",
    "InputError",
    "LLMClient",
    "LLMResponse",
    "ProgramScore",
    "RunConfig",
    "RunResult",
    "Task",
    "TaskSet",
    "TaskVote",
    "aggregate",
    "build_messages",
    "build_refinement_message",
    "detect_transduction",
    "encode_grid",
    "explore",
    "extract_code",
    "list_subsets",
    "load_task",
    "load_runs",
    "load_tasks",
    "pass_at_k",
    "pass_at_k_curves",
    "plot_attempt",
    "plot_grid",
    "plot_task",
    "read_attempts",
    "read_summary",
    "recompute_summary",
    "render_html",
    "render_run",
    "run_eval",
    "run_eval_async",
    "save_html",
    "score_example",
    "score_examples",
    "summarize",
    "vote_task",
]
