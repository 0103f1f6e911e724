"""Notebooks are stored without outputs, with stable metadata and well-formed grading cells."""

from __future__ import annotations

import json
import re
import subprocess

import pytest

from optimcourse import notebooks
from optimcourse.course import ASSIGNMENTS, REPO_ROOT

TRACKED = subprocess.run(
    ["git", "ls-files", "*.ipynb"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
).stdout.split()


def problems(text: str) -> list[str]:
    found = []
    nb = json.loads(text)
    if nb.get("metadata") != {"kernelspec": notebooks.KERNELSPEC, "language_info": notebooks.LANGUAGE_INFO}:
        found.append(f"notebook metadata {sorted(nb.get('metadata', {}))}")
    for cell in nb["cells"]:
        if cell["cell_type"] == "code" and (cell.get("outputs") or cell.get("execution_count") is not None):
            found.append(f"cell {cell.get('id')} stored with outputs")
        extra = set(cell.get("metadata", {})) - {"nbgrader", "deletable", "editable", "tags"}
        if extra:
            found.append(f"cell {cell.get('id')} metadata {sorted(extra)}")
    if text != notebooks.dumps(notebooks.normalized(notebooks.nbformat.reads(text, as_version=4))):
        found.append("not in canonical form (run python -m optimcourse.sync)")
    return found


def test_every_assignment_notebook_is_tracked():
    for a in ASSIGNMENTS:
        for path in (a.solution_path(), a.exercise_path()):
            assert str(path.relative_to(REPO_ROOT)) in TRACKED, f"{path} is not committed"


@pytest.mark.parametrize("path", TRACKED)
def test_notebook_is_stored_clean(path):
    assert problems((REPO_ROOT / path).read_text()) == []


def test_the_cleanliness_check_notices_outputs_and_editor_metadata():
    path = ASSIGNMENTS[0].solution_path()
    nb = json.loads(path.read_text())
    code = next(c for c in nb["cells"] if c["cell_type"] == "code")
    code["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "hi"}]
    code["execution_count"] = 3
    nb["metadata"]["widgets"] = {}
    found = problems(json.dumps(nb))
    assert any("outputs" in p for p in found) and any("notebook metadata" in p for p in found)


@pytest.mark.parametrize("assignment", [pytest.param(a, id=a.id) for a in ASSIGNMENTS])
def test_grading_cells_are_well_formed(assignment):
    nb = notebooks.read(assignment.solution_path())
    ids = [notebooks.grading(c)["grade_id"] for c in nb.cells if notebooks.grading(c)]
    assert len(ids) == len(set(ids)), "duplicate grade_id"
    assert all(re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", i) for i in ids), ids
    tests = [c for c in nb.cells if notebooks.is_test(c)]
    assert tests and all(notebooks.grading(c).get("locked") for c in tests)
    for cell in tests:  # every test cell has a visible part and a hidden part
        assert notebooks.BEGIN_HIDDEN in cell.source, notebooks.grading(cell)["grade_id"]
        assert notebooks.without_hidden_tests(cell.source).strip(), notebooks.grading(cell)["grade_id"]
    solution = "".join(c.source for c in nb.cells if notebooks.is_solution(c))
    assert not re.search(r"^\s*(import|from)\s+torch", solution, re.M), "the reference must be NumPy only"
