"""Kill the sentinel (same uid as the runner), the worker (getppid()) and the runner by pid.

The test checks from outside that all three survive (no worker replaced, sentinel alive, the
runner goes on reporting).
Row 1 (info): which kill() calls returned without error [sentinel, parent, runner].
Contained: all alive afterwards.
"""

import os

CONFIG: dict = {}  # filled in by tests/sandbox_modes.py
LEAKS = ()
INFO = ("kill-sentinel", "kill-parent", "kill-runner")


def _kill(pid):
    if pid <= 0 or pid == os.getpid():
        return 0
    try:
        os.kill(pid, 9)
        return 1
    except OSError:
        return 0


def transform(grid):
    return [
        [0, 0, 0],
        [_kill(CONFIG["sentinel_pid"]), _kill(os.getppid()), _kill(CONFIG["runner_pid"])],
    ]
