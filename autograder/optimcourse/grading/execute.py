"""nbgrader's Execute, made to survive a kernel that dies (a limit, ``os._exit``, a crash).

Plain nbgrader gives up on the whole submission when its kernel dies. Here the cells that finished
keep their outputs and scores, and every code cell that did not finish gets an error output saying why,
so that it scores zero (a graded cell without an error output would count as passed) and the reason
shows in the feedback.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from nbclient.exceptions import DeadKernelError
from nbformat.notebooknode import NotebookNode
from nbgrader.preprocessors import Execute
from traitlets import Unicode

STOPPED = "KernelStopped"


DEFAULT_REASON = ("the kernel stopped before this cell finished (it ran out of memory or processes, or the code "
                  "ended the process)")


class GuardedExecute(Execute):
    stop_reason_file = Unicode("", help="where the sandbox's launcher writes why it stopped a kernel").tag(config=True)

    def on_cell_executed(self, **kwargs: Any) -> None:
        super().on_cell_executed(**kwargs)
        self._finished.add(kwargs["cell_index"])

    def stop_reason(self) -> str:
        path = Path(self.stop_reason_file) if self.stop_reason_file else None
        return path.read_text().strip() if path is not None and path.exists() else DEFAULT_REASON

    def preprocess(self, nb: NotebookNode, resources: Any = None, km: Any = None) -> tuple[NotebookNode, Any]:
        self._finished: set[int] = set()
        try:
            return super().preprocess(nb, resources, km)
        except DeadKernelError:
            pass
        reason = self.stop_reason()
        for index, cell in enumerate(nb.cells):
            if cell.cell_type == "code" and index not in self._finished:
                cell.outputs.append(NotebookNode(output_type="error", ename=STOPPED, evalue=reason,
                                                 traceback=[f"{STOPPED}: {reason}"]))
        return nb, resources
