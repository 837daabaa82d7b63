"""The later program: does the tmpfs (and marker) `tmpfs_mount` left persist in the worker?

Row 0 (leaks): [marker visible].
Contained: 0.
"""

import os

CONFIG: dict = {}  # filled in by tests/sandbox_modes.py
LEAKS = ("tmpfs-marker-visible-later",)


def transform(grid):
    name = "arcnb-tmpfs-" + CONFIG["token"]
    seen = any(os.path.exists(os.path.join(d, name)) for d in (CONFIG["mnt_dir"], "/tmp", "/"))
    return [[int(seen)]]
