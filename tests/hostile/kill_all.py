"""os.kill(-1, SIGKILL): every process the program may signal.

The test checks from outside that the runner (it goes on reporting), a sentinel process it
started with its own uid, and the executor's workers (none replaced) all survive.
Row 1 (info): [kill(-1) returned without error].
Contained: runner, sentinel and workers all alive afterwards.
"""

import os

CONFIG: dict = {}  # filled in by tests/sandbox_modes.py
LEAKS = ()
INFO = ("kill-returned-ok",)


def transform(grid):
    try:
        os.kill(-1, 9)
        ok = 1
    except OSError:
        ok = 0
    return [[0], [ok]]
