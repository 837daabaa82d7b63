"""A scripted OpenAI-compatible chat-completions server over real HTTP, stdlib only.

Tests and benchmarks point the real `openai` SDK at it, so retries, timeouts, connection
pooling and response parsing are exercised exactly as against a hosted endpoint.

In-process::

    with ScriptedServer({"default": {"content": "hello"}}) as server:
        client = AsyncOpenAI(base_url=server.base_url, api_key="x")

As a subprocess (a benchmark's runner must not share a GIL with the server)::

    python tests/scripted_server.py --script script.json   # first stdout line: "PORT <n>"

Script (a JSON-serialisable dict)::

    {"rules": [{"match": "<substring>", "responses": [resp, ...], "cycle": true}],
     "default": resp, "delay": 0.0, "model": "scripted-model"}

A request matches the first rule whose `match` occurs in the concatenated text of all its
messages; its responses are handed out in order (thread-safe), then cycle, or stick on the last
one when `cycle` is false. Requests matching no rule get `default`. `delay` (seconds) is added
to every response. Response kinds (`resp`):

- `{"content": "...", "reasoning": "...", "reasoning_field": "reasoning" | "reasoning_content"
  | "reasoning_details", "finish_reason": "stop" | "length", "delay": s,
  "usage": {"prompt_tokens": n, "completion_tokens": m, "reasoning_tokens": r}}`;
  `{n}` in `content` becomes the request's sequential number (1-based, over all chat requests).
- `{"status": 429 | 500 | 503 | 400 | ..., "retry_after": s, "message": "..."}`: an error in
  OpenAI's JSON format, with a Retry-After header when `retry_after` is given.
- `{"malformed": true}`: 200 with a body that is not JSON.
- `{"empty_choices": true}`: 200 with `"choices": []`.
- `{"hang": s, ...}`: sleep s seconds, then answer normally (to trigger client timeouts).
- `{"close": true}`: close the connection without a response.
- `{"turns": {"1": resp, "2": resp}}`: pick by turn = number of user messages in the request
  (the largest turn not above it; `default` when none is).

`server.requests` lists the JSON bodies received, each with four keys added: `_n` (the
sequential number), `_t` (`time.monotonic()` when the request arrived, in seconds: compare two
requests' `_t`, e.g. to check a client waited at least a Retry-After), `_authorization`
(whether an Authorization header was present; its value is never recorded) and
`_authorization_sha256` (the SHA-256 hex digest of that header's value, or None: a test
compares it with `authorization_sha256(key)` to learn which key, if any, was sent).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any

DEFAULT_USAGE = {"prompt_tokens": 100, "completion_tokens": 50}  # deterministic defaults
_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "invalid_request_error",
    404: "invalid_request_error",
    429: "rate_limit_exceeded",
}


def authorization_sha256(key: str) -> str:
    """The `_authorization_sha256` a request carrying ``Authorization: Bearer <key>`` gets."""
    return hashlib.sha256(f"Bearer {key}".encode()).hexdigest()


def message_text(messages: list[dict[str, Any]]) -> str:
    """Concatenate the text of all messages (string content or lists of text parts)."""
    parts: list[str] = []
    for message in messages or []:
        content = message.get("content")
        if isinstance(content, str):
            parts.append(content)
        elif isinstance(content, list):
            parts.extend(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return "\n".join(parts)


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # hanging handlers must not keep the process (or stop()) waiting
    request_queue_size = 1024  # benchmarks open hundreds of connections at once
    allow_reuse_address = True


class ScriptedServer:
    """Serve a script on 127.0.0.1 in a background thread.

    Args:
        script: The script (see the module docstring).
        host: Interface to bind.
        port: Port to bind; 0 picks a free one.
    """

    def __init__(
        self, script: dict[str, Any] | None = None, host: str = "127.0.0.1", port: int = 0
    ):
        self._lock = threading.Lock()
        self.requests: list[dict[str, Any]] = []
        self.set_script(script or {})
        self._httpd = _Server((host, port), _make_handler(self))
        self._thread: threading.Thread | None = None

    def set_script(self, script: dict[str, Any]) -> None:
        """Replace the script and reset the per-rule counters."""
        with self._lock:
            self.script = script
            self._counters = [0] * len(script.get("rules", []))

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> ScriptedServer:
        """Start serving in a daemon thread; returns self."""
        # a short poll interval makes stop() quick (shutdown waits for one poll)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the listening socket."""
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join()
            self._thread = None
        self._httpd.server_close()

    def __enter__(self) -> ScriptedServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # ---- script evaluation (called from handler threads) ----

    def _record(
        self, body: dict[str, Any], authorization: str | None, arrived: float
    ) -> tuple[int, dict[str, Any]]:
        """Record a request and choose its response; returns (sequence number, resp)."""
        text = message_text(body.get("messages", []))
        digest = hashlib.sha256(authorization.encode()).hexdigest() if authorization else None
        with self._lock:
            n = len(self.requests) + 1
            self.requests.append(
                {**body, "_n": n, "_t": arrived, "_authorization": authorization is not None,
                 "_authorization_sha256": digest}
            )  # fmt: skip
            script = self.script
            for i, rule in enumerate(script.get("rules", [])):
                if rule.get("match", "") in text:
                    responses = rule.get("responses") or [script.get("default", {})]
                    k = self._counters[i]
                    self._counters[i] += 1
                    if k >= len(responses):
                        k = k % len(responses) if rule.get("cycle", True) else len(responses) - 1
                    return n, responses[k]
            return n, script.get("default", {"content": ""})

    def _resolve_turns(self, resp: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
        while "turns" in resp:
            turn = sum(1 for m in body.get("messages", []) if m.get("role") == "user")
            defined = sorted(int(k) for k in resp["turns"] if int(k) <= turn)
            resp = resp["turns"][str(defined[-1])] if defined else self.script.get("default", {})
        return resp


def _completion(resp: dict[str, Any], n: int, model: str) -> dict[str, Any]:
    """Build a chat.completion body from a content response."""
    content = resp.get("content", "")
    if isinstance(content, str):
        content = content.replace("{n}", str(n))
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if resp.get("reasoning") is not None:
        field = resp.get("reasoning_field", "reasoning")
        if field == "reasoning_details":
            message[field] = [{"type": "reasoning.text", "text": resp["reasoning"]}]
        else:
            message[field] = resp["reasoning"]
    given = resp.get("usage", {})
    prompt = given.get("prompt_tokens", DEFAULT_USAGE["prompt_tokens"])
    completion = given.get("completion_tokens", DEFAULT_USAGE["completion_tokens"])
    usage: dict[str, Any] = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }
    if "reasoning_tokens" in given:
        usage["completion_tokens_details"] = {"reasoning_tokens": given["reasoning_tokens"]}
    return {
        "id": f"chatcmpl-scripted-{n}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "finish_reason": resp.get("finish_reason", "stop"),
                "logprobs": None,
            }
        ],
        "usage": usage,
    }


def _make_handler(server: ScriptedServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, so the SDK's connection pool is used
        timeout = 120  # seconds an idle keep-alive connection may hold a handler thread

        def log_message(self, format: str, *args: Any) -> None:
            pass  # quiet: tests and benchmarks send thousands of requests

        def _send(self, status: int, body: bytes, ctype: str, headers: dict | None = None) -> None:
            try:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(body)
                self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True  # the client gave up (timed out) meanwhile

        def _send_json(self, status: int, obj: Any, headers: dict | None = None) -> None:
            self._send(status, json.dumps(obj).encode(), "application/json", headers)

        def do_GET(self) -> None:
            if self.path.rstrip("/").endswith("/models"):
                model = server.script.get("model", "scripted-model")
                data = [{"id": model, "object": "model", "created": 0, "owned_by": "arcnb-tests"}]
                self._send_json(200, {"object": "list", "data": data})
            else:
                self._send_json(404, {"error": {"message": "not found", "type": "not_found"}})

        def do_POST(self) -> None:
            arrived = time.monotonic()  # before the body is read: the client sent it by now
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            if not self.path.rstrip("/").endswith("/chat/completions"):
                self._send_json(404, {"error": {"message": "not found", "type": "not_found"}})
                return
            try:
                body = json.loads(raw)
            except json.JSONDecodeError:
                self._send_json(400, {"error": {"message": "bad JSON", "type": "invalid"}})
                return
            n, resp = server._record(body, self.headers.get("Authorization"), arrived)
            resp = server._resolve_turns(resp, body)
            wait = float(server.script.get("delay", 0.0)) + float(resp.get("delay", 0.0))
            wait += float(resp.get("hang", 0.0))
            if wait > 0:
                time.sleep(wait)
            if resp.get("close"):
                self.close_connection = True  # the socket is closed with nothing written
                return
            if "status" in resp:
                status = int(resp["status"])
                headers = {}
                if resp.get("retry_after") is not None:
                    headers["Retry-After"] = str(resp["retry_after"])
                error = {
                    "message": resp.get("message", f"scripted error {status}"),
                    "type": _ERROR_TYPES.get(status, "server_error"),
                    "param": None,
                    "code": resp.get("code"),
                }
                self._send_json(status, {"error": error}, headers)
            elif resp.get("malformed"):
                self._send(200, b"{this is not json", "application/json")
            elif resp.get("empty_choices"):
                body_out = _completion(resp, n, body.get("model", "scripted-model"))
                body_out["choices"] = []
                self._send_json(200, body_out)
            else:
                self._send_json(200, _completion(resp, n, body.get("model", "scripted-model")))

    return Handler


def main(argv: list[str] | None = None) -> None:
    """Serve a script file until killed; print `PORT <n>` as the first stdout line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--script", required=True, help="path to a JSON script")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    args = parser.parse_args(argv)
    script = json.loads(Path(args.script).read_text())
    server = ScriptedServer(script, host=args.host, port=args.port)
    print(f"PORT {server.port}", flush=True)
    try:
        server._httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server._httpd.server_close()
    sys.exit(0)


if __name__ == "__main__":
    main()
