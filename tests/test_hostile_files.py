"""course-grade against notebooks that leave hostile files behind or flood the grader: links in their
working folder to the gradebook and to the instructor's files (and one in place of the notebook), a FIFO
and a socket, files as large as they can write, a flood of output, CPU burnt in many threads, and a
kernel that plants things in the sandbox's run folder for the next kernel. The class is graded in one run:
it completes, each student gets what the honest parts of the notebook earn, and nothing of the grader's
reaches a student's folders."""

from __future__ import annotations

import json
import os
import secrets
import socket
import stat
from pathlib import Path

import pytest

import notebook_runner as nr
from optimcourse import notebooks
from optimcourse.grading import execute, merge, sandbox
from optimcourse.grading.output_cap import NAME_BYTES, OutputCap, error_size
from test_adversarial_submissions import needs_the_sandbox, outputs, with_prefix  # noqa: F401  (a fixture)
from test_course_grade import CH1, course_grade, scores, write_class

MARK = secrets.token_hex(12)  # in the instructor's files only: a student's folder that holds it got one of them
FILE_MB, TMP_MB, NOTEBOOK_OUTPUT_MB, CPU_SECONDS = 8, 24, 2, 10
SQLITE = b"SQLite format 3\0"  # the first bytes of the gradebook
NOTE = "bytes of output dropped by the grader"


def points_before(solution: int) -> float:
    """The points of chapter 1's graded cells that come before its ``solution``-th solution cell."""
    total, seen = 0.0, 0
    for cell in nr.read(CH1.exercise_path()).cells:
        if notebooks.is_solution(cell):
            if seen == solution:
                return total
            seen += 1
        elif notebooks.is_test(cell):
            total += cell.metadata["nbgrader"]["points"]
    raise ValueError(f"chapter 1 has no solution cell {solution}")


def with_prefixes(prefixes: dict[int, str]) -> dict[str, str]:
    """The reference, with each prefix run at the top of its solution cell (by position)."""
    code = nr.solution_code(CH1)
    names = list(code)
    for cell, prefix in prefixes.items():
        code[names[cell]] = prefix.strip() + "\n" + code[names[cell]]
    return code


def hostile_class(course: Path, secret: Path, host_file: Path, victim: Path) -> dict[str, dict[str, str]]:
    links = {
        "gradebook.db": str(course / "gradebook.db"),
        "secret.txt": str(secret),
        "host.txt": str(host_file),
        "home": str(secret.parent),
    }
    burn = with_prefix(
        """
import hashlib, threading
def burn():
    block = b"x" * (1 << 20)
    while True:
        hashlib.sha256(block).digest()  # the GIL is released: every thread takes a core
threads = [threading.Thread(target=burn, daemon=True) for _ in range(8)]
for t in threads:
    t.start()
for t in threads:
    t.join()
""",
        cell=2,
    )
    # 50 MB at once, 3 MB in small pieces, 3 MB on stderr: a cell keeps 1 MB, the notebook 2
    flood = with_prefixes(
        {
            0: 'print("x" * 50_000_000)',
            1: 'for _ in range(3000):\n    print("y" * 999)',
            2: 'import sys\nsys.stderr.write("z" * 3_000_000)',
        }
    )
    return {
        "ref": nr.solution_code(CH1),
        # sorted first, so that with one worker every other kernel runs after it, in its run folder
        "a-plant": with_prefix(
            f"""
import os, signal, time
from ipykernel import get_connection_file
connection = get_connection_file()
run = os.path.dirname(connection)
planted = []
def attempt(what, action):
    try:
        action()
        planted.append(what)
    except OSError:
        pass
attempt("stop-link", lambda: os.symlink({str(secret)!r}, os.path.join(run, "kernel.json.stopped")))
for root, _, names in os.walk(os.path.join(run, "kernel-site")):
    for name in names:
        if name == "agent.py":
            attempt("agent", lambda: open(os.path.join(root, name), "a").write("\\nraise ImportError('planted')\\n"))
attempt("connection-folder", lambda: (os.remove(connection), os.mkdir(connection)))
log = os.path.join(run, "kernel.json.log")
attempt("log-fifo", lambda: (os.path.exists(log) and os.remove(log), os.mkfifo(log)))
print("PLANTED", planted, flush=True)
time.sleep(1)  # the message leaves the kernel before it dies
os.kill(os.getpid(), signal.SIGKILL)
""",
            cell=2,
        ),
        "links": with_prefix(f"""
import os
for name, target in {links!r}.items():
    os.symlink(target, name)
notebook = {CH1.notebook + ".ipynb"!r}
if os.path.exists(notebook):
    os.remove(notebook)
os.symlink({str(victim)!r}, notebook)  # nbgrader writes the graded notebook there, if it is this folder
print("LINKED", sorted(os.listdir(".")))
"""),
        "fifo": with_prefix("""
import os, socket
os.mkfifo("pipe")
os.mkdir("sub")
os.mkfifo("sub/pipe")
socket.socket(socket.AF_UNIX).bind("sock")
"""),
        "big": with_prefix(f"""
import os
def fill(folder):
    for k in range(6):
        try:
            with open(os.path.join(folder, f"fill{{k}}"), "wb") as f:
                for _ in range({FILE_MB}):
                    f.write(bytes(1 << 20))
        except OSError:
            break
    return sum(os.path.getsize(os.path.join(folder, n)) for n in os.listdir(folder) if n.startswith("fill"))
try:
    with open("huge", "wb") as f:
        for _ in range(64):
            f.write(bytes(1 << 20))
except OSError as e:
    print("HUGE-REFUSED", e)
print("HUGE", os.path.getsize("huge"))
os.remove("huge")
print("FILLED", fill("."), fill("/tmp"), fill("/dev/shm"))
"""),
        "flood": flood,
        "cpu": burn,
    }


def student_files(course: Path) -> list[Path]:
    """Every entry of every autograded/ and feedback/ folder of the course, the workers' included."""
    found = []
    for root, _dirs, _files in os.walk(course):
        if Path(root).name in ("autograded", "feedback"):
            for inner, subdirs, names in os.walk(root):
                found += [Path(inner) / name for name in subdirs + names]
    return found


def printed(course: Path, student: str, word: str) -> list[str]:
    line = next(line for line in outputs(course, student).splitlines() if line.startswith(word + " "))
    return line.split()[1:]


@pytest.mark.nbgrader
@pytest.mark.usefixtures("needs_the_sandbox")
def test_hostile_files_and_floods_cost_their_authors_only(tmp_path):
    course = tmp_path / "course"
    home = tmp_path / "instructor-home"
    home.mkdir()
    secret, host_file, victim = home / "secret.txt", tmp_path / "host" / "config.txt", home / "notes.txt"
    host_file.parent.mkdir()
    secret.write_text(f"secret {MARK}\n")
    host_file.write_text(f"host {MARK}\n")
    victim.write_text("the instructor's notes\n")
    modes = {path: path.stat().st_mode for path in (secret, host_file, victim)}
    students = hostile_class(course, secret, host_file, victim)
    submitted = write_class(tmp_path / "in", students)
    done = course_grade(
        CH1.id,
        submitted,
        "--course",
        course,
        "--jobs",
        "1",
        "--wall-seconds",
        "300",
        "--cell-seconds",
        "60",
        "--cpu-seconds",
        str(CPU_SECONDS),
        "--file-mb",
        str(FILE_MB),
        "--tmp-mb",
        str(TMP_MB),
        "--notebook-output-mb",
        str(NOTEBOOK_OUTPUT_MB),
        timeout=1500,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"{len(students)} graded now" in done.stdout and (course / "grades.csv").exists()
    total = {s: sum(v.values()) for s, v in scores(course).items()}

    # the honest parts of each notebook earn what the reference earns; a kernel stopped in the third
    # solution cell keeps the points of the cells before it
    assert total["ref"] == 10
    assert total["links"] == total["fifo"] == total["big"] == total["flood"] == 10, total
    assert total["cpu"] == total["a-plant"] == points_before(2), total

    # nothing a kernel made reached a student's folders: no link, no FIFO or socket, none of the grader's files
    for path in student_files(course):
        assert not path.is_symlink(), f"{path} is a link"
        if path.is_dir():
            continue
        assert stat.S_ISREG(path.lstat().st_mode), f"{path} is not a regular file"
        content = path.read_bytes()
        assert MARK.encode() not in content, f"{path} holds the instructor's secret"
        assert SQLITE not in content, f"{path} holds the gradebook"
        assert path.stat().st_size < (NOTEBOOK_OUTPUT_MB + 1) << 20, f"{path} is {path.stat().st_size} bytes"
        assert path.name not in ("huge", "pipe", "sock") and not path.name.startswith("fill"), path
    # and nothing of the instructor's was written or changed through a link
    assert victim.read_text() == "the instructor's notes\n"
    assert {path: path.stat().st_mode for path in modes} == modes
    assert (course / "gradebook.db").stat().st_mode & stat.S_IWUSR, "the gradebook was made read-only"
    assert "agent" not in " ".join(printed(course, "a-plant", "PLANTED")), "a kernel changed the next kernels' package"

    # files: none larger than --file-mb, no folder holding more than --tmp-mb
    assert int(printed(course, "big", "HUGE")[0]) <= FILE_MB << 20
    assert all(int(n) <= TMP_MB << 20 for n in printed(course, "big", "FILLED"))
    assert "File too large" in outputs(course, "big")

    # CPU: the kernel that burns it in many threads is stopped, and says why
    assert f"more than its limit of {CPU_SECONDS} s of CPU time" in outputs(course, "cpu")
    assert execute.STOPPED in outputs(course, "cpu")

    # output: each cell keeps at most 1 MB, the notebook 2 MB, and a note says what was dropped
    graded = course / "autograded" / "flood" / CH1.id / f"{CH1.notebook}.ipynb"
    reference = course / "autograded" / "ref" / CH1.id / f"{CH1.notebook}.ipynb"
    assert graded.stat().st_size < (NOTEBOOK_OUTPUT_MB << 20) + reference.stat().st_size + (64 << 10)
    feedback = course / "feedback" / "flood" / CH1.id / f"{CH1.notebook}.html"
    plain = course / "feedback" / "ref" / CH1.id / f"{CH1.notebook}.html"
    assert feedback.stat().st_size < (NOTEBOOK_OUTPUT_MB << 20) + plain.stat().st_size + (64 << 10)
    cells = json.loads(graded.read_text())["cells"]
    for cell in cells:
        assert len(json.dumps(cell.get("outputs", []))) < (1 << 20) + (16 << 10)
    by_id = {c["metadata"].get("nbgrader", {}).get("grade_id"): c for c in cells}
    last = [
        "".join(by_id[name]["outputs"][-1].get("data", {}).get("text/plain", ""))
        for name in list(nr.solution_code(CH1))[:3]
    ]
    assert all(NOTE in note for note in last), f"each flooding cell ends with a note: {last}"
    assert "a cell keeps at most 1 MB" in last[0] and "a cell keeps at most 1 MB" in last[1]
    assert "a notebook keeps at most 2 MB" in last[2]


def a_poisoned_folder(root: Path, secret: Path) -> Path:
    """A folder as a kernel could leave it: files and a subfolder, links to a file and a folder outside it,
    a FIFO and a socket."""
    (root / "sub").mkdir(parents=True)
    (root / "kept.txt").write_text("kept")
    (root / "sub" / "kept.txt").write_text("kept")
    (root / "secret.txt").symlink_to(secret)
    (root / "home").symlink_to(secret.parent)
    os.mkfifo(root / "pipe")
    os.mkfifo(root / "sub" / "pipe")
    unix = socket.socket(socket.AF_UNIX)
    unix.bind(str(root / "sock"))
    unix.close()
    return root


def tree(root: Path) -> set[str]:
    return {str(path.relative_to(root)) for path in root.rglob("*")}


def test_a_students_folder_is_copied_without_links_or_special_files(tmp_path):
    secret = tmp_path / "home" / "secret.txt"
    secret.parent.mkdir()
    secret.write_text(MARK)
    source = a_poisoned_folder(tmp_path / "graded", secret)
    merge.copy_plain(source, tmp_path / "copy")
    assert tree(tmp_path / "copy") == {"kept.txt", "sub", "sub/kept.txt"}
    merge.remove_unplain(source)
    assert tree(source) == {"kept.txt", "sub", "sub/kept.txt"} and secret.read_text() == MARK


def test_the_scratch_starts_with_the_regular_files_but_the_notebooks(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text(MARK)
    work = a_poisoned_folder(tmp_path / "work", secret)
    (work / "manual_updates.ipynb").write_text("{}")
    folders, files = sandbox.scratch_contents(work)
    assert folders == [Path("sub")] and files == [Path("kept.txt"), Path("sub/kept.txt")]


def test_the_run_folder_keeps_the_connection_file_and_the_packages_only(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text(MARK)
    run = a_poisoned_folder(tmp_path / "run", secret)
    (run / "kernel-site" / "pkg").mkdir(parents=True)
    (run / "kernel.json").write_text("{}")
    sandbox.sweep(run, run / "kernel.json", run / "kernel-site")
    assert tree(run) == {"kernel.json", "kernel-site", "kernel-site/pkg"} and secret.read_text() == MARK
    elsewhere = a_poisoned_folder(tmp_path / "elsewhere", secret)
    sandbox.sweep(elsewhere, elsewhere / "kernel.json", run / "kernel-site")  # not a run folder: left alone
    assert "kept.txt" in tree(elsewhere)


def message(kind: str, **content) -> dict:
    return {"msg_type": kind, "header": {"msg_type": kind}, "parent_header": {}, "content": content}


def test_output_is_cut_per_cell_and_per_notebook_and_an_error_always_stays():
    cap = OutputCap(1000, 5000)
    assert cap.admit(message("stream", name="stdout", text="x" * 5000), 0)["content"]["text"] == "x" * 1000
    assert cap.admit(message("stream", name="stdout", text="more"), 0) is None
    error = cap.admit(message("error", ename="E" * 500, evalue="v" * 10**6, traceback=["t" * 10**6]), 0)
    assert error is not None and error["content"]["ename"] == "E" * NAME_BYTES
    assert error_size(error["content"]) < 3 * 1000 + 3 * NAME_BYTES
    note = cap.note(0).data["text/plain"]
    assert "bytes of output dropped by the grader: a cell keeps at most" in note and cap.note(0) is None
    # nbgrader adds the reply's error unless an output has its name: cut alike, the names match
    reply = {"status": "error", "ename": "E" * 500, "evalue": "v" * 10**6, "traceback": ["t" * 10**6]}
    cap.cut_reply(reply)
    assert reply["ename"] == error["content"]["ename"] and error_size(reply) < 4000
    # the next cells get what the notebook has left
    assert cap.admit(message("stream", name="stdout", text="y" * 5000), 1)["content"]["text"] == "y" * 1000
    room = 5000 - sum(cap.kept.values())
    assert 0 < room < 1000
    assert cap.admit(message("stream", name="stdout", text="z" * 5000), 2)["content"]["text"] == "z" * room
    assert "a notebook keeps at most" in cap.note(2).data["text/plain"]
    assert cap.admit(message("display_data", data={"text/plain": "late"}, metadata={}), 3) is None


def test_cleared_output_frees_its_room_and_display_updates_count_every_copy():
    cap = OutputCap(1000, 0)
    assert cap.admit(message("stream", name="stdout", text="a" * 900), 0)
    cap.admit(message("clear_output", wait=False), 0)
    assert cap.admit(message("stream", name="stdout", text="b" * 900), 0)["content"]["text"] == "b" * 900
    cap.admit(message("clear_output", wait=True), 0)  # nbclient clears at the next output
    assert cap.admit(message("stream", name="stdout", text="c" * 900), 0)["content"]["text"] == "c" * 900

    def shown(kind: str, text: str) -> dict:
        return message(kind, data={"text/plain": text}, metadata={}, transient={"display_id": "shown"})

    for _ in range(10):  # small, but an update rewrites all ten
        assert cap.admit(shown("display_data", "d"), 1)
    assert cap.admit(shown("update_display_data", "u" * 200), 1) is None
    for _ in range(1000):  # a progress display: each update replaces the last
        assert cap.admit(shown("update_display_data", "u" * 20), 1) is not None
