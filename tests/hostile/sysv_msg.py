"""SysV message queue and semaphore set that outlive the program.

msgget(key + 2) with one message holding the token; semget(key + 3). `sysv_msg_probe` (a
later program) looks for them; the test checks /proc/sysvipc/{msg,sem} after close().
Row 1 (info): [message queued, semaphore set created].
Contained: the probe finds nothing and no queue or set is left after close().
"""

import ctypes
import struct

CONFIG: dict = {}  # filled in by tests/sandbox_modes.py
LEAKS = ()
INFO = ("msg-queued", "sem-created")


def transform(grid):
    libc = ctypes.CDLL(None, use_errno=True)
    key = CONFIG["ipc_key"]
    queued = 0
    qid = libc.msgget(key + 2, 0o1000 | 0o666)
    if qid >= 0:
        data = CONFIG["token"].encode()
        msg = ctypes.create_string_buffer(struct.pack("l", 1) + data)
        queued = int(libc.msgsnd(qid, msg, ctypes.c_size_t(len(data)), 0o4000) == 0)  # IPC_NOWAIT
    sem = int(libc.semget(key + 3, 1, 0o1000 | 0o666) >= 0)
    return [[0, 0], [queued, sem]]
