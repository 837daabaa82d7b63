"""Read /etc/shadow (root modes: root may read it; the program must not).

Row 0 (leaks): [/etc/shadow read, /etc/gshadow read].
Contained: both 0.
"""

CONFIG: dict = {}  # filled in by tests/sandbox_modes.py
LEAKS = ("etc-shadow", "etc-gshadow")


def _read(path):
    try:
        with open(path, "rb") as f:
            return int(b":" in f.read(4096))
    except OSError:
        return 0


def transform(grid):
    return [[_read("/etc/shadow"), _read("/etc/gshadow")]]
