"""course-grade against students who try things: each gets the score its code earns (plain nbgrader's,
where nbgrader has a rule for the notebook), the batch completes, the others are unaffected, and nothing outside a
submission's own folder is reached."""

from __future__ import annotations

import copy
import csv
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from nbgrader.api import Gradebook

import notebook_runner as nr
from conftest import library
from optimcourse import notebooks
from optimcourse.chapters import manual_updates as checks
from optimcourse.course import PACKAGE_DIR, REPO_ROOT
from optimcourse.grading import execute, sandbox
from optimcourse.grading.settings import gradebook_url
from test_course_grade import CH1, course_grade, scores, write_class
from test_nbgrader import nbgrader, scratch_course

pytestmark = pytest.mark.nbgrader
WHY_NOT = sandbox.problem()
# a cell's time in the class below: an honest cell needs far less, even on a loaded machine, and a
# looping one costs its author this much
CELL_SECONDS = 15


@pytest.fixture
def needs_the_sandbox():
    if WHY_NOT is not None:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the sandbox tests: {WHY_NOT}")
        pytest.skip(WHY_NOT)


def with_prefix(prefix: str, cell: int = 0) -> dict[str, str]:
    """The reference, with ``prefix`` run at the top of its ``cell``-th solution cell."""
    code = nr.solution_code(CH1)
    key = list(code)[cell]
    code[key] = prefix.strip() + "\n" + code[key]
    return code


def outputs(course: Path, student: str) -> str:
    """Everything the student's graded notebook printed or raised, as text."""
    nb = json.loads((course / "autograded" / student / CH1.id / f"{CH1.notebook}.ipynb").read_text())
    out = []
    for cell in nb["cells"]:
        for o in cell.get("outputs", []):
            text = o.get("text", "") if o["output_type"] == "stream" else f"{o.get('ename', '')}: {o.get('evalue', '')}"
            out.append("".join(text) if isinstance(text, list) else text)  # stored notebooks split lines
    return "\n".join(out)


class Listener:
    """A TCP server on this machine's loopback that notes every connection it gets."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.connections = 0
        self.server.settimeout(0.5)
        self.running = True
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while self.running:
            try:
                conn, _ = self.server.accept()
            except OSError:
                continue
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self.running = False
        self.thread.join()
        self.server.close()


@pytest.mark.usefixtures("needs_the_sandbox")
def test_students_who_try_things_get_what_the_rules_give(tmp_path):
    course, listener = tmp_path / "course", Listener()
    secret = tmp_path / "instructor-home" / "secret.txt"
    secret.parent.mkdir()
    secret.write_text("not for students")
    looked_at = {
        "solutions": str(CH1.solution_path()),
        "gradebook": str(course / "gradebook.db"),
        "classmate": str(course / ".workers" / "0" / "submitted"),
        "home": str(secret),
        "repository": str(REPO_ROOT / "README.md"),
    }
    students = {
        "ref": nr.solution_code(CH1),
        "net": with_prefix(f"""
import socket
try:
    socket.create_connection(("127.0.0.1", {listener.port}), timeout=2).sendall(b"leak")
except OSError:
    pass
"""),
        "peek": with_prefix(f"""
import os
print("SEEN", sorted(name for name, path in {looked_at!r}.items() if os.path.exists(path)))
for target in ({str(course / "gradebook.db")!r}, {str(secret)!r}, {str(REPO_ROOT / "tamper.txt")!r},
               {str(PACKAGE_DIR / "tamper.txt")!r}, "/tamper.txt"):
    try:
        with open(target, "a") as f:
            f.write("x")
        print("WROTE", target)
    except OSError:
        pass
"""),
        "exits": with_prefix("import os\nos._exit(0)", cell=1),
        "hog": with_prefix("hog = [bytearray(2**28) for _ in range(64)]  # 16 GB, 256 MB at a time"),
        "forks": with_prefix("""
import os, time
kids = 0
try:
    for _ in range(2000):
        if os.fork() == 0:
            time.sleep(2)
            os._exit(0)
        kids += 1
except OSError:
    pass
print("FORKED", kids)
for _ in range(kids):  # reaped, so that the limit says how many could run at once, not when the next cell runs
    os.wait()
"""),
        "sleeps": with_prefix("import time\ntime.sleep(600)", cell=2),
    }
    submitted = write_class(tmp_path / "in", students)
    # these students import os and socket: the sandbox holds whatever the code does
    done = course_grade(
        CH1.id,
        submitted,
        "--course",
        course,
        "--jobs",
        "2",
        "--wall-seconds",
        "40",
        "--max-processes",
        "128",
        "--memory-mb",
        "2048",
    )
    listener.close()
    assert done.returncode == 0, done.stderr[-3000:]
    assert "7 graded now" in done.stdout
    total = {s: sum(v.values()) for s, v in scores(course).items()}

    assert total["ref"] == 10 and total["net"] == 10 and total["peek"] == 10 and total["forks"] == 10
    assert listener.connections == 0, "a kernel reached the grader's network"
    assert "SEEN []" in outputs(course, "peek")
    # what it wrote went to its own private /tmp, or nowhere: the grader's files are as they were
    assert secret.read_text() == "not for students" and not (REPO_ROOT / "tamper.txt").exists()
    # the package is mounted read-only and so is the sandbox's root (paths under /tmp, the repository's
    # too when it lives there, are in the kernel's own private /tmp: checked on the host above)
    assert f"WROTE {PACKAGE_DIR / 'tamper.txt'}" not in outputs(course, "peek")
    assert "WROTE /tamper.txt" not in outputs(course, "peek")
    assert not (PACKAGE_DIR / "tamper.txt").exists()
    with Gradebook(gradebook_url(course)) as gb:
        assert len(gb.assignment_submissions(CH1.id)) == len(students)
    forked = int(outputs(course, "forks").split("FORKED ")[1].split()[0])
    assert forked < 128

    # a dead kernel keeps the points of the cells that finished and says why the rest scored zero
    assert 0 < total["exits"] < 10
    assert execute.STOPPED in outputs(course, "exits")
    assert 0 < total["sleeps"] < 10
    assert "ran longer than its limit of 40 s" in outputs(course, "sleeps")
    assert execute.STOPPED in (course / "feedback" / "sleeps" / CH1.id / f"{CH1.notebook}.html").read_text()
    assert total["hog"] < 10  # its first solution cell raised MemoryError: what depends on it fails


def test_without_bubblewrap_it_refuses_unless_told_no_sandbox(tmp_path):
    submitted = write_class(tmp_path / "in", {"ref": nr.solution_code(CH1)})
    bare = tmp_path / "bin"
    bare.mkdir()
    env = dict(os.environ, PATH=str(bare))
    import subprocess

    done = subprocess.run(
        [sys.executable, "-m", "optimcourse.grading.cli", CH1.id, str(submitted), "--course", str(tmp_path / "course")],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 2
    assert "bubblewrap (bwrap) is not installed" in done.stderr and "--no-sandbox" in done.stderr
    assert not (tmp_path / "course").exists()


def _edited(code: dict[str, str], edit=None) -> bytes:
    """The exercise with ``code`` typed in, then changed by ``edit(nb)`` as a student's editor might."""
    nb = nr.with_solution_code(nr.read(CH1.exercise_path()), code)
    if edit is not None:
        edit(nb)
    return (json.dumps(nb, indent=1) + "\n").encode()


def _first_test(nb):
    return next(c for c in nb.cells if notebooks.is_test(c))


def _delete_test(nb):
    nb.cells.remove(_first_test(nb))


def _empty_test(nb):
    _first_test(nb).source = "pass"


def _to_markdown(nb):
    cell = _first_test(nb)
    cell.cell_type = "markdown"
    cell.pop("outputs", None)
    cell.pop("execution_count", None)


def _more_points(nb):
    _first_test(nb).metadata["nbgrader"]["points"] = 100


def _split_solution(nb):
    first = next(c for c in nb.cells if notebooks.is_solution(c))
    nb.cells.insert(nb.cells.index(first), copy.deepcopy(first))


def _shuffle(nb):
    nb.cells.reverse()


def _newer_format(nb):
    nb.nbformat_minor = 99


def _loops_in_hidden_tests(code: dict[str, str]) -> dict[str, str]:
    """sgd_update_ that passes the visible test and loops forever once the hidden tests call it more."""
    calls = [0]
    ns: dict = {"np": np}
    exec(code["parameter"], ns)
    exec(code["sgd-update"], ns)
    real = ns["sgd_update_"]

    def counting(params, lr):
        calls[0] += 1
        return real(params, lr)

    checks.check_sgd_update(counting, ns["Parameter"])
    looping = dict(code)
    looping["sgd-update"] = code["sgd-update"].replace(
        "def sgd_update_(params, lr):",
        f"""_calls = [0]


def sgd_update_(params, lr):
    _calls[0] += 1
    while _calls[0] > {calls[0]}:  # the visible test has had its calls: only hidden tests get here
        pass""",
        1,
    )
    return looping


def _before(code: dict[str, str], cell: str, prefix: str) -> dict[str, str]:
    changed = dict(code)
    changed[cell] = prefix + "\n" + changed[cell]
    return changed


def test_tampered_notebooks_score_what_plain_nbgrader_gives_and_cheats_gain_nothing(tmp_path):
    reference, stub = nr.solution_code(CH1), nr.stub_code(CH1)
    mutant = nr.solution_code(CH1, library(CH1).mutants[0])
    by_torch = dict(reference)
    by_torch["sgd-update"] = """
import torch


def sgd_update_(params, lr):
    for p in params:
        if p.grad is None:
            continue
        t = torch.tensor(p.data, requires_grad=True)
        t.grad = torch.tensor(p.grad)
        torch.optim.SGD([t], lr=lr).step()
        p.data[...] = t.detach().numpy()
"""
    fake = _before(stub, "parameter", "print('All tests passed! 10/10')")
    hidden_loop = _loops_in_hidden_tests(reference)
    own: dict = {"np": np}
    exec(hidden_loop["parameter"] + "\n" + hidden_loop["sgd-update"], own)
    checks.check_sgd_update(own["sgd_update_"], own["Parameter"])  # the student's own (visible) test passes
    patched = _before(
        mutant,
        "parameter",
        "\n".join(
            f"checks.{name} = lambda *args, **kwargs: None"
            for name in (
                "check_parameter",
                "check_sgd_update",
                "check_sgd_step",
                "check_sgd_zero_grad",
                "check_sgd_validation",
            )
        ),
    )
    students: dict[str, bytes] = {
        "deleted-test": _edited(reference, _delete_test),
        "edited-test": _edited(stub, _empty_test),
        "markdown-test": _edited(stub, _to_markdown),
        "more-points": _edited(reference, _more_points),
        "split-cell": _edited(reference, _split_solution),
        "shuffled": _edited(reference, _shuffle),
        "newer-format": _edited(reference, _newer_format),
        "fake-pass": _edited(fake),
        "mutant": _edited(mutant),
        "warns": _edited(nr.warning_solution_code(CH1)),
        "empty": b"",
        "loops": _edited(_before(reference, "sgd-update", "while True:\n    pass")),
        "hidden-loop": _edited(hidden_loop),
        "import-raises": _edited(_before(reference, "sgd-update", "from numpy import no_such_name")),
        # and those who reach for torch or the checker (plain nbgrader gives the last full marks)
        "by-torch": _edited(by_torch),
        "sys-exit": _edited(_before(reference, "sgd-update", "import sys\nsys.exit()")),
        "allclose-patched": _edited(_before(mutant, "parameter", "np.allclose = np.isclose = lambda *a, **k: True")),
        "checker-patched": _edited(patched),
    }
    fooled_plain = {"by-torch", "checker-patched"}  # torch does the step; the checker is replaced
    submitted = write_class(tmp_path / "in", students)
    course = tmp_path / "course"
    done = course_grade(CH1.id, submitted, "--course", course, "--jobs", "2", "--cell-seconds", str(CELL_SECONDS))
    assert done.returncode == 1 and f"{submitted}/empty/{CH1.id}/{CH1.notebook}.ipynb: the file is empty" in done.stderr
    ours = scores(course)
    total = {s: sum(v.values()) for s, v in ours.items()}

    # plain nbgrader, sequentially and unsandboxed, on the same files (not the empty one: it cannot read it)
    plain = scratch_course(tmp_path / "plain")
    shutil.copytree(submitted, plain / "submitted", ignore=shutil.ignore_patterns("empty"))
    nbgrader(plain, "generate_assignment", CH1.id, "--force")
    run = subprocess.run(
        [sys.executable, "-m", "nbgrader", "autograde", CH1.id, "--force", f"--Execute.timeout={CELL_SECONDS}"],
        cwd=plain,
        capture_output=True,
        text=True,
        timeout=900,
    )
    # nbgrader fails on the split cell (and exits 1): whatever it left for that student is no grade
    assert run.returncode == 1 and "for student 'split-cell'" in run.stdout + run.stderr
    theirs = {s: v for s, v in scores(plain).items() if s != "split-cell"}
    assert set(theirs) == set(students) - {"empty", "split-cell"}
    differ = {s: (ours[s], theirs[s]) for s in theirs if ours[s] != theirs[s] and s not in fooled_plain}
    assert not differ, f"course-grade and plain nbgrader disagree: {differ}"

    # and what nbgrader's rules for a notebook say
    assert total["deleted-test"] == total["more-points"] == total["warns"] == 10  # restored, re-inserted, quiet
    assert total["split-cell"] == 10  # its pieces joined back into one cell
    assert total["edited-test"] == total["markdown-test"] == total["fake-pass"] == total["empty"] == 0
    assert total["mutant"] < 10
    # an endless loop, or an import that raises, costs the cells it breaks and no more
    for student, error in (
        ("loops", "CellTimeoutError"),
        ("hidden-loop", "CellTimeoutError"),
        ("import-raises", "ImportError"),
    ):
        assert ours[student]["parameter-holds-a-float64-copy"] == 1 and ours[student]["sgd-update-matches-torch"] == 0
        assert error in outputs(course, student)
    # the checks run in the grader: the kernel has no torch, and replacing its checker or NumPy's comparison
    # changes nothing the grader decides, where plain nbgrader gives the replaced checker full marks
    assert ours["by-torch"]["sgd-update-matches-torch"] == ours["by-torch"]["sgd-step-matches-torch"] == 0
    assert total["by-torch"] <= 2 and "torch is not available while your notebook is graded" in outputs(
        course, "by-torch"
    )
    assert total["checker-patched"] == total["allclose-patched"] == total["mutant"] < 10
    assert sum(theirs["checker-patched"].values()) == 10
    assert sum(theirs["allclose-patched"].values()) == total["mutant"]
    rows = {r["student"]: r for r in csv.DictReader(io.StringIO((course / "grades.csv").read_text()))}
    assert rows["more-points"]["max"] == "10"
