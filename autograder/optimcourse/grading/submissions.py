"""The notebooks a class handed in: from a folder or an LMS zip, checked before anything is graded.

Layouts understood:
- a folder ``<student>/<assignment>/<notebook>.ipynb`` (nbgrader's ``submitted/``), given as that
  folder or as a course folder that contains ``submitted/``;
- a zip of the same layout (optionally under one top folder);
- flat files named by student, as LMS downloads are: ``<student>_<anything>_<notebook>.ipynb``
  (the student is the text before the first underscore; the notebook's name says the assignment).
A notebook's name may carry a copy's suffix (``manual_updates (1).ipynb``, ``manual_updates-Copy1.ipynb``).

One bad file costs only its own student: a damaged zip member, a notebook over the size cap, a name
that is no student id, a link, a notebook that fits no assignment, two attempts that cannot be told
apart are each a :class:`Notice` naming the file, and the rest of the class is graded.
:class:`SubmissionError` is kept for the input as a whole.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
import unicodedata
import zipfile
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath

from ..course import ASSIGNMENTS, Assignment

__all__ = ["MAX_NOTEBOOK_MB", "Notice", "Submission", "SubmissionError", "collect"]


MAX_NOTEBOOK_MB = 64  # a notebook with its outputs is well under 10 MB; the cap bounds what one file costs
ID_MAX = 100
ID_PUNCTUATION = "._-"
# copies of one notebook: Jupyter's "-Copy1", a browser's repeated download " (1)", Windows' " - Copy"
COPY_SUFFIX = r"(?:-Copy\d+|\s?\(\d+\)|\s-\sCopy)*"
READABLE = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)  # others (bzip2, lzma) inflate without a bound per read
TO_RENAME = (
    "if it is a student's work, rename it <student>/<assignment>/<notebook>.ipynb or <student>_..._<notebook>.ipynb"
)


@dataclass(frozen=True)
class Notice:
    """A file of the input that is not graded, and why, with what to do about it."""

    source: str  # the file: a path, or "archive.zip:member"
    reason: str
    ungraded: bool = True  # False: skipped for another file of the same student and assignment, used instead


class SubmissionError(ValueError):
    """The input cannot be graded at all (no such path, not a folder or zip, nothing gradable in it)."""

    def __init__(self, message: str, notices: Sequence[Notice] = ()) -> None:
        super().__init__(message)
        self.notices = list(notices)  # the files that were found, and why none of them can be graded


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
        except RecursionError:  # JSON nested deeper than the parser goes: no notebook is
            return "not a notebook: its JSON is nested too deeply to read"
        if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
            return "not a notebook: no list of cells"
        return _schema_problem(nb)


def _schema_problem(nb: dict) -> str | None:
    """Why nbformat would refuse this JSON as a notebook (nbgrader reads it with nbformat), or None."""
    import nbformat

    try:
        nbformat.validate(nbformat.reads(json.dumps(nb), as_version=nbformat.NO_CONVERT))
    except nbformat.ValidationError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return f"not a notebook: its JSON does not follow the notebook format ({first[:200]})"
    except Exception as exc:  # nbformat's reader fails in its own ways on odd JSON (no nbformat field, ...)
        return f"not a notebook: nbformat cannot read it ({type(exc).__name__}: {str(exc)[:200]})"
    return None


@dataclass(frozen=True)
class Intake:
    """What :func:`collect` found: the submissions to grade, and every file it did not take, by name."""

    submissions: list[Submission]
    notices: list[Notice]

    @property
    def ungraded(self) -> list[Notice]:
        return [n for n in self.notices if n.ungraded]


class _Unusable(Exception):
    """A file that cannot be read as a submission; the message says why."""


@dataclass(frozen=True)
class _Found:
    """A notebook file of the input, not read yet."""

    name: str  # inside the input, "/"-separated
    source: str  # for messages
    when: tuple[int, ...]  # to tell attempts apart: a zip member's date_time, a file's (mtime_ns,)
    dated: str  # `when`, for messages
    read: Callable[[int], bytes]  # its content, at most the cap given; else _Unusable


@dataclass(frozen=True)
class _Match:
    student: str
    assignment: Assignment
    name: str  # "exact": the notebook's own name; "copy": with a copy's suffix; "other": another notebook


def _shown(name: str) -> str:
    """A file name as it may be printed: a member named with control characters cannot redraw the terminal."""
    return "".join(c if c.isprintable() else ascii(c)[1:-1] for c in name)


def _mb(size: int) -> str:
    return f"{size / 2**20:.3g} MB"


def _too_large(size: str, cap: int) -> _Unusable:
    return _Unusable(
        f"larger than the {_mb(cap)} a notebook may have ({size}); if it is a real notebook, "
        "grade it with a larger --max-notebook-mb"
    )


def _silent(parts: tuple[str, ...]) -> bool:
    """Not a notebook, or one no student handed in: hidden files (checkpoints, macOS's ._ files), __MACOSX."""
    return (
        not parts
        or not parts[-1].endswith(".ipynb")
        or any((p.startswith(".") and p != "..") or p == "__MACOSX" for p in parts)
    )


def _match(parts: tuple[str, ...], known: Sequence[Assignment]) -> _Match | None:
    """The student and assignment a notebook's path names, or None if it fits no assignment."""
    stem = parts[-1][: -len(".ipynb")]
    for a in known:
        if len(parts) >= 3 and parts[-2] == a.id:  # <student>/<assignment>/<name>.ipynb
            m = re.fullmatch(re.escape(a.notebook) + f"({COPY_SUFFIX})", stem)
            return _Match(parts[-3], a, "other" if m is None else "copy" if m[1] else "exact")
    for a in known:  # <student>_<anything>_<notebook>[-<attempt>].ipynb, as LMSs name them
        m = re.fullmatch(rf"(.*)_{re.escape(a.notebook)}(?:-\d+)?({COPY_SUFFIX})", stem)
        if m is not None:
            return _Match(m[1].split("_", 1)[0], a, "copy" if m[2] else "exact")
    return None


def _id_problem(student: str) -> str | None:
    """Why ``student`` cannot be an nbgrader student id (a folder name and a gradebook key), or None.
    Letters and digits of any script are fine (José, Zoë); so are marks, which some scripts need."""

    def word(c: str) -> bool:
        return unicodedata.category(c)[0] == "L" or unicodedata.category(c) == "Nd"

    if not student:
        return "there is no student id before the first '_'"
    if len(student) > ID_MAX:
        return f"a student id has at most {ID_MAX} characters"
    if not word(student[0]):
        return f"{_shown(student)!r} cannot be a student id: it must begin with a letter or a digit"
    bad = sorted({c for c in student if not (word(c) or unicodedata.category(c)[0] == "M" or c in ID_PUNCTUATION)})
    if bad:
        return f"{_shown(student)!r} cannot be a student id: it has {', '.join(repr(_shown(c)) for c in bad)}"
    return None


def _choose(student: str, a: Assignment, group: list[tuple[_Found, str]]) -> tuple[_Found | None, list[Notice]]:
    """Which of a student's notebooks for an assignment to grade: one with the notebook's own name over
    a copy, then the most recent; None if the most recent cannot be told apart."""
    exact = [f for f, kind in group if kind == "exact"]
    pool = exact or [f for f, _ in group]
    newest = max(f.when for f in pool)
    latest = [f for f in pool if f.when == newest]
    chosen = latest[0] if len(latest) == 1 else None
    notices: list[Notice] = []
    if chosen is None:
        for f in latest:
            others = ", ".join(o.source for o in latest if o is not f)
            notices.append(
                Notice(
                    f.source,
                    f"not graded: {student} has {len(latest)} notebooks for {a.id} dated "
                    f"{f.dated}, so which one to grade is ambiguous (also {others}); "
                    "remove all but one and run again",
                )
            )
    graded = f"{chosen.source} is graded instead" if chosen else "neither is graded"
    for f, kind in group:
        if f is chosen or (chosen is None and any(f is other for other in latest)):
            continue
        if exact and kind != "exact":
            why = f"a copy's name, and one with the notebook's own name ({a.notebook}.ipynb) is there"
        else:
            why = f"an older attempt (dated {f.dated}) of {student} for {a.id}"
        notices.append(Notice(f.source, f"skipped: {why}; {graded}", ungraded=False))
    return chosen, notices


def _gather(found: Sequence[_Found], assignments: Sequence[Assignment], cap: int) -> Intake:
    """Which student and assignment each file is, one per student and assignment, read one at a time."""
    asked = {a.id for a in assignments}
    known = [*assignments, *(a for a in ASSIGNMENTS if a.id not in asked)]
    names = ", ".join(a.notebook + ".ipynb" for a in assignments)
    notices: list[Notice] = []
    groups: dict[tuple[str, str], list[tuple[_Found, str]]] = {}
    for f in found:
        match = _match(PurePosixPath(f.name).parts, known)
        if match is None:
            notices.append(Notice(f.source, f"not graded: its name fits no assignment ({names}); {TO_RENAME}"))
            continue
        if match.assignment.id not in asked:
            continue  # another assignment's: graded when that one is asked for
        if match.name == "other":
            notices.append(
                Notice(
                    f.source,
                    f"not graded: nbgrader grades only {match.assignment.notebook}.ipynb "
                    f"in {match.assignment.id}; rename it if it is the student's work",
                )
            )
            continue
        student = unicodedata.normalize("NFC", match.student)  # a zip made on macOS spells é as e + accent
        if (why := _id_problem(student)) is not None:
            notices.append(
                Notice(
                    f.source,
                    f"not graded: {why}; rename the file or folder to the student's id "
                    "(letters, digits, '.', '_', '-') and run again",
                )
            )
            continue
        groups.setdefault((student, match.assignment.id), []).append((f, match.name))
    by_id = {a.id: a for a in assignments}
    found_subs: list[Submission] = []
    for (student, assignment_id), group in groups.items():
        chosen, skipped = _choose(student, by_id[assignment_id], group)
        notices += skipped
        if chosen is None:
            continue
        try:
            content = chosen.read(cap)
        except _Unusable as exc:
            notices.append(Notice(chosen.source, f"not graded, and not recorded: {exc}"))
            continue
        found_subs.append(Submission(student, by_id[assignment_id], content, chosen.source))
    return Intake(
        sorted(found_subs, key=lambda s: (s.assignment.id, s.student)), sorted(notices, key=lambda n: n.source)
    )


def _member_reader(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> Callable[[int], bytes]:
    def read(cap: int) -> bytes:
        if info.flag_bits & 0x1:
            raise _Unusable("the member is encrypted; ask for a zip without a password")
        if info.compress_type not in READABLE:
            raise _Unusable(
                f"compressed with method {info.compress_type}, which is not read here; "
                "zip it again with ordinary (deflate) compression"
            )
        if info.file_size > cap:
            raise _too_large(f"the zip says {_mb(info.file_size)}", cap)
        try:
            with archive.open(info) as member:
                data = member.read(cap + 1)  # the zip's sizes may lie: the read itself is bounded
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
            raise _Unusable(f"damaged in the zip ({exc}); download the zip again and run the command again") from None
        if len(data) > cap:
            raise _too_large("more than the zip says", cap)
        return data

    return read


def _scan_zip(archive: zipfile.ZipFile, where: str) -> tuple[list[_Found], list[Notice]]:
    found: list[_Found] = []
    notices: list[Notice] = []
    for info in archive.infolist():
        name = info.filename.replace("\\", "/")  # some Windows tools separate folders with backslashes
        if info.is_dir() or _silent(PurePosixPath(name).parts):
            continue
        source = f"{where}:{_shown(info.filename)}"
        if stat.S_ISLNK(info.external_attr >> 16):
            notices.append(
                Notice(source, "not graded: a symbolic link, not a notebook; put the notebook itself in the zip")
            )
            continue
        year, month, day, hour, minute, second = info.date_time
        dated = f"{year:04d}-{month:02d}-{day:02d} {hour:02d}:{minute:02d}:{second:02d}"
        found.append(_Found(name, source, tuple(info.date_time), dated, _member_reader(archive, info)))
    return found, notices


def _file_reader(path: Path) -> Callable[[int], bytes]:
    def read(cap: int) -> bytes:
        try:  # no link followed, and a FIFO put there after the scan does not block the open
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
        except OSError as exc:
            raise _Unusable(f"cannot be opened ({exc.strerror}); make it a readable file and run again") from None
        with os.fdopen(fd, "rb") as f:
            size = os.fstat(fd)
            if not stat.S_ISREG(size.st_mode):
                raise _Unusable("not a regular file; put the notebook itself there")
            if size.st_size > cap:
                raise _too_large(_mb(size.st_size), cap)
            try:
                data = f.read(cap + 1)  # it may have grown since
            except OSError as exc:
                raise _Unusable(f"cannot be read ({exc.strerror}); run again") from None
        if len(data) > cap:
            raise _too_large("and growing", cap)
        return data

    return read


def _scan_folder(root: Path) -> tuple[list[_Found], list[Notice]]:
    """Every notebook under ``root``, in order; links are not followed, in the folder or out of it."""
    found: list[_Found] = []
    notices: list[Notice] = []
    stack: list[tuple[Path, PurePosixPath]] = [(root, PurePosixPath())]
    while stack:  # not recursion: a folder nested thousands deep is just slow
        folder, rel = stack.pop()
        try:
            with os.scandir(folder) as listing:
                entries = sorted(listing, key=lambda e: e.name, reverse=True)
        except OSError as exc:
            notices.append(
                Notice(
                    _shown(str(folder)),
                    f"not graded: the folder cannot be read ({exc.strerror}); make it readable and run again",
                )
            )
            continue
        for entry in entries:
            name = rel / entry.name
            source = _shown(f"{root}/{name}")
            if entry.name.startswith(".") or entry.name == "__MACOSX":
                continue
            if entry.is_symlink():
                if entry.name.endswith(".ipynb") or entry.is_dir():
                    notices.append(
                        Notice(
                            source,
                            "not graded: a symbolic link, which is not followed; put the file or folder itself there",
                        )
                    )
                continue
            if entry.is_dir(follow_symlinks=False):
                stack.append((Path(entry.path), name))
            elif entry.name.endswith(".ipynb"):
                if not entry.is_file(follow_symlinks=False):
                    notices.append(Notice(source, "not graded: not a regular file; put the notebook itself there"))
                    continue
                mtime = entry.stat(follow_symlinks=False).st_mtime_ns
                dated = datetime.fromtimestamp(mtime / 1e9).isoformat(sep=" ", timespec="seconds")
                found.append(_Found(name.as_posix(), source, (mtime,), dated, _file_reader(Path(entry.path))))
    return sorted(found, key=lambda f: f.name), notices


def collect(path: Path, assignments: Sequence[Assignment], max_bytes: int = MAX_NOTEBOOK_MB << 20) -> Intake:
    """Every submission under ``path`` for ``assignments``, and every file not taken with the reason.
    SubmissionError if the input as a whole is unusable, or holds nothing that can be graded."""
    if not path.exists():
        raise SubmissionError(f"{path}: no such file or folder")
    if path.is_dir():
        root = path / "submitted" if (path / "submitted").is_dir() else path
        found, notices = _scan_folder(root)
        intake = _gather(found, assignments, max_bytes)
    elif path.is_file() and zipfile.is_zipfile(path):
        try:
            archive = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError, EOFError) as exc:
            raise SubmissionError(f"{path}: a damaged zip archive ({exc}); download it again") from None
        with archive:
            found, notices = _scan_zip(archive, str(path))
            intake = _gather(found, assignments, max_bytes)
    else:
        raise SubmissionError(f"{path}: neither a folder nor a zip archive")
    intake = Intake(intake.submissions, sorted(notices + intake.notices, key=lambda n: n.source))
    if not intake.submissions:
        ids = ", ".join(a.id for a in assignments)
        usable = " that can be graded (each file found is named above)" if intake.notices else ""
        raise SubmissionError(
            f"{path}: no notebooks{usable} for {ids} (expected <student>/<assignment>/"
            "<notebook>.ipynb, or <student>_..._<notebook>.ipynb)",
            intake.notices,
        )
    return intake
