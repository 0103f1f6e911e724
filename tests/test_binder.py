"""Binder, as a student meets it: `binder/postBuild` run in an environment of its own, then JupyterLab
in a real browser on an exercise notebook, with nbgrader's Validate button and nothing else of nbgrader.

The environment is a virtual environment on top of this one's packages (torch, NumPy, ...), with
JupyterLab and nbgrader installed into it as Binder installs them, so that their configuration lands
in its own prefix, where postBuild edits it, and not in this one's. This one may itself be a virtual
environment (the README's set-up makes one) or the system Python: a .pth file puts its packages on the
new environment's path either way (``--system-site-packages`` alone reaches only the base Python's).
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import sysconfig
import time
import urllib.request
from pathlib import Path

import pytest

from optimcourse import notebooks
from optimcourse.course import ASSIGNMENTS, REPO_ROOT

pytestmark = pytest.mark.site
STUDENT_SERVER_EXTENSIONS = {"nbgrader.server_extensions.validate_assignment"}
INSTRUCTOR_SERVER_EXTENSIONS = {
    "nbgrader.server_extensions.formgrader",
    "nbgrader.server_extensions.assignment_list",
    "nbgrader.server_extensions.course_list",
}
FIRST = ASSIGNMENTS[0]


def binder_pins() -> list[str]:
    """What binder/requirements.txt pins for the Jupyter side (the rest comes from this environment)."""
    lines = (REPO_ROOT / "binder" / "requirements.txt").read_text().splitlines()
    return [line for line in lines if line.split("==")[0] in ("nbgrader", "jupyterlab")]


@pytest.fixture(scope="module")
def binder(tmp_path_factory):
    """(repository copy, environment variables) after postBuild ran as on Binder."""
    root = tmp_path_factory.mktemp("binder")
    repo, venv, home = root / "repo", root / "env", root / "home"
    for path in subprocess.run(["git", "ls-files"], cwd=REPO_ROOT, capture_output=True, text=True).stdout.split():
        if (REPO_ROOT / path).is_file():  # what Binder clones
            (repo / path).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO_ROOT / path, repo / path)
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    inner = subprocess.run(
        [venv / "bin" / "python", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    outer = dict.fromkeys([sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]])
    (Path(inner) / "course-environment.pth").write_text("".join(f"{path}\n" for path in outer))
    env = {
        **os.environ,
        "HOME": str(home),
        "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}",
        "VIRTUAL_ENV": str(venv),
    }
    env.pop("JUPYTER_CONFIG_DIR", None)
    pins = [*binder_pins(), *(f"{p}=={importlib.metadata.version(p)}" for p in ("jupyter_core", "jupyter_server"))]
    install = subprocess.run(
        [venv / "bin" / "python", "-m", "pip", "install", "-q", "--no-deps", "--force-reinstall", *pins],
        env=env,
        capture_output=True,
        text=True,
    )
    assert install.returncode == 0, install.stderr[-3000:]
    post = subprocess.run(["bash", "binder/postBuild"], cwd=repo, env=env, capture_output=True, text=True, timeout=600)
    assert post.returncode == 0, post.stdout[-3000:] + post.stderr[-3000:]
    return repo, env, venv


def test_postbuild_leaves_students_the_validate_extension_only(binder):
    repo, env, venv = binder
    listed = subprocess.run(
        [venv / "bin" / "jupyter", "server", "extension", "list"], env=env, capture_output=True, text=True
    )
    text = re.sub(r"\x1b\[[0-9;]*m", "", listed.stdout + listed.stderr)  # the list is coloured
    for name in STUDENT_SERVER_EXTENSIONS:
        assert f"{name} enabled" in text, text
    for name in INSTRUCTOR_SERVER_EXTENSIONS:
        assert f"{name} disabled" in text, text
    page_config = json.loads((venv / "etc" / "jupyter" / "labconfig" / "page_config.json").read_text())
    disabled = {k for k, v in page_config["disabledExtensions"].items() if v}
    assert "@jupyter/nbgrader:validate-assignment" not in disabled
    assert {"@jupyter/nbgrader:formgrader", "@jupyter/nbgrader:create-assignment", "@jupyter/nbgrader:menu"} <= disabled
    # the package the notebooks import is this copy of the repository's
    where = subprocess.run(
        [venv / "bin" / "python", "-c", "import optimcourse; print(optimcourse.__file__)"],
        env=env,
        capture_output=True,
        text=True,
        cwd="/",
    )
    assert where.stdout.strip().startswith(str(repo)), where.stdout + where.stderr


@pytest.fixture(scope="module")
def lab(binder):
    """The root URL of JupyterLab, started as Binder starts it, in the repository copy."""
    repo, env, venv = binder
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [
            venv / "bin" / "jupyter",
            "lab",
            "--no-browser",
            f"--port={port}",
            "--ip=127.0.0.1",
            "--ServerApp.token=",
            "--ServerApp.disable_check_xsrf=True",
            "--allow-root",
            f"--ServerApp.root_dir={repo}",
        ],
        cwd=repo,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 60
    while True:
        try:
            landing = urllib.request.urlopen(url, timeout=5)
            break
        except OSError:
            assert time.monotonic() < deadline and server.poll() is None, "JupyterLab did not start"
            time.sleep(0.5)
    assert landing.url.rstrip("/").endswith("/lab"), f"the server opens {landing.url}, not JupyterLab"
    yield url
    server.terminate()
    server.wait(timeout=30)


def validate_in_the_browser(browser, url: str) -> tuple[str, str]:
    """Open a notebook in JupyterLab, press Validate; the result dialog's class and text."""
    # wide enough that the notebook toolbar keeps every button out of its overflow menu
    page = browser.new_page(viewport={"width": 1600, "height": 1000})
    try:
        page.goto(url, wait_until="domcontentloaded")
        button = page.locator(".jp-NotebookPanel-toolbar .validate-button").first
        button.wait_for(timeout=60_000)
        menus = page.locator(".lm-MenuBar-content").first.inner_text()
        assert "Nbgrader" not in menus and "Formgrader" not in menus, menus
        assert not page.locator(".create-assignment-toolbar, [data-command='nbgrader:open-formgrader']").count()
        button.click()
        result = page.locator(".jp-Dialog .validation-failed, .jp-Dialog .validation-success").first
        result.wait_for(timeout=180_000)
        return result.get_attribute("class"), result.inner_text()
    finally:
        page.close()


def test_validate_in_jupyterlab_fails_the_untouched_exercise_and_passes_the_solved_one(binder, lab, browser):
    repo, _, _ = binder
    exercise = repo / FIRST.exercise_path().relative_to(REPO_ROOT)
    solved = exercise.with_name("solved.ipynb")
    notebooks.write(notebooks.with_solution_code(notebooks.read(exercise), notebooks.solution_code(FIRST)), solved)
    path = exercise.relative_to(repo).as_posix()
    # ?reset: a fresh workspace, or JupyterLab reopens the first notebook beside the second
    kind, text = validate_in_the_browser(browser, f"{lab}lab/tree/{path}?reset")
    assert "validation-failed" in kind and "NotImplementedError" in text, (kind, text[:300])
    kind, text = validate_in_the_browser(browser, f"{lab}lab/tree/{solved.relative_to(repo).as_posix()}?reset")
    assert "validation-success" in kind and "Success! Your notebook passes all the tests." in text, text[:2000]
