"""Forge replies: write a fake result line into the worker's stdout (the pipe the runner reads
replies from) and into the runner's stdout, via /proc/<pid>/fd/1; open the worker's stdin
(where the next programs arrive) for reading (only opened: reading would steal a request).
The line written is {"forged": "<token>"}; the test's runner reports any forged line it sees.
Row 0 (leaks): [wrote the parent's stdout, wrote the runner's stdout, opened the parent's stdin].
Contained: all 0 and no forged line arrives.
"""

import json
import os

CONFIG: dict = {}  # filled in by tests/sandbox_modes.py
LEAKS = ("wrote-parent-stdout", "wrote-runner-stdout", "opened-parent-stdin")


def _write(pid):
    if pid <= 0:
        return 0
    try:
        fd = os.open(f"/proc/{pid}/fd/1", os.O_WRONLY | os.O_NONBLOCK)
    except OSError:
        return 0
    try:
        line = json.dumps({"forged": CONFIG["token"]}) + "\n"
        return int(os.write(fd, line.encode()) > 0)
    except OSError:
        return 0
    finally:
        os.close(fd)


def _open_stdin(pid):
    try:
        os.close(os.open(f"/proc/{pid}/fd/0", os.O_RDONLY | os.O_NONBLOCK))
        return 1
    except OSError:
        return 0


def transform(grid):
    parent = os.getppid()
    return [[_write(parent), _write(CONFIG["runner_pid"]), _open_stdin(parent)]]
