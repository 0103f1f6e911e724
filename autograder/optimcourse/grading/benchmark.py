"""How long a class takes to grade: plain sequential ``nbgrader autograde`` against course-grade.

    python -m optimcourse.grading.benchmark [--per-chapter 3] [--jobs 1 2] [--chapters 01 02] [--workdir DIR]
                                            [--baseline REV] [--record]

One synthetic class, for each chapter the reference, a mutant of it and the untouched exercise (with
``--per-chapter 3``; more adds further mutants), is graded in one run on this machine by plain
nbgrader (one ``autograde`` per assignment, one submission after another, no sandbox) and by
``course-grade all`` at each ``--jobs`` with the sandbox on. It prints the wall time of each run, per
submission, and as a ratio to plain nbgrader; the floor (how long a kernel takes to start and to run a
chapter's setup cell, i.e. its imports, with and without the sandbox) against the time per submission;
and whether every run gave every cell the same score. ``--baseline REV`` also times course-grade as it was
at the git revision REV of this repository (its ``autograder/`` and ``solutions/``, in this environment),
on the same class, so that two designs of the grader are compared on one machine in one run.
``--record`` also writes the figures for the instructors' guide (:mod:`optimcourse.measured`).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .. import measured, notebooks
from ..course import ASSIGNMENTS, PACKAGE_DIR, Assignment
from ..environment import put_scripts_on_path
from . import coursedir, sandbox, settings

__all__ = ["main"]


TARGET = 0.6  # course-grade --jobs 2 against plain nbgrader, on a 2-core machine, sandbox on


def write_class(submitted: Path, per_chapter: int, chapters: list[Assignment]) -> dict[str, Assignment]:
    """submitted/<student>/<assignment>/<notebook>.ipynb; one submission per student."""
    students = {}
    for a in chapters:
        exercise = notebooks.read(a.exercise_path())
        mutants = a.mutant_library().mutants
        kinds = [("reference", notebooks.solution_code(a)), ("untouched", notebooks.stub_code(a))]
        kinds += [
            (f"mutant{k + 1}", notebooks.solution_code(a, m)) for k, m in enumerate(mutants[: max(1, per_chapter - 2)])
        ]
        for kind, code in kinds[:per_chapter]:
            student = f"c{a.id[:2]}-{kind}"
            notebooks.write(
                notebooks.with_solution_code(exercise, code), submitted / student / a.id / f"{a.notebook}.ipynb"
            )
            students[student] = a
    return students


def read_scores(course: Path) -> dict[tuple[str, str, str], float]:
    from nbgrader.api import Gradebook

    out = {}
    with Gradebook(settings.gradebook_url(course)) as gb:
        for a in gb.assignments:
            for sub in gb.assignment_submissions(a.name):
                for nb in sub.notebooks:
                    for g in nb.grades:
                        out[(sub.student.id, a.name, g.name)] = g.score
    return out


def plain_nbgrader(work: Path, submitted: Path, chapters: list[Assignment]) -> tuple[float, dict]:
    course = work / "plain"
    course.mkdir()
    shutil.copy(settings.CONFIG_FILE, course)
    shutil.copytree(PACKAGE_DIR.parents[1] / "solutions", course / "source")
    for a in chapters:  # the release: not timed, an instructor makes it once
        subprocess.run(
            [sys.executable, "-m", "nbgrader", "generate_assignment", a.id, "--force", "--log-level=WARN"],
            cwd=course,
            check=True,
            capture_output=True,
        )
    shutil.copytree(submitted, course / "submitted")
    started = time.monotonic()
    for a in chapters:
        subprocess.run(
            [sys.executable, "-m", "nbgrader", "autograde", a.id, "--force", "--log-level=WARN"],
            cwd=course,
            capture_output=True,
        )  # exit 1 for a notebook it cannot grade: still timed
    return time.monotonic() - started, read_scores(course)


def course_grade(
    work: Path, submitted: Path, jobs: int, chapters: list[Assignment], package: Path | None = None
) -> tuple[float, dict]:
    """Time ``course-grade``; ``package``: another copy of the course's ``autograder/`` to run instead."""
    course = work / f"course-grade-jobs{jobs}" if package is None else work / f"baseline-jobs{jobs}"
    which = "all" if len(chapters) == len(ASSIGNMENTS) else chapters[0].id  # one, or all of them
    env = dict(os.environ)
    if package is not None:  # it comes first on the path, before this checkout's (installed) package
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(package), env.get("PYTHONPATH")]))
    started = time.monotonic()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "optimcourse.grading.cli",
            which,
            str(submitted),
            "--course",
            str(course),
            "--jobs",
            str(jobs),
        ],
        capture_output=True,
        text=True,
        env=env,
    )
    seconds = time.monotonic() - started
    if done.returncode != 0:
        raise SystemExit(f"course-grade --jobs {jobs} failed:\n{done.stdout}{done.stderr}")
    return seconds, read_scores(course)


def checkout(revision: str, target: Path) -> Path:
    """The repository as it was at ``revision``, unpacked into ``target``; returns its ``autograder/``."""
    root = PACKAGE_DIR.parents[1]
    archive = subprocess.run(
        ["git", "-C", str(root), "archive", "--format=tar", revision, "autograder", "solutions"], capture_output=True
    )
    if archive.returncode != 0:
        raise SystemExit(f"--baseline {revision}: git cannot read that revision: {archive.stderr.decode().strip()}")
    target.mkdir(parents=True)
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive.stdout, check=True)
    return target / "autograder"


def floor(work: Path, sandboxed: bool, chapters: list[Assignment]) -> tuple[float, float]:
    """Median seconds to start a kernel, and to run a chapter's setup cell in it (its imports)."""
    import nbformat
    from jupyter_client import KernelManager
    from jupyter_client.kernelspec import KernelSpecManager
    from nbclient import NotebookClient

    starts, imports = [], []
    for a in chapters:
        setup = next(c for c in notebooks.read(a.exercise_path()).cells if c.cell_type == "code")
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(setup.source)])
        folder = (
            Path(tempfile.mkdtemp(dir=work)) / a.id
        )  # named as nbgrader names it: the sandbox mounts that chapter's view
        folder.mkdir()
        if sandboxed:
            _, run = sandbox.install(folder, sandbox.Limits())
            km = KernelManager(
                kernel_name=sandbox.KERNEL,
                transport="ipc",
                ip=str(run / "kernel"),
                connection_file=str(run / "kernel.json"),
                kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(folder / "kernels")]),
            )
        else:
            run = sandbox.run_folder(folder)
            km = KernelManager(kernel_name="python3", transport="ipc", ip=str(run / "kernel"))
        client = NotebookClient(nb, km=km, timeout=120, resources={"metadata": {"path": str(folder)}})
        started = time.monotonic()
        try:
            with client.setup_kernel():
                assert client.kc is not None  # setup_kernel started it
                client.wait_for_reply(client.kc.kernel_info())  # the kernel answers: it has started
                ready = time.monotonic()
                client.execute_cell(nb.cells[0], 0)
                starts.append(ready - started)
                imports.append(time.monotonic() - ready)
        finally:
            km.shutdown_kernel()  # politely: a killed launcher would leave its sandbox behind
            if not run.is_relative_to(folder):
                shutil.rmtree(run, ignore_errors=True)
    return statistics.median(starts), statistics.median(imports)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m optimcourse.grading.benchmark", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--per-chapter",
        type=int,
        default=3,
        help="submissions per chapter (default 3: reference, untouched, one mutant; at least 2)",
    )
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2], help="course-grade --jobs to time (default 1 2)")
    parser.add_argument(
        "--chapters",
        nargs="+",
        default=None,
        help="only these chapters, by number (default: all; course-grade takes one or all)",
    )
    parser.add_argument("--workdir", type=Path, default=None, help="where to grade (default: a temporary folder)")
    parser.add_argument(
        "--baseline",
        default=None,
        metavar="REV",
        help="also time course-grade as it was at this git revision, at the largest --jobs",
    )
    parser.add_argument(
        "--record",
        action="store_true",
        help="write the figures to book/guides/measured/grading.json, for the instructors' guide",
    )
    args = parser.parse_args(argv)
    put_scripts_on_path()  # nbgrader and jupyter run tools by name: this environment's, activated or not
    if args.per_chapter < 2:
        parser.error("--per-chapter must be at least 2")
    chapters = [a for a in ASSIGNMENTS if args.chapters is None or a.id[:2] in args.chapters]
    if not chapters or (1 < len(chapters) < len(ASSIGNMENTS)):
        parser.error(f"--chapters: one chapter or all of them ({', '.join(a.id[:2] for a in ASSIGNMENTS)})")
    why = sandbox.problem()
    if why is not None:
        raise SystemExit(f"the benchmark times course-grade with its sandbox: {why}")
    work = Path(tempfile.mkdtemp(prefix="grading-benchmark-") if args.workdir is None else args.workdir).resolve()
    work.mkdir(parents=True, exist_ok=True)
    submitted = work / "submitted"
    students = write_class(submitted, args.per_chapter, chapters)
    n = len(students)
    print(
        f"{n} submissions ({args.per_chapter} for each of {len(chapters)} chapter(s): reference, untouched "
        f"exercise, mutants) on {os.cpu_count()} cores, in {work}",
        flush=True,
    )

    plain, expected = plain_nbgrader(work, submitted, chapters)
    rows = [("plain nbgrader autograde, sequential, no sandbox", plain, expected)]
    print(f"  plain nbgrader: {plain:.1f} s", flush=True)
    for jobs in args.jobs:
        seconds, got = course_grade(work, submitted, jobs, chapters)
        rows.append((f"course-grade --jobs {jobs}, sandbox on", seconds, got))
        print(f"  course-grade --jobs {jobs}: {seconds:.1f} s", flush=True)
    if args.baseline is not None:
        jobs = max(args.jobs)
        seconds, got = course_grade(work, submitted, jobs, chapters, checkout(args.baseline, work / "baseline"))
        rows.append((f"course-grade at {args.baseline} --jobs {jobs}, sandbox on"[:52], seconds, got))
        print(f"  course-grade at {args.baseline} --jobs {jobs}: {seconds:.1f} s", flush=True)
    started = time.monotonic()
    coursedir.prepare(work / "prepare-only", chapters)
    prepare = time.monotonic() - started
    floors = {sandboxed: floor(work, sandboxed, chapters) for sandboxed in (False, True)}

    print(f"\n{'run':52s} {'wall s':>8s} {'s/submission':>13s} {'vs plain':>9s}  same scores")
    for label, seconds, got in rows:
        print(
            f"{label:52s} {seconds:8.1f} {seconds / n:13.2f} {seconds / plain:9.2f}  "
            f"{'yes' if got == expected else 'NO'}"
        )
    print(
        f"\ncourse-grade's fixed cost: preparing the course folder (generate_assignment for {len(chapters)} "
        f"chapter(s)) takes {prepare:.1f} s, once; each worker copies it"
    )
    for sandboxed, (start, imports) in floors.items():
        print(
            f"floor per notebook, {'sandboxed' if sandboxed else 'no sandbox'}: kernel start {start:.2f} s + setup "
            f"cell ({'NumPy and the grading agent' if sandboxed else 'NumPy, torch, the checks'}) "
            f"{imports:.2f} s = {start + imports:.2f} s, "
            f"{(start + imports) / (plain / n):.0%} of plain nbgrader's {plain / n:.2f} s per submission"
        )
    best = [seconds for label, seconds, _ in rows if label.startswith("course-grade --jobs 2")]
    if best:
        ratio = best[0] / plain
        print(
            f"\ntarget: course-grade --jobs 2 at most {TARGET} of plain nbgrader: {ratio:.2f}, "
            f"{'met' if ratio <= TARGET else 'NOT met'}"
        )
    agree = all(got == expected for _, _, got in rows)
    if args.record:
        command = " ".join(["python -m optimcourse.grading.benchmark", *(sys.argv[1:] if argv is None else argv)])
        path = measured.record(
            "grading",
            command,
            {
                "submissions": n,
                "chapters": len(chapters),
                "per_chapter": args.per_chapter,
                "runs": [
                    {"run": label, "seconds": seconds, "same_scores": got == expected} for label, seconds, got in rows
                ],
                "prepare_seconds": prepare,
                "floor_seconds": {
                    ("sandboxed" if sandboxed else "plain"): {"kernel_start": start, "setup_cell": imports}
                    for sandboxed, (start, imports) in floors.items()
                },
            },
        )
        print(f"recorded in {path}")
    if not agree:
        print("the runs disagree on some score: see the gradebooks in", work)
    if args.workdir is None:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if agree else 1


if __name__ == "__main__":
    sys.exit(main())
