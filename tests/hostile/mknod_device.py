"""mknod() a block device for the machine's root disk and read it raw (bypasses every file
permission and jail).

Creates arcnb-node-<token> (S_IFBLK, the disk holding "/", as the runner saw it) in the
first writable place among cwd, /tmp, the test's world-writable folder and /dev/shm; opens it
read-only and reads 4 KB; removes it.
Row 0 (leaks): [device node created, raw disk read].
Contained: both 0.
"""

import os
import stat

CONFIG: dict = {}  # filled in by tests/sandbox_modes.py
LEAKS = ("mknod-block-device", "raw-disk-read")


def transform(grid):
    major, minor = CONFIG["root_dev"]
    name = "arcnb-node-" + CONFIG["token"]
    created = read = 0
    for d in (".", "/tmp", CONFIG["world_dir"], "/dev/shm"):
        path = os.path.join(d, name)
        try:
            os.mknod(path, stat.S_IFBLK | 0o600, os.makedev(major, minor))
        except OSError:
            continue
        created = 1
        try:
            fd = os.open(path, os.O_RDONLY)
            try:
                read = int(len(os.read(fd, 4096)) > 0)
            finally:
                os.close(fd)
        except OSError:
            pass
        finally:
            os.unlink(path)
        break
    return [[created, read]]
