"""Tests for arcnb.localmodel: the bundled SmolLM2 model served by llama.cpp on 127.0.0.1."""

from __future__ import annotations

import socket
from pathlib import Path

import openai
import pytest

# The bundled model is the `local` extra, which the README's test command installs; without it
# tests/test_local_extra.py covers what arcnb does instead.
pytest.importorskip("llama_cpp", reason="needs the local extra: uv sync --extra local")

from arcnb.errors import ArcnbError
from arcnb.localmodel import (
    _SERVER_SETTING_NAMES,
    DEMO_NOTICE,
    MODEL_ALIAS,
    LocalModelError,
    LocalModelServer,
    _server_env,
    find_model_file,
)


def _port_is_free(port: int) -> bool:
    """Whether nothing listens on 127.0.0.1:port (connections left in TIME_WAIT are allowed)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # SO_REUSEADDR lets the bind pass over closed connections in TIME_WAIT but still
        # fails while a server listens on the port.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def test_find_model_file_returns_existing_gguf() -> None:
    path = find_model_file()
    assert path.is_file()
    assert path.suffix == ".gguf"
    assert path.stat().st_size > 50_000_000  # the Q4_1 file is about 98 MB


def test_error_is_an_arcnb_error() -> None:
    assert issubclass(LocalModelError, ArcnbError)


def test_missing_model_path_fails_fast(tmp_path: Path) -> None:
    server = LocalModelServer(tmp_path / "absent.gguf")
    with pytest.raises(LocalModelError, match="not found"):
        server.start()
    assert server.process is None  # checked before any server process was spawned


def test_invalid_model_file_fails_with_log_tail(tmp_path: Path) -> None:
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"this is not a GGUF file\n" * 100)
    # A startup timeout no busy machine reaches: the error must come from the process exiting
    # as soon as loading fails ("exited with code"), not from the wait running out ("did not
    # answer ... within").
    server = LocalModelServer(bad, startup_timeout_s=300, log_path=tmp_path / "server.log")
    with pytest.raises(LocalModelError, match="exited with code") as info:
        server.start()
    assert "server.log" in str(info.value)
    assert server.process is not None and server.process.poll() is not None
    server.stop()  # still safe after a failed start


def test_env_is_scrubbed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("HF_TOKEN", "hf-test")
    monkeypatch.setenv("MY_SECRET", "x")
    monkeypatch.setenv("CHAT_FORMAT", "llama-2")  # would override the GGUF chat template
    monkeypatch.setenv("ARCNB_KEEP_ME", "1")
    env = _server_env()
    for name in ("OPENAI_API_KEY", "HF_TOKEN", "MY_SECRET", "CHAT_FORMAT"):
        assert name not in env
    assert env["ARCNB_KEEP_ME"] == "1"


def test_setting_names_match_installed_llama_cpp_server() -> None:
    from llama_cpp.server.settings import Settings

    assert set(Settings.model_fields) | {"config_file"} == _SERVER_SETTING_NAMES


@pytest.mark.slow
def test_server_answers_openai_chat_and_stops_cleanly() -> None:
    with LocalModelServer() as server:
        assert server.running
        assert server.model == MODEL_ALIAS
        assert server.base_url == f"http://127.0.0.1:{server.port}/v1"
        assert server.notice == DEMO_NOTICE.format(port=server.port)
        assert not _port_is_free(server.port)

        client = openai.OpenAI(base_url=server.base_url, api_key="not-needed", max_retries=0)
        assert MODEL_ALIAS in [m.id for m in client.models.list().data]
        reply = client.chat.completions.create(
            model=server.model,
            messages=[{"role": "user", "content": "What is 2 + 2? Answer with one number."}],
            max_tokens=16,
            temperature=0.0,
        )
        text = reply.choices[0].message.content
        assert isinstance(text, str) and text.strip()
        assert reply.usage is not None
        assert reply.usage.prompt_tokens > 0
        assert 0 < reply.usage.completion_tokens <= 16
        client.close()
        process, port, log_path = server.process, server.port, server.log_path

    assert process is not None and process.poll() is not None
    assert not server.running
    assert _port_is_free(port)
    assert log_path is not None and not log_path.exists()  # temporary log removed
    server.stop()  # second stop is a no-op
