"""How long the website takes to build: cold, and again with nothing changed.

    python -m optimcourse.book_benchmark [--workdir DIR] [--record]

Runs the README's build command (``jupyter-book build . -W --keep-going``) twice into a fresh output
folder: the first build has no cache and runs every page, the second changes nothing and must run
none. It prints both wall times against the course's targets, how many pages each build ran, and
the slowest pages of the cold build. ``--record`` also writes them for the maintainers' guide
(:mod:`optimcourse.measured`).
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from . import environment, measured
from .course import REPO_ROOT

__all__ = ["main"]


TARGETS = {"cold": 120.0, "no change": 10.0}  # seconds, on a 2-core machine
RAN = re.compile(r"(\S+\.md): Executed notebook( side by side)? in ([\d.]+) seconds")


def pages_run(log: str) -> list[tuple[str, float, bool]]:
    """(page, seconds, whether side by side) for each page a build's log says it ran."""
    return [(path, float(seconds), bool(beside)) for path, beside, seconds in RAN.findall(log)]


def build(output: Path) -> tuple[float, str]:
    started = time.monotonic()
    done = subprocess.run(
        [environment.script("jupyter-book"), "build", ".", "-W", "--keep-going", "--path-output", str(output)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
    )
    seconds = time.monotonic() - started
    if done.returncode != 0:
        sys.exit(f"the build failed:\n{done.stdout[-3000:]}{done.stderr[-3000:]}")
    return seconds, done.stdout


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, help="build there (default: a new temporary folder)")
    parser.add_argument(
        "--record",
        action="store_true",
        help="write the figures to book/guides/measured/book-build.json, for the maintainers' guide",
    )
    args = parser.parse_args(argv)
    output = args.workdir or Path(tempfile.mkdtemp(prefix="book-benchmark-"))
    shutil.rmtree(output / "_build", ignore_errors=True)
    runs = {}
    for name in TARGETS:
        seconds, log = build(output)
        runs[name] = (seconds, pages_run(log))
    for name, (seconds, pages) in runs.items():
        verdict = "met" if seconds <= TARGETS[name] else "NOT met"
        print(f"{name:>10}: {seconds:6.1f} s, {len(pages):2d} pages run   (target {TARGETS[name]:.0f} s: {verdict})")
    slowest = sorted(runs["cold"][1], key=lambda page: -page[1])[:5]
    print("slowest pages of the cold build: " + ", ".join(f"{Path(p).stem} {s:.1f} s" for p, s, _ in slowest))
    if args.record:
        command = " ".join(["python -m optimcourse.book_benchmark", *(sys.argv[1:] if argv is None else argv)])
        path = measured.record(
            "book-build",
            command,
            {
                "builds": [
                    {"build": name, "seconds": seconds, "pages_run": len(pages), "target_seconds": TARGETS[name]}
                    for name, (seconds, pages) in runs.items()
                ],
                "slowest": [{"page": Path(p).stem, "seconds": s} for p, s, _ in slowest],
            },
        )
        print(f"recorded in {path}")
    if args.workdir is None:
        shutil.rmtree(output, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
