"""The Python environment the course runs in, found from the interpreter, not from PATH.

A virtual environment works without being activated (``.venv/bin/course-grade ...``): its console
scripts (``jupyter-book``, ``alembic``, which nbgrader calls by name) then are not on PATH, and the
interpreter's resolved path leads out of the environment to a base Python without its packages. So
the course starts every helper with ``sys.executable`` as it is, and finds scripts beside it.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path

__all__ = ["put_scripts_on_path", "script", "scripts_dir", "with_scripts_on_path"]


def scripts_dir() -> Path:
    """Where this environment's console scripts are: beside the interpreter (unresolved: a venv's
    ``bin/python`` is a link to a base Python elsewhere)."""
    return Path(sys.executable).parent


def script(name: str) -> str:
    """This environment's console script ``name``, else whatever PATH has."""
    here = scripts_dir() / name
    return str(here) if here.exists() else (shutil.which(name) or name)


def with_scripts_on_path(env: Mapping[str, str]) -> dict[str, str]:
    """``env`` with this environment's scripts first on PATH."""
    parts = [str(scripts_dir())] + [
        p for p in env.get("PATH", os.defpath).split(os.pathsep) if p and p != str(scripts_dir())
    ]
    return {**env, "PATH": os.pathsep.join(parts)}


def put_scripts_on_path() -> None:
    """Put this environment's scripts first on this process's PATH (its children inherit it)."""
    os.environ["PATH"] = with_scripts_on_path(os.environ)["PATH"]
