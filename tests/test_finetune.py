"""Smoke test of `fine-tuning/finetune.ipynb`, offline and on CPU (`arcnb.finetune`).

A scripted model answers a few tasks over real HTTP (`arcnb run`), `arcnb dataset` turns the run
into a dataset, a tiny random Qwen2 model with a tokenizer trained here
(`finetune_fixtures.make_tiny_model`) stands in for the base model, and papermill runs the
notebook for 2 training steps. The test reads back what the notebook saved: the loss log, the
adapter and the generation check.

Needs the ``finetune`` extra, which the default install leaves out (it brings torch); the
README's test command (which CI runs) installs it with a CPU build of torch in its own venv,
`.venv-ft`, and runs this file there. In the project's venv it is skipped with that reason.
By hand:

    python3 -m venv .venv-ft && .venv-ft/bin/pip install torch==2.13.0 \\
        && .venv-ft/bin/pip install -e '.[finetune]' pytest \\
        && .venv-ft/bin/pytest tests/test_finetune.py
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

REASON = (
    "needs the finetune extra, absent here: the README's test command runs this file in .venv-ft "
    "(CPU torch, then pip install -e '.[finetune]'; see fine-tuning/README.md)"
)
for _module in ("torch", "transformers", "trl", "peft"):
    pytest.importorskip(_module, reason=REASON)

import nbformat  # noqa: E402
import papermill  # noqa: E402
from finetune_fixtures import make_tiny_model  # noqa: E402
from scripted_server import ScriptedServer  # noqa: E402

from arcnb import run_eval  # noqa: E402
from arcnb.dataset import build_dataset  # noqa: E402
from arcnb.finetune import load_chat_dataset  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "fine-tuning" / "finetune.ipynb"
FLIP = "```python\ndef transform(grid):\n    return [row[::-1] for row in grid]\n```"
SAME = "```python\ndef transform(grid):\n    return grid\n```"


def _tasks(folder: Path, n: int) -> list[str]:
    """n tasks whose rule is 'mirror each row'; task t's grids are 3 x (3 + t)."""
    folder.mkdir(parents=True)
    for t in range(n):
        grids = [[[(t + k + r * 3 + c * c) % 10 for c in range(3 + t)] for r in range(3)]
                 for k in range(3)]  # fmt: skip
        pairs = [{"input": g, "output": [row[::-1] for row in g]} for g in grids]
        (folder / f"{t:08x}.json").write_text(json.dumps({"train": pairs[:2], "test": pairs[2:]}))
    return [f"Test input 1 (3x{3 + t})" for t in range(n)]  # a prompt substring unique to each


@pytest.fixture(scope="module")
def dataset_dir(tmp_path_factory) -> Path:
    """An `arcnb dataset` folder built from a scripted run (train and validation splits)."""
    tmp = tmp_path_factory.mktemp("data")
    keys = _tasks(tmp / "tasks", 6)
    # Each task's two attempts: a right program with reasoning, and a wrong one (relabelled).
    answers = [{"content": FLIP, "reasoning": "Each row is mirrored."}, {"content": SAME}]
    script = {"rules": [{"match": key, "responses": answers} for key in keys]}
    with pytest.MonkeyPatch.context() as mp, ScriptedServer(script) as server:
        mp.setenv("OPENAI_API_KEY", "sk-test-finetune")
        mp.chdir(tmp)
        run = run_eval(dataset=str(tmp / "tasks"), subset="all_evaluation", model="scripted",
                       base_url=server.base_url, max_attempts=2, output_dir=str(tmp / "logs"),
                       progress=False)  # fmt: skip
    result = build_dataset(run.run_dir, output=tmp / "dataset", validation=True, balance=False)
    assert {k: len(v) for k, v in result.dataset.items()} == {"train": 10, "validation": 2}
    return result.path


def test_chat_view_is_the_evaluation_prompt(dataset_dir):
    from arcnb.prompts import build_messages
    from arcnb.tasks import load_tasks

    data = load_chat_dataset(dataset_dir)
    right = [r for r in data["train"] if all(r["correct_train_input"])]
    assert len(right) == 5
    for row in right:  # a right program's row shows the real task: the evaluation prompt
        task = load_tasks(str(Path(dataset_dir).parent / "tasks"), row["task_id"])[0]
        assert row["messages"][:2] == build_messages(task)
        assert row["messages"][2] == {
            "role": "assistant",
            "content": f"<think>\nEach row is mirrored.\n</think>\n\n{FLIP}",
        }


@pytest.mark.slow
def test_notebook_trains_two_steps(dataset_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("MPLBACKEND", "agg")
    data = load_chat_dataset(dataset_dir)
    texts = [m["content"] for split in data.values() for row in split for m in row["messages"]]
    model_dir = make_tiny_model(tmp_path / "model", texts)
    out = tmp_path / "out"
    papermill.execute_notebook(
        str(NOTEBOOK),
        str(tmp_path / "finetune.out.ipynb"),
        parameters={
            "base_model": str(model_dir),
            "dataset": str(dataset_dir),
            "lora_r": 4,
            "lora_alpha": 8,
            "max_steps": 2,
            "per_device_train_batch_size": 2,
            "gradient_accumulation_steps": 1,
            "max_seq_length": 4096,
            "output_dir": str(out),
            "run_name": "smoke",
            "logging_dir": str(tmp_path / "logs"),
            "gradient_checkpointing": False,
            "check_tasks": 1,
            "check_max_new_tokens": 32,
            "merge_adapter": True,
        },
        kernel_name="python3",  # this interpreter's own kernel (ipykernel in the same env)
        cwd=str(tmp_path),
        progress_bar=False,
    )
    run = out / "smoke"
    state = json.loads((run / "trainer_state.json").read_text())
    losses = [e["loss"] for e in state["log_history"] if "loss" in e]
    assert state["global_step"] == 2 and len(losses) == 2
    assert all(math.isfinite(v) and v > 0 for v in losses)
    assert (run / "adapter" / "adapter_model.safetensors").stat().st_size > 0
    adapter = json.loads((run / "adapter" / "adapter_config.json").read_text())
    assert adapter["r"] == 4 and adapter["peft_type"] == "LORA"
    saved = json.loads((run / "finetune_config.json").read_text())
    assert saved["config"]["max_steps"] == 2 and saved["metrics"]["steps"] == 2
    check = json.loads((run / "generation_check.json").read_text())
    assert check["tasks"] == 1 and check["train_total"] == 2
    assert 0 <= check["train_correct"] <= check["train_total"]
    assert list((tmp_path / "logs" / "smoke").rglob("events.out.tfevents.*"))
    assert (run / "merged" / "model.safetensors").stat().st_size > 0
    printed = "".join(
        "".join(o.get("text", "")) for c in nbformat.read(tmp_path / "finetune.out.ipynb", 4).cells
        for o in c.get("outputs", [])
    )  # fmt: skip
    assert f"vllm serve {run / 'merged'} --served-model-name arcnb-ft" in printed
    assert "arcnb run --base-url http://127.0.0.1:8000/v1 --model arcnb-ft" in printed
