"""The later program: receive the token from the POSIX queue `posix_mq` created.

Row 0 (leaks): [queue visible, token received].
Contained: both 0.
"""

import ctypes

CONFIG: dict = {}  # filled in by tests/sandbox_modes.py
LEAKS = ("mq-visible", "mq-data-passed")


def transform(grid):
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    name = ctypes.create_string_buffer(("arcnb-" + CONFIG["token"]).encode())
    fd = libc.syscall(ctypes.c_long(240), name, ctypes.c_long(0o4000), ctypes.c_long(0), None)
    if fd < 0:
        return [[0, 0]]
    buf = ctypes.create_string_buffer(1 << 16)
    n = libc.syscall(ctypes.c_long(243), ctypes.c_long(fd), buf, ctypes.c_long(1 << 16), None, None)
    libc.close(ctypes.c_int(fd))
    return [[1, int(n > 0 and buf.raw[:n] == CONFIG["token"].encode())]]
