"""Figures the benchmark commands measured, kept where the guides read them.

Some figures take minutes to measure (grading a class, building the site from cold, a Binder
environment), too long to measure while the site is built. Their commands take ``--record``: they
then write what they measured, with the date, the machine and the command line, to
``book/guides/measured/<name>.json``, and the guides' pages read those files at build time. So every
figure in a guide comes from a command, and says when and where it was measured.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import re
from pathlib import Path
from typing import Any

from .course import REPO_ROOT

__all__ = ["RESULTS_DIR", "machine", "read", "record"]

RESULTS_DIR = REPO_ROOT / "book" / "guides" / "measured"


def machine() -> dict[str, Any]:
    """The CPU's model, its number of cores, and the Python and operating system that ran."""
    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        found = re.search(r"^model name\s*:\s*(.+)$", cpuinfo.read_text(), re.M)
        cpu = found.group(1).strip() if found else cpu
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(), "system": platform.system()}


def record(name: str, command: str, figures: dict[str, Any], folder: Path = RESULTS_DIR) -> Path:
    """Write ``figures`` with the date, the machine and the ``command`` that measured them to
    ``<folder>/<name>.json``."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.json"
    path.write_text(
        json.dumps(
            {"date": datetime.date.today().isoformat(), "machine": machine(), "command": command, **figures}, indent=1
        )
        + "\n"
    )
    return path


def read(name: str, folder: Path = RESULTS_DIR) -> dict[str, Any] | None:
    """What ``record(name, ...)`` wrote; None if nothing was recorded yet."""
    path = folder / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None
