"""Run every page again when the course's code changes, and no page when nothing has changed.

Pages are executed through jupyter-cache, which keys a page on its own code cells only: the numbers
on a page also come from the grading package and the solutions it imports, which the cache cannot
see. So before a build reads anything, this compares a digest of those files (and of the pinned
requirements) with the one the last build recorded: when they differ, the execution cache is
emptied and Sphinx rereads every page (the digest is a config value that invalidates the
environment). A clean checkout, as in CI, has no cache: every page runs.

Pages are independent, so the ones the cache lacks run side by side, one kernel per core, before
Sphinx reads them (Jupyter Book itself runs them one at a time); Sphinx then finds each in the cache.
A page that times something (front matter ``course: {execute_alone: true}``) is left to Sphinx and
runs alone, after the others, so its measurements do not share the machine. A page that fails here
is not cached and runs again alone, so its error is reported as in any other build.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path, PurePosixPath

from sphinx.util import logging

logger = logging.getLogger(__name__)

WATCHED = ("autograder", "solutions", "requirements.txt", "book/guides/measured")
SKIPPED = {"__pycache__", ".pytest_cache", ".hypothesis"}
STAMP = ".course-digest"


def digest(root: Path) -> str:
    """SHA-256 over the paths and bytes of every watched file under ``root``."""
    h = hashlib.sha256()
    for part in WATCHED:
        top = root / part
        files = (
            [top] if top.is_file() else sorted(p for p in top.rglob("*") if p.is_file() and not SKIPPED & set(p.parts))
        )
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


def _execute(notebook, cwd: str, timeout: int, allow_errors: bool):
    """Run one page's notebook in place (in a worker process); the notebook, or None if it failed."""
    from jupyter_cache.executors.utils import single_nb_execution

    result = single_nb_execution(notebook, cwd=cwd, timeout=timeout, allow_errors=allow_errors, meta_override=True)
    return (notebook if result.err is None else None), result.time


def _pages_to_run(env, docnames, cache):
    """The pages among ``docnames`` that myst-nb would execute, ``cache`` lacks and may share a core."""
    from myst_nb.core.read import create_nb_reader

    config = env.mystnb_config
    for docname in sorted(docnames):
        path = Path(env.doc2path(docname))
        if any(PurePosixPath(path.as_posix()).match(p) for p in config.execution_excludepatterns):
            continue
        text = path.read_text(encoding="utf8")
        reader = create_nb_reader(str(path), env.myst_config, config, text)
        if reader is None:
            continue  # plain Markdown: nothing to run
        notebook = reader.read(text)
        if not any(cell.cell_type == "code" for cell in notebook.cells):
            continue
        if notebook.metadata.get("course", {}).get("execute_alone"):
            continue
        try:
            cache.match_cache_notebook(notebook)
        except KeyError:
            yield path, notebook


def _run_side_by_side(app, env, docnames) -> None:
    config = env.mystnb_config
    if config.execution_mode != "cache":
        return
    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn

    cache = get_cache(config.execution_cache_path)
    pending = list(_pages_to_run(env, docnames, cache))
    workers = min(len(pending), os.cpu_count() or 1)
    if workers < 2:
        return  # one page or one core: Sphinx runs it as usual
    logger.info(f"running {len(pending)} pages side by side, {workers} at a time")
    with ProcessPoolExecutor(max_workers=workers) as pool:
        jobs = {
            pool.submit(
                _execute, notebook, str(path.parent), config.execution_timeout, config.execution_allow_errors
            ): path
            for path, notebook in pending
        }
        for job in as_completed(jobs):
            path = jobs[job]
            executed, seconds = job.result()
            if executed is None:
                logger.info(f"{path}: failed side by side; it runs again alone")
                continue
            cache.cache_notebook_bundle(
                CacheBundleIn(executed, str(path), data={"execution_seconds": seconds}),
                check_validity=False,
                overwrite=True,
            )
            logger.info(f"{path}: Executed notebook side by side in {seconds:.2f} seconds")


def setup(app):
    app.add_config_value("course_code_digest", "", "env")  # a new value rereads every page
    app.connect("config-inited", _config_inited, priority=100)  # before myst-nb opens the cache
    app.connect("env-before-read-docs", _run_side_by_side)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
