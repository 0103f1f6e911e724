"""The grading benchmark runs and prints what the instructors' guide reports (on one chapter: the full run takes
about ten minutes). Its figures are measured, not asserted: a benchmark is not a timed test."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from optimcourse.course import ASSIGNMENTS
from optimcourse.grading import benchmark, sandbox

pytestmark = pytest.mark.nbgrader


def test_the_class_has_every_kind_of_submission_for_each_chapter(tmp_path):
    students = benchmark.write_class(tmp_path, 3, list(ASSIGNMENTS))
    assert len(students) == 3 * len(ASSIGNMENTS) >= 20
    assert {s.split("-", 1)[1] for s in students} == {"reference", "untouched", "mutant1"}
    assert all((tmp_path / s / a.id / f"{a.notebook}.ipynb").exists() for s, a in students.items())


@pytest.mark.skipif(sandbox.problem() is not None, reason="the benchmark times course-grade with its sandbox")
def test_the_benchmark_prints_its_table_and_the_runs_agree(tmp_path):
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "optimcourse.grading.benchmark",
            "--chapters",
            "01",
            "--per-chapter",
            "2",
            "--jobs",
            "2",
            "--workdir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert re.search(r"plain nbgrader autograde, sequential, no sandbox +[\d.]+ +[\d.]+ +1\.00  yes", out)
    assert re.search(r"course-grade --jobs 2, sandbox on +[\d.]+ +[\d.]+ +[\d.]+  yes", out)
    assert re.search(r"floor per notebook, sandboxed: kernel start [\d.]+ s \+ setup cell", out)
    assert re.search(r"target: course-grade --jobs 2 at most 0.6 of plain nbgrader: [\d.]+, (met|NOT met)", out)


def test_it_refuses_a_subset_of_chapters_course_grade_cannot_take():
    done = subprocess.run(
        [sys.executable, "-m", "optimcourse.grading.benchmark", "--chapters", "01", "02"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2 and "--chapters: one chapter or all of them" in done.stderr
