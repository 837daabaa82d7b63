"""An innocent program queued right behind `frame_walk`; its source holds the marker
ARCNBNEXT-<token> written out in full (filled in by the harness), so a program that can read
the worker's buffered input sees it.
"""

CONFIG: dict = {}  # filled in by tests/sandbox_modes.py
LEAKS = ()
SECRET_OF_THE_NEXT_USER = "__NEXT_MARKER__"  # replaced by the harness


def transform(grid):
    return [[1]]
