"""``python3 -m optimcourse.grading.setup``: install what the sandbox needs, where it is missing.

On Debian and Ubuntu that is the ``bubblewrap`` package, installed with apt-get (with sudo when not
root). Elsewhere it says what to install and exits 0: everything but the sandbox works without it, and
``course-grade`` refuses to grade unsandboxed unless told ``--no-sandbox``.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys

from . import sandbox


def main() -> int:
    if sandbox.problem() is None:
        print("sandbox: bubblewrap works here")
        return 0
    apt = shutil.which("apt-get")
    if shutil.which("bwrap") is None and apt is not None:
        sudo = [] if os.geteuid() == 0 else ["sudo"]
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        for step in (["update", "-qq"], ["install", "-y", "-qq", "bubblewrap"]):
            done = subprocess.run([*sudo, apt, *step], env=env)
            if done.returncode != 0:
                print(f"sandbox: apt-get {' '.join(step)} failed", file=sys.stderr)
                return done.returncode
    why = sandbox.problem()
    if why is None:
        print("sandbox: bubblewrap installed and working")
        return 0
    print(f"sandbox: {why}; course-grade needs it (or --no-sandbox), and its sandbox tests are skipped",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
