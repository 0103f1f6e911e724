"""What a student's kernel sees of the course under course-grade (optimcourse/grading/kernel_package.py):
each chapter's kernel has every given piece its exercise imports, and every reference scores full marks
and every untouched exercise 0 through it, in every chapter."""

from __future__ import annotations

import ast
import subprocess
import sys

import pytest

import notebook_runner as nr
from optimcourse import cases, given, notebooks
from optimcourse.course import ASSIGNMENTS, get_assignment
from optimcourse.grading import kernel_package
from test_course_grade import course_grade, scores


def given_imports(assignment) -> set[str]:
    """The names the exercise's cells import from optimcourse.given."""
    names = set()
    for cell in nr.read(assignment.exercise_path()).cells:
        if cell.cell_type != "code":
            continue
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:  # an IPython magic: no import of the course there
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module == "optimcourse.given":
                names |= {alias.name for alias in node.names}
    return names


@pytest.mark.parametrize("assignment", ASSIGNMENTS, ids=[a.id for a in ASSIGNMENTS])
def test_each_kernel_has_the_given_pieces_its_exercise_imports(assignment):
    missing = given_imports(assignment) - set(kernel_package.taught_before(assignment))
    assert not missing, f"{assignment.id} imports {sorted(missing)} from optimcourse.given, which its kernel lacks"


@pytest.mark.parametrize("assignment", ASSIGNMENTS, ids=[a.id for a in ASSIGNMENTS])
def test_each_kernel_imports_its_given_pieces_alone_and_holds_no_other_answer(assignment, tmp_path):
    target = kernel_package.build(tmp_path, assignment)
    pieces = kernel_package.taught_before(assignment)
    probe = (
        f"import sys; sys.path.insert(0, {str(target.parent)!r})\n"
        "import optimcourse.given as g\n"
        "print(sorted(n for n in g.__all__ if getattr(g, n) is not None))"
    )
    done = subprocess.run([sys.executable, "-I", "-c", probe], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == repr(sorted(pieces))
    answers = {name for name, teacher in given.TAUGHT_BY.items()}
    for module in (target / "references").glob("[!_]*.py"):
        defined = {
            node.name for node in ast.parse(module.read_text()).body if isinstance(node, ast.ClassDef | ast.FunctionDef)
        }
        others = {n for n in defined if n not in pieces and (n in answers or not n.startswith("_"))}
        assert not others, f"{assignment.id}'s kernel holds {sorted(others)} of {module.name}, which it is not given"


@pytest.mark.nbgrader
def test_every_reference_scores_full_marks_and_every_untouched_exercise_zero_under_course_grade(tmp_path, monkeypatch):
    # the notebooks run here and under course-grade must draw the same hidden cases: the default ones
    monkeypatch.delenv(cases.GRADING_SEED_VARIABLE, raising=False)
    submitted = tmp_path / "submitted"
    for assignment in ASSIGNMENTS:
        exercise = nr.read(assignment.exercise_path())
        for student, code in (("reference", nr.solution_code(assignment)), ("untouched", nr.stub_code(assignment))):
            notebooks.write(
                nr.with_solution_code(exercise, code),
                submitted / student / assignment.id / f"{assignment.notebook}.ipynb",
            )
    # chapter 5's code reads and writes files, which live in the sandbox: every mistake must score there what
    # it scores in a notebook
    files = get_assignment("state_checkpointing")
    in_notebook = {}
    for mutant in files.mutant_library().mutants:
        nb = nr.with_solution_code(nr.read(files.exercise_path()), nr.solution_code(files, mutant))
        notebooks.write(nb, submitted / f"m-{mutant.name}" / files.id / f"{files.notebook}.ipynb")
        source = nr.with_solution_code(nr.read(files.solution_path()), nr.solution_code(files, mutant))
        in_notebook[f"m-{mutant.name}"] = {r.grade_id: r.passed for r in nr.run_shared(source)}
    course = tmp_path / "course"
    done = course_grade("all", submitted, "--course", course, "--jobs", "2", timeout=1800)
    assert done.returncode == 0, done.stderr[-3000:]
    got = scores(course)
    no_feedback = [
        f"{student.name}/{assignment.id}"
        for student in submitted.iterdir()
        for assignment in ASSIGNMENTS
        if (student / assignment.id).is_dir()
        and not (course / "feedback" / student.name / assignment.id / f"{assignment.notebook}.html").is_file()
    ]
    assert not no_feedback, f"course-grade wrote no feedback for {no_feedback}"
    points = {cell: full for assignment in ASSIGNMENTS for cell, full in nr.graded_points(assignment).items()}
    lost = {
        cell: (got["reference"].get(cell), full) for cell, full in points.items() if got["reference"].get(cell) != full
    }
    assert not lost, f"the references lost points under course-grade (cell: (score, points)): {lost}"
    gained = {cell: score for cell, score in got["untouched"].items() if score}
    assert not gained, f"untouched exercises scored under course-grade: {gained}"
    differ = {
        student: {
            cell: (got[student].get(cell), passed)
            for cell, passed in cells.items()
            if bool(got[student].get(cell)) != passed
        }
        for student, cells in in_notebook.items()
    }
    differ = {student: cells for student, cells in differ.items() if cells}
    assert not differ, (
        f"chapter 5's mistakes score otherwise under course-grade (cell: (score, passed in a notebook)): {differ}"
    )
