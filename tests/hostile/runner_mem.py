"""Read the runner's memory through /proc/<pid>/mem and find the fake API key in it.

For the runner and the program's parent (the worker): parse /proc/<pid>/maps, read the
writable private regions ([stack] first) through /proc/<pid>/mem, and search for the key.
Row 0 (leaks): [read any byte of the runner, key found in the runner, read any byte of the
parent, key found in the parent].
Contained: every flag 0.
"""

import os

CONFIG: dict = {}  # filled in by tests/sandbox_modes.py
LEAKS = ("runner-mem-read", "runner-key-found", "parent-mem-read", "parent-key-found")
PATTERN = ("ARCNB_FAKE" + "_KEY=sk-").encode()  # built at run time: absent from the source
BUDGET = 96 * 1024 * 1024  # bytes read per process at most


def _scan(pid):
    read_any = found = 0
    try:
        with open(f"/proc/{pid}/maps") as f:
            regions = []
            for line in f:
                parts = line.split()
                lo, hi = (int(x, 16) for x in parts[0].split("-"))
                name = parts[5] if len(parts) > 5 else ""
                if parts[1].startswith("rw") and (not name or name.startswith("[")):
                    regions.append((name != "[stack]", lo, hi))
        regions.sort()
        left = BUDGET
        with open(f"/proc/{pid}/mem", "rb", buffering=0) as mem:
            for _, lo, hi in regions:
                addr = lo
                while addr < hi and left > 0:
                    n = min(hi - addr, 1 << 20, left)
                    try:
                        mem.seek(addr)
                        chunk = mem.read(n)
                    except OSError:
                        break
                    if not chunk:
                        break
                    read_any = 1
                    if PATTERN in chunk:
                        return 1, 1
                    addr += n
                    left -= n
    except (OSError, ValueError):
        pass
    return read_any, found


def transform(grid):
    parent = os.getppid()
    return [[*_scan(CONFIG["runner_pid"]), *(_scan(parent) if parent > 0 else (0, 0))]]
