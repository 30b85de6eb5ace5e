"""Printing a benchmark's figures as an aligned two-column table, with the machine and its load.

The load average is printed because every figure here moves with it on a shared 2-core machine.
"""

from __future__ import annotations

import os
import sys


def print_rows(rows: list[tuple[str, str]]) -> None:
    """Print ``(what, figure)`` rows aligned, then a row describing the machine."""
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    machine = f"{os.cpu_count()} cores, load average {load}, Python {sys.version.split()[0]}"
    rows = [*rows, ("machine", machine)]
    width = max(len(key) for key, _ in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}")
