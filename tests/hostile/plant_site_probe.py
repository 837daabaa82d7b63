"""The later program: import the module `plant_site` tried to plant, look for the .pth effect.

Row 0 (leaks): [planted module imported, .pth attribute present on sys].
Contained: both 0.
"""

import importlib
import sys

CONFIG: dict = {}  # filled in by tests/sandbox_modes.py
LEAKS = ("planted-module-imported", "pth-effect-seen")


def transform(grid):
    name = "arcnb_hostile_" + CONFIG["token"]
    importlib.invalidate_caches()
    try:
        imported = int(importlib.import_module(name).PLANTED == 1)
    except Exception:
        imported = 0
    return [[imported, int(hasattr(sys, name))]]
