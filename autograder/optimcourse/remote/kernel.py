"""The sandboxed kernel's entry point: the grader's agent is imported before any of the notebook's code
runs (so the references it keeps to the builtins are the real ones, and a kernel that cannot import it
fails to start, which is the grader's failure, not the student's), then ipykernel starts as
``python -m ipykernel_launcher`` starts it.

Run as ``python -c "import sys; del sys.path[0]; from optimcourse.remote import kernel; kernel.main()"``:
the notebook's folder is off ``sys.path`` while the kernel loads; IPython puts it back for the notebook.
"""

from __future__ import annotations

from . import agent  # noqa: F401 (imported before the notebook's code runs: see above)

__all__ = ["COMMAND", "main"]

COMMAND = "import sys; del sys.path[0]; from optimcourse.remote import kernel; kernel.main()"


def main() -> None:
    from ipykernel import kernelapp

    kernelapp.launch_new_instance()
