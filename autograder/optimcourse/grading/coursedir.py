"""The instructor's course folder (and each worker's), made from the repository's ``solutions/``.

The repository is only read: the sources are copied into the course folder, which nbgrader then owns
(``source/``, ``release/``, ``gradebook.db``, ``autograded/``, ``feedback/``).
"""
from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from ..course import PACKAGE_DIR, REPO_ROOT, Assignment

CONFIG = PACKAGE_DIR.parent / "nbgrader_config.py"


def source_digest(assignment: Assignment, root: Path = REPO_ROOT) -> str:
    return hashlib.sha256(assignment.solution_path(root).read_bytes()).hexdigest()


# a worker's autograde: nbgrader's own steps, with an Execute that scores cells a dead kernel left unrun
WORKER_CONFIG = """
# course-grade's worker: a kernel that dies costs the cells it did not finish, not the whole submission
from nbconvert.preprocessors import ClearMetadataPreprocessor
from nbgrader.preprocessors import AssignLatePenalties, CheckCellMetadata, IgnorePattern, LimitOutput, SaveAutoGrades
from optimcourse.grading.execute import GuardedExecute
c.Autograde.autograde_preprocessors = [GuardedExecute, IgnorePattern, ClearMetadataPreprocessor, LimitOutput,
                                       SaveAutoGrades, AssignLatePenalties, CheckCellMetadata]
"""


def prepare(course: Path, assignments: Sequence[Assignment], worker_config: str | None = None) -> None:
    """Make ``course`` an nbgrader course folder holding ``assignments`` (generated into its gradebook).

    The instructor's folder keeps the nbgrader_config.py it has (a copy of the course's, the first time);
    a worker's (``worker_config`` given) gets the course's with those lines added, every time.
    An assignment whose source is unchanged since the last call is left as it is, so that preparing
    again never disturbs grades already in the gradebook.
    """
    course.mkdir(parents=True, exist_ok=True)
    if worker_config is not None:
        (course / "nbgrader_config.py").write_text(CONFIG.read_text() + WORKER_CONFIG + worker_config + "\n")
    elif not (course / "nbgrader_config.py").exists():
        shutil.copy(CONFIG, course / "nbgrader_config.py")
    for a in assignments:
        stamp = course / "source" / a.id / ".source-digest"
        digest = source_digest(a)
        if stamp.exists() and stamp.read_text() == digest and (course / "gradebook.db").exists():
            continue
        target = course / "source" / a.id
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(a.solution_path().parent, target)
        done = subprocess.run([sys.executable, "-m", "nbgrader", "generate_assignment", a.id, "--force",
                               "--log-level=WARN"], cwd=course, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"nbgrader generate_assignment {a.id} failed in {course}:\n{done.stdout}{done.stderr}")
        stamp.write_text(digest)


def api(course: Path):
    """nbgrader's Python API on ``course``, with the course's nbgrader_config.py (the API does not read it)."""
    from nbgrader.apps import NbGraderAPI
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader("nbgrader_config.py", path=str(course)).load_config()
    config.CourseDirectory.root = str(course)
    config.NbGraderAPI.log_level = "ERROR"
    return NbGraderAPI(config=config)
