"""Rejoin the runner's network namespace with setns() through /proc/<pid>/ns/net, then connect.

Tries /proc/<runner>/ns/net, /proc/<parent>/ns/net and /proc/1/ns/net; after each setns that
succeeds, connects to the test's TCP listener on 127.0.0.1.
Row 0 (leaks): [setns into some other network namespace succeeded, then connected].
Contained: both 0, and the listener receives nothing.
"""

import ctypes
import os
import socket

CONFIG: dict = {}  # filled in by tests/sandbox_modes.py
CASE = ""  # filled in by tests/sandbox_modes.py
LEAKS = ("setns-net", "connected-after-setns")
CLONE_NEWNET = 0x40000000


def transform(grid):
    libc = ctypes.CDLL(None, use_errno=True)
    joined = connected = 0
    for pid in (CONFIG["runner_pid"], os.getppid(), 1):
        try:
            fd = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY)
        except OSError:
            continue
        mine = os.readlink("/proc/self/ns/net") if os.path.exists("/proc/self/ns/net") else ""
        other = os.readlink(f"/proc/{pid}/ns/net")
        if libc.setns(fd, CLONE_NEWNET) == 0:
            joined = max(joined, int(other != mine))
            try:
                port = CONFIG["net"][CASE]["tcp_lo"]
                with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
                    s.send(b"leak " + CONFIG["token"].encode())
                connected = 1
            except OSError:
                pass
        os.close(fd)
    return [[joined, connected]]
