"""Pulls the ``transform`` program out of a model's response.

Many open reasoning models (DeepSeek-R1, QwQ, Qwen3, ... behind a server without a reasoning
parser) send their reasoning inside the content as ``<think>...</think>`` before the answer.
`split_think` takes it out; `LLMClient` stores it as reasoning, and `extract_code` looks for
code in the answer after it first, then in the reasoning.
"""

from __future__ import annotations

import re
import textwrap

# An opening fence: up to 3 spaces, 3+ backticks or tildes, an optional info string.
_FENCE_RE = re.compile(r"^( {0,3})(`{3,}|~{3,})\s*([^\s`]*)[^`]*$")
# Fence labels taken as Python; any other language's block is ignored.
_PYTHON_LABELS = frozenset({"", "python", "py", "python3", "py3"})
_DEFINES_TRANSFORM_RE = re.compile(r"^\s*def\s+transform\s*\(", re.MULTILINE)
_THINK_OPEN = "<think>"
_THINK_CLOSE = "</think>"


def split_think(content: str | None) -> tuple[str | None, str | None]:
    """Splits a leading ``<think>...</think>`` block off a response's text.

    The block counts only at the start of the text (after whitespace). A ``<think>`` never
    closed (generation cut off by the token limit) makes all the rest reasoning. A
    ``</think>`` with no ``<think>`` before it (chat templates that put the opening tag in the
    prompt) makes everything before it reasoning. Any other text is all answer.

    Args:
        content: The response's visible text, as the endpoint sent it.

    Returns:
        ``(answer, think)``: the text after the block without its leading whitespace ("" when
        the block never closed; ``content`` unchanged when there is no block), and the text
        inside the block without surrounding whitespace (None when there is no block or it
        is blank).
    """
    if content is None:
        return None, None
    text = content.lstrip()
    if text.startswith(_THINK_OPEN):
        inside, closed, after = text[len(_THINK_OPEN) :].partition(_THINK_CLOSE)
        if not closed:
            return "", inside.strip() or None
    else:
        inside, closed, after = content.partition(_THINK_CLOSE)
        if not closed or _THINK_OPEN in inside:
            return content, None
    return after.lstrip(), inside.strip() or None


def join_reasoning(*parts: str | None) -> str | None:
    """Joins reasoning texts in order with a blank line, skipping empty ones; None if none."""
    texts = [part for part in parts if part]
    return "\n\n".join(texts) if texts else None


def extract_code(content: str | None, reasoning: str | None = None) -> str | None:
    """Returns the last fenced Python code block that defines ``transform``.

    Fences may be labelled (```` ```python ````, ```` ```py ````, any case) or not, with backticks
    or tildes. A block left open at the end of a truncated response counts only if it compiles;
    otherwise the last closed block that defines ``transform`` is used.

    The texts are searched in turn until one has such a block: the answer (``content`` after
    any leading ``<think>`` block, see `split_think`), then that block, then ``reasoning``.

    Args:
        content: The response's visible text, with or without a ``<think>`` block.
        reasoning: The response's reasoning text, searched only when ``content`` has no such
            block (some models put their final code there).

    Returns:
        The code, dedented and without trailing whitespace, or None when there is none.
    """
    answer, think = split_think(content)
    for text in (answer, think, reasoning):
        code = _last_transform_block(text or "")
        if code is not None:
            return code
    return None


def _last_transform_block(text: str) -> str | None:
    found = None
    for code, closed in _fenced_blocks(text):
        if not _DEFINES_TRANSFORM_RE.search(code):
            continue
        if closed or _compiles(code):
            found = code
    return found


def _fenced_blocks(text: str) -> list[tuple[str, bool]]:
    """(code, closed) for each fenced block labelled as Python or unlabelled, in order."""
    blocks = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        m = _FENCE_RE.match(lines[i])
        i += 1
        if not m:
            continue
        fence, label = m.group(2), m.group(3).lower()
        # A closing fence uses the same character, at least as many times, and nothing else.
        close_re = re.compile(rf"^ {{0,3}}{re.escape(fence[0])}{{{len(fence)},}}\s*$")
        body = []
        closed = False
        while i < len(lines):
            line = lines[i]
            i += 1
            if close_re.match(line):
                closed = True
                break
            body.append(line)
        if label in _PYTHON_LABELS:
            blocks.append((textwrap.dedent("\n".join(body)).rstrip(), closed))
    return blocks


def _compiles(code: str) -> bool:
    try:
        compile(code, "<program>", "exec")
    except (SyntaxError, ValueError):
        return False
    return True


__all__ = ["extract_code", "join_reasoning", "split_think"]
