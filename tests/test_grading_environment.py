"""course-grade wherever Python is installed: from a virtual environment that is not activated, and
from a Python that is not a virtual environment; a kernel that cannot start grades nobody, says why,
and leaves every submission for the next run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from nbgrader.api import Gradebook

import notebook_runner as nr
from optimcourse import environment
from optimcourse.course import PACKAGE_DIR
from optimcourse.grading import cli, execute, workers
from optimcourse.grading.settings import gradebook_url
from test_adversarial_submissions import needs_the_sandbox  # noqa: F401  (a fixture)
from test_course_grade import CH1, UNSANDBOXED, scores, write_class

pytestmark = pytest.mark.nbgrader
IN_A_VENV = sys.prefix != sys.base_prefix
SYSTEM_PATH = "/usr/local/bin:/usr/bin:/bin"  # a shell's PATH with no environment activated


def two_students(tmp_path: Path) -> Path:
    return write_class(tmp_path / "in", {"ref": nr.solution_code(CH1), "untouched": nr.stub_code(CH1)})


def totals(course: Path) -> dict[str, float]:
    return {student: sum(cells.values()) for student, cells in scores(course).items()}


@pytest.mark.usefixtures("needs_the_sandbox")
def test_course_grade_from_a_venv_that_is_not_activated(tmp_path):
    if not IN_A_VENV:
        if os.environ.get("CI"):
            pytest.fail("CI runs the tests in a virtual environment, as the README's set-up makes one")
        pytest.skip("these tests run in the system Python, not a virtual environment")
    # the venv's interpreter links out of it, to a Python without the course's packages
    assert Path(sys.executable).resolve() != Path(sys.executable).absolute() or not Path(sys.executable).is_symlink()
    course = tmp_path / "course"
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")} | {"PATH": SYSTEM_PATH}
    done = subprocess.run(
        [
            str(environment.scripts_dir() / "course-grade"),
            CH1.id,
            str(two_students(tmp_path)),
            "--course",
            str(course),
            "--jobs",
            "2",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert totals(course) == {"ref": 10.0, "untouched": 0.0}


@pytest.mark.usefixtures("needs_the_sandbox")
def test_course_grade_from_a_python_that_is_not_a_venv(tmp_path):
    """The base interpreter, its packages found on PYTHONPATH (as a system or --prefix install finds its own):
    the sandboxed kernel runs the same interpreter and reads the same folders."""
    base = Path(sys.executable).resolve() if IN_A_VENV else Path(sys.executable)
    site = sysconfig.get_paths()["purelib"]
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    # what a system or --prefix install has in its own prefix: alembic on PATH, nbconvert's templates
    env |= {
        "PYTHONPATH": os.pathsep.join([site, str(PACKAGE_DIR.parent)]),
        "PATH": os.pathsep.join([str(environment.scripts_dir()), SYSTEM_PATH]),
        "JUPYTER_PATH": str(Path(sys.prefix) / "share" / "jupyter"),
    }
    probe = subprocess.run(
        [str(base), "-c", "import sys, ipykernel; print(sys.prefix == sys.base_prefix)"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert probe.stdout.strip() == "True", probe.stderr
    course = tmp_path / "course"
    done = subprocess.run(
        [
            str(base),
            "-m",
            "optimcourse.grading.cli",
            CH1.id,
            str(two_students(tmp_path)),
            "--course",
            str(course),
            "--jobs",
            "1",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert totals(course) == {"ref": 10.0, "untouched": 0.0}


@pytest.mark.parametrize("students", [2, 4], ids=["each-fails", "stops-early"])
def test_a_kernel_that_cannot_start_grades_nobody_says_why_and_the_next_run_grades_them(tmp_path, students):
    # the kernel's Python finds this ipykernel (and ipykernel_launcher) first: it fails as a missing ipykernel
    # would (the folder's name has site-packages in it, so that the sandbox mounts it like any package folder)
    broken = tmp_path / "broken-site-packages"
    (broken / "ipykernel").mkdir(parents=True)
    for module in (broken / "ipykernel_launcher.py", broken / "ipykernel" / "__init__.py"):
        module.write_text("raise ImportError('simulated: no ipykernel for this Python')\n")
    env = os.environ | {"PYTHONPATH": os.pathsep.join(filter(None, [str(broken), os.environ.get("PYTHONPATH")]))}
    code = [nr.solution_code(CH1), nr.stub_code(CH1)]
    submitted = write_class(tmp_path / "in", {f"s{k}": code[k % 2] for k in range(students)})
    course = tmp_path / "course"
    done = subprocess.run(
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
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 1, done.stderr[-3000:]
    # the real cause, not nbgrader's "see the above traceback"
    assert "the kernel could not start" in done.stderr
    assert "simulated: no ipykernel for this Python" in done.stderr
    assert "not graded, and not recorded" in done.stderr or "the others will not be either" in done.stderr
    if students == 4:  # a run whose kernels cannot start stops instead of failing every submission in turn
        assert "none of the first 3 submissions could be graded" in done.stderr
    # nobody graded: no zero in the gradebook, no feedback, nothing marked as done
    with Gradebook(gradebook_url(course)) as gb:
        assert gb.assignment_submissions(CH1.id) == []
    assert not list((course / "feedback").glob("*/*/*.html"))
    assert json.loads((course / cli.STATE_FILE).read_text() if (course / cli.STATE_FILE).exists() else "{}") == {}

    again = subprocess.run(
        [
            sys.executable,
            "-m",
            "optimcourse.grading.cli",
            CH1.id,
            str(submitted),
            "--course",
            str(course),
            "--jobs",
            "2",
            *UNSANDBOXED,
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert again.returncode == 0, again.stderr[-3000:]
    assert f"{students} graded now" in again.stdout
    assert totals(course) == {f"s{k}": (10.0 if k % 2 == 0 else 0.0) for k in range(students)}


def test_a_kernel_start_error_is_the_graders_and_names_what_the_kernel_printed(tmp_path):
    log = tmp_path / "kernel.json.log"
    log.write_text("an earlier kernel's chatter\n")
    guarded = execute.GuardedExecute(kernel_log_file=str(log))
    since = log.stat().st_size
    log.write_text(log.read_text() + "Traceback (most recent call last):\nImportError: no ipykernel\n")
    printed = guarded._kernel_output(since)
    assert "no ipykernel" in printed and "earlier kernel" not in printed
    assert issubclass(execute.KernelStartError, RuntimeError)


def test_scripts_are_found_beside_the_interpreter_not_on_path(monkeypatch, tmp_path):
    monkeypatch.setattr(sys, "executable", str(tmp_path / "venv" / "bin" / "python"))
    (tmp_path / "venv" / "bin").mkdir(parents=True)
    (tmp_path / "venv" / "bin" / "alembic").write_text("#!/bin/sh\n")
    assert environment.script("alembic") == str(tmp_path / "venv" / "bin" / "alembic")
    path = environment.with_scripts_on_path({"PATH": f"/usr/bin:{tmp_path / 'venv' / 'bin'}"})["PATH"]
    assert path == f"{tmp_path / 'venv' / 'bin'}:/usr/bin"


CHAINED_LOG = """[ERROR] There was an error processing assignment: /course/submitted/s0/01-manual-updates
[ERROR] Traceback (most recent call last):
      File "nbclient/client.py", line 566, in async_start_new_kernel_client
        await ensure_async(self.kc.wait_for_ready(timeout=self.startup_timeout))
    RuntimeError: Kernel died before replying to kernel_info

    The above exception was the direct cause of the following exception:

    Traceback (most recent call last):
      File "optimcourse/grading/execute.py", line 110, in preprocess
        raise KernelStartError(...)
    optimcourse.grading.execute.KernelStartError: the kernel could not start; it printed:
        Traceback (most recent call last):
          File "<frozen runpy>", line 198, in _run_module_as_main
        ImportError: no ipykernel
[ERROR] There was an error processing assignment '01-manual-updates' for student 's0'
[ERROR] Please see the the above traceback for details on the specific errors on the above failures.
"""


def test_the_reason_given_is_the_exception_nbgrader_logged_not_its_see_above():
    reason = workers.failure(
        {"success": False, "log": CHAINED_LOG, "error": "NbGraderException: Please see the the above traceback"}
    )
    assert reason.splitlines()[0] == (
        "optimcourse.grading.execute.KernelStartError: the kernel could not start; it printed:"
    )
    assert reason.splitlines()[-1].strip() == "ImportError: no ipykernel" and "nbclient/client.py" not in reason
    assert (
        workers.failure({"success": False, "log": "[ERROR] No notebooks were matched"})
        == "[ERROR] No notebooks were matched"
    )
    assert workers.failure({"success": False}) == "nbgrader failed, and logged no reason"
