"""`<think>` blocks in the content, end to end: a scripted server over real HTTP -> run_eval
-> the stored attempt records."""

from __future__ import annotations

import pytest
from arcfixtures import FLIP, WRONG, key_of, make_tasks

from arcnb.logs import read_attempts

# FLIP solves every task (mirror each row); WRONG (the identity) solves none.
OPEN_FLIP = FLIP.removesuffix("```")  # a block cut off by the token limit; it compiles


@pytest.fixture(scope="module")
def run(tmp_path_factory, scripted_run):
    root = tmp_path_factory.mktemp("think")
    tasks = make_tasks(root / "tasks", ["answer", "inside", "cut", "both", "refine"])
    replies = {
        # Code in the block and in the answer: the answer's wins.
        "answer": {"content": f"  \n<think>\nFirst idea:\n{WRONG}\n</think>\n\nMirror.\n{FLIP}"},
        # No code in the answer: the block's.
        "inside": {"content": f"<think>Mirror each row.\n{FLIP}\n</think>\nSee above."},
        # Cut off inside the block: all of it is reasoning, the content is empty.
        "cut": {"content": f"<think>Mirror each row.\n{OPEN_FLIP}", "finish_reason": "length"},
        # A reasoning field and a think block: both are kept, the field first.
        "both": {
            "content": f"<think>from the block</think>{FLIP}",
            "reasoning": "from the field",
            "reasoning_field": "reasoning_content",
        },
        # Wrong at turn 1; turn 2's request must carry the answer without the block.
        "refine": {
            "turns": {
                "1": {"content": f"<think>identity?</think>Identity:\n{WRONG}"},
                "2": {"content": FLIP},
            }
        },
    }
    script = {
        "rules": [{"match": key_of(tasks[name]), "responses": [r]} for name, r in replies.items()]
    }
    return scripted_run(root, script, max_attempts=1, max_turns=2)


def records(run) -> dict[tuple[str, int], dict]:
    return {(r["task_id"], r["turn"]): r for r in read_attempts(run.run_dir)}


def test_think_text_is_reasoning_and_code_comes_from_the_answer(run):
    rec = records(run)[("answer", 1)]
    assert rec["response"]["content"] == f"Mirror.\n{FLIP}"
    assert rec["response"]["reasoning"] == f"First idea:\n{WRONG}"
    assert rec["code"] == FLIP.removeprefix("```python\n").removesuffix("\n```")
    assert rec["all_train_correct"] and rec["test"][0]["correct"]


def test_code_from_the_think_block_when_the_answer_has_none(run):
    rec = records(run)[("inside", 1)]
    assert rec["response"]["content"] == "See above."
    assert rec["response"]["reasoning"] == f"Mirror each row.\n{FLIP}"
    assert rec["all_train_correct"] and rec["test"][0]["correct"]


def test_unclosed_think_block_is_all_reasoning(run):
    rec = records(run)[("cut", 1)]
    assert rec["response"]["content"] == ""
    assert rec["response"]["reasoning"] == f"Mirror each row.\n{OPEN_FLIP}".strip()
    assert rec["max_length"] is True
    assert rec["all_train_correct"] and rec["test"][0]["correct"]


def test_reasoning_field_and_think_block_are_joined_in_order(run):
    rec = records(run)[("both", 1)]
    assert rec["response"]["content"] == FLIP
    assert rec["response"]["reasoning"] == "from the field\n\nfrom the block"
    assert rec["all_train_correct"]


def test_refinement_turn_sends_the_answer_without_the_think_block(run):
    by_turn = records(run)
    assert by_turn[("refine", 1)]["response"]["content"] == f"Identity:\n{WRONG}"
    assert not by_turn[("refine", 1)]["all_train_correct"]
    assert by_turn[("refine", 2)]["all_train_correct"]
    second = [r for r in run.requests if len(r["messages"]) > 2]
    assert len(second) == 1
    assistant = [m["content"] for m in second[0]["messages"] if m["role"] == "assistant"]
    assert assistant == [f"Identity:\n{WRONG}"]
