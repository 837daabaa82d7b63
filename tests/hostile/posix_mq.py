"""A POSIX message queue that outlives the program (mq_open, x86_64 syscalls 240-243).

Creates /arcnb-<token> and sends the token; `posix_mq_probe` (a later program) receives it,
and the test checks after close() that the queue is gone.
Row 1 (info): [queue created and message sent].
Contained: the probe receives nothing and no queue is left after close().
"""

import ctypes

CONFIG: dict = {}  # filled in by tests/sandbox_modes.py
LEAKS = ()
INFO = ("mq-sent",)


def transform(grid):
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    name = ctypes.create_string_buffer(("arcnb-" + CONFIG["token"]).encode())  # no leading "/"
    fd = libc.syscall(ctypes.c_long(240), name, ctypes.c_long(0o100 | 2 | 0o4000),
                      ctypes.c_long(0o666), None)  # O_CREAT | O_RDWR | O_NONBLOCK  # fmt: skip
    sent = 0
    if fd >= 0:
        data = ctypes.create_string_buffer(CONFIG["token"].encode())
        n = len(CONFIG["token"])
        sent = int(libc.syscall(ctypes.c_long(242), ctypes.c_long(fd), data, ctypes.c_long(n),
                                ctypes.c_long(0), None) == 0)  # fmt: skip
        libc.close(ctypes.c_int(fd))
    return [[0], [sent]]
