"""The later program: find the SysV segments `sysv_shm` created and read the token back.

Row 0 (leaks): [token read from the small segment, 1 GB segment still exists].
Contained: both 0.
"""

import ctypes

CONFIG: dict = {}  # filled in by tests/sandbox_modes.py
LEAKS = ("shm-data-passed", "shm-1GB-visible")


def transform(grid):
    libc = ctypes.CDLL(None, use_errno=True)
    libc.shmget.argtypes = [ctypes.c_int, ctypes.c_size_t, ctypes.c_int]
    libc.shmat.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_int]
    libc.shmat.restype = ctypes.c_void_p
    key = CONFIG["ipc_key"]
    passed = 0
    shmid = libc.shmget(key + 1, 0, 0)
    if shmid >= 0:
        addr = libc.shmat(shmid, None, 0o10000)  # SHM_RDONLY
        if addr not in (None, ctypes.c_void_p(-1).value):
            data = CONFIG["token"].encode()
            passed = int(ctypes.string_at(addr, len(data)) == data)
            libc.shmdt(ctypes.c_void_p(addr))
    return [[passed, int(libc.shmget(key, 0, 0) >= 0)]]
