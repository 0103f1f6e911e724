"""nbgrader's configuration, for course-grade and the course's tools, built in one place.

The course's own settings are ``autograder/nbgrader_config.py``: instructors copy it into their course
folder, where plain nbgrader reads it. course-grade reads the course folder's copy
(:func:`course_config`) and adds, as ``traitlets`` Config objects, what its workers need
(:func:`grader_config`: nbgrader's own autograde steps with a trusted Execute, the cell timeout, the
output caps) and, when kernels run in the sandbox, where they live (:func:`sandbox_config`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from traitlets.config import Config
from traitlets.config.loader import PyFileConfigLoader

from ..course import PACKAGE_DIR

if TYPE_CHECKING:
    from nbgrader.apps import NbGraderAPI

__all__ = ["CONFIG_FILE", "api", "course_config", "gradebook_url", "grader_config", "sandbox_config"]

#: the course's nbgrader settings, which a course folder starts with
CONFIG_FILE = PACKAGE_DIR.parent / "nbgrader_config.py"


def gradebook_url(course: Path) -> str:
    """The database URL of the gradebook in ``course``, as nbgrader's Gradebook takes it."""
    return f"sqlite:///{course / 'gradebook.db'}"


def course_config(course: Path) -> Config:
    """The settings of ``course``: its nbgrader_config.py (the course's, where it has none), rooted there."""
    here = course / CONFIG_FILE.name
    config = PyFileConfigLoader(here.name, path=str(here.parent if here.exists() else CONFIG_FILE.parent)).load_config()
    config.CourseDirectory.root = str(course)
    config.NbGraderAPI.log_level = "ERROR"
    return config


def grader_config(cell_output_bytes: int, notebook_output_bytes: int, cell_seconds: int | None = None) -> Config:
    """What course-grade's workers add: nbgrader's autograde steps, whatever its version lists, with its
    Execute replaced by one whose graded cells are checked in the grader, not in the student's kernel, and
    that scores the cells a dead kernel left unrun; the output caps; the cell timeout, where one is given."""
    from nbgrader.converters import Autograde
    from nbgrader.preprocessors import Execute

    from .trusted import TrustedExecute

    config = Config()
    steps = Autograde.class_traits()["autograde_preprocessors"].default()
    config.Autograde.autograde_preprocessors = [TrustedExecute if step is Execute else step for step in steps]
    config.GuardedExecute.cell_output_bytes = cell_output_bytes
    config.GuardedExecute.notebook_output_bytes = notebook_output_bytes
    if cell_seconds:
        config.GuardedExecute.timeout = cell_seconds
    return config


def sandbox_config(kernel_name: str, run: Path, notes: Path) -> Config:
    """Every kernel in the sandbox: its kernelspec, its sockets in ``run`` (the sandbox has no network), and
    the files in ``notes`` where it leaves why it stopped and what it printed outside the notebook."""
    config = Config()
    config.Execute.kernel_name = kernel_name
    config.KernelManager.transport = "ipc"
    config.KernelManager.ip = str(run / "kernel")
    config.KernelManager.connection_file = str(run / "kernel.json")
    config.GuardedExecute.stop_reason_file = str(notes / "stopped")
    config.GuardedExecute.kernel_log_file = str(notes / "kernel.log")
    config.TrustedExecute.channel_dir = str(run)
    return config


def api(course: Path, *extra: Config) -> NbGraderAPI:
    """nbgrader's Python API on ``course`` with its settings (the API does not read the file itself) and
    ``extra`` merged over them, in order."""
    from nbgrader.apps import NbGraderAPI

    config = course_config(course)
    for more in extra:
        config.merge(more)
    return NbGraderAPI(config=config)
