"""The project's code passes its linter, its formatter and its type checker, as configured in
pyproject.toml, and every module of the package declares its public names, which the pages and the
notebooks keep to."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys

import pytest

from optimcourse.course import PACKAGE_DIR, REPO_ROOT
from public_names import page_sources, used_names


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], cwd=REPO_ROOT, capture_output=True, text=True)


def test_ruff_finds_nothing_to_report():
    done = _run("ruff", "check", "--no-cache", ".")
    assert done.returncode == 0, f"ruff check (fix with `ruff check --fix .`):\n{done.stdout}{done.stderr}"


def test_the_code_is_formatted_as_ruff_formats_it():
    done = _run("ruff", "format", "--check", "--no-cache", ".")
    assert done.returncode == 0, f"run `ruff format .`:\n{done.stdout}{done.stderr}"


@pytest.mark.slow
def test_mypy_finds_no_type_errors_in_the_package():
    done = _run("mypy")
    assert done.returncode == 0, f"mypy:\n{done.stdout[-6000:]}{done.stderr[-2000:]}"


def _package_modules() -> list[str]:
    names = []
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        parts = path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts
        if "references" not in parts and parts[-1] != "__init__":
            names.append(".".join(parts))
    return names


@pytest.mark.parametrize("module", _package_modules())
def test_every_module_declares_its_public_names(module):
    tree = ast.parse((PACKAGE_DIR.parent / (module.replace(".", "/") + ".py")).read_text())
    declared = [n for n in tree.body if isinstance(n, ast.Assign) and getattr(n.targets[0], "id", "") == "__all__"]
    assert declared, f"{module} has no __all__: declare the names other modules, pages and notebooks use"


def test_pages_and_notebooks_use_only_public_names():
    private = []
    for where, source in page_sources().items():
        for module, names in used_names(source).items():
            public = getattr(importlib.import_module(module), "__all__", None)
            if public is None:  # the references are generated from the notebooks: all their names are theirs
                continue
            private += [f"{where}: {module}.{name}" for name in sorted(names - set(public))]
    assert not private, "names used that their module does not declare in __all__:\n" + "\n".join(private)


def test_the_public_names_check_sees_a_private_name():
    used = used_names("import optimcourse.chapters.manual_updates as checks\nchecks._private(1)\n")
    assert used == {"optimcourse.chapters.manual_updates": {"_private"}}
    used = used_names("from optimcourse.chapters import zero_grad as c\nfrom optimcourse.course import X\nc.y\n")
    assert used == {"optimcourse.chapters.zero_grad": {"y"}, "optimcourse.course": {"X"}}
