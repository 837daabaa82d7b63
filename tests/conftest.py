"""Shared fixtures. Each block is self-contained; add yours below."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from scripted_server import ScriptedServer

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
