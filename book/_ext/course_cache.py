"""Run every page again when the course's code changes, and no page when nothing has changed.

Pages are executed through jupyter-cache, which keys a page on its own code cells only: the numbers
on a page also come from the grading package and the solutions it imports, which the cache cannot
see. So before a build reads anything, this compares a digest of those files (and of the pinned
requirements) with the one the last build recorded: when they differ, the execution cache is
emptied and Sphinx rereads every page (the digest is a config value that invalidates the
environment). A clean checkout, as in CI, has no cache: every page runs.
"""
from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

WATCHED = ("autograder", "solutions", "requirements.txt")
SKIPPED = {"__pycache__", ".pytest_cache", ".hypothesis"}
STAMP = ".course-digest"


def digest(root: Path) -> str:
    """SHA-256 over the paths and bytes of every watched file under ``root``."""
    h = hashlib.sha256()
    for part in WATCHED:
        top = root / part
        files = [top] if top.is_file() else sorted(p for p in top.rglob("*") if p.is_file() and not SKIPPED & set(p.parts))
        for path in files:
            h.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def refresh(cache: Path, current: str) -> bool:
    """Empty ``cache`` unless it was filled with the code whose digest is ``current``; True if emptied."""
    stamp = cache / STAMP
    if stamp.exists() and stamp.read_text() == current:
        return False
    shutil.rmtree(cache, ignore_errors=True)
    cache.mkdir(parents=True)
    stamp.write_text(current)
    return True


def _config_inited(app, config) -> None:
    root = Path(app.confdir)
    current = digest(root)
    cache = Path(config.nb_execution_cache_path or Path(app.outdir).parent / ".jupyter_cache")
    refresh(cache if cache.is_absolute() else root / cache, current)
    config.course_code_digest = current


def setup(app):
    app.add_config_value("course_code_digest", "", "env")  # a new value rereads every page
    app.connect("config-inited", _config_inited, priority=100)  # before myst-nb opens the cache
    return {"parallel_read_safe": True, "parallel_write_safe": True}
