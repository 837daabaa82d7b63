"""Where the builder's programs run: the local `Executor`, or chunks on a Ray cluster.

Both expose ``submit(code, grids) -> handle``, ``result(handle) -> list[ExecResult]``,
``window`` (programs to keep in flight) and ``close()``.
"""

from __future__ import annotations

import os
from typing import Any

from arcnb.errors import InputError
from arcnb.executor import ExecResult, Executor

RAY_CHUNK = 256  # programs per Ray task: amortises the task's own executor start (~0.5 s)


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
