"""Tests for arcnb.extract: code extraction and splitting off ``<think>`` blocks."""

import pytest
from extract_corpus import CASES, TASK

from arcnb.evaluate import evaluate_program
from arcnb.executor import Executor
from arcnb.extract import extract_code, join_reasoning, split_think
from arcnb.tasks import load_task

FIRST = "def transform(grid):\n    return grid"
SECOND = "def transform(grid):\n    return [row[::-1] for row in grid]"


def test_labelled_block():
    text = f"The rule is a mirror.\n\n```python\n{SECOND}\n```\n\nDone."
    assert extract_code(text) == SECOND


@pytest.mark.parametrize(
    ("opening", "closing"),
    [
        ("```python", "```"),
        ("```py", "```"),
        ("```Python", "```"),
        ("``` python", "```"),
        ("```", "```"),
        ("~~~", "~~~"),
        ("~~~python", "~~~"),
        ("````python", "````"),
    ],
)
def test_fence_styles(opening, closing):
    assert extract_code(f"Here:\n{opening}\n{FIRST}\n{closing}\n") == FIRST


def test_last_block_defining_transform_wins():
    text = (
        f"First try:\n```python\n{FIRST}\n```\n"
        f"Better:\n```python\n{SECOND}\n```\n"
        "Check it:\n```python\nprint(transform([[1, 2]]))\n```\n"
    )
    assert extract_code(text) == SECOND


def test_helpers_in_the_same_block_are_kept():
    code = "import numpy as np\n\ndef helper(x):\n    return x\n\n\ndef transform(grid):\n    return helper(grid)"
    assert extract_code(f"```python\n{code}\n```") == code


def test_other_languages_are_ignored():
    text = f"```python\n{FIRST}\n```\n```text\n{SECOND}\n```\n"
    assert extract_code(text) == FIRST


def test_block_without_transform_gives_none():
    assert extract_code("```python\ndef solve(grid):\n    return grid\n```") is None
    assert extract_code("no code here at all") is None


def test_unfenced_code_gives_none():
    assert extract_code(f"Just the code:\n{FIRST}\n") is None


def test_unclosed_block_that_compiles_is_used():
    text = f"```python\n{FIRST}\n```\nNow improved:\n```python\n{SECOND}\n"
    assert extract_code(text) == SECOND


def test_unclosed_block_that_does_not_compile_falls_back():
    truncated = "def transform(grid):\n    return [row[::-1] for row in"
    assert extract_code(f"```python\n{FIRST}\n```\nImproved:\n```python\n{truncated}") == FIRST
    assert extract_code(f"```python\n{truncated}") is None


def test_closed_block_is_returned_even_if_it_does_not_compile():
    # The executor reports the syntax error; that feedback helps a refinement turn.
    broken = "def transform(grid):\n    return grid)"
    assert extract_code(f"```python\n{broken}\n```") == broken


def test_reasoning_is_searched_only_when_content_has_no_code():
    assert extract_code("I could not fit the answer.", f"```python\n{SECOND}\n```") == SECOND
    assert extract_code(None, f"```python\n{SECOND}\n```") == SECOND
    assert extract_code(f"```python\n{FIRST}\n```", f"```python\n{SECOND}\n```") == FIRST


@pytest.mark.parametrize(
    ("content", "reasoning"), [(None, None), ("", ""), ("", None), ("```", None)]
)
def test_empty_inputs(content, reasoning):
    assert extract_code(content, reasoning) is None


def test_indented_fence_is_dedented_and_crlf_handled():
    text = "1. Code:\n\n   ```python\n   def transform(grid):\n       return grid\n   ```\n"
    assert extract_code(text) == FIRST
    assert extract_code(f"```python\r\n{FIRST}\r\n```\r\n".replace("\n    ", "\r\n    ")) == FIRST


def test_backtick_fence_does_not_close_a_tilde_fence():
    code = 'def transform(grid):\n    s = """\n```\n"""\n    return grid'
    assert extract_code(f"~~~python\n{code}\n~~~\n") == code


# ---- <think> blocks in the content ----


def block(code):
    return f"```python\n{code}\n```"


@pytest.mark.parametrize(
    ("content", "answer", "think"),
    [
        ("<think>mirror it</think>The answer.", "The answer.", "mirror it"),
        ("\n  <think>\nmirror it\n</think>\n\nThe answer.\n", "The answer.\n", "mirror it"),
        # Cut off by the token limit inside the block: all of it is reasoning.
        ("<think>mirror it, then", "", "mirror it, then"),
        ("  <think>", "", None),
        # Thinking switched off (Qwen3): an empty block.
        ("<think>\n\n</think>\n\nThe answer.", "The answer.", None),
        # The chat template opened the block in the prompt.
        ("mirror it\n</think>\n\nThe answer.", "The answer.", "mirror it"),
        # Only the first closing tag ends the block.
        ("<think>a</think>b</think>c", "b</think>c", "a"),
        # Not at the start: all answer.
        ("The answer. <think>aside</think> more", "The answer. <think>aside</think> more", None),
        ("Plain answer.", "Plain answer.", None),
        ("", "", None),
        (None, None, None),
    ],
)
def test_split_think(content, answer, think):
    assert split_think(content) == (answer, think)


def test_join_reasoning_keeps_order_and_skips_empty():
    assert join_reasoning("field", "block") == "field\n\nblock"
    assert join_reasoning(None, "block") == "block"
    assert join_reasoning("", None) is None
    assert join_reasoning() is None


def test_code_after_think_block_comes_before_code_inside_it():
    content = f"<think>Draft:\n{block(FIRST)}\n</think>\nFinal:\n{block(SECOND)}"
    assert extract_code(content) == SECOND
    # ... even when the reasoning field has code too.
    assert extract_code(content, block(FIRST)) == SECOND


def test_code_inside_think_block_when_the_answer_has_none():
    content = f"<think>\n{block(FIRST)}\nThen better:\n{block(SECOND)}\n</think>\nSee above."
    assert extract_code(content) == SECOND  # the last block inside the think text
    # Truncated inside the block, the last block that compiles still counts.
    truncated = "```python\ndef transform(grid):\n    return ["
    assert extract_code(f"<think>{block(FIRST)}\n{truncated}") == FIRST
    # The block's text is searched before the reasoning field.
    assert extract_code(content, block("def transform(g):\n    return g")) == SECOND


def test_several_blocks_in_the_answer_keep_the_usual_rule():
    content = (
        f"<think>{block(FIRST)}</think>\n"
        f"{block(FIRST)}\n{block(SECOND)}\n```python\nprint(transform([[1]]))\n```\n"
    )
    assert extract_code(content) == SECOND


# ---- earlier blocks' definitions ----


def test_earlier_helper_is_put_before_the_final_block():
    helper = "def helper(g):\n    return g[::-1]"
    final = "def transform(grid):\n    return helper(grid)"
    assert extract_code(f"{block(helper)}\n{block(final)}") == f"{helper}\n\n\n{final}"


def test_final_blocks_own_definition_wins_and_transform_is_never_taken_from_earlier():
    early = "def helper(g):\n    return 1\n\ndef transform(g):\n    return 2"
    final = "def helper(g):\n    return g\n\ndef transform(grid):\n    return helper(grid)"
    assert extract_code(f"{block(early)}\n{block(final)}") == final


def test_imports_go_first_and_a_recursive_helper_is_taken_once():
    fill = "def fill(g, n):\n    return g if n == 0 else fill(np.flipud(g), n - 1)"
    final = "def transform(grid):\n    return fill(grid, 2).tolist()"
    text = f"{block(fill)}\n{block('import numpy as np')}\n{block(final)}"
    assert extract_code(text) == f"import numpy as np\n\n\n{fill}\n\n\n{final}"


def test_a_global_declared_in_the_final_block_is_taken_from_earlier():
    counter = "CALLS = 0"
    final = "def transform(grid):\n    global CALLS\n    CALLS += 1\n    return grid"
    assert extract_code(f"{block(counter)}\n{block(final)}") == f"{counter}\n\n\n{final}"


def test_blocks_after_the_final_one_and_other_texts_are_not_used():
    helper = "def helper(g):\n    return g"
    final = "def transform(grid):\n    return helper(grid)"
    assert extract_code(f"{block(final)}\n{block(helper)}") == final
    assert extract_code(f"<think>{block(helper)}</think>{block(final)}") == final


# ---- a corpus of realistic responses, each extracted and run through the executor ----


@pytest.fixture(scope="module")
def task_and_executor():
    with Executor(workers=1, timeout=5.0) as executor:
        yield load_task(*TASK), executor


def _outcome(code, task, executor) -> str:
    if code is None:
        return "no_code"
    ev = evaluate_program(code, task, executor)
    if ev.all_train_correct and all(o.correct for o in ev.test):
        return "solved"
    errors = [o.error for o in ev.train if o.error]
    return errors[0].split(":")[0] if errors else "wrong"


def test_corpus_is_large_and_covers_each_outcome():
    assert len(CASES) >= 20 and len({c["id"] for c in CASES}) == len(CASES)
    assert {c["outcome"] for c in CASES} >= {"solved", "wrong", "no_code", "NameError"}


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_corpus(case, task_and_executor):
    code = extract_code(case["content"], case.get("reasoning"))
    assert code == case["program"]
    assert _outcome(code, *task_and_executor) == case["outcome"]
