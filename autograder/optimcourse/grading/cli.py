"""course-grade: autograde a class's submissions with nbgrader, several at a time, resumably.

    course-grade 04-momentum-adam-adamw downloads/week4.zip --course ~/optim-course
    course-grade all ~/optim-course/submitted --jobs 2 --verbose

It prepares the course folder from the repository's solutions/ (nothing in the repository changes),
grades every submission that is new or changed since the last run (``--force``: all of them), records
the grades in the course's gradebook.db, writes each student's feedback HTML to feedback/, and the
class's grades to grades.csv. Interrupted, it keeps what it finished: run it again to grade the rest.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import queue
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from traitlets.config import Config

from ..course import ASSIGNMENTS, Assignment, get_assignment
from ..environment import put_scripts_on_path
from . import coursedir, export, merge, sandbox, settings, submissions
from .workers import Task, work

__all__ = ["main"]


STATE_FILE = ".course-grade.json"  # which submission (by SHA-256) each recorded grade belongs to


class UsageError(Exception):
    pass


def _assignments(name: str) -> list[Assignment]:
    if name == "all":
        return list(ASSIGNMENTS)
    try:
        return [get_assignment(name)]
    except KeyError:
        raise UsageError(
            f"no such assignment {name!r}; the course has: all, {', '.join(a.id for a in ASSIGNMENTS)}"
        ) from None


def _load_state(course: Path) -> dict[str, str]:
    path = course / STATE_FILE
    if not path.exists():
        return {}
    try:
        state = json.loads(path.read_text())
    except json.JSONDecodeError:
        return {}  # a torn write: grade everything again rather than trust it
    return {str(k): str(v) for k, v in state.items()} if isinstance(state, dict) else {}


def _save_state(course: Path, state: dict[str, str]) -> None:
    tmp = course / (STATE_FILE + ".tmp")
    tmp.write_text(json.dumps(state, indent=1, sort_keys=True))
    os.replace(tmp, course / STATE_FILE)  # atomic: a kill leaves the old file or the new one


class Progress:
    """done/total, failures, rate and time left, on stderr: one line, redrawn on a terminal."""

    def __init__(self, total: int, verbose: bool) -> None:
        self.total, self.done, self.failed, self.verbose = total, 0, 0, verbose
        self.started = time.monotonic()
        self.tty = sys.stderr.isatty()

    def update(self, line: str | None, failed: bool) -> None:
        self.done += 1
        self.failed += failed
        elapsed = time.monotonic() - self.started
        rate = self.done / elapsed if elapsed > 0 else 0.0
        left = (self.total - self.done) / rate if rate > 0 else 0.0
        status = (
            f"[{self.done}/{self.total}] {self.failed} failed, {rate * 60:.1f} submissions/min, about {left:.0f} s left"
        )
        if self.verbose and line:
            print(("\r\033[K" if self.tty else "") + line, file=sys.stderr)
        print(("\r\033[K" if self.tty else "") + status, end="" if self.tty else "\n", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.tty:
            print(file=sys.stderr)


def indent(text: str, lines: int = 25) -> str:
    """A multi-line reason, its last ``lines`` lines, indented under the line that names it."""
    kept = text.strip().splitlines()[-lines:]
    return kept[0] if len(kept) == 1 else "\n    " + "\n    ".join(kept)


def _score_line(student: str, assignment_id: str, graded: dict) -> str:
    scores = [
        g["manual_score"] if g["manual_score"] is not None else (g["auto_score"] or 0.0)
        for nb in graded.values()
        for g in nb["grades"].values()
    ]
    return f"{student} {assignment_id}: {sum(scores):g}"


def grade(
    assignments: Sequence[Assignment],
    found: Sequence[submissions.Submission],
    course: Path,
    jobs: int,
    force: bool,
    verbose: bool,
    limits: sandbox.Limits | None,
    config: Config,
) -> tuple[list[str], int]:
    """Grade what is new or changed; return the problems to report (each naming its file) and how many
    submissions were graded now."""
    merge.quiet_sqlalchemy()
    state = {} if force else _load_state(course)
    todo = [s for s in found if s.problem() is None and state.get(f"{s.assignment.id}/{s.student}") != s.digest]
    jobs = max(1, min(jobs, len(todo)))
    ctx = multiprocessing.get_context("spawn")  # a clean interpreter per worker, not a copy of this one
    tasks, results, go = ctx.Queue(), ctx.Queue(), ctx.Event()
    ids = [a.id for a in assignments]
    # started first, the workers import nbgrader while this process prepares the course; they wait for `go`
    workers = [
        ctx.Process(
            target=work,
            daemon=True,
            args=(str(course), str(course / ".workers" / str(k)), ids, limits, config, go, tasks, results),
        )
        for k in range(jobs if todo else 0)
    ]
    for w in workers:
        w.start()
    try:
        return _grade(assignments, course, found, todo, state, verbose, workers, go, tasks, results)
    finally:
        for w in workers:  # done, they are leaving (and tidying up); stopped early, they are told to
            w.join(timeout=5)
            if w.is_alive():
                w.terminate()
                w.join(timeout=10)


def _grade(
    assignments: Sequence[Assignment],
    course: Path,
    found: Sequence[submissions.Submission],
    todo: list[submissions.Submission],
    state: dict[str, str],
    verbose: bool,
    workers: list,
    go: Any,
    tasks: Any,
    results: Any,
) -> tuple[list[str], int]:
    from nbgrader.api import Gradebook

    coursedir.prepare(course, assignments)
    problems: list[str] = []
    db = settings.gradebook_url(course)
    with Gradebook(db) as gb:
        for sub in found:
            key = f"{sub.assignment.id}/{sub.student}"
            why = sub.problem()
            if why is not None:  # nbgrader cannot even open it: zero, and say so
                problems.append(f"{sub.source}: {why}; {sub.student} scores 0 for {sub.assignment.id}")
                if state.get(key) != sub.digest:
                    merge.record(gb, sub.assignment.id, sub.student, None)
                    state[key] = sub.digest
                    _save_state(course, state)
    if not todo:
        return problems, 0
    for sub in todo:
        tasks.put(Task(sub.assignment.id, sub.student, sub.content))
    for _ in workers:
        tasks.put(None)
    go.set()
    by_key = {f"{s.assignment.id}/{s.student}": s for s in todo}
    progress = Progress(len(todo), verbose)
    ungraded = in_a_row = 0
    try:
        with Gradebook(db) as gb:
            while progress.done < len(todo):
                try:
                    kind, payload = results.get(timeout=1.0)
                except queue.Empty:
                    if not any(w.is_alive() for w in workers):
                        raise RuntimeError("every worker stopped before the class was graded") from None
                    continue
                if kind == "crashed":
                    raise RuntimeError(f"a worker could not start:\n{payload}")
                if kind != "done":
                    continue
                sub = by_key[f"{payload.assignment_id}/{payload.student}"]
                if payload.graded is None:  # not the student's doing: no grade, and the next run tries again
                    ungraded += 1
                    in_a_row += 1
                    problems.append(
                        f"{sub.source}: not graded, and not recorded (run the command again to "
                        f"grade it): {indent(payload.error)}"
                    )
                    progress.update(f"{payload.student} {payload.assignment_id}: not graded", failed=True)
                    if in_a_row >= max(3, len(workers)) and progress.done == ungraded:
                        raise RuntimeError(
                            f"stopped: none of the first {in_a_row} submissions could be graded, "
                            f"so the others will not be either. The last one's reason: {indent(payload.error)}"
                        )
                    continue
                in_a_row = 0
                merge.record(gb, payload.assignment_id, payload.student, payload.graded)
                merge.copy_outputs(Path(payload.worker_dir), course, payload.assignment_id, payload.student)
                state[f"{payload.assignment_id}/{payload.student}"] = sub.digest
                _save_state(course, state)  # after the gradebook: a kill in between only regrades this one
                progress.update(_score_line(payload.student, payload.assignment_id, payload.graded), failed=False)
    finally:
        progress.close()
    return problems, len(todo) - ungraded


def report(notices: Sequence[submissions.Notice]) -> None:
    """The files of the input that were not taken, one line each, naming the file and why."""
    for notice in notices:
        print(f"course-grade: {notice.source}: {notice.reason}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="course-grade", description=__doc__.split("\n\n")[0])
    parser.add_argument("assignment", help="an assignment id (e.g. 01-manual-updates), or 'all'")
    parser.add_argument(
        "submissions", type=Path, help="a folder <student>/<assignment>/<notebook>.ipynb, or an LMS zip"
    )
    parser.add_argument(
        "--course",
        type=Path,
        default=Path("course"),
        help="the course folder to grade in (made if missing; default: ./course)",
    )
    parser.add_argument(
        "--jobs",
        type=int,
        default=os.cpu_count() or 1,
        help="submissions graded at a time (default: the number of cores)",
    )
    parser.add_argument(
        "--csv", type=Path, default=None, help="where to write the grades (default: <course>/grades.csv)"
    )
    parser.add_argument("--force", action="store_true", help="grade every submission again, changed or not")
    parser.add_argument("--verbose", action="store_true", help="a line per student with the score")
    defaults = sandbox.Limits()
    parser.add_argument(
        "--no-sandbox",
        action="store_true",
        help="run student code without the sandbox, with your own privileges (as plain nbgrader does)",
    )
    parser.add_argument(
        "--memory-mb",
        type=int,
        default=defaults.memory_mb,
        help=f"memory per notebook, in MB (default {defaults.memory_mb})",
    )
    parser.add_argument(
        "--max-processes",
        type=int,
        default=defaults.processes,
        help=f"processes and threads per notebook (default {defaults.processes})",
    )
    parser.add_argument(
        "--wall-seconds",
        type=int,
        default=defaults.wall_seconds,
        help=f"time per notebook, in seconds (default {defaults.wall_seconds}; each cell also has nbgrader's timeout)",
    )
    parser.add_argument(
        "--cell-seconds",
        type=int,
        default=None,
        help="time per cell, in seconds (default: the course's nbgrader_config.py, 120)",
    )
    parser.add_argument(
        "--cpus",
        type=float,
        default=defaults.cpus,
        help=f"cores' worth of CPU time per notebook, held by a cgroup where the machine allows "
        f"(default {defaults.cpus:g})",
    )
    parser.add_argument(
        "--cpu-seconds",
        type=int,
        default=defaults.cpu_seconds,
        help="CPU time per process of a notebook, in seconds (default: --wall-seconds times --cpus)",
    )
    parser.add_argument(
        "--file-mb",
        type=int,
        default=defaults.file_mb,
        help=f"the largest file a notebook may write, in MB (default {defaults.file_mb})",
    )
    parser.add_argument(
        "--tmp-mb",
        type=int,
        default=defaults.tmp_mb,
        help=f"room for a notebook's files, in MB, in each of its working folder, /tmp and /dev/shm "
        f"(memory, gone with the kernel; default {defaults.tmp_mb})",
    )
    parser.add_argument(
        "--cell-output-mb",
        type=int,
        default=defaults.cell_output_mb,
        help=f"output kept per cell, in MB, the rest dropped with a note (default {defaults.cell_output_mb})",
    )
    parser.add_argument(
        "--notebook-output-mb",
        type=int,
        default=defaults.notebook_output_mb,
        help=f"output kept per notebook, in MB (default {defaults.notebook_output_mb})",
    )
    parser.add_argument(
        "--max-notebook-mb",
        type=int,
        default=submissions.MAX_NOTEBOOK_MB,
        help=f"the largest notebook graded, in MB (default {submissions.MAX_NOTEBOOK_MB}); a larger "
        "one is named and not graded",
    )
    args = parser.parse_args(argv)
    put_scripts_on_path()  # nbgrader runs `alembic` by name: this environment's, even when it is not activated
    if args.jobs < 1:
        parser.error("--jobs must be at least 1")
    if (
        min(
            args.memory_mb,
            args.max_processes,
            args.wall_seconds,
            args.max_notebook_mb,
            1 if args.cell_seconds is None else args.cell_seconds,
        )
        < 1
    ):
        parser.error(
            "--memory-mb, --max-processes, --wall-seconds, --cell-seconds and --max-notebook-mb must be positive"
        )
    if (
        min(args.file_mb, args.tmp_mb, args.cell_output_mb, args.notebook_output_mb) < 1
        or args.cpus <= 0
        or args.cpu_seconds < 0
    ):
        parser.error(
            "--cpus, --file-mb, --tmp-mb, --cell-output-mb and --notebook-output-mb must be positive, "
            "--cpu-seconds positive or 0 (--wall-seconds times --cpus)"
        )
    limits = sandbox.Limits(
        args.memory_mb,
        args.max_processes,
        args.wall_seconds,
        args.cpus,
        args.cpu_seconds,
        args.file_mb,
        args.tmp_mb,
        args.cell_output_mb,
        args.notebook_output_mb,
    )
    # the output caps apply with or without the sandbox: they guard the grader
    config = settings.grader_config(limits.cell_output_mb << 20, limits.notebook_output_mb << 20, args.cell_seconds)
    try:
        assignments = _assignments(args.assignment)
        intake = submissions.collect(args.submissions.resolve(), assignments, args.max_notebook_mb << 20)
    except (UsageError, submissions.SubmissionError) as exc:
        report(getattr(exc, "notices", []))
        print(f"course-grade: {exc}", file=sys.stderr)
        return 2
    found = intake.submissions
    if not args.no_sandbox and (why := sandbox.problem()) is not None:
        print(
            f"course-grade: cannot sandbox student code: {why}. Install it, or pass --no-sandbox to "
            "grade with your own privileges.",
            file=sys.stderr,
        )
        return 2
    course = args.course.resolve()
    if course.exists() and not course.is_dir():
        print(f"course-grade: {course}: the course folder is a file", file=sys.stderr)
        return 2
    try:
        problems, graded_now = grade(
            assignments, found, course, args.jobs, args.force, args.verbose, None if args.no_sandbox else limits, config
        )
    except KeyboardInterrupt:
        report(intake.notices)
        print(
            "course-grade: interrupted; what was graded is kept: run the same command again to finish", file=sys.stderr
        )
        return 130
    except RuntimeError as exc:  # nbgrader could not prepare the course, or the workers died
        report(intake.notices)
        print(f"course-grade: {exc}\nwhat was graded is kept: run the same command again to finish", file=sys.stderr)
        return 1
    csv_path = args.csv or course / "grades.csv"
    export.write(course, assignments, csv_path)
    students = len({s.student for s in found})
    untaken = f"; {len(intake.ungraded)} more file(s) not graded, each named on stderr" if intake.ungraded else ""
    print(
        f"{len(found)} submission(s) of {students} student(s), {graded_now} graded now, the others unchanged "
        f"since they were graded; grades in {csv_path}, feedback in {course / 'feedback'}{untaken}"
    )
    report(intake.notices)  # before the grading's problems: they were found first
    for problem in problems:
        print(f"course-grade: {problem}", file=sys.stderr)
    return 1 if problems or intake.ungraded else 0


if __name__ == "__main__":
    sys.exit(main())
