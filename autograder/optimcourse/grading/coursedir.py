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

from ..course import PACKAGE_DIR, REPO_ROOT, Assignment

CONFIG = PACKAGE_DIR.parent / "nbgrader_config.py"


def source_digest(assignment: Assignment, root: Path = REPO_ROOT) -> str:
    return hashlib.sha256(assignment.solution_path(root).read_bytes()).hexdigest()


# a worker's autograde: nbgrader's own steps, with an Execute whose graded cells are checked here, not in the
# student's kernel, and that scores the cells a dead kernel left unrun
WORKER_CONFIG = """
# course-grade's worker: a kernel that dies costs the cells it did not finish, not the whole submission
from nbconvert.preprocessors import ClearMetadataPreprocessor
from nbgrader.preprocessors import AssignLatePenalties, CheckCellMetadata, IgnorePattern, LimitOutput, SaveAutoGrades
from optimcourse.grading.trusted import TrustedExecute
c.Autograde.autograde_preprocessors = [TrustedExecute, IgnorePattern, ClearMetadataPreprocessor, LimitOutput,
                                       SaveAutoGrades, AssignLatePenalties, CheckCellMetadata]
"""


def prepare(course: Path, assignments: Sequence[Assignment]) -> None:
    """Make ``course`` an nbgrader course folder holding ``assignments`` (generated into its gradebook).

    The folder keeps the nbgrader_config.py it has (a copy of the course's, the first time). An
    assignment whose source is unchanged since the last call is left as it is, so that preparing again
    never disturbs grades already in the gradebook.
    """
    course.mkdir(parents=True, exist_ok=True)
    if not (course / "nbgrader_config.py").exists():
        shutil.copy(CONFIG, course / "nbgrader_config.py")
    stale = []
    for a in assignments:
        stamp = course / "source" / a.id / ".source-digest"
        if not (stamp.exists() and stamp.read_text() == source_digest(a) and (course / "gradebook.db").exists()):
            stale.append(a)
    if not stale:
        return
    nbgrader = api(course)  # in this process: an nbgrader process per assignment costs 2 s each to start
    for a in stale:
        target = course / "source" / a.id
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(a.solution_path().parent, target)
        done = nbgrader.generate_assignment(a.id, force=True, create=True)
        if not done["success"]:
            raise RuntimeError(f"nbgrader generate_assignment {a.id} failed in {course}:\n"
                               f"{done.get('error') or done.get('log')}")
        (target / ".source-digest").write_text(source_digest(a))


def clone(course: Path, worker: Path, assignments: Sequence[Assignment], worker_config: str) -> None:
    """A worker's course folder, copied from the prepared ``course`` (generating it again would cost
    as much as preparing it did): the course's nbgrader_config.py with ``WORKER_CONFIG`` and
    ``worker_config`` added, the assignments' source and release, and a snapshot of the gradebook."""
    worker.mkdir(parents=True, exist_ok=True)
    (worker / "nbgrader_config.py").write_text(CONFIG.read_text() + WORKER_CONFIG + worker_config + "\n")
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


def api(course: Path):
    """nbgrader's Python API on ``course``, with the course's nbgrader_config.py (the API does not read it)."""
    from nbgrader.apps import NbGraderAPI
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader("nbgrader_config.py", path=str(course)).load_config()
    config.CourseDirectory.root = str(course)
    config.NbGraderAPI.log_level = "ERROR"
    return NbGraderAPI(config=config)
