"""Demonstration runs with no model at all: a scripted OpenAI-compatible endpoint on 127.0.0.1.

The notebooks need runs to compare, plot and turn into datasets; on a fresh clone there are
none. `demo_runs` makes small ones (arc-agi-1's ``shortest_training_10``) through the real
`arcnb.run_eval` path (HTTP, executor, scoring, voting, logs) against `DemoEndpoint`, whose
two "models" answer each request with one program from a fixed list: geometric tricks and
rules that happen to solve a few of these tasks, plus wrong, broken and code-less answers.
Which program a request gets depends only on the model, the prompt and how many times that
prompt was asked before, so the runs come out the same every time and take seconds.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any

from arcnb.config import DEFAULT_LOGS_DIR, project_dir

__all__ = ["DEMO_MODELS", "DemoEndpoint", "demo_endpoint", "demo_runs", "endpoint_or_demo"]

_FENCE = "```"


def _program(body: str) -> str:
    return f"Here is my program.\n\n{_FENCE}python\ndef transform(grid):\n{body}\n{_FENCE}\n"


# Right on some of shortest_training_10's tasks (named), or wrong, or failing on purpose.
PROGRAMS: dict[str, str] = {
    "rotate_180": _program("    return [row[::-1] for row in grid[::-1]]"),  # 6150a2bd, 3c9b0459
    "transpose": _program("    return [list(col) for col in zip(*grid)]"),  # 74dd1130
    "majority_fill": _program(  # 5582e5ca
        "    cells = [v for row in grid for v in row]\n"
        "    top = max(set(cells), key=cells.count)\n"
        "    return [[top] * len(row) for row in grid]"
    ),
    "count_colour": _program(  # d631b094
        "    cells = [v for row in grid for v in row if v]\n    return [cells]"
    ),
    "uniform_rows": _program(  # 25d8a9c8
        "    return [[5] * len(row) if len(set(row)) == 1 else [0] * len(row) for row in grid]"
    ),
    "mirror_test": _program(  # 44f52bb0
        "    return [[1]] if all(row == row[::-1] for row in grid) else [[7]]"
    ),
    "identity": _program("    return grid"),
    "flip_rows": _program("    return [row[::-1] for row in grid]"),
    "broken": f"{_FENCE}python\ndef transform(grid) return grid\n{_FENCE}\n",
    "no_code": "I am not sure what the rule is.",
}
TRICKS = ["rotate_180", "transpose", "majority_fill", "count_colour", "uniform_rows"]
DEMO_MODELS: dict[str, list[str]] = {
    # knows most of the tricks: solves about half of the tasks within 4 attempts
    "demo-tricks": [*TRICKS, "mirror_test", *TRICKS, "identity", "broken"],
    # mostly guesses: now and then a trick, often wrong or broken
    "demo-guesser": ["rotate_180", "transpose", "identity", "flip_rows", "broken", "no_code"],
}


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # no access log on stderr
        pass

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
        model = str(body.get("model") or "demo-tricks")
        text = "\n".join(str(m.get("content") or "") for m in body.get("messages") or [])
        content = self.server.answer(model, text)
        reply = {
            "id": "demo",
            "object": "chat.completion",
            "created": 0,
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content},
                    "finish_reason": "stop",
                }
            ],
            # about 4 characters a token, so that a priced run has a plausible cost
            "usage": {"prompt_tokens": len(text) // 4, "completion_tokens": len(content) // 4},
        }
        data = json.dumps(reply).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self._asked: dict[str, int] = {}
        self._lock = threading.Lock()

    def answer(self, model: str, text: str) -> str:
        """The n-th request for this model and prompt gets the program its hash picks."""
        pool = DEMO_MODELS.get(model, DEMO_MODELS["demo-tricks"])
        key = hashlib.sha256(f"{model}\0{text}".encode()).hexdigest()
        with self._lock:
            n = self._asked[key] = self._asked.get(key, 0) + 1
        pick = int(hashlib.sha256(f"{key}:{n}".encode()).hexdigest(), 16) % len(pool)
        return PROGRAMS[pool[pick]]


@dataclass
class DemoEndpoint:
    """A scripted OpenAI-compatible chat endpoint on a free port of 127.0.0.1, in a thread.

    Use as a context manager; `base_url` is what `arcnb.run_eval(base_url=...)` takes. It
    answers ``POST /v1/chat/completions`` for the models in `DEMO_MODELS` (any other name
    answers as ``demo-tricks``) and needs no key.
    """

    _server: _Server | None = field(default=None, init=False, repr=False)

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("DemoEndpoint is not started")
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def start(self) -> DemoEndpoint:
        self._server = _Server()
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> DemoEndpoint:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


# (model, repeat runs, price in and out per million tokens or None: cost unknown)
_PLAN: list[tuple[str, int, float | None]] = [("demo-tricks", 2, 0.5), ("demo-guesser", 1, None)]
_SETTINGS = {"dataset": "arc-agi-1", "subset": "shortest_training_10", "max_attempts": 4}


def _reusable(root: Path, model: str, count: int) -> list[Path] | None:
    """The newest ``count`` finished demo runs of ``model`` under ``root``, if there are."""
    from arcnb.rundir import Run, list_runs

    found = []
    for run_dir in reversed(list_runs(root)):
        try:
            run = Run.open(run_dir)
            same = run.model == model and all(
                run.settings.get(k) == v for k, v in _SETTINGS.items()
            )
            if same and run.summary() is not None and run.summary().get("stopped_by") is None:
                found.append(run_dir)
        except Exception:  # a broken or foreign folder is simply not reused
            continue
        if len(found) == count:
            return sorted(found)
    return None


def demo_runs(output_dir: str | os.PathLike[str] = DEFAULT_LOGS_DIR) -> list[Path]:
    """Demonstration runs for the notebooks: made once, then found again and reused.

    Three runs of arc-agi-1's ``shortest_training_10`` (10 tasks x 4 attempts) against
    `DemoEndpoint`: two repeat runs of ``demo-tricks`` (priced at $0.50 / $0.50 per million
    tokens) and one of ``demo-guesser`` (no price: its cost is unknown). Finished runs of
    the same models and settings already under ``output_dir`` are returned instead of
    making new ones. Takes a few seconds.

    Args:
        output_dir: Where the runs go (`arcnb.config.project_dir` resolves a relative one).

    Returns:
        The run directories, oldest first.
    """
    from arcnb.runner import run_eval

    root = project_dir(output_dir)
    out: list[Path] = []
    with DemoEndpoint() as endpoint:
        for model, repeats, price in _PLAN:
            found = _reusable(root, model, repeats)
            if found is None:
                prices = {} if price is None else {"price_in": price, "price_out": price}
                result = run_eval(
                    **_SETTINGS, model=model, base_url=endpoint.base_url, repeat_runs=repeats,
                    output_dir=str(root), progress=False, **prices,
                )  # fmt: skip
                found = [r.run_dir for r in result.runs]
            out.extend(found)
    return out


_SHARED: DemoEndpoint | None = None


def demo_endpoint() -> DemoEndpoint:
    """A `DemoEndpoint` started once per process and left running (a daemon thread), for
    notebooks that need an endpoint for the rest of the session."""
    global _SHARED
    if _SHARED is None:
        _SHARED = DemoEndpoint().start()
    return _SHARED


def endpoint_or_demo(
    model: str | None, base_url: str | list[str] | None
) -> tuple[str | None, str | list[str] | None]:
    """The model and endpoint a notebook runs against: as given, or with neither given,
    ``demo-tricks`` on `demo_endpoint` (no model, no key, seconds for a small run).

    Args:
        model: The ``model`` parameter.
        base_url: The ``base_url`` parameter.

    Returns:
        ``(model, base_url)`` for `arcnb.run_eval`.
    """
    if model is None and base_url is None:
        return "demo-tricks", demo_endpoint().base_url
    return model, base_url
