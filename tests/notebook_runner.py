"""Run a notebook's cells in this process, the way a kernel would, and score its test cells.

Fast enough to try every mutant of every chapter on every test run; ``test_nbgrader.py`` shows
on a sample that the real ``nbgrader autograde`` agrees with it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import io
import json
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat

from optimcourse import cases, notebooks
from optimcourse.course import Assignment
from optimcourse.remote import agent, wire
from optimcourse.remote.proxy import Session
from optimcourse.remote.verdicts import run_cell

# what students hand in: shared with the grading benchmark
with_solution_code, solution_code, stub_code = (
    notebooks.with_solution_code,
    notebooks.solution_code,
    notebooks.stub_code,
)


@dataclass
class CellResult:
    grade_id: str
    points: float
    passed: bool
    message: str  # the exception's text when the cell failed

    @property
    def score(self) -> float:
        return self.points if self.passed else 0.0


def run(nb: nbformat.NotebookNode) -> list[CellResult]:
    """Execute every code cell in one namespace; return one result per graded test cell."""
    namespace: dict = {"__name__": "__main__"}
    results = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        grading = notebooks.grading(cell)
        error = ""
        with contextlib.redirect_stdout(io.StringIO()):
            try:
                exec(compile(cell.source, f"<cell {cell.get('id', '?')}>", "exec"), namespace)
            except BaseException as exc:
                error = f"{type(exc).__name__}: {exc}"
        if notebooks.is_test(cell):
            results.append(CellResult(grading["grade_id"], float(grading["points"]), not error, error))
    return results


#: where run_shared keeps its results for the session (set by conftest.py, for every xdist worker)
SHARED_RUNS = "OPTIMCOURSE_TEST_RUNS"


def run_shared(nb: nbformat.NotebookNode) -> list[CellResult]:
    """:func:`run`, done once per session for each notebook: the in-process gates and the channel's parity
    test run the same notebooks (a reference, an untouched exercise, each mutant), on any worker."""
    folder = os.environ.get(SHARED_RUNS)
    if not folder:
        return run(nb)
    code = [
        (c.source, notebooks.grading(c) if notebooks.is_test(c) else None) for c in nb.cells if c.cell_type == "code"
    ]
    seed = os.environ.get(cases.GRADING_SEED_VARIABLE)  # the hidden cases drawn depend on it
    key = json.dumps([code, seed], sort_keys=True).encode()
    path = Path(folder) / (hashlib.sha256(key).hexdigest() + ".json")
    if path.exists():
        return [CellResult(**r) for r in json.loads(path.read_text())]
    results = run(nb)
    partial = path.with_suffix(f".{os.getpid()}")
    partial.write_text(json.dumps([dataclasses.asdict(r) for r in results]))
    partial.replace(path)  # whole or absent, whichever worker writes it
    return results


def graded_points(assignment: Assignment) -> dict[str, float]:
    """Each graded test cell's points, by grade id."""
    nb = notebooks.read(assignment.exercise_path())
    return {
        notebooks.grading(c)["grade_id"]: float(notebooks.grading(c)["points"])
        for c in nb.cells
        if notebooks.is_test(c)
    }


def warning_solution_code(assignment: Assignment) -> dict[str, str]:
    """The reference, with a library-style FutureWarning at the top of its first solution's body.

    The body runs when a test cell calls the student's code, so the warning reaches a graded
    cell's stderr: correct code must keep full marks all the same.
    """
    source = notebooks.read(assignment.solution_path())
    code = solution_code(assignment)
    cell = next(c for c in source.cells if notebooks.is_solution(c))
    lines = cell.source.splitlines()
    at = next(i for i, line in enumerate(lines) if line.strip() == notebooks.BEGIN_SOLUTION)
    indent = lines[at][: len(lines[at]) - len(lines[at].lstrip())]
    lines.insert(at + 1, f"{indent}warnings.warn('an unrelated deprecation', FutureWarning)")
    code[notebooks.grading(cell)["grade_id"]] = "import warnings\n" + notebooks.without_markers("\n".join(lines))
    return code


def read(path: Path) -> nbformat.NotebookNode:
    return notebooks.read(path)


def _kernel(commands: Any, channel: socket.socket) -> None:
    """A stand-in for a student's kernel, in a forked process: runs the cells it is sent in one namespace,
    and serves the grader's agent on ``channel`` when told to (where a graded cell would run)."""
    namespace: dict = {"__name__": "__main__"}
    while True:
        kind, payload = commands.recv()
        if kind == "quit":
            return
        if kind == "exec":
            with contextlib.redirect_stdout(io.StringIO()):
                try:
                    exec(compile(payload, "<cell>", "exec"), namespace)
                except BaseException:
                    pass
        elif kind == "serve":
            try:
                agent.Agent(channel, namespace).loop()
            except (wire.ChannelClosed, OSError):
                pass
        commands.send("done")


def run_trusted(nb: nbformat.NotebookNode, assignment: Assignment, seconds: float = 600.0) -> list[CellResult]:
    """As :func:`run`, but as course-grade grades: the cells run in another process (a kernel's stand-in),
    and each test cell's checks run here, reaching the student's names through the channel."""
    import multiprocessing

    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    commands, child_end = multiprocessing.Pipe()
    child = multiprocessing.get_context("fork").Process(target=_kernel, args=(child_end, theirs), daemon=True)
    child.start()
    theirs.close()
    results = []
    try:
        for cell in nb.cells:
            if cell.cell_type != "code":
                continue
            if not notebooks.is_test(cell):
                commands.send(("exec", cell.source))
                commands.recv()
                continue
            commands.send(("serve", None))
            session = Session(ours, time.monotonic() + seconds)
            verdict = run_cell(cell.source, assignment.checks_module, session)
            session.done()
            commands.recv()
            grading = notebooks.grading(cell)
            results.append(
                CellResult(
                    grading["grade_id"],
                    float(grading["points"]),
                    verdict.passed,
                    "" if verdict.passed else f"{verdict.ename}: {verdict.evalue}",
                )
            )
    finally:
        commands.send(("quit", None))
        child.join(timeout=10)
        if child.is_alive():
            child.kill()
        ours.close()
    return results
