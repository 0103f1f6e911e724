"""The instructor's course folder (and each worker's), made from the repository's ``solutions/``.

The repository is only read: the sources are copied into the course folder, which nbgrader then owns
(``source/``, ``release/``, ``gradebook.db``, ``autograded/``, ``feedback/``). Each worker grades in a
copy of it (:func:`clone`).
"""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
from collections.abc import Sequence
from pathlib import Path

from ..course import REPO_ROOT, Assignment
from . import settings

__all__ = ["clone", "prepare"]


def source_digest(assignment: Assignment, root: Path = REPO_ROOT) -> str:
    return hashlib.sha256(assignment.solution_path(root).read_bytes()).hexdigest()


def prepare(course: Path, assignments: Sequence[Assignment]) -> None:
    """Make ``course`` an nbgrader course folder holding ``assignments`` (generated into its gradebook).

    The folder keeps the nbgrader_config.py it has (a copy of the course's, the first time). An
    assignment whose source is unchanged since the last call is left as it is, so that preparing again
    never disturbs grades already in the gradebook.
    """
    course.mkdir(parents=True, exist_ok=True)
    if not (course / "nbgrader_config.py").exists():
        shutil.copy(settings.CONFIG_FILE, course / settings.CONFIG_FILE.name)
    stale = []
    for a in assignments:
        stamp = course / "source" / a.id / ".source-digest"
        if not (stamp.exists() and stamp.read_text() == source_digest(a) and (course / "gradebook.db").exists()):
            stale.append(a)
    if not stale:
        return
    nbgrader = settings.api(course)  # in this process: an nbgrader process per assignment costs 2 s each to start
    for a in stale:
        target = course / "source" / a.id
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(a.solution_path().parent, target)
        done = nbgrader.generate_assignment(a.id, force=True, create=True)
        if not done["success"]:
            raise RuntimeError(
                f"nbgrader generate_assignment {a.id} failed in {course}:\n{done.get('error') or done.get('log')}"
            )
        (target / ".source-digest").write_text(source_digest(a))


def clone(course: Path, worker: Path, assignments: Sequence[Assignment]) -> None:
    """A worker's course folder, copied from the prepared ``course`` (generating it again would cost
    as much as preparing it did): the course's nbgrader_config.py, the assignments' source and release,
    and a snapshot of the gradebook."""
    worker.mkdir(parents=True, exist_ok=True)
    shutil.copy(course / settings.CONFIG_FILE.name, worker / settings.CONFIG_FILE.name)
    for a in assignments:
        for part in ("source", "release"):
            shutil.rmtree(worker / part / a.id, ignore_errors=True)
            shutil.copytree(course / part / a.id, worker / part / a.id)
    source, target = sqlite3.connect(course / "gradebook.db"), sqlite3.connect(worker / "gradebook.db")
    try:
        source.backup(target)  # consistent even while the main process records a grade
    finally:
        source.close()
        target.close()
