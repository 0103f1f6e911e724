"""The grading gates, in process: reference full marks, untouched exercise zero, mutants caught.

Each notebook's own test cells are run exactly as written (``notebook_runner``); the real
``nbgrader autograde`` is shown to agree in ``test_nbgrader.py``.
"""

from __future__ import annotations

import pytest

import notebook_runner as nr
from conftest import ALL_MUTANTS, ASSIGNMENT_PARAMS, library

MIN_MUTANTS = 6


@pytest.mark.parametrize("assignment", ASSIGNMENT_PARAMS)
def test_reference_scores_full_marks(assignment):
    results = nr.run_shared(nr.read(assignment.solution_path()))
    assert results, "the solution notebook has no graded test cells"
    failed = [f"{r.grade_id}: {r.message}" for r in results if not r.passed]
    assert not failed, "\n".join(failed)


@pytest.mark.parametrize("assignment", ASSIGNMENT_PARAMS)
def test_submitted_reference_code_scores_full_marks_on_the_exercise(assignment):
    """What a student who types the reference into the exercise gets (visible tests only)."""
    nb = nr.with_solution_code(nr.read(assignment.exercise_path()), nr.solution_code(assignment))
    failed = [f"{r.grade_id}: {r.message}" for r in nr.run(nb) if not r.passed]
    assert not failed, "\n".join(failed)


@pytest.mark.parametrize("assignment", ASSIGNMENT_PARAMS)
def test_untouched_exercise_scores_zero_on_every_graded_cell(assignment):
    # the stubs run against visible and hidden tests alike, as autograde would run them
    results = nr.run_shared(nr.with_solution_code(nr.read(assignment.solution_path()), nr.stub_code(assignment)))
    assert results, "the exercise has no graded test cells"
    free = [f"{r.grade_id} ({r.points:g} points)" for r in results if r.passed]
    assert not free, f"free points in the untouched exercise: {free}"


@pytest.mark.parametrize("assignment", ASSIGNMENT_PARAMS)
def test_every_chapter_has_a_mutant_library(assignment):
    assert len(library(assignment).mutants) >= MIN_MUTANTS


@pytest.mark.parametrize("assignment, mutant", ALL_MUTANTS)
def test_mutant_loses_points_and_the_visible_failure_names_it(assignment, mutant):
    code = nr.solution_code(assignment, mutant)
    graded = nr.run_shared(nr.with_solution_code(nr.read(assignment.solution_path()), code))
    full = sum(r.points for r in graded)
    assert sum(r.score for r in graded) < full, f"{mutant.name} keeps full marks"

    visible = nr.run(nr.with_solution_code(nr.read(assignment.exercise_path()), code))
    failures = [r for r in visible if not r.passed]
    assert failures, f"{mutant.name} passes every visible test"
    assert any(f"'{mutant.name}'" in r.message for r in failures), (
        f"no visible failure names {mutant.name!r}:\n" + "\n\n".join(r.message for r in failures)
    )
