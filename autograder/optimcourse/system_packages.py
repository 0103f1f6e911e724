"""``python3 -m optimcourse.system_packages``: install the system programs the tests need, where they are missing.

- ``bubblewrap``: the sandbox ``course-grade`` runs student code in;
- ``chromium``: the browser the website's tests drive (Playwright's own browser download needs the
  internet; Debian's package does not).

On Debian and Ubuntu they are installed with apt-get (with sudo when not root). Elsewhere it says what
to install and exits 0: the tests that need a missing program are skipped outside CI and fail in CI.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

from .grading import sandbox

__all__ = ["main"]


def _chromium_problem() -> str | None:
    browser = shutil.which("chromium")
    if browser is None:
        return "no chromium on PATH"
    done = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--version"], capture_output=True, text=True
    )
    return None if done.returncode == 0 else f"chromium does not start: {done.stderr.strip()[:200]}"


# Debian package -> (what it is for, a check that returns None when it works)
NEEDS = {
    "bubblewrap": ("the grading sandbox", sandbox.problem),
    "chromium": ("the website's browser tests", _chromium_problem),
}


def main() -> int:
    missing = [package for package, (_, problem) in NEEDS.items() if problem() is not None]
    apt = shutil.which("apt-get")
    if missing and apt is not None:
        sudo = [] if os.geteuid() == 0 else ["sudo"]
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        for step in (["update", "-qq"], ["install", "-y", "-qq", *missing]):
            done = subprocess.run([*sudo, apt, *step], env=env)
            if done.returncode != 0:
                print(f"system_packages: apt-get {' '.join(step)} failed", file=sys.stderr)
                return done.returncode
    for package, (purpose, problem) in NEEDS.items():
        why = problem()
        if why is None:
            print(f"system_packages: {package} works ({purpose})")
        else:
            print(f"system_packages: {package}: {why}; {purpose} need it, and their tests are skipped", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
