"""bpf(BPF_MAP_CREATE): load anything into the kernel's BPF subsystem.

Row 0 (leaks): [an array map was created].
Contained: 0.
"""

import ctypes
import struct

CONFIG: dict = {}  # filled in by tests/sandbox_modes.py
LEAKS = ("bpf-map-create",)


def transform(grid):
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    attr = ctypes.create_string_buffer(struct.pack("IIII", 2, 4, 4, 1), 128)  # ARRAY, 4, 4, 1
    fd = libc.syscall(ctypes.c_long(321), ctypes.c_long(0), attr, ctypes.c_long(128))
    if fd >= 0:
        libc.close(ctypes.c_int(fd))
    return [[int(fd >= 0)]]
