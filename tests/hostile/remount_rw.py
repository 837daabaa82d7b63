"""Remount the read-only library folders read-write, then write into site-packages.

mount(NULL, dir, NULL, MS_REMOUNT|MS_BIND, NULL) on site-packages and on the stdlib folder;
if that is refused, unshare(CLONE_NEWUSER|CLONE_NEWNS) and try again; then create a file in
site-packages (the test checks from outside that it does not exist).
Row 0 (leaks): [site-packages remounted, stdlib remounted, file written in site-packages].
Contained: all 0, and no file appears in site-packages.
"""

import ctypes
import os

CONFIG: dict = {}  # filled in by tests/sandbox_modes.py
LEAKS = ("remount-site-packages", "remount-stdlib", "wrote-site-packages")
MS_REMOUNT, MS_BIND = 32, 4096
CLONE_NEWNS, CLONE_NEWUSER = 0x00020000, 0x10000000


def transform(grid):
    libc = ctypes.CDLL(None, use_errno=True)
    dirs = [CONFIG["site_dir"], os.path.dirname(os.__file__)]

    def remount_all():
        return [
            int(libc.mount(None, d.encode(), None, MS_REMOUNT | MS_BIND, None) == 0) for d in dirs
        ]

    flags = remount_all()
    if not any(flags) and libc.unshare(CLONE_NEWUSER | CLONE_NEWNS) == 0:
        flags = remount_all()
    path = os.path.join(CONFIG["site_dir"], "arcnb_hostile_rw_" + CONFIG["token"])
    try:
        with open(path, "w") as f:
            f.write("pwned")
        wrote = int(os.path.exists(path))
    except OSError:
        wrote = 0
    return [[*flags, wrote]]
