"""A 160 KB program (the harness appends a large literal table): it must run normally, and
queueing it behind a busy program must not block `submit()`.

Returns the grid mirrored, like the health check.
"""

CONFIG: dict = {}  # filled in by tests/sandbox_modes.py
LEAKS = ()


def transform(grid):
    return [row[::-1] for row in grid]
