"""perf_event_open() on the program itself and on its parent (the worker).

A software task-clock counter, user space only (allowed to anyone at perf_event_paranoid 2).
Row 0 (leaks): [counter on self opened, counter on the parent opened].
Contained: both 0.
"""

import ctypes
import os
import struct

CONFIG: dict = {}  # filled in by tests/sandbox_modes.py
LEAKS = ("perf-self", "perf-parent")


def _open(pid):
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    # type SOFTWARE, size 64 (PERF_ATTR_SIZE_VER0), config TASK_CLOCK; disabled, exclude_kernel, exclude_hv
    attr = ctypes.create_string_buffer(
        struct.pack("IIQQQQQ", 1, 64, 1, 0, 0, 0, 1 | 1 << 5 | 1 << 6), 128
    )
    fd = libc.syscall(ctypes.c_long(298), attr, ctypes.c_long(pid), ctypes.c_long(-1),
                      ctypes.c_long(-1), ctypes.c_long(0))  # fmt: skip
    if fd >= 0:
        libc.close(ctypes.c_int(fd))
    return int(fd >= 0)


def transform(grid):
    parent = os.getppid()
    return [[_open(0), _open(parent) if parent > 0 else 0]]
