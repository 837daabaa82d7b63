"""Read the fake API key the test planted in the runner's environment.

Looks in /proc/<runner>/environ, /proc/<parent>/environ (the worker), /proc/<grandparent>/
environ and the program's own environment.
Row 0 (leaks): one flag per place where the key was found.
Contained: every flag 0.
"""

import os

CONFIG: dict = {}  # filled in by tests/sandbox_modes.py
LEAKS = ("proc-runner-environ", "proc-parent-environ", "proc-grandparent-environ", "own-env")
PATTERN = ("ARCNB_FAKE" + "_KEY=sk-").encode()  # built at run time: absent from the source


def _environ(pid):
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            return int(PATTERN in f.read())
    except OSError:
        return 0


def _ppid_of(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return 0


def transform(grid):
    parent = os.getppid()
    grandparent = _ppid_of(parent) if parent > 0 else 0
    own = "\0".join(f"{k}={v}" for k, v in os.environ.items()).encode()
    return [
        [
            _environ(CONFIG["runner_pid"]),
            _environ(parent) if parent > 0 else 0,
            _environ(grandparent) if grandparent > 0 else 0,
            int(PATTERN in own),
        ]
    ]
