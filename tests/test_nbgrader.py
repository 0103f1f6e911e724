"""The real ``nbgrader autograde`` on a scratch course: it agrees with the in-process gates.

Submissions: the reference typed into the exercise (full marks), the untouched exercise (zero on
every graded cell), and one mutant (each graded cell scored as the in-process run says; every mutant
of every chapter is graded in process by test_grading_gates and through course-grade's channel by
test_trusted_verdicts). The first chapter also gets the reference with a library warning on stderr,
which nbgrader_config.py must not let cost a point.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from nbgrader.api import Gradebook

import notebook_runner as nr
from conftest import ASSIGNMENT_PARAMS, library
from optimcourse import notebooks
from optimcourse.course import ASSIGNMENTS, PACKAGE_DIR, REPO_ROOT
from optimcourse.grading.settings import gradebook_url

pytestmark = pytest.mark.nbgrader
SAMPLED_MUTANTS = 1


def nbgrader(course: Path, *args: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "nbgrader", *args, "--log-level=WARN"],
        cwd=course,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, f"nbgrader {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"


def scratch_course(course: Path) -> Path:
    """The course folder the README tells instructors to make: its source is the repository's solutions/."""
    course.mkdir()
    shutil.copy(PACKAGE_DIR.parent / "nbgrader_config.py", course)
    (course / "source").symlink_to(REPO_ROOT / "solutions", target_is_directory=True)
    return course


def sampled(assignment):
    mutants = library(assignment).mutants
    step = max(1, len(mutants) // SAMPLED_MUTANTS)
    return list(mutants[::step][:SAMPLED_MUTANTS])


@pytest.mark.parametrize("assignment", ASSIGNMENT_PARAMS)
def test_nbgrader_autograde_agrees_with_the_gates(assignment, tmp_path):
    course = scratch_course(tmp_path / "course")
    nbgrader(course, "generate_assignment", assignment.id, "--force")
    released = course / "release" / assignment.id / f"{assignment.notebook}.ipynb"
    assert notebooks.dumps(notebooks.normalized(notebooks.read(released))) == assignment.exercise_path().read_text()

    exercise = nr.read(assignment.exercise_path())
    solution = nr.read(assignment.solution_path())
    submissions = {"ci-reference": nr.solution_code(assignment), "ci-blank": nr.stub_code(assignment)}
    if assignment is ASSIGNMENTS[0]:  # correct code that makes a library warn keeps full marks (the config's)
        submissions["ci-reference-warns"] = nr.warning_solution_code(assignment)
    for mutant in sampled(assignment):
        submissions[f"ci-{mutant.name}"] = nr.solution_code(assignment, mutant)

    expected: dict[str, dict[str, float]] = {}
    for student, code in submissions.items():
        notebooks.write(
            nr.with_solution_code(exercise, code),
            course / "submitted" / student / assignment.id / f"{assignment.notebook}.ipynb",
        )
        graded = nr.run_shared(nr.with_solution_code(solution, code))  # visible and hidden tests, as autograde runs
        expected[student] = {r.grade_id: r.score for r in graded}

    nbgrader(course, "autograde", assignment.id, "--force")
    # the instructors' guide's last two steps, once: test_kernel_package sees every chapter's feedback
    if assignment is ASSIGNMENTS[0]:
        nbgrader(course, "generate_feedback", assignment.id, "--force")
        nbgrader(course, "export", "--to", "grades.csv")
        for student in submissions:
            assert list((course / "feedback" / student / assignment.id).glob("*.html")), f"no feedback for {student}"
        rows = [line.split(",") for line in (course / "grades.csv").read_text().splitlines()[1:]]
        assert {row[3] for row in rows} == set(submissions)

    with Gradebook(gradebook_url(course)) as gb:
        for student in submissions:
            notebook = gb.find_submission_notebook(assignment.notebook, assignment.id, student)
            got = {g.name: g.auto_score for g in notebook.grades if g.auto_score is not None}
            maximum = {g.name: g.max_score for g in notebook.grades}
            assert got == expected[student], f"{student}: nbgrader {got} vs in-process {expected[student]}"
            if student.startswith("ci-reference"):
                assert got == maximum, f"the reference lost points: {got} of {maximum}"
            elif student == "ci-blank":
                assert not any(got.values()), f"free points for the untouched exercise: {got}"
            else:
                assert sum(got.values()) < sum(maximum.values()), f"{student} kept full marks"
