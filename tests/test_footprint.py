"""The footprint command runs and prints what the maintainers' guide reports (on one exercise: the full run takes
about a minute). Its figures are measured, not asserted: a benchmark is not a timed test."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow  # it starts a Jupyter server and a kernel


def test_footprint_prints_the_packages_the_server_and_a_kernel_that_ran_a_whole_exercise():
    done = subprocess.run(
        [sys.executable, "-m", "optimcourse.footprint", "--chapters", "01"], capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stdout + done.stderr
    figures = {
        name: float(value.replace(",", ""))
        for name, value in re.findall(
            r"(installed packages|JupyterLab server, idle|01-manual-updates .*kernel peak):? *([\d,]+) MB", done.stdout
        )
    }
    assert len(figures) == 3 and all(value > 10 for value in figures.values()), done.stdout
    assert re.search(r"largest kernel \d+ MB \+ server \d+ MB = \d+ MB: (within|ABOVE) the 1024 MB", done.stdout)


def test_footprint_fails_loudly_when_an_exercise_does_not_run(monkeypatch, capsys):
    from optimcourse import footprint

    class Broken:
        returncode, stdout, stderr = 1, "", "NameError: name 'x' is not defined"

    monkeypatch.setattr(footprint, "server_mb", lambda: 100.0)
    monkeypatch.setattr(footprint.subprocess, "run", lambda *a, **k: Broken())
    assert footprint.main(["--chapters", "01"]) == 1
    assert "01-manual-updates: the notebook failed" in capsys.readouterr().out
