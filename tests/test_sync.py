"""exercises/ and references/ are exactly what the sources in solutions/ make."""

from __future__ import annotations

import shutil

from optimcourse import sync
from optimcourse.course import ASSIGNMENTS, REPO_ROOT


def test_generated_files_are_up_to_date():
    out_of_date = [str(p.relative_to(REPO_ROOT)) for p in sync.stale()]
    assert not out_of_date, f"run `python -m optimcourse.sync` and commit: {out_of_date}"


def test_the_check_notices_a_hand_edit(tmp_path):
    for folder in ("solutions", "exercises", "autograder/optimcourse/references"):
        shutil.copytree(REPO_ROOT / folder, tmp_path / folder)
    for name in ("pyproject.toml", "CITATION.cff", "CHANGELOG.md", "_config.yml"):  # the install cell's facts
        shutil.copy(REPO_ROOT / name, tmp_path / name)
    assert sync.stale(tmp_path) == []
    exercise = ASSIGNMENTS[0].exercise_path(tmp_path)
    exercise.write_text(exercise.read_text().replace("YOUR CODE HERE", "YOUR CODE HERE!", 1))
    reference = ASSIGNMENTS[0].reference_path(tmp_path)
    reference.write_text(reference.read_text() + "\n# edited by hand\n")
    assert set(sync.stale(tmp_path)) == {exercise, reference}


def test_the_install_cells_follow_the_version_and_the_repository(tmp_path):
    for folder in ("solutions", "exercises", "autograder/optimcourse/references"):
        shutil.copytree(REPO_ROOT / folder, tmp_path / folder)
    for name in ("pyproject.toml", "CITATION.cff", "CHANGELOG.md", "_config.yml"):
        shutil.copy(REPO_ROOT / name, tmp_path / name)
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('version = "', 'version = "9.', 1))
    notebooks_only = {p for a in ASSIGNMENTS for p in (a.solution_path(tmp_path), a.exercise_path(tmp_path))}
    assert set(sync.stale(tmp_path)) == notebooks_only  # the references have no install cell


def test_every_mutant_applies_to_its_reference():
    references = {a: a.reference_path().read_text() for a in ASSIGNMENTS}
    assert sync.broken_mutants(references) == []


def test_the_sync_names_a_mutant_that_an_edited_solution_broke():
    a = next(a for a in ASSIGNMENTS if a.notebook == "manual_updates")
    edited = a.reference_path().read_text().replace("p.grad[...] = 0.0", "p.grad.fill(0.0)")
    broken = sync.broken_mutants({a: edited})
    assert broken and all(line.startswith(f"{a.id}: mutant ") for line in broken)
