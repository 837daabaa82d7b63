"""Get back to root: setuid(0)/setresuid(0, 0, 0); look for capabilities and no_new_privs.

Row 0 (leaks): [uid 0 (already, or after setuid), any effective/permitted capability,
bounding set not empty, no_new_privs not set].
Contained: all 0 (the program runs as a non-root uid with no capabilities at all, bounding
set included, and no_new_privs set).
"""

import ctypes
import os

CONFIG: dict = {}  # filled in by tests/sandbox_modes.py
LEAKS = ("uid-0", "capabilities", "bounding-set", "no-new-privs-off")


def transform(grid):
    libc = ctypes.CDLL(None, use_errno=True)
    for call in (
        lambda: os.setresgid(0, 0, 0),
        lambda: os.setresuid(0, 0, 0),
        lambda: os.setuid(0),
    ):
        try:
            call()
        except OSError:
            pass
    root = int(os.geteuid() == 0 or os.getuid() == 0)
    header = (ctypes.c_uint32 * 2)(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3, this process
    data = (ctypes.c_uint32 * 6)()
    caps = 0
    if libc.capget(header, data) == 0:
        caps = int(any(data[i] for i in (0, 1, 3, 4)))  # effective, permitted (two words)
    bounding = int(any(libc.prctl(23, c, 0, 0, 0) == 1 for c in range(64)))  # PR_CAPBSET_READ
    nnp_off = int(libc.prctl(39, 0, 0, 0, 0) == 0)  # PR_GET_NO_NEW_PRIVS
    return [[root, caps, bounding, nnp_off]]
