"""nbgrader's Execute under course-grade: the student's cells run in their kernel, the graded cells' checks
run here, in the grader, and decide the scores.

Every cell of the notebook runs in the kernel in order, as nbgrader runs it, except the autograded test
cells. When the kernel reaches one, it runs the channel's agent instead (``optimcourse.remote.agent``), and
this process runs the cell's source, taken from nbgrader's gradebook, with the chapter's checks against
the kernel's names (:func:`optimcourse.remote.verdicts.run_cell`). The cell's outputs are the checks'
own: "OK: ..." on stdout when they pass, one error naming the difference when they fail. What the kernel
prints or raises meanwhile is dropped: it cannot change a score.

Before the notebook's first cell, the kernel imports the agent (the sandbox's kernel has already done so
as it started): a kernel that cannot is the grader's failure, raised so that course-grade leaves the
submission ungraded. After that, an agent that does not answer was stopped by the notebook's code, and
the cell scores 0 with a message that says so. A failure of the grader's own (it asks for something it
cannot send) is raised too.

The hidden cases are drawn for each submission (:func:`optimcourse.cases.submission_salt`): its code
receives their inputs, and whatever it prints of them is useless to any other notebook.
"""

from __future__ import annotations

import contextlib
import copy
import os
import secrets
import socket
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from nbformat.notebooknode import NotebookNode
from traitlets import Unicode

from .. import cases
from ..course import get_assignment
from ..remote import wire
from ..remote.proxy import Session
from ..remote.verdicts import Verdict, run_cell
from .execute import GuardedExecute

__all__ = ["GraderUnreachable", "TrustedExecute", "stop_listening"]

PROBE = "import optimcourse.remote.agent"
AGENT = "__import__('optimcourse.remote.agent', fromlist=['serve']).serve({path!r}, {token!r})"


class GraderUnreachable(RuntimeError):
    """The kernel could not run the agent for a reason that is not the student's (it is not installed)."""


def test_cells(resources: Any) -> tuple[dict[str, str], list[str]]:
    """The notebook's autograded test cells, by grade id, with the sources nbgrader keeps in its gradebook;
    and the grade ids of its answer cells."""
    from nbgrader.api import Gradebook

    info = resources["nbgrader"]
    with Gradebook(info["db_url"]) as gb:
        notebook = gb.find_notebook(info["notebook"], info["assignment"])
        solutions = {c.name for c in notebook.solution_cells}
        graded = {c.name for c in notebook.grade_cells if c.cell_type == "code" and c.name not in solutions}
        return {c.name: c.source for c in notebook.source_cells if c.name in graded}, sorted(solutions)


def submission_seeds(nb: NotebookNode, resources: Any, answers: list[str]) -> tuple[int, ...]:
    """The hidden seeds of this submission: from the grading secret, the student, and their answers' code."""
    info = resources["nbgrader"]
    wanted = set(answers)
    sources = [
        cell.source for cell in nb.cells if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") in wanted
    ]
    salt = cases.submission_salt(str(info.get("student", "")), str(info["assignment"]), sources)
    return cases.hidden_seeds(os.environ, salt)


def outputs(verdict: Verdict) -> list[NotebookNode]:
    out = []
    if verdict.printed:
        out.append(NotebookNode(output_type="stream", name="stdout", text=verdict.printed))
    if not verdict.passed:
        out.append(
            NotebookNode(
                output_type="error",
                ename=verdict.ename,
                evalue=verdict.evalue,
                traceback=[f"{verdict.ename}: {verdict.evalue}"],
            )
        )
    return out


def stop_listening(listener: socket.socket) -> None:
    """Close a listening socket and wake a thread blocked in its ``accept()``. Closing alone does not
    wake it on Linux: the checks' thread of a cell whose agent never connected then held up the cell
    for as long as the grader waits for that thread."""
    with contextlib.suppress(OSError):
        listener.shutdown(socket.SHUT_RDWR)
    listener.close()


class TrustedExecute(GuardedExecute):
    channel_dir = Unicode(
        "",
        help="a folder the kernel can reach, for the channel's socket (the sandbox's run "
        "folder); empty: a new temporary folder",
    ).tag(config=True)

    def preprocess(self, nb: NotebookNode, resources: Any = None, km: Any = None) -> tuple[NotebookNode, Any]:
        assignment_id = resources["nbgrader"]["assignment"]
        try:
            assignment = get_assignment(assignment_id)
        except KeyError:
            raise GraderUnreachable(f"{assignment_id} is not one of the course's assignments") from None
        self._checks = assignment.checks_module
        self._tests, answers = test_cells(resources)
        self._seeds = submission_seeds(nb, resources, answers)
        self._probed = False
        folder = self.channel_dir or tempfile.mkdtemp(prefix="course-grade-")
        self._channel = Path(folder)
        try:
            return super().preprocess(nb, resources, km)
        finally:
            if not self.channel_dir:
                for leftover in self._channel.glob("*.sock"):
                    leftover.unlink(missing_ok=True)
                self._channel.rmdir()

    def preprocess_cell(self, cell: NotebookNode, resources: Any, index: int) -> Any:
        if not self._probed:
            self._probe(index)
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if cell.cell_type != "code" or grade_id not in self._tests:
            return super().preprocess_cell(cell, resources, index)
        return self._trusted_cell(cell, resources, index, self._tests[grade_id])

    def _probe(self, index: int) -> None:
        """Import the agent before any of the notebook's code runs: if the kernel cannot, no later failure of
        the agent could be told apart from the student's doing, so this one is the grader's."""
        self._probed = True
        kept = self.nb.cells[index]
        probe = NotebookNode(cell_type="code", source=PROBE, metadata={}, outputs=[], execution_count=None)
        try:
            self.execute_cell(probe, index, store_history=False)
        finally:
            self.nb.cells[index] = kept
            self._finished.discard(index)  # the probe, not the cell at this index, ran
        said = next((o for o in probe.outputs if o.get("output_type") == "error"), None)
        if said is not None:
            raise GraderUnreachable(
                f"the kernel cannot import the course's grading agent: {said.get('ename')}: {said.get('evalue')}"
            )

    def _trusted_cell(self, cell: NotebookNode, resources: Any, index: int, source: str) -> Any:
        path = self._channel / f"c{os.getpid()}-{index}.sock"
        path.unlink(missing_ok=True)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(str(path))
        listener.listen(1)
        token = secrets.token_hex(16)
        deadline = time.monotonic() + (self.timeout or 600)
        box: dict[str, Any] = {}

        def drive() -> None:  # the checks, while the kernel runs the agent
            try:
                listener.settimeout(max(1.0, deadline - time.monotonic()))
                conn, _ = listener.accept()
                box["conn"] = conn
                conn.settimeout(max(1.0, deadline - time.monotonic()))
                hello, _ = wire.receive(conn)
                if hello.get("hello") != token:
                    raise wire.ProtocolError("a connection that did not give the grader's token")
                session = Session(conn, deadline)
                box["verdict"] = run_cell(source, self._checks, session, self._seeds)
                session.done()
            except BaseException as exc:  # reported below; a thread's exception would be lost
                box["error"] = exc

        thread = threading.Thread(target=drive, name=f"checks of cell {index}", daemon=True)
        thread.start()
        substitute = copy.deepcopy(cell)
        substitute.source = AGENT.format(path=str(path), token=token)
        substitute.outputs = []
        try:
            result = super().preprocess_cell(substitute, resources, index)
        finally:
            stop_listening(listener)  # an agent that never came: accept() gives up at once
            thread.join(timeout=5)
            if thread.is_alive() and "conn" in box:  # still waiting on a kernel that is gone
                box["conn"].shutdown(socket.SHUT_RDWR)
                thread.join(timeout=5)
            if "conn" in box:
                box["conn"].close()
            path.unlink(missing_ok=True)
        cell.outputs = outputs(self._verdict(box, substitute))
        cell.execution_count = substitute.get("execution_count")
        self.nb.cells[index] = cell  # nbclient kept the substitute in its place
        return cell, result[1]

    @staticmethod
    def _verdict(box: dict[str, Any], substitute: NotebookNode) -> Verdict:
        if "verdict" in box:
            return box["verdict"]
        error = box.get("error")
        if isinstance(error, wire.GraderError):
            raise GraderUnreachable(f"the grader failed on this cell: {type(error).__name__}: {error}") from error
        # the kernel imported the agent before the notebook ran (_probe): the notebook's code stopped it since
        said = next((o for o in substitute.get("outputs", []) if o.get("output_type") == "error"), None)
        why = f" (the kernel said {said.get('ename')}: {said.get('evalue')})" if said is not None else ""
        if isinstance(error, wire.ProtocolError):
            why = f" ({error})"
        return Verdict(
            False,
            "",
            "GraderUnreachable",
            "the grader could not reach your code to check it: the notebook's code stopped the "
            f"grader's agent from running in the kernel{why}",
        )
