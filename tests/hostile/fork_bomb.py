"""A (bounded) fork bomb and thread bomb whose processes try to outlive the program.

Forks up to 40 children that setsid() (leaving the program's process group), rename
themselves `arcnb-linger` and sleep 20 s; starts up to 40 threads. The test looks for
`arcnb-linger` processes from outside right after the program.
Row 0 (leaks): [at least one fork succeeded, at least one thread started].
Contained: both 0 and no `arcnb-linger` process is left.
"""

import _thread  # builtin: importable even where library folders are not mounted
import ctypes
import os
import time

CONFIG: dict = {}  # filled in by tests/sandbox_modes.py
LEAKS = ("forked", "thread-started")


def _linger():
    try:
        os.setsid()
        ctypes.CDLL(None).prctl(15, b"arcnb-linger", 0, 0, 0)  # PR_SET_NAME
        time.sleep(20)
    finally:
        os._exit(0)


def transform(grid):
    forked = threads = 0
    for _ in range(40):
        try:
            pid = os.fork()
        except OSError:
            break
        if pid == 0:
            _linger()
        forked += 1
    for _ in range(40):
        try:
            _thread.start_new_thread(time.sleep, (20,))
        except (RuntimeError, OSError):
            break
        threads += 1
    return [[int(forked > 0), int(threads > 0)]]
