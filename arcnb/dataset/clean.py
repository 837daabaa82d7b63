"""`clean_code`: strip comments and blank lines from a program, keeping it equivalent."""

from __future__ import annotations

import ast
import functools
import io
import tokenize


def clean_code(code: str) -> str:
    """Strip comments and blank lines from a program, keeping it exactly equivalent.

    Uses Python's tokenizer (so ``#`` inside strings is left alone, and so are blank lines
    inside multi-line strings), then checks that the result compiles to the same syntax tree
    as the original; when it would not (or the original does not parse), the original is
    returned unchanged.

    Args:
        code: Python source.

    Returns:
        The cleaned source, or ``code`` itself.
    """
    return _clean(code)[0]


@functools.lru_cache(maxsize=4096)
def _clean(code: str) -> tuple[str, bool]:
    """(cleaned code, whether cleaning succeeded); on failure the original is returned."""
    try:
        before = ast.dump(ast.parse(code))
        tokens = list(tokenize.generate_tokens(io.StringIO(code).readline))
    except (SyntaxError, ValueError, tokenize.TokenError):
        return code, False
    lines = [line.rstrip("\r\n") for line in io.StringIO(code).readlines()]
    keep_blank: set[int] = set()  # rows inside a multi-line string: never dropped
    keep_tail: set[int] = set()  # rows a multi-line string continues past: never rstripped
    fstrings: list[int] = []
    for tok in tokens:
        start, end = tok.start[0], tok.end[0]
        name = tokenize.tok_name.get(tok.type, "")
        if name == "FSTRING_START":  # Python 3.12+: f-strings arrive in pieces
            fstrings.append(start)
            continue
        if name == "FSTRING_END" and fstrings:
            start = fstrings.pop()
        if tok.type == tokenize.COMMENT:
            row = start - 1
            lines[row] = lines[row][: tok.start[1]]
        elif end > start and tok.type not in (tokenize.NEWLINE, tokenize.NL):
            keep_blank.update(range(start + 1, end + 1))
            keep_tail.update(range(start, end))
    out = []
    for number, line in enumerate(lines, start=1):
        if number not in keep_tail:
            line = line.rstrip()
        if line or number in keep_blank:
            out.append(line)
    cleaned = "\n".join(out) + ("\n" if code.endswith("\n") else "")
    try:
        compile(cleaned, "<program>", "exec")
        same = ast.dump(ast.parse(cleaned)) == before
    except (SyntaxError, ValueError):
        same = False
    return (cleaned, True) if same else (code, False)
