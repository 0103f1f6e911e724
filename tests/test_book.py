"""The website builds with warnings as errors, every page executed on a clean build and none on a
rebuild with no change, and shows no raw placeholders."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import re
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest
import yaml
from sphinx.errors import ExtensionError

from optimcourse import book_benchmark, page_runs
from optimcourse.course import REPO_ROOT
from site_pages import RAW, executed_pages, jupyter_book, toc_pages

sys.path.insert(0, str(REPO_ROOT / "book" / "_ext"))
import course_cache
import page_scripts

pytestmark = pytest.mark.book
CONFIG = yaml.safe_load((REPO_ROOT / "_config.yml").read_text())


#: the clean build's pages run on the numerical paths any x86-64 CPU takes (MKL's compatible path, torch's
#: kernels without vector instructions): the README's build, and test_site's, run them on this machine's own
OTHER_PATHS = next(v for v in page_runs.VARIANTS if v.name == "elsewhere").env


def build(source: Path, output: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return jupyter_book("build", str(source), "-W", "--keep-going", "--path-output", str(output), cwd=source, env=env)


def executed(log: str) -> int:
    """How many pages a build ran, alone or side by side, as the build benchmark reads its log."""
    return len(book_benchmark.pages_run(log))


def test_execution_is_cached_with_the_course_code_in_its_key_and_errors_fail_the_build():
    assert CONFIG["execute"]["execute_notebooks"] == "cache"
    assert CONFIG["sphinx"]["local_extensions"]["course_cache"] == "book/_ext"
    assert CONFIG["sphinx"]["config"]["nb_execution_raise_on_error"] is True
    assert CONFIG["only_build_toc_files"] is True


def test_a_change_to_the_course_code_empties_the_execution_cache(tmp_path):
    root, cache = tmp_path / "repo", tmp_path / "cache"
    for path in ("autograder/optimcourse/trace.py", "solutions/01/a.ipynb", "requirements.txt"):
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text("v1")
    (root / "autograder" / "__pycache__").mkdir()
    first = course_cache.digest(root)
    assert course_cache.refresh(cache, first)  # a new cache: made, and stamped
    (cache / "entry").write_text("a page's outputs")
    assert not course_cache.refresh(cache, course_cache.digest(root)) and (cache / "entry").exists()
    (root / "autograder" / "__pycache__" / "x.pyc").write_text("bytecode")  # not the course's code
    assert course_cache.digest(root) == first
    for path in ("autograder/optimcourse/trace.py", "solutions/01/a.ipynb", "requirements.txt"):
        before = course_cache.digest(root)
        (root / path).write_text((root / path).read_text() + " changed")
        assert course_cache.digest(root) != before, path
    assert course_cache.refresh(cache, course_cache.digest(root)) and not (cache / "entry").exists()


def tarball(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(f"package/{name}")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return out.getvalue()


def serves(data: bytes):
    """An opener for page_scripts.fetch that hands out ``data`` and counts its calls."""
    calls = []

    def opener(url, timeout):
        calls.append(url)
        if isinstance(data, Exception):
            raise data
        return contextlib.closing(io.BytesIO(data))

    opener.calls = calls
    return opener


def test_the_sites_own_mathjax_and_mermaid_are_fetched_once_checked_and_trimmed(tmp_path, monkeypatch):
    data = tarball(
        {
            "dist/mermaid.esm.min.mjs": b"export default 1",
            "dist/chunks/mermaid.esm.min/a.mjs": b"chunk",
            "dist/chunks/mermaid.esm.min/a.mjs.map": b"map",
            "dist/mermaid.js": b"not kept",
        }
    )
    good = "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()
    version, _, patterns, root = page_scripts.PACKAGES["mermaid"]
    monkeypatch.setitem(page_scripts.PACKAGES, "mermaid", (version, good, patterns, root))
    first = serves(data)
    folder = page_scripts.fetch("mermaid", tmp_path, opener=first)
    kept = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    assert kept == [".version", "chunks/mermaid.esm.min/a.mjs", "mermaid.esm.min.mjs"]
    assert first.calls == [f"https://registry.npmjs.org/mermaid/-/mermaid-{version}.tgz"]
    again = serves(OSError("offline"))
    assert page_scripts.fetch("mermaid", tmp_path, opener=again) == folder and not again.calls  # kept, not refetched

    monkeypatch.setitem(page_scripts.PACKAGES, "mermaid", ("0.0.1", good, patterns, root))
    with pytest.raises(ExtensionError, match="refusing it"):  # other bytes than the pinned ones
        page_scripts.fetch("mermaid", tmp_path / "tampered", opener=serves(data + b"x"))
    assert not (tmp_path / "tampered").exists()
    with pytest.raises(ExtensionError, match="could not fetch mermaid 0.0.1 from https://registry.npmjs.org/"):
        page_scripts.fetch("mermaid", tmp_path / "offline", opener=serves(OSError("no network")))


def test_the_book_builds_without_warnings_and_every_number_is_rendered(tmp_path):
    """On the numerical paths of other CPUs: a page that holds on this machine's only fails here."""
    assert OTHER_PATHS == {"MKL_CBWR": "COMPATIBLE", "ATEN_CPU_CAPABILITY": "default"}
    done = build(REPO_ROOT, tmp_path, OTHER_PATHS)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    assert executed(done.stdout) == len(executed_pages())  # a clean build runs every page but the exercises
    alone = {Path(page).stem for page, _, beside in book_benchmark.pages_run(done.stdout) if not beside}
    assert alone == {
        Path(page).name
        for page in executed_pages()
        if "course: {execute_alone: true}" in (REPO_ROOT / f"{page}.md").read_text()
    }
    assert {"07-foreach-fused", "09-memory-questions"} <= alone  # the pages that time something
    html = tmp_path / "_build" / "html"
    for page in toc_pages():
        text = (html / f"{page}.html").read_text()
        body = text.split('<article class="bd-article">', 1)[-1]
        assert not RAW.search(body), f"{page}: raw placeholder {RAW.search(body).group(0)!r}"
        assert "Traceback" not in body, f"{page}: a traceback in the executed output"
    started = time.monotonic()
    again = build(REPO_ROOT, tmp_path, OTHER_PATHS)
    assert again.returncode == 0, again.stdout[-4000:] + again.stderr[-4000:]
    assert executed(again.stdout) == 0, "a rebuild with no change ran a page"
    print(f"no-change rebuild: {time.monotonic() - started:.1f} s")


def test_a_page_with_a_warning_fails_the_build(tmp_path):
    book = tmp_path / "book"
    book.mkdir()
    (book / "_config.yml").write_text("title: t\nexecute:\n  execute_notebooks: 'off'\n")
    (book / "_toc.yml").write_text("format: jb-book\nroot: intro\n")
    (book / "intro.md").write_text("# Intro\n\nSee {doc}`no-such-page`.\n")
    done = build(book, tmp_path / "out")
    assert done.returncode != 0
    assert "no-such-page" in done.stdout + done.stderr


PAGE = """---
jupytext:
  text_representation: {extension: .md, format_name: myst}
kernelspec: {name: python3, display_name: Python 3, language: python}
---
# %s

```{code-cell} ipython3
%s
```
"""


def test_pages_run_side_by_side_and_a_failing_one_still_fails_the_build_with_its_traceback(tmp_path):
    book = tmp_path / "book"
    book.mkdir()
    (book / "_config.yml").write_text(
        "title: t\nexecute:\n  execute_notebooks: cache\nsphinx:\n  local_extensions:\n"
        f"    course_cache: {REPO_ROOT / 'book' / '_ext'}\n  config:\n    nb_execution_raise_on_error: true\n"
    )
    (book / "_toc.yml").write_text("format: jb-book\nroot: intro\nchapters:\n  - file: good\n  - file: bad\n")
    (book / "intro.md").write_text(PAGE % ("Intro", "print('intro ran')"))
    (book / "good.md").write_text(PAGE % ("Good", "print(6 * 7)"))
    # broken on the paths the clean build takes only: they reach the kernels
    broken = "import os\nif os.environ.get('MKL_CBWR') == 'COMPATIBLE' and os.environ.get('ATEN_CPU_CAPABILITY'):\n"
    (book / "bad.md").write_text(PAGE % ("Bad", broken + "    raise ValueError('this page is broken')"))
    done = build(book, tmp_path / "out", OTHER_PATHS)
    log = re.sub(r"\x1b\[[0-9;]*m", "", done.stdout + done.stderr)  # the traceback is coloured
    assert done.returncode != 0
    assert "running 3 pages side by side" in log
    assert "bad.md: failed side by side; it runs again alone" in log
    assert "ValueError: this page is broken" in log  # reported as in any build
    assert log.count("Executed notebook side by side") == 2
