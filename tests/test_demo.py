"""arcnb.demo: the scripted demonstration endpoint and the notebooks' demonstration runs."""

from __future__ import annotations

import pytest
from openai import OpenAI

from arcnb.config import project_dir
from arcnb.demo import DEMO_MODELS, PROGRAMS, DemoEndpoint, demo_runs, endpoint_or_demo
from arcnb.rundir import Run, list_runs


def _ask(client: OpenAI, model: str, text: str) -> str:
    reply = client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": text}]
    )
    return reply.choices[0].message.content


def test_endpoint_answers_the_same_way_every_time():
    """Through the real openai SDK: the n-th request of a prompt gets the same program in
    every server, and every answer is one of the model's programs."""
    answers = []
    for _ in range(2):
        with DemoEndpoint() as endpoint:
            client = OpenAI(base_url=endpoint.base_url, api_key="none", max_retries=0)
            answers.append([_ask(client, "demo-guesser", f"task {i % 3}") for i in range(9)])
    assert answers[0] == answers[1]
    allowed = {PROGRAMS[name] for name in DEMO_MODELS["demo-guesser"]}
    assert set(answers[0]) <= allowed and len(set(answers[0])) > 1
    with pytest.raises(RuntimeError, match="not started"):
        _ = endpoint.base_url  # stopped on leaving the block


def test_endpoint_or_demo():
    assert endpoint_or_demo("m", None) == ("m", None)
    assert endpoint_or_demo(None, "http://127.0.0.1:9/v1") == (None, "http://127.0.0.1:9/v1")
    model, url = endpoint_or_demo(None, None)
    assert model == "demo-tricks" and url.startswith("http://127.0.0.1:")
    assert endpoint_or_demo(None, None)[1] == url  # one endpoint for the whole session
    client = OpenAI(base_url=url, api_key="none", max_retries=0)
    assert "def transform" in _ask(client, model, "hello") or "not sure" in _ask(client, model, "x")


@pytest.mark.slow  # three small runs: about 10 s
def test_demo_runs_are_made_once_then_reused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # outside any project: "logs" is tmp_path/logs
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    dirs = demo_runs()
    assert [d.resolve().parent for d in dirs] == [tmp_path / "logs"] * 3
    runs = [Run.open(d) for d in dirs]
    assert [r.model for r in runs] == ["demo-tricks", "demo-tricks", "demo-guesser"]
    summaries = [r.summary() for r in runs]
    assert all(s["n_tasks"] == 10 and s["n_attempts"] == 40 for s in summaries)
    assert summaries[0]["metrics"]["pass2_weighted"] > 0  # the tricks solve some tasks
    assert summaries[0]["cost_usd"] > 0 and summaries[2]["cost_usd"] is None  # unpriced
    assert demo_runs("logs") == dirs  # found again, nothing new made
    assert list_runs(tmp_path / "logs") == sorted(d.resolve() for d in dirs)


def test_project_dir(tmp_path, monkeypatch):
    project = tmp_path / "proj"
    (project / "notebooks").mkdir(parents=True)
    (project / "pyproject.toml").write_text('[project]\nname = "arcnb"\n')
    monkeypatch.chdir(project / "notebooks")  # where Jupyter runs a notebook
    assert project_dir() == project / "logs"
    assert project_dir("plots") == project / "plots"
    assert project_dir(tmp_path / "elsewhere") == tmp_path / "elsewhere"  # absolute: as given
    (project / "pyproject.toml").write_text('[project]\nname = "other"\n')
    assert str(project_dir("logs")) == "logs"  # not an arcnb checkout: from the working dir
