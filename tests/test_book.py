"""The website builds with warnings as errors, every page executed on a clean build and none on a
rebuild with no change, and shows no raw placeholders."""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from optimcourse.course import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "book" / "_ext"))
import course_cache  # noqa: E402

pytestmark = pytest.mark.book
CONFIG = yaml.safe_load((REPO_ROOT / "_config.yml").read_text())
RAW = re.compile(r"\{glue(:\w+)?\}|\{python\}|\{eval\}|`\{")


def build(source: Path, output: Path) -> subprocess.CompletedProcess:
    return subprocess.run([shutil.which("jupyter-book") or "jupyter-book", "build", str(source), "-W",
                           "--keep-going", "--path-output", str(output)],
                          cwd=source, capture_output=True, text=True, timeout=1200)


def toc_pages() -> list[str]:
    toc = yaml.safe_load((REPO_ROOT / "_toc.yml").read_text())
    pages = [toc["root"]]
    for part in toc.get("parts", []):
        pages += [chapter["file"] for chapter in part["chapters"]]
    return pages


def test_execution_is_cached_with_the_course_code_in_its_key_and_errors_fail_the_build():
    assert CONFIG["execute"]["execute_notebooks"] == "cache"
    assert CONFIG["sphinx"]["local_extensions"] == {"course_cache": "book/_ext"}
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


def test_the_book_builds_without_warnings_and_every_number_is_rendered(tmp_path):
    done = build(REPO_ROOT, tmp_path)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    assert done.stdout.count("Executing notebook") == len(toc_pages())  # a clean build runs every page
    html = tmp_path / "_build" / "html"
    for page in toc_pages():
        text = (html / f"{page}.html").read_text()
        body = text.split('<article class="bd-article">', 1)[-1]
        assert not RAW.search(body), f"{page}: raw placeholder {RAW.search(body).group(0)!r}"
        assert "Traceback" not in body, f"{page}: a traceback in the executed output"
    started = time.monotonic()
    again = build(REPO_ROOT, tmp_path)
    assert again.returncode == 0, again.stdout[-4000:] + again.stderr[-4000:]
    assert "Executing notebook" not in again.stdout, "a rebuild with no change ran a page"
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
