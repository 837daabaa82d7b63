"""Find an earlier program's reply, or the next program's source, in the worker's state.

Walks sys._getframe().f_back… (every frame's locals and globals, a few levels deep), every
object gc.get_objects() knows with what it refers to, and sys.stdin's buffer (peek), looking
for the marker the earlier program `marker` produced (ARCNBMARK-<token>) and the marker in the
source of `victim`, queued behind this one (ARCNBNEXT-<token>). The markers are never built
whole here, so this program's own objects cannot match.
Row 0 (leaks): [earlier reply seen via frames, via gc, next program seen via stdin peek,
via frames/gc].
Contained: all 0.
"""

import gc
import sys

CONFIG: dict = {}  # filled in by tests/sandbox_modes.py
LEAKS = ("earlier-reply-in-frames", "earlier-reply-in-gc", "next-source-in-stdin-buffer",
         "next-source-in-frames-or-gc")  # fmt: skip


def _has(obj, head, tail):
    """True when obj (str or bytes) holds head immediately followed by tail."""
    if isinstance(obj, bytes | bytearray | memoryview):
        obj = bytes(obj).decode("latin-1")
    if not isinstance(obj, str):
        return False
    i = obj.find(tail)
    while i >= 0:
        if i >= len(head) and obj[i - len(head) : i] == head:
            return True
        i = obj.find(tail, i + 1)
    return False


def _walk(obj, pred, depth, seen):
    if pred(obj):
        return True
    if depth <= 0 or id(obj) in seen:
        return False
    seen.add(id(obj))
    if isinstance(obj, dict):
        items = list(obj.values()) + list(obj.keys())
    elif isinstance(obj, list | tuple | set | frozenset):
        items = list(obj)
    else:
        return False
    return any(_walk(x, pred, depth - 1, seen) for x in items[:20000])


def transform(grid):
    tok = CONFIG["token"]
    tail_prev, tail_next = "MARK-" + tok, "NEXT-" + tok
    prev = lambda o: _has(o, "ARCNB", tail_prev)  # noqa: E731
    nxt = lambda o: _has(o, "ARCNB", tail_next)  # noqa: E731
    flags = [0, 0, 0, 0]
    frame = sys._getframe().f_back
    while frame is not None:
        for scope in (frame.f_locals, frame.f_globals):
            if _walk(scope, prev, 4, set()):
                flags[0] = 1
            if _walk(scope, nxt, 4, set()):
                flags[3] = 1
        frame = frame.f_back
    for obj in gc.get_objects():
        if obj is flags:
            continue
        for ref in gc.get_referents(obj):
            if prev(ref):
                flags[1] = 1
            if nxt(ref):
                flags[3] = 1
    try:
        peeked = sys.stdin.buffer.peek(1 << 20)
        flags[2] = int(nxt(peeked))
    except Exception:
        pass
    return [flags]
