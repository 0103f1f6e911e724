"""What a student's environment costs: the disk its packages take and the memory a full exercise needs.

    python -m optimcourse.footprint [--chapters 01 04] [--record]

Run it with the Python of the environment to measure (on Binder, the one ``binder/`` builds; locally,
a virtual environment made from ``binder/requirements.txt``). It prints the size of that
environment's installed packages, then, for each exercise, the peak memory (maximum resident set
size) of the kernel that runs the student notebook from top to bottom with the reference solution
filled in, as the Validate button and nbgrader do, and how long that took. mybinder.org guarantees
1 GB of memory per session and allows 2 GB. ``--record`` also writes the figures for the maintainers'
guide (:mod:`optimcourse.measured`).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

from . import measured
from .course import ASSIGNMENTS, get_assignment
from .environment import put_scripts_on_path

__all__ = ["main"]


BINDER_GUARANTEED_MB, BINDER_LIMIT_MB = 1024, 2048


def folder_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink()) / 2**20


def server_mb() -> float | None:
    """Resident memory of an idle JupyterLab server of this environment, once it answers; None if none."""
    import socket
    import urllib.request

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with tempfile.TemporaryDirectory() as root:
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "jupyterlab",
                "--no-browser",
                f"--port={port}",
                "--ServerApp.token=",
                "--ServerApp.ip=127.0.0.1",
                "--allow-root",
                f"--ServerApp.root_dir={root}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            for _ in range(120):
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/lab", timeout=2).read()
                    break
                except OSError:
                    time.sleep(0.5)
            else:
                return None
            status = Path(f"/proc/{server.pid}/status").read_text()
            return int(next(line for line in status.splitlines() if line.startswith("VmRSS")).split()[1]) / 1024
        finally:
            server.terminate()
            server.wait(timeout=30)


def run_one(assignment_id: str) -> dict:
    """In a fresh process: run the filled-in notebook; the kernel's peak memory and the wall time."""
    import nbclient

    from . import notebooks

    assignment = get_assignment(assignment_id)
    nb = notebooks.with_solution_code(notebooks.read(assignment.exercise_path()), notebooks.solution_code(assignment))
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as cwd:
        nbclient.NotebookClient(nb, timeout=600, resources={"metadata": {"path": cwd}}).execute()
    seconds = time.monotonic() - started
    # the kernel is this process's only child, waited for when it shut down; ru_maxrss is in KiB
    return {"kernel_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, "seconds": seconds}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chapters", nargs="*", help="assignment id prefixes (default: all)")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument(
        "--record",
        action="store_true",
        help="write the figures to book/guides/measured/footprint.json, for the maintainers' guide",
    )
    args = parser.parse_args(argv)
    put_scripts_on_path()  # nbgrader and jupyter run tools by name: this environment's, activated or not
    if args.one:
        print(json.dumps(run_one(args.one)))
        return 0
    chosen = [a for a in ASSIGNMENTS if not args.chapters or any(a.id.startswith(c) for c in args.chapters)]
    packages = Path(sysconfig.get_paths()["purelib"])
    print(f"environment: {sys.prefix}")
    print(f"installed packages: {folder_mb(packages):,.0f} MB in {packages}")
    server = server_mb()
    print(f"JupyterLab server, idle: {server:.0f} MB" if server else "JupyterLab server: did not start")
    worst = 0.0
    kernels = {}
    for a in chosen:
        done = subprocess.run(
            [sys.executable, "-m", "optimcourse.footprint", "--one", a.id],
            capture_output=True,
            text=True,
            env=dict(os.environ, PYDEVD_DISABLE_FILE_VALIDATION="1"),
        )
        if done.returncode != 0:
            print(f"{a.id}: the notebook failed\n{done.stderr[-2000:]}")
            return 1
        result = json.loads(done.stdout.strip().splitlines()[-1])
        worst = max(worst, result["kernel_mb"])
        kernels[a.id] = result
        print(f"{a.id:28} kernel peak {result['kernel_mb']:6.0f} MB   {result['seconds']:5.1f} s")
    total = worst + (server or 0)
    verdict = "within" if total <= BINDER_GUARANTEED_MB else "ABOVE"
    print(
        f"largest kernel {worst:.0f} MB + server {server or 0:.0f} MB = {total:.0f} MB: {verdict} the "
        f"{BINDER_GUARANTEED_MB} MB mybinder.org guarantees (limit {BINDER_LIMIT_MB} MB)"
    )
    if args.record:
        command = " ".join(["python -m optimcourse.footprint", *(sys.argv[1:] if argv is None else argv)])
        path = measured.record(
            "footprint",
            command,
            {
                "environment": sys.prefix,
                "packages_mb": folder_mb(packages),
                "torch_mb": folder_mb(packages / "torch"),
                "server_mb": server,
                "kernels": kernels,
                "guaranteed_mb": BINDER_GUARANTEED_MB,
                "limit_mb": BINDER_LIMIT_MB,
            },
        )
        print(f"recorded in {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
