"""Autograde several submissions at a time: each worker is a process with a course folder and a
gradebook of its own (SQLite takes one writer at a time), and sends each result back as plain data.

A worker grades with nbgrader's own ``autograde`` and ``generate_feedback``; the main process copies
the results into the instructor's gradebook (:mod:`.merge`), so that only one process ever writes it.
"""

from __future__ import annotations

import os
import re
import shutil
import textwrap
import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from traitlets.config import Config

from ..course import ASSIGNMENTS, get_assignment
from . import coursedir, mend, merge, sandbox, settings

__all__ = ["Task", "work"]


@dataclass(frozen=True)
class Task:
    assignment_id: str
    student: str
    content: bytes


@dataclass(frozen=True)
class Result:
    assignment_id: str
    student: str
    worker_dir: str
    graded: dict[str, Any] | None  # notebook -> grades and comments; None if it could not be graded
    error: str  # why not, when graded is None
    seconds: float


def read_grades(course: Path, assignment_id: str, student: str) -> dict[str, Any]:
    """The scores and comments nbgrader stored for one submission, as plain data."""
    from nbgrader.api import Gradebook

    out: dict[str, Any] = {}
    with Gradebook(settings.gradebook_url(course)) as gb:
        for nb in gb.find_submission(assignment_id, student).notebooks:
            out[nb.name] = {
                "flagged": nb.flagged,
                "grades": {
                    g.name: {
                        "auto_score": g.auto_score,
                        "manual_score": g.manual_score,
                        "extra_credit": g.extra_credit,
                        "needs_manual_grade": g.needs_manual_grade,
                    }
                    for g in nb.grades
                },
                "comments": {
                    c.name: {"auto_comment": c.auto_comment, "manual_comment": c.manual_comment} for c in nb.comments
                },
            }
    return out


def indent(line: str) -> int:
    return len(line) - len(line.lstrip())


LOG_RECORD = re.compile(r"^\[(DEBUG|INFO|WARNING|ERROR|CRITICAL)\] ", re.M)


def failure(done: dict[str, Any]) -> str:
    """Why an nbgrader API call failed: the exception that ends the last traceback it logged (its
    ``error``, and the NbGraderException it ends with, only say to read that traceback), else its log."""
    log = (done.get("log") or "").strip()
    causes = []
    for record in LOG_RECORD.split(log)[2::2]:  # the text of each record, whatever its level
        lines = [line for line in record.rstrip().splitlines() if line.strip()]
        if not lines or not lines[0].startswith("Traceback (most recent call last)"):
            continue
        margin = min(indent(line) for line in lines[1:]) if len(lines) > 1 else 0  # the exceptions'; frames sit deeper
        chained = [
            k
            for k, line in enumerate(lines)
            if line.strip().startswith("Traceback (most recent call") and (k == 0 or indent(line) == margin)
        ]
        last = lines[chained[-1] + 1 :]  # the last of chained tracebacks: the exception that was raised
        start = next((k for k, line in enumerate(last) if indent(line) == margin), len(last))
        causes.append(textwrap.dedent("\n".join(last[start:])).strip())
    causes = [c for c in causes if "Please see the" not in c]
    return causes[-1] if causes else (log or done.get("error") or "nbgrader failed, and logged no reason").strip()


def grade_one(course: Path, api: Any, task: Task) -> Result:
    """Autograde one submission and write its feedback. Unless both succeed, nothing is graded: the
    result carries nbgrader's reason, and the submission is left for the next run."""
    assignment = get_assignment(task.assignment_id)
    for step in ("submitted", "autograded", "feedback"):
        shutil.rmtree(course / step / task.student / task.assignment_id, ignore_errors=True)
    target = course / "submitted" / task.student / task.assignment_id / f"{assignment.notebook}.ipynb"
    target.parent.mkdir(parents=True)
    release = course / "release" / task.assignment_id / f"{assignment.notebook}.ipynb"
    target.write_bytes(mend.mend(task.content, release.read_bytes()))
    started = time.monotonic()

    def result(graded: dict[str, Any] | None, error: str) -> Result:
        return Result(task.assignment_id, task.student, str(course), graded, error, time.monotonic() - started)

    done = api.autograde(task.assignment_id, task.student, force=True, create=True)
    if not done["success"]:
        return result(None, failure(done))
    # a sandboxed kernel writes elsewhere; one run with --no-sandbox works here, and nbgrader's feedback
    # would follow its links and stop at a FIFO
    merge.remove_unplain(course / "autograded" / task.student / task.assignment_id)
    graded = read_grades(course, task.assignment_id, task.student)
    feedback = api.generate_feedback(task.assignment_id, task.student, force=True)
    if not feedback["success"]:
        return result(None, "writing the feedback failed: " + failure(feedback))
    return result(graded, "")


def work(
    main: str,
    course: str,
    assignments: Sequence[str],
    limits: sandbox.Limits | None,
    config: Config,
    go: Any,
    tasks: Any,
    results: Any,
) -> None:
    """A worker process: once ``go`` is set, copy the prepared course folder ``main`` to its own,
    ``course`` (its kernels sandboxed unless ``limits`` is None, ``config`` merged over its nbgrader
    settings), then grade tasks until it gets None."""
    import nbclient  # noqa: F401  (the slow imports, while the main process prepares the course)
    from nbgrader.apps import NbGraderAPI  # noqa: F401  (likewise)

    merge.quiet_sqlalchemy()
    course_dir, parent = Path(course), os.getppid()
    while not go.wait(timeout=1.0):
        if os.getppid() != parent:  # the main process is gone (killed): nobody would record the grades
            return
    run: Path | None = None
    try:
        extra = [config]
        if limits is not None:
            sandboxed, run = sandbox.install(course_dir, limits)
            extra.append(sandboxed)
            os.environ["JUPYTER_PATH"] = os.pathsep.join(filter(None, [course, os.environ.get("JUPYTER_PATH")]))
        coursedir.clone(Path(main), course_dir, [a for a in ASSIGNMENTS if a.id in assignments])
        api = settings.api(course_dir, *extra)
    except Exception:
        results.put(("crashed", traceback.format_exc()))
        return
    results.put(("ready", course))
    try:
        while os.getppid() == parent and (task := tasks.get()) is not None:
            try:
                results.put(("done", grade_one(course_dir, api, task)))
            except Exception:
                results.put(
                    ("done", Result(task.assignment_id, task.student, course, None, traceback.format_exc(), 0.0))
                )
    finally:
        if run is not None:
            sandbox.remove_groups(run)
        if run is not None and not run.is_relative_to(course_dir):
            shutil.rmtree(run, ignore_errors=True)
