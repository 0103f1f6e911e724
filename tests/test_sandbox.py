"""course-grade's sandbox, against students who try things: each gets the score the rules give, the
batch completes, the others are unaffected, and nothing outside a submission's own folder is reached."""
from __future__ import annotations

import json
import os
import socket
import sys
import threading
from pathlib import Path

import pytest
from nbgrader.api import Gradebook
from test_course_grade import CH1, course_grade, scores, write_class

import notebook_runner as nr
from optimcourse.course import PACKAGE_DIR, REPO_ROOT
from optimcourse.grading import execute, sandbox

pytestmark = pytest.mark.nbgrader
WHY_NOT = sandbox.problem()


@pytest.fixture(autouse=True)
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


def test_students_who_try_things_get_what_the_rules_give(tmp_path):
    course, listener = tmp_path / "course", Listener()
    secret = tmp_path / "instructor-home" / "secret.txt"
    secret.parent.mkdir()
    secret.write_text("not for students")
    looked_at = {"solutions": str(CH1.solution_path()), "gradebook": str(course / "gradebook.db"),
                 "classmate": str(course / ".workers" / "0" / "submitted"), "home": str(secret),
                 "repository": str(REPO_ROOT / "README.md")}
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
for target in ({str(course / 'gradebook.db')!r}, {str(secret)!r}, {str(REPO_ROOT / 'tamper.txt')!r},
               {str(PACKAGE_DIR / 'tamper.txt')!r}, "/tamper.txt"):
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
            time.sleep(15)
            os._exit(0)
        kids += 1
except OSError:
    pass
print("FORKED", kids)
"""),
        "sleeps": with_prefix("import time\ntime.sleep(600)", cell=2),
    }
    submitted = write_class(tmp_path / "in", students)
    done = course_grade(CH1.id, submitted, "--course", course, "--jobs", "2", "--wall-seconds", "40",
                        "--max-processes", "128", "--memory-mb", "2048")
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
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
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

    done = subprocess.run([sys.executable, "-m", "optimcourse.grading.cli", CH1.id, str(submitted), "--course",
                           str(tmp_path / "course")], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 2
    assert "bubblewrap (bwrap) is not installed" in done.stderr and "--no-sandbox" in done.stderr
    assert not (tmp_path / "course").exists()
