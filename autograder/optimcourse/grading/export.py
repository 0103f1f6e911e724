"""The class's grades as one CSV: a row per student, a column per graded cell and per assignment, totals.

Only the gradebook's scores go in (no timestamps), in a fixed order, so grading the same submissions
again writes the same file byte for byte.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry

from .. import notebooks
from ..course import Assignment
from .settings import gradebook_url

__all__ = ["write"]


def graded_cells(assignment: Assignment) -> list[tuple[str, float]]:
    """(grade_id, points) of each graded test cell, in notebook order."""
    cells = notebooks.read(assignment.solution_path()).cells
    return [
        (notebooks.grading(c)["grade_id"], float(notebooks.grading(c)["points"])) for c in cells if notebooks.is_test(c)
    ]


def _number(value: float) -> str:
    return f"{value:g}"


def table(gb: Gradebook, assignments: Sequence[Assignment]) -> str:
    header = ["student"]
    for a in assignments:
        header += [f"{a.id}/{grade_id}" for grade_id, _ in graded_cells(a)] + [f"{a.id}/total"]
    header += ["total", "max"]
    rows = []
    maximum = sum(points for a in assignments for _, points in graded_cells(a))
    for student in sorted(s.id for s in gb.students):
        row, total = [student], 0.0
        for a in assignments:
            subtotal = 0.0
            for grade_id, _ in graded_cells(a):
                try:
                    score = gb.find_grade(grade_id, a.notebook, a.id, student).score
                except MissingEntry:  # no submission for this assignment: zero
                    score = 0.0
                row.append(_number(score))
                subtotal += score
            row.append(_number(subtotal))
            total += subtotal
        rows.append(row + [_number(total), _number(maximum)])
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")  # quotes a field that needs it, unlike nbgrader's export
    writer.writerows([header, *rows])
    return out.getvalue()


def write(course: Path, assignments: Sequence[Assignment], path: Path) -> None:
    with Gradebook(gradebook_url(course)) as gb:
        text = table(gb, assignments)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")  # student ids may be any script's letters
    tmp.replace(path)
