"""Every page of the website builds on other numerical paths and on a busy machine, not only on the
CPU that built it. test_book's clean build runs every page with MKL's compatible code path and torch's
kernels without vector instructions; here the pages that time something run again in a fresh kernel on
those paths while every core is kept busy by other processes (the ``elsewhere`` variant: the three at
once). A busy machine changes how long things take, and only those pages measure it. The README's build
runs each page on this machine's own path.
"""

from __future__ import annotations

import multiprocessing
import time

import psutil
import pytest

from optimcourse import page_runs
from optimcourse.course import REPO_ROOT

pytestmark = pytest.mark.book

PAGES = page_runs.executed_pages()
ELSEWHERE = next(v for v in page_runs.VARIANTS if v.name == "elsewhere")
RUNS = [
    pytest.param(ELSEWHERE, page, id=f"{ELSEWHERE.name}:{page.stem}") for page in PAGES if page_runs.runs_alone(page)
]


def test_every_executed_page_is_found():
    assert len(PAGES) >= 14 and REPO_ROOT / "book" / "06-gradient-clipping.md" in PAGES
    assert {p.stem for p in PAGES if page_runs.runs_alone(p)} == {"07-foreach-fused", "09-memory-questions"}
    assert {v.name for v in page_runs.VARIANTS} >= {"compatible", "default", "busy", "elsewhere"}
    others = [v for v in page_runs.VARIANTS if v is not ELSEWHERE]
    assert ELSEWHERE.busy and ELSEWHERE.env == {k: v for other in others for k, v in other.env.items()}


@pytest.mark.parametrize("variant, page", RUNS)
def test_the_page_runs(variant, page):
    with page_runs.busy_cores() if variant.busy else _nothing():
        run = page_runs.run_page(page, variant)
    assert run.ok, f"{run.page} fails under {variant.name} ({variant.env or 'every core busy'}):\n{run.error[-4000:]}"


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_a_page_that_holds_on_one_path_only_fails_and_names_its_error(tmp_path):
    page = tmp_path / "one-path.md"
    page.write_text(
        "---\nkernelspec: {name: python3, display_name: Python 3, language: python}\n---\n\n# A page\n\n"
        "```{code-cell} ipython3\nimport os\n"
        "assert os.environ.get('MKL_CBWR') != 'COMPATIBLE', 'true on this path only'\n```\n"
    )
    compatible = next(v for v in page_runs.VARIANTS if v.name == "compatible")
    failed = page_runs.run_page(page, compatible)
    assert not failed.ok and "AssertionError: true on this path only" in failed.error
    assert "\x1b[" not in failed.error  # IPython's colours stripped
    busy = next(v for v in page_runs.VARIANTS if v.busy)
    assert page_runs.run_page(page, busy).ok


def test_busy_cores_keeps_the_cores_busy_and_stops():
    with page_runs.busy_cores(2):
        time.sleep(1.0)
        spinning = [p for p in multiprocessing.active_children() if p.is_alive()]
        used = sum(psutil.Process(p.pid).cpu_times().user for p in spinning)
    assert len(spinning) == 2 and used > 0.5  # two processes, each spending its time on a core
    assert not [p for p in multiprocessing.active_children() if p.is_alive()]
