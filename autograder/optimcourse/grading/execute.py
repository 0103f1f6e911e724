"""nbgrader's Execute, made to read a submission against the course's rules first, and to survive a
kernel that dies (a limit, ``os._exit``, a crash).

A notebook whose code breaks a rule (:mod:`.rules`: it reassigns the checks, patches NumPy, imports
torch...) is not run: every graded cell gets an error output naming the rule, so it scores zero and
the student sees why. Plain nbgrader gives up on the whole submission when its kernel dies. Here the
cells that finished keep their outputs and scores, and every code cell that did not finish gets an
error output saying why, so that it scores zero (a graded cell without an error output would count as
passed) and the reason shows in the feedback.

A kernel that cannot start is not the student's doing (no line of theirs has run yet): that raises
:class:`KernelStartError`, with what the kernel printed, so that nbgrader fails the submission and
course-grade leaves it ungraded instead of scoring it.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from nbclient.exceptions import DeadKernelError
from nbformat.notebooknode import NotebookNode
from nbgrader.preprocessors import Execute
from traitlets import Bool, Int, Unicode

from . import rules
from .output_cap import OutputCap

STOPPED = "KernelStopped"
BROKEN = "RuleBroken"


DEFAULT_REASON = ("the kernel stopped before this cell finished (it ran out of memory or processes, or the code "
                  "ended the process)")


class KernelStartError(RuntimeError):
    """The kernel did not start, before any of the notebook's code ran: the grader's fault, not the student's."""


def _error(name: str, text: str) -> NotebookNode:
    return NotebookNode(output_type="error", ename=name, evalue=text, traceback=[f"{name}: {text}"])


def course_cells(resources: Any) -> list[str]:
    """The sources of the course's own (locked) cells of the notebook being graded, from the gradebook:
    metadata in the submission can say anything."""
    from nbgrader.api import Gradebook

    info = resources["nbgrader"]
    with Gradebook(info["db_url"]) as gb:
        notebook = gb.find_notebook(info["notebook"], info["assignment"])
        return [c.source for c in notebook.source_cells if c.locked and c.cell_type == "code"]


def refuse(nb: NotebookNode, found: list[rules.Finding]) -> None:
    """Mark every graded cell (and each cell that broke a rule) with the rules it broke."""
    text = ("this notebook was not run, because its code breaks the course's rules for submitted code: "
            + "; ".join(str(f) for f in found[:5]) + (f"; and {len(found) - 5} more" if len(found) > 5 else "")
            + ". Code may use NumPy, not change the course's checks or the libraries (python -m "
              "optimcourse.grading.rules NOTEBOOK.ipynb checks a notebook before you hand it in)")
    where = {f.cell for f in found}
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and (cell.metadata.get("nbgrader", {}).get("grade")
                                         or rules.cell_label(index, cell) in where):
            cell.outputs = [_error(BROKEN, text)]


class GuardedExecute(Execute):
    stop_reason_file = Unicode("", help="where the sandbox's launcher writes why it stopped a kernel").tag(config=True)
    kernel_log_file = Unicode("", help="where the sandbox's launcher writes what the kernel prints").tag(config=True)
    check_rules = Bool(True, help="read the code against the course's rules first, and run none of a notebook "
                                  "that breaks one").tag(config=True)
    cell_output_bytes = Int(0, help="bytes of output kept of a cell, the rest dropped as it arrives (0: all)"
                            ).tag(config=True)
    notebook_output_bytes = Int(0, help="bytes of output kept of the whole notebook (0: all)").tag(config=True)

    def preprocess_cell(self, cell: NotebookNode, resources: Any, index: int) -> Any:
        self._started = True  # the kernel answered kernel_info: from here on, the notebook's code runs
        try:
            return super().preprocess_cell(cell, resources, index)
        finally:
            note = self._output_cap.note(index)
            if note is not None:
                cell.outputs.append(note)

    def process_message(self, msg: dict[str, Any], cell: NotebookNode, cell_index: int) -> Any:
        kept = self._output_cap.admit(msg, cell_index)  # before nbclient stores any of it
        return None if kept is None else super().process_message(kept, cell, cell_index)

    def _kernel_output(self, since: int) -> str:
        """What the kernel printed since byte ``since`` of its log (the sandbox keeps one), its last lines."""
        path = Path(self.kernel_log_file) if self.kernel_log_file else None
        if path is None or not path.exists():
            return ""
        with path.open("rb") as log:
            log.seek(since)
            text = log.read().decode("utf8", "replace").strip()
        return "\n".join("    " + line for line in text.splitlines()[-40:])  # indented: not the grader's traceback

    def on_cell_executed(self, **kwargs: Any) -> None:
        self._output_cap.cut_reply(kwargs["execute_reply"]["content"])
        super().on_cell_executed(**kwargs)
        self._finished.add(kwargs["cell_index"])

    def stop_reason(self) -> str:
        path = Path(self.stop_reason_file) if self.stop_reason_file else None
        return path.read_text().strip() if path is not None and path.exists() else DEFAULT_REASON

    def _capped(self, nb: NotebookNode, resources: Any) -> tuple[NotebookNode, Any]:
        for cell in nb.cells:
            self._output_cap.trim(cell)
        return nb, resources

    def preprocess(self, nb: NotebookNode, resources: Any = None, km: Any = None) -> tuple[NotebookNode, Any]:
        self._finished: set[int] = set()
        self._output_cap = OutputCap(self.cell_output_bytes, self.notebook_output_bytes)
        if self.check_rules:
            found = rules.check_notebook(nb, course_cells(resources))
            if found:
                refuse(nb, found)
                return nb, resources
        self._started = False
        log = Path(self.kernel_log_file) if self.kernel_log_file else None
        since = log.stat().st_size if log is not None and log.exists() else 0
        try:
            done = super().preprocess(nb, resources, km)
        except Exception as exc:
            if not self._started:  # no cell was sent: the kernel never started, whatever the notebook says
                printed = self._kernel_output(since)
                raise KernelStartError(f"the kernel could not start ({type(exc).__name__}: {exc})"
                                       + (f"; it printed:\n{printed}" if printed else "")) from exc
            if not isinstance(exc, DeadKernelError):
                raise
        else:
            return self._capped(*done)
        reason = self.stop_reason()
        for index, cell in enumerate(nb.cells):
            if cell.cell_type == "code" and index not in self._finished:
                cell.outputs.append(_error(STOPPED, reason))
        return self._capped(nb, resources)
