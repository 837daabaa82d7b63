"""Pulls the ``transform`` program out of a model's response."""

from __future__ import annotations

import re
import textwrap

# An opening fence: up to 3 spaces, 3+ backticks or tildes, an optional info string.
_FENCE_RE = re.compile(r"^( {0,3})(`{3,}|~{3,})\s*([^\s`]*)[^`]*$")
# Fence labels taken as Python; any other language's block is ignored.
_PYTHON_LABELS = frozenset({"", "python", "py", "python3", "py3"})
_DEFINES_TRANSFORM_RE = re.compile(r"^\s*def\s+transform\s*\(", re.MULTILINE)


def extract_code(content: str | None, reasoning: str | None = None) -> str | None:
    """Returns the last fenced Python code block that defines ``transform``.

    Fences may be labelled (```` ```python ````, ```` ```py ````, any case) or not, with backticks
    or tildes. A block left open at the end of a truncated response counts only if it compiles;
    otherwise the last closed block that defines ``transform`` is used.

    Args:
        content: The response's visible text.
        reasoning: The response's reasoning text, searched only when ``content`` has no such
            block (some models put their final code there).

    Returns:
        The code, dedented and without trailing whitespace, or None when there is none.
    """
    for text in (content, reasoning):
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


__all__ = ["extract_code"]
