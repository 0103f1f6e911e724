"""Reading and writing the course's notebooks in one canonical, output-free form."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import nbformat

__all__ = [
    "INSTALL_ID",
    "dumps",
    "grading",
    "is_given",
    "is_install",
    "is_solution",
    "is_test",
    "normalized",
    "read",
    "solution_code",
    "stub_code",
    "with_install_cell",
    "with_solution_code",
    "without_markers",
    "write",
]


if TYPE_CHECKING:
    from .course import Assignment
    from .mutants import Mutant

BEGIN_SOLUTION, END_SOLUTION = "### BEGIN SOLUTION", "### END SOLUTION"
BEGIN_HIDDEN, END_HIDDEN = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"

# The only notebook metadata we keep: what a kernel and a launch button need.
KERNELSPEC = {"display_name": "Python 3", "language": "python", "name": "python3"}
LANGUAGE_INFO = {"name": "python"}


def read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(str(path), as_version=4)


def grading(cell: Any) -> dict[str, Any]:
    return cell.get("metadata", {}).get("nbgrader", {})


def is_solution(cell: Any) -> bool:
    return bool(grading(cell).get("solution")) and cell.cell_type == "code"


def is_test(cell: Any) -> bool:
    g = grading(cell)
    return bool(g.get("grade")) and not g.get("solution") and cell.cell_type == "code"


def is_given(cell: Any) -> bool:
    """Locked code the student runs but does not write: imports, and classes handed to them."""
    g = grading(cell)
    return cell.cell_type == "code" and bool(g.get("locked")) and not g.get("grade") and not g.get("solution")


def without_markers(source: str) -> str:
    """A solution cell's code as a student would write it: the marker lines removed."""
    keep = [line for line in source.splitlines() if line.strip() not in (BEGIN_SOLUTION, END_SOLUTION)]
    return "".join(line + "\n" for line in keep)


def without_hidden_tests(source: str) -> str:
    out, hidden = [], False
    for line in source.splitlines():
        if line.strip() == BEGIN_HIDDEN:
            hidden = True
        elif line.strip() == END_HIDDEN:
            hidden = False
        elif not hidden:
            out.append(line)
    return "\n".join(out)


INSTALL_ID = "install"  # grade_id and cell id of the cell that installs the grading package where missing


def with_install_cell(nb: nbformat.NotebookNode, source: str) -> nbformat.NotebookNode:
    """A copy of ``nb`` whose first code cell is the locked cell that installs the grading package
    (``release.install_cell``): replaced if there, else put before the first code cell."""
    nb = nbformat.from_dict(json.loads(json.dumps(nb)))
    cell = nbformat.v4.new_code_cell(source)
    cell.id = INSTALL_ID
    cell.metadata = nbformat.from_dict(
        {
            "nbgrader": {
                "grade": False,
                "grade_id": INSTALL_ID,
                "locked": True,
                "schema_version": 3,
                "solution": False,
                "task": False,
            }
        }
    )
    cells = [c for c in nb.cells if grading(c).get("grade_id") != INSTALL_ID]
    first_code = next((k for k, c in enumerate(cells) if c.cell_type == "code"), len(cells))
    nb.cells = [*cells[:first_code], cell, *cells[first_code:]]
    return nb


def is_install(cell: Any) -> bool:
    return grading(cell).get("grade_id") == INSTALL_ID


def normalized(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Outputs, execution counts and editor metadata dropped; stable notebook metadata."""
    nb = nbformat.from_dict(json.loads(json.dumps(nb)))
    nb.metadata = nbformat.from_dict({"kernelspec": KERNELSPEC, "language_info": LANGUAGE_INFO})
    nb.nbformat, nb.nbformat_minor = 4, 5
    for cell in nb.cells:
        keep = {k: v for k, v in cell.metadata.items() if k in ("nbgrader", "deletable", "editable", "tags")}
        cell.metadata = nbformat.from_dict(keep)
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        cell.pop("attachments", None)
    return nb


def dumps(nb: nbformat.NotebookNode) -> str:
    return json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def write(nb: nbformat.NotebookNode, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dumps(normalized(nb)))


# What students hand in, made from the course's own notebooks: for tests and the grading benchmark.


def with_solution_code(nb: nbformat.NotebookNode, code_by_cell: dict[str, str]) -> nbformat.NotebookNode:
    """A copy of ``nb`` whose solution cells hold the given code (keyed by grade_id)."""
    nb = nbformat.from_dict(nbformat.reads(nbformat.writes(nb), as_version=4))
    for cell in nb.cells:
        if is_solution(cell):
            cell.source = code_by_cell[grading(cell)["grade_id"]]
    return nb


def solution_code(assignment: Assignment, mutant: Mutant | None = None) -> dict[str, str]:
    """What a student would have typed into each solution cell: the reference, or a mutant of it."""
    source = read(assignment.solution_path())
    code = {grading(c)["grade_id"]: without_markers(c.source) for c in source.cells if is_solution(c)}
    return code if mutant is None else mutant.apply_to_cells(code)


def stub_code(assignment: Assignment) -> dict[str, str]:
    """The solution cells of the untouched exercise: what a student who changed nothing hands in."""
    return {grading(c)["grade_id"]: c.source for c in read(assignment.exercise_path()).cells if is_solution(c)}
