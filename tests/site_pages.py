"""The website as the tests see it: its pages in `_toc.yml` order, and one build of it at the root.

The build is the README's command, run in the repository, so its execution cache is shared with the
developer's builds and CI's first step: after either, it runs no page and takes seconds. A lock keeps
two test processes from building the same folder at once.
"""

from __future__ import annotations

import fcntl
import os
import re
import subprocess
from pathlib import Path

import yaml

from optimcourse import environment
from optimcourse.course import REPO_ROOT

HTML = REPO_ROOT / "_build" / "html"
# what a page's prose must never show: a role or placeholder that was not replaced by a computed value
RAW = re.compile(r"\{glue(:\w+)?\}|\{python\}|\{eval\}|`\{|\bTODO\b|\bplaceholder\b|\bNotImplemented\b(?!Error)")


def toc_pages() -> list[str]:
    """Every page of `_toc.yml`, in reading order: root, then each chapter followed by its sections."""
    toc = yaml.safe_load((REPO_ROOT / "_toc.yml").read_text())

    def walk(entries):
        for entry in entries:
            yield entry["file"]
            yield from walk(entry.get("sections", []))

    return [toc["root"], *(page for part in toc.get("parts", []) for page in walk(part["chapters"]))]


def executed_pages() -> list[str]:
    """The pages that run when the site is built: Markdown notebooks (a kernelspec in the front matter).

    The exercise pages are shown as handed out, and plain Markdown pages have nothing to run."""
    return [
        page
        for page in toc_pages()
        if (REPO_ROOT / f"{page}.md").exists()
        and "\nkernelspec:" in (REPO_ROOT / f"{page}.md").read_text().split("\n---", 2)[0]
    ]


def jupyter_book(
    *args: str, cwd: Path = REPO_ROOT, timeout: int = 1200, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """``jupyter-book *args``; ``env``: variables added to this process's for it (its kernels inherit them)."""
    return subprocess.run(
        [environment.script("jupyter-book"), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=None if env is None else {**os.environ, **env},
    )


def build_at_root(*extra: str) -> subprocess.CompletedProcess:
    """``jupyter-book build . -W --keep-going [extra]`` in the repository, one process at a time."""
    lock = REPO_ROOT / "_build" / ".tests.lock"
    lock.parent.mkdir(exist_ok=True)
    with lock.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        return jupyter_book("build", ".", "-W", "--keep-going", *extra)
