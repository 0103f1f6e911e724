"""What a student's kernel sees of the course under course-grade: a package of its own, and no torch.

The sandbox mounts, over the real ``optimcourse`` folder, a small package made for the chapter being
graded (:func:`build`): the channel's agent (:mod:`optimcourse.remote`), the pieces of
:mod:`optimcourse.given` that earlier chapters taught, each cut from its reference with what it uses
(chapter 4's kernel has exercise 1's Parameter and exercise 3's Optimizer, not exercise 3's SGD or
exercise 4's), and a stub of the chapter's checks module so that the notebook's set-up cell imports. The
checks, the references, the mutants and the hidden cases stay out of the kernel: they run in the grader.
Over torch's folders it mounts a package that refuses to import (:func:`masks`): the exercises are NumPy
only, and torch would do the work for the student.
"""

from __future__ import annotations

import ast
import importlib.util
import inspect
import shutil
from pathlib import Path

from ..course import ASSIGNMENTS, PACKAGE_DIR, Assignment

__all__ = ["MASKED_PACKAGES", "build", "masks", "package_dir", "taught_before"]

MASKED_PACKAGES = ("torch", "functorch", "torchgen")

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


#: given pieces an exercise hands out rather than asks for, from that exercise on (exercise 3 imports
#: torch's `required` sentinel from optimcourse.given)
HANDED_OUT = {"required": "param_groups"}


def taught_before(assignment: Assignment) -> list[str]:
    """The given pieces the chapters before ``assignment`` taught, and those handed out by then."""
    from .. import given

    earlier = [a.notebook for a in ASSIGNMENTS[: ASSIGNMENTS.index(assignment)]]
    so_far = [*earlier, assignment.notebook]
    return [name for name, teacher in given.TAUGHT_BY.items() if teacher in earlier] + [
        name for name, chapter in HANDED_OUT.items() if chapter in so_far
    ]


def _defines(node: ast.stmt) -> set[str]:
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return {node.name}
    if isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        return {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
    return set()


def _reference_source(module: str, pieces: list[str]) -> str:
    """The reference module ``module`` cut down to ``pieces``: its imports, the pieces, and the top-level
    definitions they use (a later chapter's own answer in the same module stays out)."""
    source = (PACKAGE_DIR / "references" / f"{module}.py").read_text()
    body = ast.parse(source).body
    keep: set[int] = set()
    wanted = set(pieces)
    while True:
        new = {
            i
            for i, node in enumerate(body)
            if i not in keep and (isinstance(node, ast.Import | ast.ImportFrom) or _defines(node) & wanted)
        }
        if not new:
            break
        keep |= new
        wanted |= {n.id for i in new for n in ast.walk(body[i]) if isinstance(n, ast.Name)}
    lines = source.splitlines()
    out = f'"""Exercise {module}\'s pieces that this chapter is given: {", ".join(pieces)}."""\n'
    previous: ast.stmt | None = None
    for i in sorted(keep):
        node = body[i]
        first = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
        imports = isinstance(node, ast.Import | ast.ImportFrom)
        out += "\n" if imports and isinstance(previous, ast.Import | ast.ImportFrom) else "\n\n"
        out += "\n".join(lines[first - 1 : node.end_lineno]) + "\n"
        previous = node
    return out


def _given_source(pieces: list[str]) -> str:
    """The kernel's ``optimcourse.given``: ``pieces``, each from its reference, imported on first use."""
    from .. import given

    modules = {name: given.TAUGHT_BY[name] for name in pieces if name in given.TAUGHT_BY}
    parts = [
        '"""The pieces earlier exercises built (see the course\'s optimcourse.given), as far as this chapter '
        'may use them."""',
        "from __future__ import annotations\n\nimport importlib\nfrom typing import Any",
        f"__all__ = {sorted(pieces)!r}",
    ]
    if "required" in pieces:
        parts += [inspect.getsource(given._RequiredParameter), "required = _RequiredParameter()"]
    parts += [
        f"_PIECES = {modules!r}",
        inspect.getsource(given.__getattr__).replace("TAUGHT_BY", "_PIECES"),
    ]
    return "\n\n\n".join(part.strip("\n") for part in parts) + "\n"


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
    (target / "references").mkdir()
    (target / "references" / "__init__.py").write_text("")
    from .. import given

    for module in dict.fromkeys(given.TAUGHT_BY[name] for name in pieces if name in given.TAUGHT_BY):
        mine = [name for name in pieces if given.TAUGHT_BY.get(name) == module]
        (target / "references" / f"{module}.py").write_text(_reference_source(module, mine))
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
