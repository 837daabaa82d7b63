"""The later program: receive the message `sysv_msg` queued; look for its semaphore set.

Row 0 (leaks): [token received from the queue, semaphore set visible].
Contained: both 0.
"""

import ctypes

CONFIG: dict = {}  # filled in by tests/sandbox_modes.py
LEAKS = ("msg-data-passed", "sem-visible")


def transform(grid):
    libc = ctypes.CDLL(None, use_errno=True)
    libc.msgrcv.restype = ctypes.c_ssize_t
    key = CONFIG["ipc_key"]
    passed = 0
    qid = libc.msgget(key + 2, 0)
    if qid >= 0:
        buf = ctypes.create_string_buffer(8 + 256)
        n = libc.msgrcv(qid, buf, ctypes.c_size_t(256), ctypes.c_long(0), 0o4000)  # IPC_NOWAIT
        passed = int(n > 0 and buf.raw[8 : 8 + n] == CONFIG["token"].encode())
    return [[passed, int(libc.semget(key + 3, 0, 0) >= 0)]]
