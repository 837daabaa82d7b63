"""Async calls to any OpenAI-compatible chat-completions endpoint: params, retries, usage, cost.

One `LLMClient` per model holds one `AsyncOpenAI` client per endpoint (the SDK's own retries
off: we retry here, so every try is counted and classified) and sends each try to the endpoint
with the fewest requests in flight. `complete()` never raises for API faults: it returns an
`LLMResponse` whose `failure` names what went wrong after the last try.

`request_params()` builds the keyword arguments sent with every request; the runner logs that
dict verbatim in each attempt record, so it holds every sampling parameter and no secret.

`api_key_for()` decides which key, if any, goes to which endpoints: OPENAI_API_KEY only ever to
OpenAI's API, another endpoint's key only from a variable the user names, and no key over
plain http to a host other than this machine unless the user allows it.
"""

from __future__ import annotations

import asyncio
import email.utils
import ipaddress
import json
import logging
import math
import os
import random
import time
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlparse

import openai
from dotenv import dotenv_values, find_dotenv
from openai import AsyncOpenAI, DefaultAioHttpClient

from arcnb.config import REASONING_BUDGETS
from arcnb.errors import InputError
from arcnb.extract import join_reasoning, split_think

logger = logging.getLogger("arcnb")

OPENAI_BASE_URL = "https://api.openai.com/v1"
OPENAI_KEY_ENV = "OPENAI_API_KEY"  # read for OpenAI's own API only
# Tokens left for the visible answer on top of a reasoning budget when the user sets no
# max_tokens: a program with a short explanation is 500-3000 tokens, so 8000 keeps the answer
# from being cut off by a model that spends its whole reasoning budget.
ANSWER_ROOM_TOKENS = 8000
FAILURES: tuple[str, ...] = (
    "rate_limit",
    "server_error",
    "connection",
    "timeout",
    "malformed",
    "empty",
    "auth",
    "client_error",
)
RETRIED: frozenset[str] = frozenset(
    {"rate_limit", "server_error", "connection", "timeout", "malformed", "empty"}
)
_RETRIED_4XX = (408, 409)  # request timeout, conflict: transient although 4xx
_AUTH_STATUS = (401, 403)  # the key is missing, wrong or not allowed: "auth", never retried
# Sent when no key is: the SDK insists on some string; endpoints that need none ignore it.
NO_KEY_PLACEHOLDER = "none"

# USD per million tokens (input, output): published list prices as of 2025-08 (OpenAI API
# pricing page, Google AI / OpenRouter, Anthropic). Models whose price we are not sure of are
# left out on purpose: an unknown price gives cost None, never a wrong number.
PRICES: dict[str, tuple[float, float]] = {
    "gpt-4.1": (2.00, 8.00),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1-nano": (0.10, 0.40),
    "gpt-4o": (2.50, 10.00),
    "gpt-4o-mini": (0.15, 0.60),
    "o1": (15.00, 60.00),
    "o3": (2.00, 8.00),  # after the June 2025 price cut
    "o3-pro": (20.00, 80.00),
    "o3-mini": (1.10, 4.40),
    "o4-mini": (1.10, 4.40),
    "gpt-5": (1.25, 10.00),
    "gpt-5-mini": (0.25, 2.00),
    "gpt-5-nano": (0.05, 0.40),
    "google/gemini-2.5-flash": (0.30, 2.50),
    "google/gemini-2.5-pro": (1.25, 10.00),  # prompts up to 200k tokens
    "anthropic/claude-sonnet-4": (3.00, 15.00),
    "anthropic/claude-opus-4": (15.00, 75.00),
}


def _strip_provider(model: str) -> str:
    return model.split("/", 1)[1] if "/" in model else model


def price_for(
    model: str, price_in: float | None = None, price_out: float | None = None
) -> tuple[float, float] | None:
    """USD per million (input, output) tokens for a model, or None when unknown.

    Lookup: explicit overrides, then the exact id, then the id without a "provider/" prefix
    (so "openai/gpt-4.1" finds "gpt-4.1" and "gemini-2.5-flash" finds "google/gemini-2.5-flash").

    Args:
        model: Model id as sent to the endpoint.
        price_in: Override for the input price (USD per million tokens).
        price_out: Override for the output price (USD per million tokens).

    Returns:
        (input, output) prices, or None when either is unknown (never a guessed 0).
    """
    known = PRICES.get(model)
    if known is None:
        bare = _strip_provider(model)
        known = PRICES.get(bare) or next(
            (p for key, p in PRICES.items() if _strip_provider(key) == bare), None
        )
    p_in = price_in if price_in is not None else (known[0] if known else None)
    p_out = price_out if price_out is not None else (known[1] if known else None)
    if p_in is None or p_out is None:
        return None
    return (float(p_in), float(p_out))


def cost_usd(usage: dict[str, Any] | None, prices: tuple[float, float] | None) -> float | None:
    """Cost of one response in USD from its token usage.

    Reasoning tokens are part of `completion_tokens` (OpenAI and OpenRouter both count them
    there), so they are billed at the output price.

    Args:
        usage: Dict with prompt_tokens and completion_tokens.
        prices: USD per million (input, output) tokens, from `price_for`.

    Returns:
        The cost, or None when prices or usage are unknown.
    """
    if prices is None or not usage:
        return None
    prompt, completion = usage.get("prompt_tokens"), usage.get("completion_tokens")
    if prompt is None or completion is None:
        return None
    return (prompt * prices[0] + completion * prices[1]) / 1e6


def _is_openai(base_url: str | None) -> bool:
    return not base_url or urlparse(base_url).hostname == "api.openai.com"


def _is_openai_reasoning(model: str) -> bool:
    return model.startswith(("o1", "o3", "o4", "gpt-5"))


def request_params(
    model: str,
    base_url: str | None,
    *,
    reasoning_effort: str | None = None,
    max_tokens: int | None = None,
    temperature: float | None = None,
    qwen_no_think: bool = False,
) -> dict[str, Any]:
    """Keyword arguments for `chat.completions.create`, all but `messages`.

    Defaults follow the older tool so results stay comparable:

    - host:port endpoints (an explicit port in the URL: vLLM, SGLang, llama.cpp) get
      `min_p=0.05`; other endpoints get `top_p=0.9` and `top_k=50`.
    - OpenAI's own API rejects `top_k`, and its reasoning models (o1/o3/o4/gpt-5) reject `top_p`
      too, so those are left out there.
    - Reasoning effort: on OpenAI's API it is sent as `reasoning_effort`; elsewhere as
      OpenRouter's `reasoning={"max_tokens": budget}` with `max_tokens = budget +
      ANSWER_ROOM_TOKENS`, so the answer is not cut off by the reasoning.
    - An explicit `max_tokens` wins (sent as `max_completion_tokens` to OpenAI reasoning
      models, which refuse `max_tokens`).

    Args:
        model: Model id.
        base_url: Endpoint, e.g. "https://openrouter.ai/api/v1"; None for OpenAI.
        reasoning_effort: "low", "medium" or "high" (2k/8k/32k reasoning tokens), or None.
        max_tokens: Cap on generated tokens (reasoning included), or None.
        temperature: Sampling temperature; sent only when given.
        qwen_no_think: Disable Qwen3 thinking via `chat_template_kwargs`.

    Returns:
        The keyword arguments; JSON-serialisable and free of secrets.

    Raises:
        InputError: Unknown reasoning effort or a non-positive max_tokens.
    """
    if reasoning_effort is not None and reasoning_effort not in REASONING_BUDGETS:
        raise InputError(
            f"reasoning effort must be one of {', '.join(REASONING_BUDGETS)}, "
            f"not {reasoning_effort!r}"
        )
    if max_tokens is not None and max_tokens <= 0:
        raise InputError(f"max_tokens must be positive, not {max_tokens}")
    openai_api = _is_openai(base_url)
    openai_reasoning = openai_api and _is_openai_reasoning(model)
    params: dict[str, Any] = {"model": model}
    extra: dict[str, Any] = {}
    if base_url and urlparse(base_url).port is not None:
        extra["min_p"] = 0.05
    else:
        if not openai_reasoning:
            params["top_p"] = 0.9
        if not openai_api:
            extra["top_k"] = 50
    if temperature is not None:
        params["temperature"] = temperature
    if reasoning_effort is not None:
        if openai_api:
            params["reasoning_effort"] = reasoning_effort
        else:
            budget = REASONING_BUDGETS[reasoning_effort]
            extra["reasoning"] = {"max_tokens": budget}
            params["max_tokens"] = budget + ANSWER_ROOM_TOKENS
    if max_tokens is not None:
        params.pop("max_tokens", None)
        params["max_completion_tokens" if openai_reasoning else "max_tokens"] = max_tokens
    if qwen_no_think:
        extra["chat_template_kwargs"] = {"enable_thinking": False}
    if extra:
        params["extra_body"] = extra
    return params


@dataclass
class LLMResponse:
    """The outcome of one `LLMClient.complete` call (all its tries).

    Attributes:
        content: The answer text, without a leading ``<think>...</think>`` block ("" when
            the block never closed).
        reasoning: Reasoning text from whichever field the endpoint used (`reasoning`,
            `reasoning_content`, or the texts of `reasoning_details` joined), followed by
            the text of a ``<think>`` block in the content (see `arcnb.extract.split_think`).
        finish_reason: "stop", "length", ...
        usage: prompt_tokens, completion_tokens, total_tokens (+ reasoning_tokens, and the
            provider's own `cost` in USD when it reports one) of the final try.
        cost_usd: From `prices`, else the provider-reported cost; None when unknown.
        failure: None on success, else one of FAILURES (the last try's).
        error: Short message for the failure; never contains the API key.
        tries: Requests sent (1..max_tries).
        endpoint: Base URL of the final try.
        latency_s: Wall-clock seconds of the whole call, retry and rate-limit waits included.
        retry_after_waits: Seconds waited because a response carried Retry-After.
    """

    content: str | None
    reasoning: str | None
    finish_reason: str | None
    usage: dict[str, Any] | None
    cost_usd: float | None
    failure: str | None
    error: str | None
    tries: int
    endpoint: str
    latency_s: float
    retry_after_waits: list[float] = field(default_factory=list)

    @property
    def max_length(self) -> bool:
        """True when generation stopped at the token limit."""
        return self.finish_reason == "length"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict of all fields plus `max_length`."""
        return {**asdict(self), "max_length": self.max_length}


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta seconds or an HTTP date), or None."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def _get(value: Any, name: str) -> Any:
    """``value[name]`` of a JSON object (None when absent or not an object)."""
    return value.get(name) if isinstance(value, dict) else None


def _reasoning_text(message: dict[str, Any]) -> str | None:
    for name in ("reasoning", "reasoning_content"):
        value = message.get(name)
        if isinstance(value, str) and value:
            return value
    details = message.get("reasoning_details")
    if isinstance(details, list):
        texts = []
        for item in details:
            if isinstance(item, dict):
                text = item.get("text") or item.get("summary")
                if isinstance(text, str) and text:
                    texts.append(text)
        if texts:
            return "\n".join(texts)
    return None


def _message_texts(message: dict[str, Any]) -> tuple[str | None, str | None]:
    """(content, reasoning) of a message; a ``<think>`` block in the content is reasoning.

    The reasoning fields come first, then the think block's text (the order they were
    generated in); the content keeps only the answer after the block.
    """
    content = message.get("content")
    answer, think = split_think(content if isinstance(content, str) else None)
    return answer, join_reasoning(_reasoning_text(message), think)


def _usage_dict(usage: Any) -> dict[str, Any] | None:
    if not isinstance(usage, dict):
        return None
    out: dict[str, Any] = {}
    for name in ("prompt_tokens", "completion_tokens", "total_tokens"):
        value = usage.get(name)
        if type(value) is int:
            out[name] = value
    reasoning = _get(usage.get("completion_tokens_details"), "reasoning_tokens")
    if type(reasoning) is int:
        out["reasoning_tokens"] = reasoning
    cost = usage.get("cost")  # OpenRouter reports the charge in USD
    if isinstance(cost, int | float) and not isinstance(cost, bool):
        out["cost"] = float(cost)
    return out or None


class _Failure(Exception):
    """One try went wrong: its class, message and the Retry-After it carried (seconds)."""

    def __init__(self, kind: str, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.kind, self.message, self.retry_after = kind, message, retry_after


def _disconnected(exc: BaseException) -> bool:
    """Whether a 'timeout' was really a dropped connection: the aiohttp transport reports a
    server that closed the connection as a connect timeout; its cause chain tells the truth."""
    import aiohttp

    seen = 0
    cause = exc.__cause__ or exc.__context__
    while cause is not None and seen < 8:
        if isinstance(cause, aiohttp.ClientConnectionError) and not isinstance(
            cause, aiohttp.ServerTimeoutError
        ):
            return True
        cause, seen = cause.__cause__ or cause.__context__, seen + 1
    return False


def _classify(exc: Exception) -> _Failure:
    """Map an exception from the SDK onto one of FAILURES."""
    message = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, openai.APITimeoutError) and not _disconnected(exc):
        return _Failure("timeout", message)
    if isinstance(exc, openai.APIConnectionError):
        cause = exc.__cause__
        return _Failure(
            "connection", f"{message} ({type(cause).__name__}: {cause})" if cause else message
        )
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        retry_after = parse_retry_after(exc.response.headers.get("retry-after"))
        if status == 429:
            kind = "rate_limit"
        elif status in _AUTH_STATUS:
            kind = "auth"
        elif status >= 500:
            kind = "server_error"
        else:
            kind = "client_error"
        return _Failure(kind, message, retry_after)
    if isinstance(exc, openai.APIResponseValidationError | ValueError):
        return _Failure("malformed", message)  # json.JSONDecodeError, pydantic errors
    raise exc  # a bug on our side (bad keyword, ...): not an API fault


def _parse(raw: Any) -> tuple[dict[str, Any], Any, dict[str, Any] | None]:
    """(message, finish_reason, usage) of a completion's JSON body, or raise _Failure.

    The body is read as plain JSON rather than built into the SDK's pydantic models:
    that construction alone cost about 0.6 ms of CPU per response, a third of the
    runner's own cost per attempt, for fields read once.
    """
    try:
        raw = json.loads(raw)
    except (TypeError, ValueError, UnicodeDecodeError):
        text = raw[:80] if isinstance(raw, bytes | str) else type(raw).__name__
        raise _Failure("malformed", f"response body is not JSON: {text!r}") from None
    if not isinstance(raw, dict):
        raise _Failure("malformed", f"response is {type(raw).__name__}, not a chat completion")
    error = raw.get("error")  # OpenRouter: 200 with an upstream error inside
    if error:
        code = error.get("code") if isinstance(error, dict) else None
        kind = "rate_limit" if code == 429 else "server_error"
        raise _Failure(kind, f"error in 200 response: {json.dumps(error, default=str)[:300]}")
    choices = raw.get("choices")
    if choices is not None and not isinstance(choices, list):
        raise _Failure("malformed", f"choices is {type(choices).__name__}, not a list")
    if not choices:
        raise _Failure("empty", "response has no choices")
    choice = choices[0]
    message = _get(choice, "message")
    if not isinstance(message, dict):
        raise _Failure("malformed", "first choice has no message")
    return message, choice.get("finish_reason"), _usage_dict(raw.get("usage"))


class RateLimiter:
    """Spaces the starts of requests: at least ``interval`` seconds from one to the next.

    One limiter is shared by every worker, endpoint and retry of a run (`LLMClient` waits on
    it before each try), so the spacing holds for the run as a whole. ``--rpm N`` is an
    interval of 60/N s, which also means at most N starts in any 60 s window; with
    ``--rate-limit-delay S`` as well, the longer interval wins. Requests are served in the
    order they asked (each reserves the next free slot), so none starves.

    Args:
        rpm: Requests per minute (>= 1), or None for no such limit.
        delay: Seconds between request starts (>= 0, finite); 0 for none. Both are checked
            with the other settings by `arcnb.config.RunConfig.validate`.
    """

    def __init__(self, rpm: float | None = None, delay: float = 0.0):
        self.interval = max(60.0 / rpm if rpm else 0.0, delay)
        self._next = -math.inf  # time.monotonic() at which the next request may start

    async def wait(self) -> None:
        """Return when this request may start (at once when there is no limit)."""
        if self.interval <= 0:
            return
        now = time.monotonic()
        slot = max(now, self._next)
        self._next = slot + self.interval
        while (now := time.monotonic()) < slot:  # the loop's timer may wake a little early
            await asyncio.sleep(slot - now)


class LLMClient:
    """Chat completions for one model over one or more OpenAI-compatible endpoints.

    Args:
        model: Model id (already in `params["model"]`; kept for logs and prices).
        base_urls: Endpoints to spread requests over; None or [] for OpenAI's API.
        api_key: The key (see `api_key_for`), sent to every endpoint; None sends the
            placeholder NO_KEY_PLACEHOLDER instead.
        params: Keyword arguments from `request_params`, sent with every request.
        api_timeout: Seconds one try may take.
        max_tries: Requests sent at most per `complete` call.
        backoff_base: Seconds before the second try; doubles each try, with jitter.
        backoff_max: Cap in seconds on any wait, Retry-After included.
        prices: USD per million (input, output) tokens; None leaves cost unknown unless the
            provider reports it.
        rate_limiter: Waited on before every try (shared with other clients when given to
            them too); None: no limit.
    """

    def __init__(
        self,
        model: str,
        base_urls: list[str] | None,
        *,
        api_key: str | None,
        params: dict[str, Any],
        api_timeout: float = 600.0,
        max_tries: int = 3,
        backoff_base: float = 1.0,
        backoff_max: float = 30.0,
        prices: tuple[float, float] | None = None,
        rate_limiter: RateLimiter | None = None,
    ):
        if max_tries < 1:
            raise InputError(f"max_tries must be at least 1, not {max_tries}")
        if api_timeout <= 0:
            raise InputError(f"api_timeout must be positive, not {api_timeout}")
        self.model = model
        self.params = params
        self.api_timeout = api_timeout
        self.max_tries = max_tries
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.prices = prices
        self.rate_limiter = rate_limiter or RateLimiter()
        self._api_key = api_key
        self.endpoints = [u.rstrip("/") for u in (base_urls or [OPENAI_BASE_URL])]
        self._clients = {
            url: AsyncOpenAI(
                base_url=url,
                api_key=api_key or NO_KEY_PLACEHOLDER,
                max_retries=0,
                # aiohttp as the SDK's transport: the SDK's documented choice for high
                # concurrency; measured here at about 60% of the default transport's CPU
                # per request with 256 in flight.
                http_client=DefaultAioHttpClient(),
            )
            for url in self.endpoints
        }
        self._outstanding = dict.fromkeys(self.endpoints, 0)
        self._requests = dict.fromkeys(self.endpoints, 0)

    @property
    def outstanding(self) -> dict[str, int]:
        """Requests in flight per endpoint."""
        return dict(self._outstanding)

    @property
    def stats(self) -> dict[str, int]:
        """Requests sent so far per endpoint (every try counts)."""
        return dict(self._requests)

    def _pick(self) -> str:
        # Fewest in flight; ties: used least so far, then list order.
        return min(
            self.endpoints,
            key=lambda u: (self._outstanding[u], self._requests[u], self.endpoints.index(u)),
        )

    def _scrub(self, text: str) -> str:
        if self._api_key and len(self._api_key) >= 4:
            text = text.replace(self._api_key, "<api-key>")
        return text[:500]

    def _backoff(self, tries: int) -> float:
        # Exponential with jitter in [50%, 100%]: concurrent retries do not arrive together.
        wait = min(self.backoff_max, self.backoff_base * 2 ** (tries - 1))
        return wait * random.uniform(0.5, 1.0)

    async def complete(self, messages: list[dict[str, Any]]) -> LLMResponse:
        """Send one chat request, retrying transient faults; never raises for API faults.

        Args:
            messages: Chat messages in OpenAI's format.

        Returns:
            The response, with `failure` set when the last try failed.
        """
        start = time.monotonic()
        waits: list[float] = []
        tries = 0
        while True:
            tries += 1
            await self.rate_limiter.wait()
            endpoint = self._pick()
            self._outstanding[endpoint] += 1
            self._requests[endpoint] += 1
            client = self._clients[endpoint]
            try:
                try:
                    # client.post with a ready JSON body: the same request `create` sends,
                    # without its per-request walk over every message (about 1.5 ms each).
                    raw = await client.post(
                        "/chat/completions",
                        cast_to=bytes,  # the body as sent; parsed by _parse
                        body=self._body(messages),
                        options={"timeout": self.api_timeout},
                    )
                except Exception as exc:  # classified below; bugs are re-raised there
                    raise _classify(exc) from exc
                finally:
                    self._outstanding[endpoint] -= 1
                message, finish_reason, usage = _parse(raw)
            except _Failure as failure:
                retry = failure.kind in RETRIED or (
                    failure.kind == "client_error"
                    and isinstance(failure.__cause__, openai.APIStatusError)
                    and failure.__cause__.status_code in _RETRIED_4XX
                )
                logger.debug("try %d on %s failed: %s", tries, endpoint, failure.kind)
                if not retry or tries >= self.max_tries:
                    return LLMResponse(
                        content=None,
                        reasoning=None,
                        finish_reason=None,
                        usage=None,
                        cost_usd=None,
                        failure=failure.kind,
                        error=self._scrub(failure.message),
                        tries=tries,
                        endpoint=endpoint,
                        latency_s=time.monotonic() - start,
                        retry_after_waits=waits,
                    )
                if failure.retry_after is not None:
                    wait = min(self.backoff_max, failure.retry_after)
                    waits.append(wait)
                else:
                    wait = self._backoff(tries)
                await asyncio.sleep(wait)
                continue
            cost = cost_usd(usage, self.prices)
            if cost is None and usage and "cost" in usage:
                cost = usage["cost"]
            content, reasoning = _message_texts(message)
            return LLMResponse(
                content=content,
                reasoning=reasoning,
                finish_reason=finish_reason,
                usage=usage,
                cost_usd=cost,
                failure=None,
                error=None,
                tries=tries,
                endpoint=endpoint,
                latency_s=time.monotonic() - start,
                retry_after_waits=waits,
            )

    def _body(self, messages: list[dict[str, Any]]) -> dict[str, Any]:
        """The JSON body: model, messages, the logged params, extra_body merged in."""
        params = dict(self.params)
        extra = params.pop("extra_body", None) or {}
        return {"model": self.model, "messages": messages, **params, **extra}

    async def aclose(self) -> None:
        """Close every endpoint's connection pools."""
        for client in self._clients.values():
            await client.close()


def resolve_api_key(
    api_key_env: str = "OPENAI_API_KEY", dotenv_path: str | None = None
) -> str | None:
    """The API key from the environment, else from a .env file; None when neither has it.

    The .env file is read without touching `os.environ`.

    Args:
        api_key_env: Name of the variable, e.g. "OPENROUTER_API_KEY".
        dotenv_path: The .env file; None searches the working directory and its parents.

    Returns:
        The key, or None.
    """
    value = os.environ.get(api_key_env)
    if value:
        return value
    path = dotenv_path if dotenv_path is not None else find_dotenv(usecwd=True)
    if not path or not os.path.isfile(path):
        return None
    return dotenv_values(path).get(api_key_env) or None


def is_openai_api(url: str | None) -> bool:
    """Whether a base URL is OpenAI's own API over https (None: the default, which is)."""
    if not url:
        return True
    parts = urlparse(url)
    return parts.scheme == "https" and parts.hostname == "api.openai.com"


def is_loopback(host: str | None) -> bool:
    """Whether a host name is this machine: localhost, 127.0.0.0/8 or ::1."""
    if not host:
        return False
    if host.lower() == "localhost" or host.lower().endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def api_key_for(
    model: str,
    base_urls: list[str] | None,
    api_key_env: str | None = None,
    *,
    allow_insecure_key: bool = False,
    dotenv_path: str | None = None,
) -> str | None:
    """The key to send to the endpoints of a run, or None to send none.

    - No `api_key_env`: OpenAI's API (no `base_urls`, or https://api.openai.com) gets
      OPENAI_API_KEY, which must be set; any other endpoint gets no key (the SDK sends the
      placeholder NO_KEY_PLACEHOLDER), so the OpenAI key never leaves for a third party.
    - `api_key_env` given: that variable's value goes to every endpoint; it must be set.
    - A key is never sent over plain http to a host other than this machine (loopback)
      unless `allow_insecure_key`.

    Args:
        model: Model id (named in the error messages).
        base_urls: The run's endpoints; None or [] for OpenAI's API.
        api_key_env: Name of the variable holding the key, or None (see above).
        allow_insecure_key: Allow a key over plain http to a non-loopback host.
        dotenv_path: The .env file; None searches the working directory and its parents.

    Returns:
        The key, or None.

    Raises:
        InputError: The key needed is not set, OPENAI_API_KEY would have to go to another
            endpoint as well, or the key would travel over plain http to another machine.
    """
    urls = base_urls or [OPENAI_BASE_URL]
    if api_key_env is None:
        n_openai = sum(is_openai_api(u) for u in urls)
        if n_openai == 0:
            return None
        if n_openai < len(urls):
            raise InputError(
                f"--base-url mixes OpenAI's API with other endpoints, and {OPENAI_KEY_ENV} goes "
                "to OpenAI's API only: name a key for all of them with --api-key-env"
            )
        name = OPENAI_KEY_ENV
    else:
        name = api_key_env
    key = resolve_api_key(name, dotenv_path)
    if key is None:
        if api_key_env is None:
            raise InputError(
                f"model {model!r} runs on OpenAI's API, which needs a key: {name} is not set "
                "in the environment or in .env (for another endpoint pass --base-url; with "
                "no --model arcnb runs its bundled demonstration model)"
            )
        raise InputError(f"--api-key-env {name}: {name} is not set in the environment or in .env")
    for url in urls:
        parts = urlparse(url)
        if parts.scheme == "http" and not is_loopback(parts.hostname) and not allow_insecure_key:
            raise InputError(
                f"refusing to send the key in {name} over plain http to {parts.hostname} "
                f"({url}): anyone on the network path can read it; use https, or pass "
                "--allow-insecure-key if that network is yours"
            )
    return key
