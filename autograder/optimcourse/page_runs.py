"""Run the website's pages on other numerical paths, and on a busy machine.

    python -m optimcourse.page_runs                      # every variant below, every page
    python -m optimcourse.page_runs --variant elsewhere  # all three at once, as the tests run them
    python -m optimcourse.page_runs --variant compatible --page book/06-gradient-clipping.md

The book build runs each page once, on this machine's fastest code path. A reader's machine may take
another: an older CPU makes MKL and ATen pick other SIMD kernels, which round differently, and a
shared machine runs everything slower, and unevenly. A page that asserts a fact only one path shows
(which seed of a chaotic run diverges, a bitwise equality that depends on FMA, a timing ratio) breaks
the build there. This runs every executed page again in a fresh kernel under each variant, so such a
page fails here first:

- ``compatible``: ``MKL_CBWR=COMPATIBLE``, MKL's conditional numerical reproducibility mode, the
  code path any x86-64 CPU can run (no AVX);
- ``default``: ``ATEN_CPU_CAPABILITY=default``, torch's own kernels without vector instructions;
- ``busy``: every core kept busy by other processes while the pages run (timings become noisy);
- ``elsewhere``: all three at once, one run instead of three: what the test suite runs.

Pages that time something (front matter ``course: {execute_alone: true}``) run alone, the others
side by side, one per core. Exit status 0 when every page ran without error under every variant.
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from .course import REPO_ROOT

ANSI = re.compile(r"\x1b\[[0-9;]*m")  # the colours of IPython's tracebacks

__all__ = ["VARIANTS", "PageRun", "Variant", "executed_pages", "main", "run_page", "run_variant"]


@dataclass(frozen=True)
class Variant:
    name: str
    env: dict[str, str]
    busy: bool = False


VARIANTS = (
    Variant("compatible", {"MKL_CBWR": "COMPATIBLE"}),
    Variant("default", {"ATEN_CPU_CAPABILITY": "default"}),
    Variant("busy", {}, busy=True),
    Variant("elsewhere", {"MKL_CBWR": "COMPATIBLE", "ATEN_CPU_CAPABILITY": "default"}, busy=True),
)


@dataclass(frozen=True)
class PageRun:
    page: str
    variant: str
    ok: bool
    seconds: float
    error: str  # the failing cell's error, when not ok


def _front_matter(path: Path) -> str:
    text = path.read_text(encoding="utf8")
    return text.split("\n---", 1)[0] if text.startswith("---") else ""


def executed_pages(root: Path = REPO_ROOT) -> list[Path]:
    """The Markdown notebooks of ``book/`` (a kernelspec in the front matter): the pages a build runs."""
    return sorted(p for p in (root / "book").glob("*.md") if "\nkernelspec:" in _front_matter(p))


def runs_alone(path: Path) -> bool:
    return "execute_alone: true" in _front_matter(path)


def _execute(path: Path, timeout: int) -> str:
    """Run one page in a fresh kernel, in its folder; the error text, or '' when every cell ran."""
    from myst_nb.core.read import read_myst_markdown_notebook
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    notebook = read_myst_markdown_notebook(path.read_text(encoding="utf8"))
    client = NotebookClient(
        notebook, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    )
    try:
        client.execute()
    except CellExecutionError as exc:
        return str(exc)
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return ""


def run_page(path: Path, variant: Variant, timeout: int = 600) -> PageRun:
    """One page under ``variant``, in a process of its own (the kernel inherits its environment)."""
    env = {**os.environ, **variant.env}
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "optimcourse.page_runs", "--one", str(path), "--timeout", str(timeout)],
        env=env,
        capture_output=True,
        text=True,
    )
    error = "" if done.returncode == 0 else ANSI.sub("", done.stdout + done.stderr).strip() or f"exit {done.returncode}"
    return PageRun(
        str(path.relative_to(REPO_ROOT)) if path.is_relative_to(REPO_ROOT) else str(path),
        variant.name,
        done.returncode == 0,
        time.monotonic() - started,
        error,
    )


def _spin(stop) -> None:  # pragma: no cover - runs in a child process
    while not stop.is_set():
        sum(i * i for i in range(10_000))


@contextlib.contextmanager
def busy_cores(count: int | None = None) -> Iterator[None]:
    """Keep ``count`` cores (default: all) busy with other processes while the block runs."""
    ctx = multiprocessing.get_context("spawn")
    stop = ctx.Event()
    spinners = [ctx.Process(target=_spin, args=(stop,), daemon=True) for _ in range(count or os.cpu_count() or 1)]
    for p in spinners:
        p.start()
    try:
        yield
    finally:
        stop.set()
        for p in spinners:
            p.join(timeout=5)
            if p.is_alive():
                p.kill()


def run_variant(variant: Variant, pages: Sequence[Path] | None = None, jobs: int | None = None) -> list[PageRun]:
    """Every page (or ``pages``) under ``variant``: the ordinary ones side by side, then the timed ones alone."""
    pages = list(executed_pages() if pages is None else pages)
    together = [p for p in pages if not runs_alone(p)]
    alone = [p for p in pages if runs_alone(p)]
    with busy_cores() if variant.busy else contextlib.nullcontext():
        with ThreadPoolExecutor(max_workers=max(1, jobs or os.cpu_count() or 1)) as pool:
            runs = list(pool.map(lambda p: run_page(p, variant), together))
        runs += [run_page(p, variant) for p in alone]
    return runs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m optimcourse.page_runs", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--variant",
        action="append",
        choices=[v.name for v in VARIANTS],
        help="run only this variant (repeatable; default: all)",
    )
    parser.add_argument("--page", action="append", type=Path, help="run only this page (repeatable)")
    parser.add_argument("--jobs", type=int, default=None, help="pages at a time (default: the number of cores)")
    parser.add_argument("--one", type=Path, help=argparse.SUPPRESS)  # internal: run one page in this environment
    parser.add_argument("--timeout", type=int, default=600, help="seconds per cell (default 600)")
    args = parser.parse_args(argv)
    if args.one is not None:
        error = _execute(args.one.resolve(), args.timeout)
        if error:
            print(error)
        return 1 if error else 0
    variants = [v for v in VARIANTS if args.variant is None or v.name in args.variant]
    pages = [p.resolve() for p in args.page] if args.page else None
    failed = 0
    for variant in variants:
        for run in run_variant(variant, pages, args.jobs):
            print(f"{run.variant:11} {run.page:40} {'ok' if run.ok else 'FAILED':7} {run.seconds:6.1f} s", flush=True)
            if not run.ok:
                failed += 1
                print("    " + run.error[-3000:].replace("\n", "\n    "))
    print(f"{failed} page run(s) failed" if failed else "every page ran under every variant")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
