"""Regenerate what is made from ``solutions/``, or check that it is up to date.

    python -m optimcourse.sync          # rewrite exercises/ and references/, tidy solutions/
    python -m optimcourse.sync --check  # exit 1 and name every file that is out of date

From each source notebook ``solutions/<id>/<name>.ipynb`` it makes:
- ``exercises/<id>/<name>.ipynb``: the student notebook, by ``nbgrader generate_assignment``;
- ``autograder/optimcourse/references/<name>.py``: the given and solution cells as a module, the text
  that the mutants edit and that the book may import.
All notebooks are stored without outputs and with stable metadata (:func:`notebooks.normalized`).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

from . import notebooks, release
from .course import ASSIGNMENTS, REPO_ROOT, Assignment
from .environment import put_scripts_on_path
from .grading import settings

__all__ = ["main"]


def reference_module(assignment: Assignment, root: Path) -> str:
    """The notebook's given code and solution cells, in order; the import of its checks left out."""
    nb = notebooks.read(assignment.solution_path(root))
    parts = []
    for cell in nb.cells:
        if notebooks.is_solution(cell):
            parts.append(notebooks.without_markers(cell.source).rstrip())
        elif notebooks.is_given(cell) and not notebooks.is_install(cell):
            lines = [line for line in cell.source.splitlines() if "optimcourse.chapters" not in line]
            parts.append("\n".join(lines).strip())
    header = (
        f'"""Reference solution of {assignment.id}: generated from '
        f"solutions/{assignment.id}/{assignment.notebook}.ipynb by `python -m optimcourse.sync`.\n\n"
        'Do not edit: edit the notebook and run the sync. Mutants are text edits of this file.\n"""\n'
    )
    return header + "\n\n\n".join(p for p in parts if p) + "\n"


def release_notebooks(root: Path) -> dict[Assignment, str]:
    """The student notebooks nbgrader makes from the (normalized) sources, as canonical text."""
    out: dict[Assignment, str] = {}
    with tempfile.TemporaryDirectory() as tmp:
        course = Path(tmp)
        shutil.copy(settings.CONFIG_FILE, course / settings.CONFIG_FILE.name)
        nbgrader = settings.api(course)  # in this process: a process per assignment costs 2 s each to start
        for a in ASSIGNMENTS:
            src = course / "source" / a.id / f"{a.notebook}.ipynb"
            src.parent.mkdir(parents=True)
            source = notebooks.with_install_cell(notebooks.read(a.solution_path(root)), release.install_cell(root))
            src.write_text(notebooks.dumps(notebooks.normalized(source)))
            done = nbgrader.generate_assignment(a.id, force=True, create=True)
            if not done["success"]:
                raise RuntimeError(
                    f"nbgrader generate_assignment {a.id} failed:\n{done.get('error') or done.get('log')}"
                )
            released = notebooks.read(course / "release" / a.id / f"{a.notebook}.ipynb")
            out[a] = notebooks.dumps(notebooks.normalized(released))
    return out


def expected_files(root: Path) -> dict[Path, str]:
    files: dict[Path, str] = {}
    install = release.install_cell(root)  # every exercise's first code cell (Colab)
    for a in ASSIGNMENTS:
        source = notebooks.with_install_cell(notebooks.read(a.solution_path(root)), install)
        files[a.solution_path(root)] = notebooks.dumps(notebooks.normalized(source))
        files[a.reference_path(root)] = reference_module(a, root)
    for a, text in release_notebooks(root).items():
        files[a.exercise_path(root)] = text
    return files


def broken_mutants(references: dict[Assignment, str]) -> list[str]:
    """The mutants whose edits do not apply exactly once to their chapter's reference text (a solution
    cell edited or re-indented since the mutant was written), each as a line naming it and why."""
    problems = []
    for a, reference in references.items():
        for mutant in a.mutant_library().mutants:
            try:
                mutant.apply(reference)
            except ValueError as exc:
                problems.append(f"{a.id}: {exc}")
    return problems


def stale(root: Path = REPO_ROOT) -> list[Path]:
    """Files whose content differs from what the sources make."""
    return [p for p, text in expected_files(root).items() if not p.exists() or p.read_text() != text]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m optimcourse.sync", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if anything is out of date")
    parser.add_argument("--root", type=Path, default=REPO_ROOT, help="repository root (default: this checkout)")
    args = parser.parse_args(argv)
    put_scripts_on_path()  # nbgrader and jupyter run tools by name: this environment's, activated or not
    files = expected_files(args.root)
    broken = broken_mutants({a: files[a.reference_path(args.root)] for a in ASSIGNMENTS})
    for line in broken:
        print(f"mutant does not apply: {line} (edit it in its chapter's .mutants.toml)", file=sys.stderr)
    if args.check:
        out_of_date = [p for p, text in files.items() if not p.exists() or p.read_text() != text]
        for p in out_of_date:
            print(f"out of date: {p.relative_to(args.root)} (run: python -m optimcourse.sync)")
        return 1 if out_of_date or broken else 0
    for path, text in files.items():
        if not path.exists() or path.read_text() != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            print(f"wrote {path.relative_to(args.root)}")
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
