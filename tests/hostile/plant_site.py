"""Plant a `.pth` and a module in site-packages, for later programs (and workers) to import.

Writes arcnb_hostile_<token>.pth (a harmless line that sets an attribute on `sys`) and
arcnb_hostile_<token>.py into the site-packages folder the runner's interpreter imports from.
The test checks from outside that neither file exists; `plant_site_probe` then tries to import
the module in a later program. Row 1 (info): [.pth written, module written] as seen inside.
Contained: neither file exists in site-packages afterwards, and the probe imports nothing.
"""

import os

CONFIG: dict = {}  # filled in by tests/sandbox_modes.py
LEAKS = ()
INFO = ("pth-written", "module-written")


def _write(path, text):
    try:
        with open(path, "w") as f:
            f.write(text)
        return int(os.path.getsize(path) > 0)
    except OSError:
        return 0


def transform(grid):
    name = "arcnb_hostile_" + CONFIG["token"]
    site = CONFIG["site_dir"]
    pth = _write(os.path.join(site, name + ".pth"), f"import sys; sys.{name} = 1\n")
    mod = _write(os.path.join(site, name + ".py"), "PLANTED = 1\n")
    return [[0, 0], [pth, mod]]
