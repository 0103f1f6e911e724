"""Copy one graded submission into the instructor's gradebook: the only place that writes it.

Recording is idempotent: an earlier record of the same submission is removed first, so a submission
graded again (after an interruption, or with ``--force``) is never counted twice.
"""

from __future__ import annotations

import os
import shutil
import warnings
from pathlib import Path
from typing import Any

from nbgrader.api import Gradebook, MissingEntry

__all__ = ["copy_outputs", "quiet_sqlalchemy", "record", "remove_unplain"]


def quiet_sqlalchemy() -> None:
    """nbgrader's gradebook code makes SQLAlchemy 2 warn about its session use on every submission; the
    warnings are not about the grades (the tests compare them with nbgrader's own sequential run)."""
    from sqlalchemy.exc import SAWarning

    warnings.filterwarnings("ignore", category=SAWarning)


GRADE_FIELDS = ("auto_score", "manual_score", "extra_credit", "needs_manual_grade")
COMMENT_FIELDS = ("auto_comment", "manual_comment")


def record(gb: Gradebook, assignment_id: str, student: str, graded: dict[str, Any] | None) -> None:
    """Store ``graded`` (from :func:`workers.read_grades`) for the student; None stores a submission with
    no scores (a notebook nbgrader could not grade scores zero)."""
    gb.update_or_create_student(student)
    try:
        gb.remove_submission(assignment_id, student)
    except MissingEntry:
        pass
    gb.add_submission(assignment_id, student)
    for notebook, content in (graded or {}).items():
        gb.find_submission_notebook(notebook, assignment_id, student).flagged = content["flagged"]
        for name, fields in content["grades"].items():
            grade = gb.find_grade(name, notebook, assignment_id, student)
            for field in GRADE_FIELDS:
                setattr(grade, field, fields[field])
        for name, fields in content["comments"].items():
            comment = gb.find_comment(name, notebook, assignment_id, student)
            for field in COMMENT_FIELDS:
                setattr(comment, field, fields[field])
    gb.db.commit()


def copy_plain(source: Path, target: Path) -> None:
    """Copy the regular files and folders under ``source`` to ``target``: a student's folder, so never
    follow a link (it could name the gradebook or any file of the grader's), and skip what is neither
    (a FIFO would block or fail the copy, a socket or device means nothing here)."""
    target.mkdir(parents=True, exist_ok=True)
    with os.scandir(source) as entries:
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                copy_plain(Path(entry.path), target / entry.name)
            elif entry.is_file(follow_symlinks=False):
                shutil.copy2(entry.path, target / entry.name, follow_symlinks=False)


def remove_unplain(folder: Path) -> None:
    """Remove from ``folder`` whatever is not a regular file or folder (links, FIFOs, sockets, devices),
    before nbgrader copies it (its feedback follows links, and fails on a FIFO)."""
    if not folder.is_dir() or folder.is_symlink():
        return
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                remove_unplain(Path(entry.path))
            elif not entry.is_file(follow_symlinks=False):
                os.unlink(entry.path)


def copy_outputs(worker: Path, course: Path, assignment_id: str, student: str) -> None:
    """The graded notebook and its feedback, from the worker's course folder into the instructor's."""
    for step in ("autograded", "feedback"):
        target = course / step / student / assignment_id
        shutil.rmtree(target, ignore_errors=True)
        source = worker / step / student / assignment_id
        if source.is_dir() and not source.is_symlink():
            copy_plain(source, target)
