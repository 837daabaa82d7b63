"""llm.py through the real openai SDK over real HTTP, against scripted servers on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from email.utils import formatdate
from pathlib import Path

import pytest

from arcnb.errors import InputError
from arcnb.llm import (
    ANSWER_ROOM_TOKENS,
    FAILURES,
    LLMClient,
    LLMResponse,
    cost_usd,
    parse_retry_after,
    price_for,
    request_params,
    resolve_api_key,
)

KEY = "fake-key-SECRET-0123456789"
MESSAGES = [{"role": "user", "content": "Solve grid 1 2 3"}]


def client_for(urls: list[str], **kwargs) -> LLMClient:
    options = {
        "api_key": KEY,
        "params": {"model": "test-model"},
        "api_timeout": 5.0,
        "backoff_base": 0.01,
        "backoff_max": 0.5,
    }
    options.update(kwargs)
    return LLMClient("test-model", urls, **options)


def complete(urls: list[str], messages=MESSAGES, **kwargs) -> LLMResponse:
    async def go() -> LLMResponse:
        client = client_for(urls, **kwargs)
        try:
            return await client.complete(messages)
        finally:
            await client.aclose()

    return asyncio.run(go())


# ---- successes ----


@pytest.mark.parametrize("field", ["reasoning", "reasoning_content", "reasoning_details"])
def test_success_captures_reasoning_from_each_field(scripted_server, field):
    resp = {"content": "```python\nx\n```", "reasoning": "think hard", "reasoning_field": field}
    server = scripted_server({"default": resp})
    out = complete([server.base_url])
    assert out.failure is None and out.error is None
    assert out.content == "```python\nx\n```"
    assert out.reasoning == "think hard"
    assert out.finish_reason == "stop" and not out.max_length
    assert out.usage == {"prompt_tokens": 100, "completion_tokens": 50, "total_tokens": 150}
    assert out.tries == 1 and out.endpoint == server.base_url
    assert out.latency_s > 0


def test_length_is_success_with_max_length(scripted_server):
    server = scripted_server(
        {
            "default": {
                "content": "partial",
                "finish_reason": "length",
                "usage": {"reasoning_tokens": 7},
            }
        }
    )
    out = complete([server.base_url])
    assert out.failure is None and out.max_length
    assert out.usage["reasoning_tokens"] == 7
    assert out.to_dict()["max_length"] is True


def test_rules_turns_and_sequence_numbers(scripted_server):
    script = {
        "rules": [
            {"match": "grid 9", "responses": [{"content": "nine #{n}"}], "cycle": False},
            {
                "match": "",
                "responses": [{"turns": {"1": {"content": "t1"}, "2": {"content": "t2"}}}],
            },
        ]
    }
    server = scripted_server(script)
    assert complete([server.base_url], [{"role": "user", "content": "grid 9"}]).content == "nine #1"
    two_turns = [
        {"role": "user", "content": "a"},
        {"role": "assistant", "content": "b"},
        {"role": "user", "content": "c"},
    ]
    assert complete([server.base_url], two_turns).content == "t2"
    assert complete([server.base_url], two_turns[:1]).content == "t1"


# ---- failures and retries ----


def test_retry_after_honoured_then_success(scripted_server):
    server = scripted_server(
        {
            "default": {"content": "ok"},
            "rules": [
                {"match": "", "responses": [{"status": 429, "retry_after": 0.3}, {"content": "ok"}]}
            ],
        }
    )
    out = complete([server.base_url], backoff_max=5.0)
    assert out.failure is None and out.content == "ok"
    assert out.tries == 2
    assert out.retry_after_waits == [0.3]
    # the retry reached the server at least the Retry-After after the 429 (a lower bound only:
    # it holds however busy the machine is)
    first, retry = (r["_t"] for r in server.requests)
    assert retry - first >= 0.3


def test_retry_after_capped_by_backoff_max(scripted_server):
    server = scripted_server(
        {
            "rules": [
                {"match": "", "responses": [{"status": 503, "retry_after": 60}, {"content": "ok"}]}
            ]
        }
    )
    out = complete([server.base_url], backoff_max=0.1)
    assert out.failure is None and out.retry_after_waits == [0.1]


def test_parse_retry_after_forms():
    assert parse_retry_after("2") == 2.0
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None
    now = time.time()
    assert parse_retry_after(formatdate(now + 10, usegmt=True), now=now) == pytest.approx(10, abs=1)


def test_server_errors_exhaust_tries(scripted_server):
    server = scripted_server({"default": {"status": 500}})
    out = complete([server.base_url])
    assert out.failure == "server_error" and out.tries == 3 and len(server.requests) == 3
    assert out.content is None and out.cost_usd is None


@pytest.mark.parametrize(
    ("resp", "failure"),
    [
        ({"malformed": True}, "malformed"),
        ({"empty_choices": True}, "empty"),
        ({"close": True}, "connection"),
        ({"status": 400}, "client_error"),
        ({"status": 401}, "auth"),
        ({"status": 403}, "auth"),
    ],
)
def test_failure_classes(scripted_server, resp, failure):
    server = scripted_server({"default": resp})
    out = complete([server.base_url], max_tries=2)
    assert out.failure == failure and out.failure in FAILURES
    assert out.error
    # client errors (auth among them) are not retried; the others are
    assert out.tries == (1 if failure in ("client_error", "auth") else 2)


def test_hang_beyond_timeout_is_timeout(scripted_server):
    server = scripted_server({"default": {"hang": 30, "content": "late"}})
    out = complete([server.base_url], api_timeout=0.3, max_tries=2)
    # each try gave up on its own: had either waited out the hang, "late" would be the answer
    assert out.failure == "timeout" and out.tries == 2 and out.content is None
    assert len(server.requests) == 2
    assert out.latency_s >= 0.5  # and not before its api_timeout (2 x 0.3 s, less timer slack)


def test_recovers_after_transient_faults(scripted_server):
    server = scripted_server(
        {
            "rules": [
                {
                    "match": "",
                    "responses": [{"close": True}, {"malformed": True}, {"content": "fine"}],
                }
            ]
        }
    )
    out = complete([server.base_url])
    assert out.failure is None and out.content == "fine" and out.tries == 3


# ---- secrets ----


def test_api_key_never_in_errors_or_dict(scripted_server):
    server = scripted_server(
        {"default": {"status": 401, "message": f"Incorrect API key provided: {KEY}"}}
    )
    out = complete([server.base_url])
    assert out.failure == "auth" and out.tries == 1
    assert KEY not in json.dumps(out.to_dict())
    assert "<api-key>" in out.error
    assert server.requests[0]["_authorization"] is True
    assert KEY not in json.dumps(server.requests)


def test_no_key_sends_placeholder(scripted_server):
    server = scripted_server({"default": {"content": "x"}})
    out = complete([server.base_url], api_key=None)
    assert out.failure is None and server.requests[0]["_authorization"] is True


def test_resolve_api_key(tmp_path, monkeypatch):
    env = tmp_path / ".env"
    env.write_text("ARCNB_TEST_KEY=from-dotenv\n")
    monkeypatch.delenv("ARCNB_TEST_KEY", raising=False)
    assert resolve_api_key("ARCNB_TEST_KEY", str(env)) == "from-dotenv"
    assert "ARCNB_TEST_KEY" not in __import__("os").environ
    monkeypatch.setenv("ARCNB_TEST_KEY", "from-env")
    assert resolve_api_key("ARCNB_TEST_KEY", str(env)) == "from-env"
    monkeypatch.delenv("ARCNB_TEST_KEY")
    assert resolve_api_key("ARCNB_TEST_KEY", str(tmp_path / "missing.env")) is None


# ---- cost ----


def test_cost_known_and_unknown(scripted_server):
    server = scripted_server(
        {
            "default": {
                "content": "x",
                "usage": {"prompt_tokens": 1_000_000, "completion_tokens": 500_000},
            }
        }
    )
    known = complete([server.base_url], prices=price_for("openai/gpt-4.1-mini"))
    assert known.cost_usd == pytest.approx(0.40 + 0.80)
    unknown = complete([server.base_url], prices=price_for("someone/unknown-model"))
    assert unknown.cost_usd is None


def test_price_lookup_and_overrides():
    assert price_for("gpt-4.1") == (2.0, 8.0)
    assert price_for("openai/gpt-4.1") == (2.0, 8.0)
    assert price_for("gemini-2.5-flash") == price_for("google/gemini-2.5-flash")
    assert price_for("nobody/nothing") is None
    assert price_for("nobody/nothing", 1.0) is None  # half a price is no price
    assert price_for("nobody/nothing", 1.0, 2.0) == (1.0, 2.0)
    assert price_for("gpt-4.1", price_out=9.0) == (2.0, 9.0)
    assert cost_usd(None, (1.0, 1.0)) is None
    assert cost_usd({"prompt_tokens": 10, "completion_tokens": 10}, None) is None


# ---- request parameters ----


def test_params_host_port_gets_min_p():
    p = request_params("Qwen/Qwen3-4B", "http://157.66.254.42:15712/v1")
    assert p == {"model": "Qwen/Qwen3-4B", "extra_body": {"min_p": 0.05}}
    assert request_params("m", "http://127.0.0.1:8000/v1")["extra_body"] == {"min_p": 0.05}


def test_params_hosted_gets_top_k_top_p():
    p = request_params("google/gemini-2.5-flash", "https://openrouter.ai/api/v1", temperature=0.7)
    assert p == {
        "model": "google/gemini-2.5-flash",
        "top_p": 0.9,
        "temperature": 0.7,
        "extra_body": {"top_k": 50},
    }
    # OpenAI's API rejects top_k
    assert request_params("gpt-4.1-mini", None) == {"model": "gpt-4.1-mini", "top_p": 0.9}


def test_params_openai_reasoning():
    p = request_params("o4-mini", None, reasoning_effort="high", max_tokens=5000)
    assert p == {"model": "o4-mini", "reasoning_effort": "high", "max_completion_tokens": 5000}
    p = request_params("gpt-5-mini", "https://api.openai.com/v1", reasoning_effort="low")
    assert p == {"model": "gpt-5-mini", "reasoning_effort": "low"}


def test_params_openrouter_reasoning_budget_and_override():
    url = "https://openrouter.ai/api/v1"
    p = request_params("google/gemini-2.5-flash", url, reasoning_effort="medium")
    assert p["extra_body"]["reasoning"] == {"max_tokens": 8000}
    assert p["max_tokens"] == 8000 + ANSWER_ROOM_TOKENS
    p = request_params("google/gemini-2.5-flash", url, reasoning_effort="medium", max_tokens=3000)
    assert p["max_tokens"] == 3000 and p["extra_body"]["reasoning"] == {"max_tokens": 8000}
    assert request_params("gpt-4.1", None, max_tokens=100)["max_tokens"] == 100


def test_params_qwen_no_think_and_bad_input():
    p = request_params("Qwen/Qwen3-4B", "http://localhost:8000/v1", qwen_no_think=True)
    assert p["extra_body"]["chat_template_kwargs"] == {"enable_thinking": False}
    with pytest.raises(InputError):
        request_params("m", None, reasoning_effort="extreme")
    with pytest.raises(InputError):
        request_params("m", None, max_tokens=0)


def test_params_are_sent_verbatim(scripted_server):
    server = scripted_server({"default": {"content": "x"}})
    params = request_params("test-model", server.base_url, temperature=0.2, qwen_no_think=True)
    out = complete([server.base_url], params=params)
    assert out.failure is None
    body = server.requests[0]
    assert body["min_p"] == 0.05 and body["temperature"] == 0.2
    assert body["chat_template_kwargs"] == {"enable_thinking": False}
    assert json.loads(json.dumps(params)) == params  # loggable as is


# ---- several endpoints ----


def test_concurrent_requests_spread_evenly(scripted_server):
    a = scripted_server({"default": {"content": "a"}, "delay": 0.2})
    b = scripted_server({"default": {"content": "b"}, "delay": 0.2})

    async def go():
        client = client_for([a.base_url, b.base_url])
        try:
            outs = await asyncio.gather(*(client.complete(MESSAGES) for _ in range(20)))
            return outs, client.stats, client.outstanding
        finally:
            await client.aclose()

    outs, stats, outstanding = asyncio.run(go())
    assert all(o.failure is None for o in outs)
    assert stats == {a.base_url: 10, b.base_url: 10}
    assert len(a.requests) == len(b.requests) == 10
    assert outstanding == {a.base_url: 0, b.base_url: 0}


def test_slow_endpoint_gets_fewer(scripted_server):
    # 1 s against 0.02 s: slow gets a 7th request only if 14 fast ones took over 3 s (2 in
    # flight), which no busy machine makes of a request to 127.0.0.1
    slow = scripted_server({"default": {"content": "slow"}, "delay": 1.0})
    fast = scripted_server({"default": {"content": "fast"}, "delay": 0.02})

    async def go():
        client = client_for([slow.base_url, fast.base_url])
        limit = asyncio.Semaphore(4)  # the runner's concurrency cap

        async def one():
            async with limit:
                return await client.complete(MESSAGES)

        try:
            outs = await asyncio.gather(*(one() for _ in range(20)))
            return outs, client.stats
        finally:
            await client.aclose()

    outs, stats = asyncio.run(go())
    assert all(o.failure is None for o in outs)
    assert stats[slow.base_url] + stats[fast.base_url] == 20
    # both start with 2 in flight; afterwards the fast one is nearly always the less busy
    assert stats[slow.base_url] <= 6 and stats[fast.base_url] >= 14


# ---- the server as a subprocess ----


def test_server_subprocess(tmp_path):
    script = tmp_path / "script.json"
    script.write_text(json.dumps({"default": {"content": "from subprocess {n}"}}))
    server_py = Path(__file__).with_name("scripted_server.py")
    proc = subprocess.Popen(
        [sys.executable, str(server_py), "--script", str(script)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        first = proc.stdout.readline().split()
        assert first[0] == "PORT"
        out = complete([f"http://127.0.0.1:{first[1]}/v1"])
        assert out.content == "from subprocess 1"
    finally:
        proc.terminate()
        proc.wait(timeout=5)
