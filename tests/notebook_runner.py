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

# what students hand in: shared with the grading benchmark
with_solution_code, solution_code, stub_code = (notebooks.with_solution_code, notebooks.solution_code,
                                                notebooks.stub_code)


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


def read(path: Path) -> nbformat.NotebookNode:
    return notebooks.read(path)
