"""An earlier, innocent program whose result carries a marker: ARCNBMARK-<token>.

It raises ValueError(marker), so the marker is in its reply (the error text). Not hostile:
`frame_walk` (the next program on the same worker) looks for the marker.
Row 0: nothing (the program fails on purpose).
"""

CONFIG: dict = {}  # filled in by tests/sandbox_modes.py
LEAKS = ()


def transform(grid):
    raise ValueError("ARCNB" + "MARK-" + CONFIG["token"])
