"""Shared fixtures. Each block is self-contained; add yours below."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from scripted_server import ScriptedServer

from arcnb import run_eval
from arcnb.runner import EvalResult

# ---- llm: scripted OpenAI-compatible servers on 127.0.0.1 ----


@pytest.fixture
def scripted_server() -> Iterator[Callable[[dict[str, Any]], ScriptedServer]]:
    """A factory: `scripted_server(script)` starts a server, stopped after the test."""
    servers: list[ScriptedServer] = []

    def start(script: dict[str, Any]) -> ScriptedServer:
        server = ScriptedServer(script).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


# ---- runner: a finished run_eval against a scripted server ----

RUN_KEY = "fake-key-scripted-run-0123456789"  # OPENAI_API_KEY during `scripted_run` runs


@dataclass
class ScriptedRun:
    """A finished `run_eval` and what its scripted server saw."""

    result: EvalResult
    requests: list[dict[str, Any]]  # request bodies in arrival order (see scripted_server.py)

    @property
    def run_dir(self) -> Path:
        return self.result.run_dir


@pytest.fixture(scope="session")
def scripted_run() -> Callable[..., ScriptedRun]:
    """A factory: `scripted_run(root, script, **settings)` runs `run_eval` on the tasks in
    `root/tasks` against a server playing `script`, started for that run alone.

    The run writes under `root/logs`, with `root` as the working directory (no stray .env from
    the repository) and OPENAI_API_KEY set to `api_key=` (default `RUN_KEY`; the server is not
    OpenAI's API, so that key is never sent to it: see test_honest_runs.py). `settings` are
    RunConfig fields and override these defaults: subset all_evaluation, model "scripted", no
    progress output, and exec_timeout 5 s, so that no program (none in these runs loops) times
    out however busy the machine is. Module-scoped fixtures share one run among their tests: a
    test that changes a run directory works on a `shutil.copytree` of it in `tmp_path`.
    """

    def make(
        root: Path, script: dict[str, Any], *, api_key: str = RUN_KEY, **settings: Any
    ) -> ScriptedRun:
        options: dict[str, Any] = {
            "dataset": str(root / "tasks"),
            "subset": "all_evaluation",
            "model": "scripted",
            "output_dir": str(root / "logs"),
            "progress": False,
            "exec_timeout": 5.0,
            **settings,
        }
        with ScriptedServer(script) as server, pytest.MonkeyPatch.context() as mp:
            mp.setenv("OPENAI_API_KEY", api_key)
            mp.chdir(root)
            result = run_eval(base_url=server.base_url, **options)
        return ScriptedRun(result, server.requests)

    return make


@pytest.fixture(scope="session")
def search_run(tmp_path_factory, scripted_run) -> ScriptedRun:
    """One refine-best run on one task against `arcfixtures.SEARCH_SCRIPT` (a lineage three
    levels deep), shared by the tests that read it (none changes it)."""
    from arcfixtures import SEARCH_SCRIPT, make_tasks

    root = tmp_path_factory.mktemp("search")
    make_tasks(root / "tasks", ["t"])
    return scripted_run(
        root, SEARCH_SCRIPT, strategy="refine-best", max_attempts=10, first_round=3, round_size=2
    )
