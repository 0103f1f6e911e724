"""nbgrader's Execute, made to survive a kernel that dies (a limit, ``os._exit``, a crash) or stops
answering, and to keep a notebook's output within bounds.

Plain nbgrader gives up on the whole submission when its kernel dies. Here the cells that finished keep
their outputs and scores, and every code cell that did not finish gets an error output saying why, so
that it scores zero (a graded cell without an error output would count as passed) and the reason shows
in the feedback. A kernel whose messages stop coming after a cell has ended (the notebook's code broke
its messaging: it patched the builtins its messages are made with) is treated the same way.

A kernel that cannot start is not the student's doing (no line of theirs has run yet): that raises
:class:`KernelStartError`, with what the kernel printed, so that nbgrader fails the submission and
course-grade leaves it ungraded instead of scoring it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbformat.notebooknode import NotebookNode
from nbgrader.preprocessors import Execute
from traitlets import Int, Unicode

from .output_cap import OutputCap

__all__ = ["GuardedExecute"]


STOPPED = "KernelStopped"


DEFAULT_REASON = (
    "the kernel stopped before this cell finished (it ran out of memory or processes, or the code ended the process)"
)


SILENT = (
    "the kernel stopped answering ({} s without the rest of this cell's output, after the cell ended or was "
    "interrupted at its time limit): the notebook's code broke the kernel's messaging (replacing builtins such "
    "as isinstance or len does) or would not stop, so the cells from here on were not run"
)


class KernelStartError(RuntimeError):
    """The kernel did not start, before any of the notebook's code ran: the grader's fault, not the student's."""


def _error(name: str, text: str) -> NotebookNode:
    return NotebookNode(output_type="error", ename=name, evalue=text, traceback=[f"{name}: {text}"])


class GuardedExecute(Execute):
    stop_reason_file = Unicode("", help="where the sandbox's launcher writes why it stopped a kernel").tag(config=True)
    kernel_log_file = Unicode("", help="where the sandbox's launcher writes what the kernel prints").tag(config=True)
    # nbclient's 4 s is short on a busy machine; a kernel silent for this long after a cell ended is broken
    iopub_timeout = Int(30, allow_none=True, help="seconds to wait for a cell's last output after it ended").tag(
        config=True
    )
    cell_output_bytes = Int(0, help="bytes of output kept of a cell, the rest dropped as it arrives (0: all)").tag(
        config=True
    )
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
        self._started = False
        log = Path(self.kernel_log_file) if self.kernel_log_file else None
        since = log.stat().st_size if log is not None and log.exists() else 0
        try:
            done = super().preprocess(nb, resources, km)
        except Exception as exc:
            if not self._started:  # no cell was sent: the kernel never started, whatever the notebook says
                printed = self._kernel_output(since)
                raise KernelStartError(
                    f"the kernel could not start ({type(exc).__name__}: {exc})"
                    + (f"; it printed:\n{printed}" if printed else "")
                ) from exc
            if not isinstance(exc, (DeadKernelError, CellTimeoutError)):
                raise
            reason = self.stop_reason() if isinstance(exc, DeadKernelError) else SILENT.format(self.iopub_timeout)
        else:
            return self._capped(*done)
        for index, cell in enumerate(nb.cells):
            if cell.cell_type == "code" and index not in self._finished:
                cell.outputs.append(_error(STOPPED, reason))
        return self._capped(nb, resources)
