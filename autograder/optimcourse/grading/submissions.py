"""The notebooks a class handed in: from a folder or an LMS zip, checked before anything is graded.

Layouts understood:
- a folder ``<student>/<assignment>/<notebook>.ipynb`` (nbgrader's ``submitted/``), given as that
  folder or as a course folder that contains ``submitted/``;
- a zip of the same layout (optionally under one top folder);
- a zip of flat files named by student, as LMS downloads are: ``<student>_<anything>_<notebook>.ipynb``
  (the student is the text before the first underscore; the notebook's name says the assignment).
"""
from __future__ import annotations

import hashlib
import json
import re
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ..course import Assignment

STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")  # nbgrader makes folders of them


class SubmissionError(ValueError):
    """The input cannot be graded at all (no such path, nothing in it, no notebook for an assignment)."""


@dataclass(frozen=True)
class Submission:
    student: str
    assignment: Assignment
    content: bytes  # the notebook file as handed in
    source: str  # where it came from, for messages: a path, or "archive.zip:member"

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.content).hexdigest()

    def problem(self) -> str | None:
        """Why nbgrader could not read this notebook, or None if it is a JSON notebook."""
        if not self.content.strip():
            return "the file is empty"
        try:
            nb = json.loads(self.content)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            return f"not a notebook: it is not JSON ({exc.__class__.__name__}: {exc})"
        if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
            return "not a notebook: no list of cells"
        return None


def _assignment_for(notebook_file: str, assignments: Sequence[Assignment]) -> Assignment | None:
    stem = PurePosixPath(notebook_file).stem
    for a in assignments:
        if stem == a.notebook or re.fullmatch(rf".*_{re.escape(a.notebook)}(-\d+)?", stem):
            return a
    return None


def _from_entries(entries: Iterable[tuple[str, bytes]], where: str, zipped: bool,
                  assignments: Sequence[Assignment]) -> list[Submission]:
    found: dict[tuple[str, str], Submission] = {}
    for name, data in entries:
        parts = PurePosixPath(name).parts
        if not name.endswith(".ipynb") or any(p.startswith(".") or p == "__MACOSX" for p in parts):
            continue
        if len(parts) >= 3 and (a := next((a for a in assignments if a.id == parts[-2]), None)):
            student = parts[-3]  # <student>/<assignment>/<notebook>.ipynb
            if parts[-1] != f"{a.notebook}.ipynb":
                continue  # another notebook of that folder: nbgrader grades only the assignment's
        elif len(parts) >= 1 and (a := _assignment_for(parts[-1], assignments)) and "_" in parts[-1]:
            student = parts[-1].split("_", 1)[0]  # an LMS's flat name
        else:
            continue
        if not STUDENT_ID.match(student):
            raise SubmissionError(f"{where}: {name}: {student!r} cannot be a student id "
                                  "(letters, digits, '.', '_' and '-' only)")
        key = (student, a.id)
        if key in found:
            raise SubmissionError(f"{where}: two notebooks for student {student!r} and {a.id}: "
                                  f"{found[key].source} and {where}:{name}")
        found[key] = Submission(student, a, data, f"{where}:{name}" if zipped else f"{where}/{name}")
    return sorted(found.values(), key=lambda s: (s.assignment.id, s.student))


def collect(path: Path, assignments: Sequence[Assignment]) -> list[Submission]:
    """Every submission under ``path`` for ``assignments``; SubmissionError if there is none."""
    if not path.exists():
        raise SubmissionError(f"{path}: no such file or folder")
    if path.is_dir():
        root = path / "submitted" if (path / "submitted").is_dir() else path
        entries = ((f.relative_to(root).as_posix(), f.read_bytes()) for f in sorted(root.rglob("*.ipynb")) if f.is_file())
        found = _from_entries(entries, str(root), False, assignments)
    elif zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            members = [m for m in archive.infolist() if not m.is_dir()]
            found = _from_entries(((m.filename, archive.read(m)) for m in members), str(path), True, assignments)
    else:
        raise SubmissionError(f"{path}: neither a folder nor a zip archive")
    if not found:
        names = ", ".join(a.id for a in assignments)
        raise SubmissionError(f"{path}: no notebooks for {names} (expected <student>/<assignment>/<notebook>.ipynb, "
                              "or in a zip also <student>_..._<notebook>.ipynb)")
    return found


def mend_split_cells(content: bytes) -> bytes:
    """A cell split in the editor leaves two cells with one nbgrader ``grade_id``, on which nbgrader's
    autograde fails outright. Join the pieces of a solution cell back into one cell, in order, and drop
    later copies of any other cell (nbgrader restores test and locked cells from its gradebook anyway).
    Anything else is returned as it is."""
    try:
        nb = json.loads(content)
        cells = nb["cells"]
        ids = [c.get("metadata", {}).get("nbgrader", {}).get("grade_id") for c in cells]
    except (ValueError, KeyError, TypeError, AttributeError):
        return content
    if len({i for i in ids if i is not None}) == len([i for i in ids if i is not None]):
        return content
    kept: list[dict] = []
    first: dict[str, dict] = {}
    for cell, grade_id in zip(cells, ids):
        if grade_id is None or grade_id not in first:
            kept.append(cell)
            if grade_id is not None:
                first[grade_id] = cell
            continue
        head = first[grade_id]
        if head.get("metadata", {}).get("nbgrader", {}).get("solution") and cell.get("cell_type") == head.get("cell_type"):
            text = lambda c: "".join(c.get("source", "")) if isinstance(c.get("source"), list) else c.get("source", "")
            head["source"] = text(head).rstrip("\n") + "\n\n" + text(cell)
    nb["cells"] = kept
    return (json.dumps(nb, indent=1, ensure_ascii=False) + "\n").encode()
