"""What every results/*.json file records besides its measurements."""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
from importlib.metadata import version


def machine(packages: tuple[str, ...]) -> dict:
    """The machine a result was measured on, with the versions of `packages` and of Java."""
    return {
        "cpu_count": os.cpu_count(),
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "versions": {p: version(p) for p in packages},
        "java": subprocess.run(["java", "-version"], check=False, capture_output=True, text=True).stderr.splitlines()[0],
    }


def spread(values: list[float]) -> dict[str, float]:
    """min, median and max of repeated measurements."""
    return {"min": min(values), "median": statistics.median(values), "max": max(values)}
