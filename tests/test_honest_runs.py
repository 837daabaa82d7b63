"""No silent stand-ins, no silent failures, and keys only where they belong.

The real CLI runs as a subprocess with a clean environment (no *KEY* variable, no .env) where
an exit code is the point; otherwise `run_eval` runs in-process. Every endpoint is a scripted
server over real HTTP (tests/scripted_server.py), which records a digest of the Authorization
header of each request, so a test can tell which key, if any, reached it.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from arcfixtures import FLIP, ROOT, make_tasks
from scripted_server import ScriptedServer, authorization_sha256

from arcnb import run_eval
from arcnb.errors import InputError, RunFailedError
from arcnb.llm import NO_KEY_PLACEHOLDER, api_key_for
from arcnb.logs import read_attempts

OPENAI_KEY = "fake-openai-key-honest-0123456789"
MY_KEY = "fake-my-key-honest-abcdef012345"


@pytest.fixture()
def env(monkeypatch, tmp_path) -> Path:
    """A working directory without .env, OPENAI_API_KEY set, MY_KEY unset."""
    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_KEY)
    monkeypatch.delenv("MY_KEY", raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _cli(cwd: Path, *args: str, extra_env: dict[str, str] | None = None, timeout: float = 120):
    """`arcnb <args>` in a clean environment: no variable with KEY in its name, unless given."""
    clean = {k: v for k, v in os.environ.items() if "KEY" not in k}
    clean["PYTHONPATH"] = str(ROOT)
    clean.update(extra_env or {})
    return subprocess.run(
        [sys.executable, "-m", "arcnb.cli", *args],
        capture_output=True, text=True, env=clean, cwd=cwd, timeout=timeout,
    )  # fmt: skip


def _one_error_line(stderr: str) -> str:
    """The single `arcnb: error:` line, which is stderr's last (warnings may come before)."""
    assert "Traceback" not in stderr, stderr
    errors = [line for line in stderr.splitlines() if "error:" in line]
    assert len(errors) == 1 and stderr.rstrip().splitlines()[-1] == errors[0], stderr
    return errors[0]


def _run_args(root: Path, *extra: str) -> list[str]:
    return [
        "run", "--dataset", str(root / "tasks"), "--subset", "all_evaluation",
        "--output-dir", str(root / "logs"), "--no-progress", "--exec-timeout", "5", *extra,
    ]  # fmt: skip


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed on leaving: nothing listens there


def _non_loopback_ip() -> str | None:
    """This machine's address on its default route (a UDP connect sends no packet)."""
    for target in ("10.255.255.255", "192.168.255.255", "172.31.255.255"):
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.connect((target, 1))
                ip = s.getsockname()[0]
        except OSError:
            continue
        if ip and not ip.startswith("127.") and ip != "0.0.0.0":
            return ip
    return None


# ---- the stand-in is gone --------------------------------------------------------------------


def test_remote_model_without_key_is_exit_2_naming_the_variable_and_writes_nothing(tmp_path):
    make_tasks(tmp_path / "tasks", ["a"])
    proc = _cli(tmp_path, *_run_args(tmp_path, "--model", "gpt-4.1-mini"))
    assert proc.returncode == 2
    line = _one_error_line(proc.stderr)
    assert "OPENAI_API_KEY" in line and "gpt-4.1-mini" in line
    assert "tiny demonstration model" not in proc.stderr  # the bundled model never started
    assert not (tmp_path / "logs").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tasks"]


@pytest.mark.parametrize(
    ("settings", "needle"),
    [
        ({"model": "m", "base_url": "http://127.0.0.1:9/v1", "api_key_env": "MY_KEY"},
         "MY_KEY is not set"),
        ({"model": "m", "base_url": ["https://api.openai.com/v1", "http://127.0.0.1:9/v1"]},
         "--api-key-env"),
        ({"model": "m", "base_url": "http://127.0.0.1:9/v1", "api_key_env": "sk-abc-0123"},
         "not the key itself"),
        ({"model": "m", "base_url": "http://127.0.0.1:9/v1", "max_failures": 1.5},
         "--max-failures"),
        ({"model": "m", "base_url": "http://127.0.0.1:9/v1", "max_failures": 0.0},
         "--max-failures"),
        ({"model": "m", "base_url": "http://127.0.0.1:9/v1", "max_failures": float("nan")},
         "--max-failures"),
    ],
)  # fmt: skip
def test_key_and_failure_settings_are_refused_before_anything_is_written(env, settings, needle):
    make_tasks(env / "tasks", ["a"])
    with pytest.raises(InputError, match=needle) as caught:
        run_eval(dataset=str(env / "tasks"), subset="all_evaluation",
                 output_dir=str(env / "logs"), progress=False, **settings)  # fmt: skip
    assert "sk-abc-0123" not in str(caught.value)  # a pasted key is never echoed
    assert not (env / "logs").exists()


# ---- failures stop the run and say so -------------------------------------------------------


def test_401_stops_at_once_exit_2_and_the_run_resumes_with_the_key(tmp_path):
    make_tasks(tmp_path / "tasks", ["a", "b", "c"])
    args = _run_args(tmp_path, "--model", "scripted", "--max-attempts", "4", "--max-workers", "2")
    key = {"MY_KEY": MY_KEY}
    with ScriptedServer({"default": {"status": 401, "message": "Incorrect API key"}}) as server:
        proc = _cli(tmp_path, *args, "--base-url", server.base_url, "--api-key-env", "MY_KEY",
                    extra_env=key)  # fmt: skip
        refused = len(server.requests)
        assert proc.returncode == 2, proc.stderr
        line = _one_error_line(proc.stderr)
        assert "401" in line and "MY_KEY" in line and "--resume" in line
        assert 1 <= refused <= 2  # what was in flight (2 workers) when the first 401 came back
        (run_dir,) = (tmp_path / "logs").iterdir()
        assert read_attempts(run_dir) == []  # no refused request is recorded as done
        assert not (run_dir / "summary.json").exists()
        server.set_script({"default": {"content": FLIP}})  # the key works now
        proc = _cli(tmp_path, "run", "--resume", str(run_dir), "--base-url", server.base_url,
                    "--no-progress", extra_env=key)  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        assert len(server.requests) == refused + 12
    records = read_attempts(run_dir)
    assert len(records) == 12 and all(r["failure"] is None for r in records)
    assert json.loads((run_dir / "summary.json").read_text())["metrics"]["oracle"] == 1.0


def test_unreachable_endpoint_exits_1_with_a_one_line_reason(tmp_path):
    make_tasks(tmp_path / "tasks", ["a"])
    url = f"http://127.0.0.1:{_closed_port()}/v1"
    args = _run_args(tmp_path, "--model", "scripted", "--max-attempts", "2", "--base-url", url)
    proc = _cli(tmp_path, *args)
    assert proc.returncode == 1, proc.stderr
    line = _one_error_line(proc.stderr)
    assert "all 2 requests failed" in line and "connection: 2" in line
    (run_dir,) = (tmp_path / "logs").iterdir()
    assert str(run_dir) in line
    records = read_attempts(run_dir)
    assert [r["failure"] for r in records] == ["connection", "connection"]
    assert json.loads((run_dir / "summary.json").read_text())["n_attempts"] == 2


def test_max_failures_count_stops_early(env):
    make_tasks(env / "tasks", ["a", "b", "c", "d"])
    with ScriptedServer({"default": {"status": 400}}) as server:  # not retried: 1 try each
        with pytest.raises(RunFailedError, match=r"--max-failures 3") as caught:
            run_eval(dataset=str(env / "tasks"), subset="all_evaluation", model="scripted",
                     base_url=server.base_url, max_attempts=8, max_workers=2, max_failures=3,
                     output_dir=str(env / "logs"), progress=False)  # fmt: skip
        n = len(server.requests)
    assert 3 <= n <= 4  # 3 failures, and at most one more already in flight; not 32
    run_dir = Path(caught.value.run_dir)
    assert len(read_attempts(run_dir)) == n  # every failed request is recorded
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["stopped_by"] == "max_failures" and summary["n_tasks"] == 4


def test_max_failures_fraction_waits_for_20_requests(env):
    make_tasks(env / "tasks", ["a", "b", "c", "d"])
    script = {"rules": [{"match": "", "responses": [{"content": FLIP}, {"status": 400}]}]}
    with ScriptedServer(script) as server:  # every other request fails
        with pytest.raises(RunFailedError, match="stopped after 10 of 20 requests failed"):
            run_eval(dataset=str(env / "tasks"), subset="all_evaluation", model="scripted",
                     base_url=server.base_url, max_attempts=16, max_workers=1, max_failures=0.5,
                     output_dir=str(env / "logs"), progress=False)  # fmt: skip
        assert len(server.requests) == 20  # of 64


def test_some_failures_are_not_a_failed_run(env, scripted_run):
    make_tasks(env / "tasks", ["a"])
    script = {"rules": [{"match": "", "responses": [{"content": FLIP}, {"status": 400}]}]}
    run = scripted_run(env, script, max_attempts=4, max_workers=1, max_failures=0.9)
    assert run.result.summary["stopped_by"] is None
    assert sorted(str(r["failure"]) for r in read_attempts(run.run_dir)) == [
        "None", "None", "client_error", "client_error"
    ]  # fmt: skip


# ---- which key goes where -------------------------------------------------------------------


def test_openai_key_is_not_sent_to_another_endpoint(env, scripted_run):
    make_tasks(env / "tasks", ["a"])
    run = scripted_run(env, {"default": {"content": FLIP}}, api_key=OPENAI_KEY, max_attempts=2)
    assert len(run.requests) == 2
    digests = {r["_authorization_sha256"] for r in run.requests}
    assert digests == {authorization_sha256(NO_KEY_PLACEHOLDER)}
    assert authorization_sha256(OPENAI_KEY) not in digests


def test_named_key_is_sent(env, scripted_run, monkeypatch):
    make_tasks(env / "tasks", ["a"])
    monkeypatch.setenv("MY_KEY", MY_KEY)
    run = scripted_run(env, {"default": {"content": FLIP}}, max_attempts=2, api_key_env="MY_KEY")
    assert {r["_authorization_sha256"] for r in run.requests} == {authorization_sha256(MY_KEY)}
    config = json.loads((run.run_dir / "config.json").read_text())
    assert config["settings"]["api_key_env"] == "MY_KEY"  # the name is recorded, never the key
    for path in run.run_dir.rglob("*"):
        assert not path.is_file() or MY_KEY.encode() not in path.read_bytes(), path


def test_key_over_plain_http_to_another_host_needs_the_allow_flag(env, monkeypatch):
    ip = _non_loopback_ip()
    if ip is None:
        pytest.skip("this machine has no non-loopback IPv4 address to serve on")
    make_tasks(env / "tasks", ["a"])
    with ScriptedServer({"default": {"content": FLIP}}, host=ip) as server:
        url = f"http://{ip}:{server.port}/v1"
        args = _run_args(env, "--model", "scripted", "--max-attempts", "1", "--base-url", url)
        proc = _cli(env, *args, "--api-key-env", "MY_KEY", extra_env={"MY_KEY": MY_KEY})
        assert proc.returncode == 2, proc.stderr
        line = _one_error_line(proc.stderr)
        assert "plain http" in line and ip in line and "--allow-insecure-key" in line
        assert server.requests == [] and not (env / "logs").exists()
        monkeypatch.setenv("MY_KEY", MY_KEY)
        run_eval(dataset=str(env / "tasks"), subset="all_evaluation", model="scripted",
                 base_url=url, max_attempts=1, api_key_env="MY_KEY", allow_insecure_key=True,
                 output_dir=str(env / "logs"), progress=False)  # fmt: skip
        assert [r["_authorization_sha256"] for r in server.requests] == [
            authorization_sha256(MY_KEY)
        ]


@pytest.mark.parametrize(
    ("urls", "key_env", "allow", "expected"),
    [
        (None, None, False, OPENAI_KEY),
        (["https://api.openai.com/v1"], None, False, OPENAI_KEY),
        (["https://openrouter.ai/api/v1"], None, False, None),
        (["http://api.openai.com/v1"], None, False, None),  # not OpenAI's API: plain http
        (["http://10.0.0.5:8000/v1"], None, False, None),  # no key named: none sent, no refusal
        (["https://openrouter.ai/api/v1"], "MY_KEY", False, MY_KEY),
        (["http://127.0.0.1:8000/v1", "http://127.9.9.9:1/v1"], "MY_KEY", False, MY_KEY),
        (["http://localhost:8000/v1", "http://[::1]:8000/v1"], "MY_KEY", False, MY_KEY),
        (["http://10.0.0.5:8000/v1"], "MY_KEY", False, "plain http to 10.0.0.5"),
        (["http://127.0.0.1:1/v1", "http://gpu.lan:8000/v1"], "MY_KEY", False, "gpu.lan"),
        (["http://10.0.0.5:8000/v1"], "MY_KEY", True, MY_KEY),
    ],
)  # fmt: skip
def test_api_key_for(env, monkeypatch, urls, key_env, allow, expected):
    monkeypatch.setenv("MY_KEY", MY_KEY)
    if expected in (None, OPENAI_KEY, MY_KEY):
        assert api_key_for("m", urls, key_env, allow_insecure_key=allow) == expected
    else:
        with pytest.raises(InputError, match=expected):
            api_key_for("m", urls, key_env, allow_insecure_key=allow)


def test_api_key_for_reads_dotenv_and_names_what_it_looked_for(env, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY")
    with pytest.raises(InputError, match="OPENAI_API_KEY is not set"):
        api_key_for("gpt-4.1-mini", None)
    (env / ".env").write_text(f"OPENAI_API_KEY={OPENAI_KEY}\n")
    assert api_key_for("gpt-4.1-mini", None) == OPENAI_KEY
