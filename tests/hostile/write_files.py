"""Write files anywhere: a world-writable folder, the runner's project, /tmp, /dev/shm, cwd.

Each target gets open(path, "w").write(...) and, for the folder targets, mkdir; the test then
checks from outside that none of the paths exists (an empty file counts: O_CREAT alone is a
write). Row 1 (info): whether each path existed, as the program saw it, after its attempt.
Contained: no target exists on the machine afterwards.
"""

import os

CONFIG: dict = {}  # filled in by tests/sandbox_modes.py
LEAKS = ()
INFO = ("world-dir", "project-dir", "tmp", "dev-shm", "cwd", "mkdir-world", "mkdir-tmp")


def _write(path):
    try:
        with open(path, "w") as f:
            f.write("pwned")
    except OSError:
        pass
    return int(os.path.exists(path))


def _mkdir(path):
    try:
        os.mkdir(path)
    except OSError:
        pass
    return int(os.path.isdir(path))


def _grid(leaks, info):  # two rows of equal width: leak flags, then info flags
    n = max(len(leaks), len(info), 1)
    return [[*leaks] + [0] * (n - len(leaks)), [*info] + [0] * (n - len(info))]


def transform(grid):
    name = "arcnb-pwned-" + CONFIG["token"]
    return _grid(
        [],
        [
            _write(os.path.join(CONFIG["world_dir"], name)),
            _write(os.path.join(CONFIG["project_dir"], name)),
            _write("/tmp/" + name),
            _write("/dev/shm/" + name),
            _write(name + "-cwd"),
            _mkdir(os.path.join(CONFIG["world_dir"], name + "-dir")),
            _mkdir("/tmp/" + name + "-dir"),
        ],
    )
