"""Shared fixtures: the assignments and their mutant libraries, by id; a headless chromium."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

import notebook_runner as nr
from optimcourse import environment
from optimcourse.course import ASSIGNMENTS, Assignment
from optimcourse.mutants import MutantLibrary

# the tests start nbgrader, jupyter-book and jupyter from this environment, which need not be activated
# (plain nbgrader runs `alembic` by name): its scripts come first on PATH
environment.put_scripts_on_path()


#: the marks of the tests that run the real tools (nbgrader, course-grade, jupyter-book, a browser, Binder)
#: or otherwise take minutes: together, the end-to-end tier, which `pytest -m "not e2e"` leaves out
E2E_MARKS = ("nbgrader", "book", "site", "slow")


def pytest_configure(config: pytest.Config) -> None:
    # the session's shared notebook runs (notebook_runner.run_shared): made by the controller, before the
    # xdist workers start, so that they inherit it
    if not hasattr(config, "workerinput") and not os.environ.get(nr.SHARED_RUNS):
        config._shared_runs = tempfile.mkdtemp(prefix="optimcourse-runs-")
        os.environ[nr.SHARED_RUNS] = config._shared_runs


def pytest_unconfigure(config: pytest.Config) -> None:
    if getattr(config, "_shared_runs", None):
        shutil.rmtree(config._shared_runs, ignore_errors=True)
        os.environ.pop(nr.SHARED_RUNS, None)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if any(item.get_closest_marker(mark) for mark in E2E_MARKS):
            item.add_marker(pytest.mark.e2e)


def library(assignment: Assignment) -> MutantLibrary:
    return assignment.mutant_library()


ALL_MUTANTS = [pytest.param(a, m, id=f"{a.id}:{m.name}") for a in ASSIGNMENTS for m in library(a).mutants]
ASSIGNMENT_PARAMS = [pytest.param(a, id=a.id) for a in ASSIGNMENTS]


CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"  # Debian's, installed by optimcourse.system_packages
# Chromium's own calls home are refused on a closed network, many at a time: keep it quiet
FLAGS = [
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        why = f"no chromium at {CHROMIUM}: run `python3 -m optimcourse.system_packages`"
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the browser tests: {why}")
        pytest.skip(why)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        yield chromium
        chromium.close()
