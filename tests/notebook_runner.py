"""Run a notebook's cells in this process, the way a kernel would, and score its test cells.

Fast enough to try every mutant of every chapter on every test run; ``test_nbgrader.py`` shows
on a sample that the real ``nbgrader autograde`` agrees with it.
"""
from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass
from pathlib import Path

import nbformat

from optimcourse import notebooks
from optimcourse.course import Assignment
from optimcourse.mutants import Mutant


@dataclass
class CellResult:
    grade_id: str
    points: float
    passed: bool
    message: str  # the exception's text when the cell failed

    @property
    def score(self) -> float:
        return self.points if self.passed else 0.0


def run(nb: nbformat.NotebookNode) -> list[CellResult]:
    """Execute every code cell in one namespace; return one result per graded test cell."""
    namespace: dict = {"__name__": "__main__"}
    results = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        grading = notebooks.grading(cell)
        error = ""
        with contextlib.redirect_stdout(io.StringIO()):
            try:
                exec(compile(cell.source, f"<cell {cell.get('id', '?')}>", "exec"), namespace)
            except BaseException as exc:  # noqa: BLE001 -- a kernel records every failure
                error = f"{type(exc).__name__}: {exc}"
        if notebooks.is_test(cell):
            results.append(CellResult(grading["grade_id"], float(grading["points"]), not error, error))
    return results


def with_solution_code(nb: nbformat.NotebookNode, code_by_cell: dict[str, str]) -> nbformat.NotebookNode:
    """A copy of ``nb`` whose solution cells hold the given code (keyed by grade_id)."""
    nb = nbformat.from_dict(nbformat.reads(nbformat.writes(nb), as_version=4))
    for cell in nb.cells:
        if notebooks.is_solution(cell):
            cell.source = code_by_cell[notebooks.grading(cell)["grade_id"]]
    return nb


def solution_code(assignment: Assignment, mutant: Mutant | None = None) -> dict[str, str]:
    """What a student would have typed into each solution cell: the reference, or a mutant of it."""
    source = notebooks.read(assignment.solution_path())
    code = {notebooks.grading(c)["grade_id"]: notebooks.without_markers(c.source)
            for c in source.cells if notebooks.is_solution(c)}
    return code if mutant is None else mutant.apply_to_cells(code)


def warning_solution_code(assignment: Assignment) -> dict[str, str]:
    """The reference, with a library-style FutureWarning at the top of its first solution's body.

    The body runs when a test cell calls the student's code, so the warning reaches a graded
    cell's stderr: correct code must keep full marks all the same.
    """
    source = notebooks.read(assignment.solution_path())
    code = solution_code(assignment)
    cell = next(c for c in source.cells if notebooks.is_solution(c))
    lines = cell.source.splitlines()
    at = next(i for i, line in enumerate(lines) if line.strip() == notebooks.BEGIN_SOLUTION)
    indent = lines[at][: len(lines[at]) - len(lines[at].lstrip())]
    lines.insert(at + 1, f"{indent}warnings.warn('an unrelated deprecation', FutureWarning)")
    code[notebooks.grading(cell)["grade_id"]] = "import warnings\n" + notebooks.without_markers("\n".join(lines))
    return code


def stub_code(assignment: Assignment) -> dict[str, str]:
    """The solution cells of the untouched exercise: what a student who changed nothing hands in."""
    return {notebooks.grading(c)["grade_id"]: c.source
            for c in notebooks.read(assignment.exercise_path()).cells if notebooks.is_solution(c)}


def read(path: Path) -> nbformat.NotebookNode:
    return notebooks.read(path)
