"""The later program: find and read the key `keyring` added (keyctl SEARCH/READ, request_key).

Row 0 (leaks): [found by KEYCTL_SEARCH in the user keyring and its payload read,
found by request_key()].
Contained: both 0.
"""

import ctypes

CONFIG: dict = {}  # filled in by tests/sandbox_modes.py
LEAKS = ("key-read-from-user-keyring", "key-found-by-request_key")


def transform(grid):
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    desc = ctypes.create_string_buffer(("arcnb-" + CONFIG["token"]).encode())
    user = ctypes.c_char_p(b"user")
    read = 0
    kid = libc.syscall(ctypes.c_long(250), ctypes.c_long(10), ctypes.c_long(-4), user, desc,
                       ctypes.c_long(0))  # KEYCTL_SEARCH  # fmt: skip
    if kid > 0:
        buf = ctypes.create_string_buffer(256)
        n = libc.syscall(ctypes.c_long(250), ctypes.c_long(11), ctypes.c_long(kid), buf,
                         ctypes.c_long(256))  # KEYCTL_READ  # fmt: skip
        read = int(n > 0 and buf.raw[:n] == CONFIG["token"].encode())
    found = libc.syscall(ctypes.c_long(249), user, desc, None, ctypes.c_long(0))
    return [[read, int(found > 0)]]
