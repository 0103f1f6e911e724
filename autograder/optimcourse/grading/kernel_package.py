"""What a student's kernel sees of the course under course-grade: a package of its own, and no torch.

The sandbox mounts, over the real ``optimcourse`` folder, a small package made for the chapter being
graded (:func:`build`): the channel's agent (:mod:`optimcourse.remote`), the pieces of
:mod:`optimcourse.given` that earlier chapters taught (chapter 4's kernel has exercise 1's Parameter and
exercise 3's Optimizer, not exercise 4's own SGD), and a stub of the chapter's checks module so that the
notebook's set-up cell imports. The checks, the references, the mutants and the hidden cases stay out of
the kernel: they run in the grader. Over torch's folders it mounts a package that refuses to import
(:func:`masks`): the exercises are NumPy only, and torch would do the work for the student.
"""

from __future__ import annotations

import importlib.util
import inspect
import shutil
from pathlib import Path

from ..course import ASSIGNMENTS, PACKAGE_DIR, Assignment

__all__ = ["MASKED_PACKAGES", "build", "masks", "package_dir", "taught_before"]

MASKED_PACKAGES = ("torch", "functorch", "torchgen")

#: the given pieces, and the exercise that teaches each (the kernels of later chapters have them)
TAUGHT_BY = {
    "Parameter": "manual_updates",
    "required": "param_groups",
    "Optimizer": "param_groups",
    "SGD": "momentum_adam_adamw",
    "Adam": "momentum_adam_adamw",
    "AdamW": "momentum_adam_adamw",
}

_STUB = '''"""The checks of this chapter run in the grader while your notebook is graded, not in this kernel."""


def __getattr__(name):
    raise AttributeError(f"{name}: the course's checks are not in this kernel while your notebook is graded; "
                         "they run in the grader, which calls your code")
'''

_REFUSE = """raise ImportError("{name} is not available while your notebook is graded: the exercises use NumPy only")
"""


def package_dir() -> Path:
    """The real ``optimcourse`` folder (the one the kernel would import)."""
    return PACKAGE_DIR


#: given pieces an exercise hands out itself rather than asks for (exercise 3 imports torch's `required`
#: sentinel from optimcourse.given): its own kernel has them too
HANDED_OUT = {"required": "param_groups"}


def taught_before(assignment: Assignment) -> list[str]:
    """The given pieces the chapters before ``assignment`` taught, and those its own exercise hands out."""
    earlier = [a.notebook for a in ASSIGNMENTS[: ASSIGNMENTS.index(assignment)]]
    return [
        name for name, teacher in TAUGHT_BY.items() if teacher in earlier or HANDED_OUT.get(name) == assignment.notebook
    ]


def _given_source(pieces: list[str]) -> str:
    from .. import given

    parts = [
        '"""The pieces earlier exercises built (see the course\'s optimcourse.given), as far as this chapter '
        'may use them."""',
        "from __future__ import annotations",
        "",
        "from collections import defaultdict",
        "from typing import Any",
        "",
        "import numpy as np",
        "",
    ]
    if "Parameter" in pieces:
        parts.append(inspect.getsource(given.Parameter))
    if "required" in pieces:
        parts += [inspect.getsource(given._RequiredParameter), "required = _RequiredParameter()", ""]
    if "Optimizer" in pieces:
        parts.append(inspect.getsource(given.Optimizer))
    if "SGD" in pieces:
        parts.append("from .references.momentum_adam_adamw import SGD, Adam, AdamW  # noqa: E402")
    return "\n\n".join(parts) + "\n"


def build(root: Path, assignment: Assignment) -> Path:
    """The kernel's ``optimcourse`` for ``assignment``, made under ``root``; returns its folder."""
    target = root / assignment.notebook / "optimcourse"
    shutil.rmtree(target, ignore_errors=True)
    (target / "remote").mkdir(parents=True)
    (target / "chapters").mkdir()
    (target / "__init__.py").write_text(
        '"""The course\'s package, as a student\'s kernel sees it while it is graded."""\n'
    )
    (target / "remote" / "__init__.py").write_text('"""The kernel\'s end of the grader\'s channel."""\n')
    for name in ("wire.py", "agent.py", "measure.py", "kernel.py"):
        shutil.copy(PACKAGE_DIR / "remote" / name, target / "remote" / name)
    pieces = taught_before(assignment)
    (target / "given.py").write_text(_given_source(pieces))
    if "SGD" in pieces:
        (target / "references").mkdir()
        (target / "references" / "__init__.py").write_text("")
        shutil.copy(PACKAGE_DIR / "references" / "momentum_adam_adamw.py", target / "references")
    (target / "chapters" / "__init__.py").write_text("")
    (target / "chapters" / f"{assignment.notebook}.py").write_text(_STUB)
    return target


def masks(root: Path) -> list[tuple[Path, Path]]:
    """(a folder that refuses to import, the installed package it hides) for torch and its companions."""
    pairs = []
    for name in MASKED_PACKAGES:
        spec = importlib.util.find_spec(name)
        if spec is None or not spec.submodule_search_locations:
            continue
        mask = root / "masks" / name
        mask.mkdir(parents=True, exist_ok=True)
        (mask / "__init__.py").write_text(_REFUSE.format(name=name))
        for location in spec.submodule_search_locations:
            pairs.append((mask, Path(location)))
    return pairs
