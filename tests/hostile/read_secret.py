"""Read the runner's planted project secret (a `.env` outside the library paths).

Tries the absolute path, the runner's cwd and root through /proc, and a relative `../` walk.
Row 0 (leaks): one flag per route that returned the file's contents.
Contained: every flag is 0 (the file is invisible or unreadable by every route).
"""

CONFIG: dict = {}  # filled in by tests/sandbox_modes.py
LEAKS = ("absolute-path", "proc-runner-cwd", "proc-runner-root", "relative-walk")


def _read(path):
    try:
        with open(path, "rb") as f:
            return int(b"PROJECT_SECRET=" in f.read(4096))
    except (OSError, ValueError):
        return 0


def transform(grid):
    path = CONFIG["secret_path"]
    pid = CONFIG["runner_pid"]
    return [
        [
            _read(path),
            _read(f"/proc/{pid}/cwd/.env"),
            _read(f"/proc/{pid}/root{path}"),
            _read("../" * 40 + path.lstrip("/")),
        ]
    ]
