"""An exercise notebook where the grading package is missing, as on Colab: its first cell installs the
package, and only it, then the notebook runs as anywhere else.

The environment stands in for Colab: a fresh virtual environment that sees this one's packages (torch,
NumPy, Jupyter's kernel) through a folder of links, minus the grading package and nbgrader, which Colab
does not have. The install cell takes the wheel built here from this checkout (``OPTIMCOURSE_PACKAGE``)
in place of the release's, with pip kept off the network.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from optimcourse import notebooks, release
from optimcourse.course import ASSIGNMENTS, REPO_ROOT

pytestmark = pytest.mark.slow
FIRST = ASSIGNMENTS[0]
NOT_ON_COLAB = ("optimcourse", "__editable__", "nbgrader")

RUNNER = """
import sys

import nbclient
import nbformat

nb = nbformat.read(sys.argv[1], 4)
try:
    nbclient.NotebookClient(nb, timeout=600, kernel_name="python3").execute()
finally:
    nbformat.write(nb, sys.argv[1])
"""


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    """The grading package built from this checkout's tracked files."""
    root = tmp_path_factory.mktemp("colab")
    tree = root / "tree"
    listed = subprocess.run(["git", "ls-files"], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    for path in listed.stdout.split():
        if (REPO_ROOT / path).is_file():
            (tree / path).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO_ROOT / path, tree / path)
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(root), "."],
        cwd=tree,
        capture_output=True,
        text=True,
    )
    assert built.returncode == 0, built.stderr[-3000:]
    return root / release.wheel_name(release.versions().package)


def colab_like(root: Path) -> tuple[Path, dict[str, str]]:
    """(python, environment variables) of a fresh venv that has this one's packages but not ours."""
    venv, deps = root / "env", root / "deps"
    deps.mkdir(parents=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    for site in dict.fromkeys([sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]]):
        for entry in Path(site).iterdir():
            if entry.name.startswith(NOT_ON_COLAB) or entry.suffix == ".pth" or (deps / entry.name).exists():
                continue
            (deps / entry.name).symlink_to(entry)
    python = venv / "bin" / "python"
    (purelib(python) / "colab-packages.pth").write_text(f"{deps}\n")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "JUPYTER_PATH")}
    env.update(PATH=f"{venv / 'bin'}{os.pathsep}{env['PATH']}", PIP_NO_INDEX="1", HOME=str(root / "home"))
    return python, env


def run(python: Path, env: dict[str, str], nb, path: Path) -> tuple[int, str, list]:
    """Run `nb` there, from its own folder; (exit status, stderr, the executed cells)."""
    notebooks.write(nb, path)
    (path.parent / "runner.py").write_text(RUNNER)
    done = subprocess.run(
        [python, "runner.py", path.name], cwd=path.parent, env=env, capture_output=True, text=True, timeout=900
    )
    return done.returncode, done.stderr, notebooks.read(path).cells


def printed(cell) -> str:
    return "".join(o.get("text", "") for o in cell.get("outputs", []) if o.get("output_type") == "stream")


def purelib(python: Path) -> Path:
    """The venv's own site-packages."""
    where = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    )
    return Path(where.stdout.strip())


def installed_here(python: Path) -> set[str]:
    """The distributions in the venv's own site-packages: what pip put there."""
    return {p.name.split("-")[0].lower() for p in purelib(python).glob("*.dist-info")}


def test_the_solved_exercise_installs_the_package_once_and_passes(wheel, tmp_path):
    python, env = colab_like(tmp_path)
    env[release.PACKAGE_VARIABLE] = str(wheel)
    missing = subprocess.run([python, "-c", "import optimcourse"], cwd=tmp_path, env=env, capture_output=True)
    assert missing.returncode != 0, "the stand-in for Colab already has the grading package"
    before = installed_here(python)
    solved = notebooks.with_solution_code(notebooks.read(FIRST.exercise_path()), notebooks.solution_code(FIRST))
    status, err, cells = run(python, env, solved, tmp_path / "work" / "solved.ipynb")
    assert status == 0, err[-3000:]
    assert "Installing the course's grading package" in printed(cells[[c.cell_type for c in cells].index("code")])
    assert installed_here(python) - before == {"optimcourse"}, "more than the package was installed"
    for name in ("numpy", "torch"):  # Colab's own stay: nothing of theirs in the venv
        assert name not in installed_here(python)
    status, err, cells = run(python, env, solved, tmp_path / "work" / "again.ipynb")
    assert status == 0, err[-3000:]
    assert not any("Installing" in printed(c) for c in cells), "installed again though it was there"


def test_the_untouched_exercise_installs_the_package_then_fails_its_first_test_on_the_stub(wheel, tmp_path):
    python, env = colab_like(tmp_path)
    env[release.PACKAGE_VARIABLE] = str(wheel)
    status, err, cells = run(python, env, notebooks.read(FIRST.exercise_path()), tmp_path / "work" / "as-given.ipynb")
    assert status != 0
    assert "NotImplementedError" in err and "ModuleNotFoundError" not in err, err[-3000:]
    code = [c for c in cells if c.cell_type == "code"]
    stopped = next(c for c in code if any(o.get("output_type") == "error" for o in c.get("outputs", [])))
    assert notebooks.is_test(stopped), "it stopped before the first test"
    assert code.index(stopped) == next(k for k, c in enumerate(code) if notebooks.is_test(c))
    assert "Installing the course's grading package" in printed(code[0])


def test_a_wheel_that_is_not_there_stops_the_install_cell_with_pips_error(tmp_path):
    python, env = colab_like(tmp_path)
    env[release.PACKAGE_VARIABLE] = str(tmp_path / "no-such-optimcourse-0.1.0-py3-none-any.whl")
    status, err, _ = run(python, env, notebooks.read(FIRST.exercise_path()), tmp_path / "work" / "nb.ipynb")
    assert status != 0 and "CalledProcessError" in err
    assert "optimcourse" not in installed_here(python)
