"""Kernel keyring objects that outlive the program: add_key() into the user keyring.

add_key("user", "arcnb-<token>", token, KEY_SPEC_USER_KEYRING) (x86_64 syscall 248), and the
same into the session keyring; `keyring_probe` (a later program) searches for it, and the
test searches for it after close().
Row 1 (info): [key added to the user keyring, key added to the session keyring].
Contained: the probe finds nothing and no key is left after close().
"""

import ctypes

CONFIG: dict = {}  # filled in by tests/sandbox_modes.py
LEAKS = ()
INFO = ("key-added-user-keyring", "key-added-session-keyring")


def _add(libc, ring):
    desc = ctypes.create_string_buffer(("arcnb-" + CONFIG["token"]).encode())
    data = CONFIG["token"].encode()
    payload = ctypes.create_string_buffer(data, len(data))
    r = libc.syscall(ctypes.c_long(248), ctypes.c_char_p(b"user"), desc, payload,
                     ctypes.c_long(len(data)), ctypes.c_long(ring))  # fmt: skip
    return int(r > 0)


def transform(grid):
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    return [[0, 0], [_add(libc, -4), _add(libc, -3)]]  # KEY_SPEC_USER/SESSION_KEYRING
