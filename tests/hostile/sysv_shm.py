"""SysV shared memory that outlives the program: a 1 GB segment and a small one with data.

shmget(key, 1 GB) and shmget(key + 1, 4 KB) holding the token; `sysv_shm_probe` (a later
program) looks for both, and the test checks /proc/sysvipc/shm after the executor closes.
Row 1 (info): [1 GB segment created, small segment created and written].
Contained: the probe finds nothing and no segment is left after close() (creating one in a
private IPC namespace that dies with the program is harmless).
"""

import ctypes

CONFIG: dict = {}  # filled in by tests/sandbox_modes.py
LEAKS = ()
INFO = ("shm-1GB-created", "shm-data-written")


def transform(grid):
    libc = ctypes.CDLL(None, use_errno=True)
    libc.shmget.argtypes = [ctypes.c_int, ctypes.c_size_t, ctypes.c_int]
    libc.shmat.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_int]
    libc.shmat.restype = ctypes.c_void_p
    key = CONFIG["ipc_key"]
    big = int(libc.shmget(key, 1 << 30, 0o1000 | 0o666) >= 0)  # IPC_CREAT
    small = 0
    shmid = libc.shmget(key + 1, 4096, 0o1000 | 0o666)
    if shmid >= 0:
        addr = libc.shmat(shmid, None, 0)
        if addr not in (None, ctypes.c_void_p(-1).value):
            data = CONFIG["token"].encode()
            ctypes.memmove(addr, data, len(data))
            libc.shmdt(ctypes.c_void_p(addr))
            small = 1
    return [[0, 0], [big, small]]
