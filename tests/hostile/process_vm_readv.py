"""process_vm_readv() on the worker (getppid()) and on the runner.

Address to read: the first readable region in /proc/<pid>/maps when visible, else the
address of an object this program inherited from the worker by fork (same layout).
Row 0 (leaks): [read the parent's memory, read the runner's memory].
Contained: both 0.
"""

import ctypes
import os
import sys

CONFIG: dict = {}  # filled in by tests/sandbox_modes.py
LEAKS = ("readv-parent", "readv-runner")


class Iovec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]


def _addr(pid):
    try:
        with open(f"/proc/{pid}/maps") as f:
            for line in f:
                if line.split()[1].startswith("r"):
                    return int(line.split("-")[0], 16)
    except (OSError, ValueError, IndexError):
        pass
    return id(sys.modules)


def _readv(pid):
    if pid <= 0 or pid == os.getpid():
        return 0
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    buf = ctypes.create_string_buffer(64)
    local = Iovec(ctypes.addressof(buf), 64)
    remote = Iovec(_addr(pid), 64)
    n = libc.syscall(ctypes.c_long(310), ctypes.c_long(pid), ctypes.byref(local), ctypes.c_long(1),
                     ctypes.byref(remote), ctypes.c_long(1), ctypes.c_long(0))  # fmt: skip
    return int(n > 0)


def transform(grid):
    return [[_readv(os.getppid()), _readv(CONFIG["runner_pid"])]]
