"""course-grade: a class graded in parallel gets exactly what plain sequential nbgrader gives; a rerun
grades nothing and writes the same CSV; a killed run resumes; unusable input is refused by name."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
from nbgrader.api import Gradebook

import notebook_runner as nr
from conftest import library
from optimcourse import notebooks
from optimcourse.course import ASSIGNMENTS
from optimcourse.grading import cli, sandbox
from optimcourse.grading.settings import gradebook_url
from test_nbgrader import nbgrader, scratch_course
from test_submissions import flip_a_byte

pytestmark = pytest.mark.nbgrader
CH1 = ASSIGNMENTS[0]


# sandboxed where it can be (CI must: test_sandbox.py fails there without it); elsewhere, say so and go on
UNSANDBOXED = ["--no-sandbox"] if sandbox.problem() is not None and not os.environ.get("CI") else []


def course_grade(*args: str | Path, timeout: float = 900) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "optimcourse.grading.cli", *map(str, args), *UNSANDBOXED],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def write_class(root: Path, students: dict[str, str | bytes]) -> Path:
    """submitted/<student>/<assignment>/<notebook>.ipynb for chapter 1: code for the solution cells, or raw bytes."""
    exercise = nr.read(CH1.exercise_path())
    for student, code in students.items():
        path = root / "submitted" / student / CH1.id / f"{CH1.notebook}.ipynb"
        if isinstance(code, bytes):
            path.parent.mkdir(parents=True)
            path.write_bytes(code)
        else:
            notebooks.write(nr.with_solution_code(exercise, code), path)
    return root / "submitted"


def a_class() -> dict[str, str | bytes]:
    mutants = library(CH1).mutants
    return {
        "ada": nr.solution_code(CH1),
        "ben": nr.stub_code(CH1),
        "cy": nr.solution_code(CH1, mutants[0]),
        "dee": nr.solution_code(CH1, mutants[3]),
        "eve": b"{ this is not json",
    }


def scores(course: Path) -> dict[str, dict[str, float | None]]:
    with Gradebook(gradebook_url(course)) as gb:
        return {
            s.id: {g.name: g.score for sub in gb.student_submissions(s.id) for nb in sub.notebooks for g in nb.grades}
            for s in gb.students
        }


def test_unusable_input_is_refused_naming_the_problem_and_nothing_is_made(tmp_path):
    course = tmp_path / "course"
    done = course_grade("no-such-assignment", tmp_path, "--course", course)
    assert done.returncode == 2 and "no such assignment 'no-such-assignment'" in done.stderr
    assert CH1.id in done.stderr  # it lists what there is
    done = course_grade(CH1.id, tmp_path / "missing.zip", "--course", course)
    assert done.returncode == 2 and "missing.zip: no such file or folder" in done.stderr
    empty = tmp_path / "empty.zip"
    zipfile.ZipFile(empty, "w").close()
    done = course_grade(CH1.id, empty, "--course", course)
    assert done.returncode == 2 and f"{empty}: no notebooks for {CH1.id}" in done.stderr
    twice = tmp_path / "twice.zip"
    with zipfile.ZipFile(twice, "w") as z:  # two attempts of one date: which to grade is ambiguous
        for name in (f"ada_1_{CH1.notebook}.ipynb", f"submitted/ada/{CH1.id}/{CH1.notebook}.ipynb"):
            z.writestr(zipfile.ZipInfo(name, date_time=(2024, 5, 1, 10, 0, 0)), "{}")
    done = course_grade(CH1.id, twice, "--course", course)
    assert done.returncode == 2 and f"{twice}: no notebooks that can be graded" in done.stderr
    assert f"{twice}:ada_1_{CH1.notebook}.ipynb: not graded: ada has 2 notebooks" in done.stderr
    text = tmp_path / "grades.txt"
    text.write_text("hello")
    done = course_grade(CH1.id, text, "--course", course)
    assert done.returncode == 2 and "neither a folder nor a zip archive" in done.stderr
    assert not course.exists(), "a refused run made the course folder"
    done = course_grade(CH1.id, write_class(tmp_path / "in", {"ada": nr.stub_code(CH1)}), "--course", text)
    assert done.returncode == 2 and f"{text}: the course folder is a file" in done.stderr
    assert text.read_text() == "hello"


def test_a_class_graded_in_parallel_matches_sequential_nbgrader_and_a_rerun_changes_nothing(tmp_path):
    submitted = write_class(tmp_path / "in", a_class())
    course = tmp_path / "course"
    done = course_grade(CH1.id, submitted, "--course", course, "--jobs", "2", "--verbose")
    # eve's notebook is not JSON: named, zero, and the exit code says something needs a look
    assert done.returncode == 1, done.stderr
    assert f"{submitted}/eve/{CH1.id}/{CH1.notebook}.ipynb: not a notebook" in done.stderr
    assert "5 submission(s) of 5 student(s), 4 graded now" in done.stdout
    for student in ("ada", "ben", "cy", "dee"):
        assert list((course / "feedback" / student / CH1.id).glob("*.html")), f"no feedback for {student}"
        assert f"{student} {CH1.id}:" in done.stderr  # --verbose: a line per student

    # plain nbgrader, sequentially, on the same notebooks
    plain = scratch_course(tmp_path / "plain")
    shutil.copytree(submitted, plain / "submitted", ignore=shutil.ignore_patterns("eve"))
    nbgrader(plain, "generate_assignment", CH1.id, "--force")
    nbgrader(plain, "autograde", CH1.id, "--force")
    ours, theirs = scores(course), scores(plain)
    assert {s: ours[s] for s in theirs} == theirs
    assert set(ours["eve"].values()) == {0.0}
    assert sum(ours["ada"].values()) == 10 and sum(ours["ben"].values()) == 0
    first_csv = (course / "grades.csv").read_text()
    rows = list(csv.DictReader(io.StringIO(first_csv)))
    assert [r["student"] for r in rows] == ["ada", "ben", "cy", "dee", "eve"]
    assert {r["student"]: float(r["total"]) for r in rows} == {s: sum(v.values()) for s, v in ours.items()}

    again = course_grade(CH1.id, submitted, "--course", course, "--jobs", "2")
    assert "0 graded now" in again.stdout
    assert (course / "grades.csv").read_text() == first_csv
    forced = course_grade(CH1.id, submitted, "--course", course, "--jobs", "1", "--force")
    assert "4 graded now" in forced.stdout
    assert (course / "grades.csv").read_text() == first_csv
    with Gradebook(gradebook_url(course)) as gb:
        assert len(gb.assignment_submissions(CH1.id)) == 5  # graded twice, recorded once


def test_a_killed_run_resumes_without_regrading_or_losing_anything(tmp_path):
    students = {f"s{k}": nr.solution_code(CH1) if k % 2 else nr.stub_code(CH1) for k in range(4)}
    submitted = write_class(tmp_path / "in", students)
    course = tmp_path / "course"
    run = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "optimcourse.grading.cli",
            CH1.id,
            str(submitted),
            "--course",
            str(course),
            "--jobs",
            "1",
            *UNSANDBOXED,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    state = course / cli.STATE_FILE
    deadline = time.monotonic() + 600
    while not (state.exists() and len(json.loads(state.read_text() or "{}")) >= 1):
        assert run.poll() is None, "the run ended before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.2)
    os.killpg(run.pid, signal.SIGKILL)  # like a power cut: no clean-up runs
    run.wait()
    kept = json.loads(state.read_text())
    assert 1 <= len(kept) < 4

    resumed = course_grade(CH1.id, submitted, "--course", course, "--jobs", "2")
    assert resumed.returncode == 0, resumed.stderr
    assert f"{4 - len(kept)} graded now" in resumed.stdout
    totals = {s: sum(v.values()) for s, v in scores(course).items()}
    assert totals == {s: (10.0 if int(s[1:]) % 2 else 0.0) for s in students}
    with Gradebook(gradebook_url(course)) as gb:
        assert len(gb.assignment_submissions(CH1.id)) == 4


def test_an_lms_zip_of_flat_files_grades_like_the_folder(tmp_path):
    exercise = nr.read(CH1.exercise_path())
    archive = tmp_path / "download.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for student, code in (("ada", nr.solution_code(CH1)), ("ben", nr.stub_code(CH1))):
            z.writestr(
                f"{student}_12345_67890_{CH1.notebook}.ipynb",
                notebooks.dumps(notebooks.normalized(nr.with_solution_code(exercise, code))),
            )
        z.writestr("__MACOSX/._ada_12345_67890_manual_updates.ipynb", b"\x00\x05")
    course = tmp_path / "course"
    done = course_grade(CH1.id, archive, "--course", course, "--jobs", "2")
    assert done.returncode == 0, done.stderr
    totals = {s: sum(v.values()) for s, v in scores(course).items()}
    assert totals == {"ada": 10.0, "ben": 0.0}


def test_one_bad_file_costs_only_its_student_and_the_class_is_graded(tmp_path):
    """A damaged member, an id that cannot be used, a copy's name (of a student whose id is not ASCII) and a
    good notebook in one zip: the two usable ones are graded, the others named, and the damaged one is
    not recorded, so that the next run, with the zip downloaded again, grades it."""
    exercise = nr.read(CH1.exercise_path())
    solved = notebooks.dumps(notebooks.normalized(nr.with_solution_code(exercise, nr.solution_code(CH1)))).encode()
    names = {
        "ada": f"ada_1_{CH1.notebook}.ipynb",
        "José": f"José_2_{CH1.notebook} (1).ipynb",
        "cy": f"cy_3_{CH1.notebook}.ipynb",
        "bad id": f"dee lee_4_{CH1.notebook}.ipynb",
    }
    archive = tmp_path / "download.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as z:
        for name in names.values():
            z.writestr(name, solved)
    intact = archive.read_bytes()
    flip_a_byte(archive, names["cy"])
    course = tmp_path / "course"
    done = course_grade(CH1.id, archive, "--course", course, "--no-sandbox")
    assert done.returncode == 1, done.stderr
    assert "2 submission(s) of 2 student(s), 2 graded now" in done.stdout
    assert "2 more file(s) not graded" in done.stdout
    assert f"{archive}:{names['cy']}: not graded, and not recorded: damaged in the zip" in done.stderr
    assert f"{archive}:{names['bad id']}: not graded: 'dee lee' cannot be a student id" in done.stderr
    assert {s: sum(v.values()) for s, v in scores(course).items()} == {"ada": 10.0, "José": 10.0}
    assert set(json.loads((course / cli.STATE_FILE).read_text())) == {f"{CH1.id}/ada", f"{CH1.id}/José"}
    assert list((course / "feedback" / "José" / CH1.id).glob("*.html"))
    rows = csv.DictReader(io.StringIO((course / "grades.csv").read_text(encoding="utf-8")))
    assert {r["student"]: float(r["total"]) for r in rows} == {"ada": 10.0, "José": 10.0}

    archive.write_bytes(intact)  # downloaded again
    again = course_grade(CH1.id, archive, "--course", course, "--no-sandbox")
    assert again.returncode == 1 and "1 graded now" in again.stdout, again.stderr  # cy; the bad id is still named
    assert {s: sum(v.values()) for s, v in scores(course).items()} == {"ada": 10.0, "José": 10.0, "cy": 10.0}


def test_kernel_sockets_live_where_a_unix_socket_path_fits(tmp_path):
    """A Unix socket's path holds 107 bytes: a course folder deep in the file system (a pytest worker's
    tmp_path is one) must not make every kernel fail to start."""
    shallow = Path("/tmp") / f"cg-{os.getpid()}"
    deep = tmp_path / ("a-long-folder-name-" * 6) / "course" / ".workers" / "0"
    config, run = sandbox.install(deep, sandbox.Limits())
    try:
        assert sandbox.run_folder(shallow) == shallow / "run"
        assert not run.is_relative_to(deep) and len(str(run / "kernel-65535")) < sandbox.SOCKET_PATH_MAX
        assert config.KernelManager.ip == str(run / "kernel")
    finally:
        shutil.rmtree(shallow, ignore_errors=True)
        shutil.rmtree(run, ignore_errors=True)
