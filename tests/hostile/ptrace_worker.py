"""ptrace the worker (getppid()) and the runner: PTRACE_ATTACH and PTRACE_SEIZE.

A successful attach is undone at once (wait for the stop, PTRACE_DETACH, SIGCONT), so that a
leak in the sandbox does not also freeze the test.
Row 0 (leaks): [attach parent, seize parent, attach runner, seize runner].
Contained: all 0.
"""

import ctypes
import os
import signal

CONFIG: dict = {}  # filled in by tests/sandbox_modes.py
LEAKS = ("attach-parent", "seize-parent", "attach-runner", "seize-runner")
ATTACH, DETACH, SEIZE, INTERRUPT = 16, 17, 0x4206, 0x4207
WALL = 0x40000000


def _try(libc, pid, request):
    if pid <= 0 or pid == os.getpid():
        return 0
    if libc.ptrace(ctypes.c_long(request), ctypes.c_long(pid), None, None) != 0:
        return 0
    if request == SEIZE:
        libc.ptrace(ctypes.c_long(INTERRUPT), ctypes.c_long(pid), None, None)
    try:
        os.waitpid(pid, WALL)
    except OSError:
        pass
    libc.ptrace(ctypes.c_long(DETACH), ctypes.c_long(pid), None, None)
    try:
        os.kill(pid, signal.SIGCONT)
    except OSError:
        pass
    return 1


def transform(grid):
    libc = ctypes.CDLL(None, use_errno=True)
    libc.ptrace.restype = ctypes.c_long
    parent, runner = os.getppid(), CONFIG["runner_pid"]
    return [[_try(libc, parent, ATTACH), _try(libc, parent, SEIZE),
             _try(libc, runner, ATTACH), _try(libc, runner, SEIZE)]]  # fmt: skip
