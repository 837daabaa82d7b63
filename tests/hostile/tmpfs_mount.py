"""Mount a tmpfs (on the test's folder, /tmp, or the program's own root) and leave a marker.

Tries mount("tmpfs", ...) directly, then after unshare(CLONE_NEWUSER|CLONE_NEWNS); writes
arcnb-tmpfs-<token> into the new tmpfs. `tmpfs_probe` (a later program) looks for the marker.
Row 0 (leaks): [mounted directly, mounted after unshare]. Row 1 (info): [marker written].
Contained: no mount succeeds (and the probe sees no marker).
"""

import ctypes
import os

CONFIG: dict = {}  # filled in by tests/sandbox_modes.py
LEAKS = ("mount-tmpfs", "mount-tmpfs-after-unshare")
INFO = ("marker-written",)
CLONE_NEWNS, CLONE_NEWUSER = 0x00020000, 0x10000000


def transform(grid):
    libc = ctypes.CDLL(None, use_errno=True)
    targets = [CONFIG["mnt_dir"], "/tmp", "/"]

    def mount_one():
        for t in targets:
            if libc.mount(b"tmpfs", t.encode(), b"tmpfs", 0, b"size=1m") == 0:
                return t
        return None

    direct = mount_one()
    after = None
    if direct is None and libc.unshare(CLONE_NEWUSER | CLONE_NEWNS) == 0:
        after = mount_one()
    marker = 0
    where = direct or after
    if where:
        try:
            with open(os.path.join(where, "arcnb-tmpfs-" + CONFIG["token"]), "w") as f:
                f.write("x")
            marker = 1
        except OSError:
            pass
    return [[int(direct is not None), int(after is not None)], [marker, 0]]
