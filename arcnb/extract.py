"""Pulls the ``transform`` program out of a model's response.

Many open reasoning models (DeepSeek-R1, QwQ, Qwen3, ... behind a server without a reasoning
parser) send their reasoning inside the content as ``<think>...</think>`` before the answer.
`split_think` takes it out; `LLMClient` stores it as reasoning, and `extract_code` looks for
code in the answer after it first, then in the reasoning.
"""

from __future__ import annotations

import ast
import re
import textwrap
from dataclasses import dataclass

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
    """Returns the program in a response: its final ``transform`` block, with the earlier
    definitions that block uses.

    The program is the last fenced Python block that defines ``transform``. Fences may be
    labelled (```` ```python ````, ```` ```py ````, any case) or not, with backticks or tildes.
    A block left open at the end of a truncated response counts only if it compiles;
    otherwise the last closed block that defines ``transform`` is used.

    Functions, classes, constants and imports defined at the top level of earlier Python
    blocks of the same text are put before it when it uses them, directly or through each
    other (models often write a helper in one block and call it from the final one). A later
    definition of a name wins over an earlier one, and the final block's own definitions win
    over all of them. Earlier blocks that do not parse are skipped, and their statements that
    do things (calls, prints, ``if __name__ == "__main__":`` harnesses, assignments that call
    ``transform`` or ``print``) are never taken. When the final block does not parse, or uses
    nothing defined earlier, it is returned alone.

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
        code = _program(text or "")
        if code is not None:
            return code
    return None


def _program(text: str) -> str | None:
    """The final ``transform`` block of one text, with the earlier definitions it uses."""
    blocks = _fenced_blocks(text)
    final = None
    for i, (code, closed) in enumerate(blocks):
        if _DEFINES_TRANSFORM_RE.search(code) and (closed or _compiles(code)):
            final = i
    if final is None:
        return None
    return _with_earlier_definitions(blocks[final][0], [code for code, _ in blocks[:final]])


@dataclass
class _Definition:
    source: str
    order: tuple[int, int]  # (block, statement) in the text
    is_import: bool
    uses: set[str]  # free names: read in it, bound nowhere in it


def _with_earlier_definitions(program: str, earlier: list[str]) -> str:
    try:
        tree = ast.parse(program)
    except (SyntaxError, ValueError):
        return program  # the executor reports the error; nothing to resolve
    definitions: dict[str, _Definition] = {}  # name -> its latest definition
    for b, block in enumerate(earlier):
        try:
            module = ast.parse(block)
        except (SyntaxError, ValueError):
            continue
        for s, node in enumerate(module.body):
            names = _bound_by(node)
            if names:
                uses = _free_names(node)
                definitions |= dict.fromkeys(
                    names,
                    _Definition(
                        _source(block, node),
                        (b, s),
                        isinstance(node, ast.Import | ast.ImportFrom),
                        uses,
                    ),
                )
    own = _top_level_names(tree)  # the final block's definitions win over all earlier ones
    for name in own:
        definitions.pop(name, None)
    wanted = _free_names(tree) - own
    taken: dict[tuple[int, int], _Definition] = {}
    while wanted:
        name = wanted.pop()
        definition = definitions.pop(name, None)
        if definition is not None and definition.order not in taken:
            taken[definition.order] = definition
            wanted |= definition.uses
    if not taken:
        return program
    ordered = [taken[k] for k in sorted(taken)]  # imports first: constants may need them
    imports = "\n".join(d.source for d in ordered if d.is_import)
    others = [d.source for d in ordered if not d.is_import]
    return "\n\n\n".join([part for part in (imports, *others) if part] + [program])


def _bound_by(node: ast.stmt) -> list[str]:
    """The names a top-level definition binds; [] for a statement that is not one."""
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return [node.name]
    if isinstance(node, ast.Import):
        return [(a.asname or a.name).split(".")[0] for a in node.names]
    if isinstance(node, ast.ImportFrom):
        if node.module == "__future__" or any(a.name == "*" for a in node.names):
            return []  # a __future__ import must come first; a star import binds unknown names
        return [a.asname or a.name for a in node.names]
    if isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None:
        if _calls(node.value, {"transform", "print"}):
            return []  # a test harness's result, not a constant
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        names = []
        for target in targets:
            elements = target.elts if isinstance(target, ast.Tuple | ast.List) else [target]
            if not all(isinstance(e, ast.Name) for e in elements):
                return []  # x[0] = ..., obj.attr = ...: not a definition
            names += [e.id for e in elements]
        return names
    return []


def _calls(node: ast.AST, names: set[str]) -> bool:
    return any(
        isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id in names
        for n in ast.walk(node)
    )


def _free_names(node: ast.AST) -> set[str]:
    """Names read somewhere in ``node`` and bound nowhere in it (a close approximation of
    its free names: a local that shadows a global hides that global everywhere)."""
    read, bound, declared = set(), set(), set()
    for n in ast.walk(node):
        if isinstance(n, ast.Name):
            (read if isinstance(n.ctx, ast.Load) else bound).add(n.id)
        elif isinstance(n, ast.arg):
            bound.add(n.arg)
        elif isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            bound.add(n.name)
        elif isinstance(n, ast.alias):
            bound.add((n.asname or n.name).split(".")[0])
        elif isinstance(n, ast.ExceptHandler) and n.name:
            bound.add(n.name)
        elif isinstance(n, ast.Global):
            declared.update(n.names)  # module-level names, even where assigned
    return (read - bound) | declared


def _top_level_names(tree: ast.Module) -> set[str]:
    return {name for node in tree.body for name in _bound_by(node)}


def _source(block: str, node: ast.stmt) -> str:
    """A top-level statement's text, decorators included."""
    text = ast.get_source_segment(block, node) or ""
    decorators = getattr(node, "decorator_list", [])
    if decorators:
        lines = block.splitlines()
        text = "\n".join(lines[decorators[0].lineno - 1 : node.lineno - 1]) + "\n" + text
    return text


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
