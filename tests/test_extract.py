"""Tests for arcnb.extract.extract_code."""

import pytest

from arcnb.extract import extract_code

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
