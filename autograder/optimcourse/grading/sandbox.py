"""Each notebook's kernel in a sandbox: bubblewrap, no network, a private /tmp, the Python environment
read-only, and write access only to that submission's working copy; limits on memory, processes and
wall time. The course folder (solutions' copy, gradebook, other submissions) and the instructor's home
are not mounted at all.

A worker's kernelspec runs ``python -m optimcourse.grading.sandbox`` (the launcher below) instead of
ipykernel. The launcher starts in the notebook's folder (nbgrader's working copy of the submission),
sets the limits on itself, and runs ipykernel under ``bwrap``; the client talks to the kernel through
IPC sockets in a folder of the worker's that is mounted into the sandbox, since the sandbox has no
network, not even loopback to the outside.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from ..cases import GRADING_SEED_VARIABLE
from ..course import ASSIGNMENTS, Assignment
from . import kernel_package

KERNEL = "course-sandbox"
SYSTEM = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/etc")


@dataclass(frozen=True)
class Limits:
    memory_mb: int = 2048  # address space per kernel (torch and the checks need about 1 GB)
    processes: int = 256  # processes and threads per kernel
    wall_seconds: int = 900  # the whole notebook; each cell also has nbgrader's timeout


def problem() -> str | None:
    """Why no sandbox can run here, or None."""
    if sys.platform != "linux":
        return "the sandbox needs Linux (bubblewrap)"
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return "bubblewrap (bwrap) is not installed (Debian and Ubuntu: apt-get install bubblewrap)"
    done = subprocess.run([bwrap, "--ro-bind", "/", "/", "--unshare-all", "--die-with-parent", "true"],
                          capture_output=True, text=True)
    if done.returncode != 0:
        return f"bubblewrap cannot make a sandbox on this machine: {done.stderr.strip()}"
    return None


def _package_root() -> Path:
    import optimcourse

    return Path(optimcourse.__file__).resolve().parent.parent


def read_only_paths() -> list[str]:
    """What a kernel may read: the system, the Python environment (a virtual environment and the base
    Python its interpreter links to, or a plain prefix) and the course's grading package."""
    prefixes = {sys.base_prefix, sys.prefix, sys.exec_prefix}
    paths = {Path(p).resolve() for p in prefixes} | {Path(p).absolute() for p in prefixes} | {_package_root()}
    paths |= {Path(p).resolve() for p in sys.path
              if p and Path(p).is_dir() and ("site-packages" in p or "dist-packages" in p)}
    ordered = sorted(str(p) for p in paths)
    return [p for p in ordered if not any(p != q and p.startswith(q + os.sep) for q in ordered)]


SOCKET_PATH_MAX = 107  # bytes in a Unix socket's path (sun_path holds 108, with the final NUL)


def run_folder(worker: Path) -> Path:
    """Where a worker's kernels put their IPC sockets: a Unix socket's path is limited to 107 bytes, so
    a course folder deep in the file system cannot hold them; then a short folder under /tmp does."""
    run = worker / "run"
    if len(str(run / "kernel.json.stopped")) > SOCKET_PATH_MAX - 20 and Path("/tmp").is_dir():
        run = Path(tempfile.mkdtemp(prefix="course-grade-", dir="/tmp"))
    run.mkdir(parents=True, exist_ok=True)
    return run


def install(worker: Path, limits: Limits) -> tuple[str, Path]:
    """Write the worker's sandbox kernelspec and the kernels' view of the course (:mod:`.kernel_package`);
    return the nbgrader configuration that uses them, and the folder of the kernels' sockets, connection
    files and packages (remove it when the worker is done)."""
    run = run_folder(worker)
    for assignment in ASSIGNMENTS:
        kernel_package.build(run / "kernel-site", assignment)
    kernel_package.masks(run / "kernel-site")
    spec = worker / "kernels" / KERNEL
    spec.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-m", "optimcourse.grading.sandbox", "--memory-mb", str(limits.memory_mb),
            "--processes", str(limits.processes), "--wall-seconds", str(limits.wall_seconds),
            "--kernel-site", str(run / "kernel-site"), "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(json.dumps({"argv": argv, "display_name": "Python 3 (sandboxed)",
                                                  "language": "python"}, indent=1))
    return "\n".join([
        "# course-grade: every kernel in the sandbox (optimcourse/grading/sandbox.py)",
        f"c.Execute.kernel_name = {KERNEL!r}",
        "c.KernelManager.transport = 'ipc'  # the sandbox has no network",
        f"c.KernelManager.ip = {str(run / 'kernel')!r}",
        f"c.KernelManager.connection_file = {str(run / 'kernel.json')!r}",
        f"c.GuardedExecute.stop_reason_file = {str(run / 'kernel.json.stopped')!r}",
        f"c.GuardedExecute.kernel_log_file = {str(run / 'kernel.json.log')!r}",
        f"c.TrustedExecute.channel_dir = {str(run)!r}",
    ]), run


#: the variables a kernel keeps from the grader's environment (everything else, secrets included, is cleared)
KEPT_VARIABLES = ("PATH", "PYTHONPATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ")


def _chapter(work: Path) -> Assignment:
    """The assignment a notebook's folder belongs to (nbgrader's ``autograded/<student>/<assignment>``);
    an unknown one gets the first chapter's view, which has the fewest given pieces."""
    return next((a for a in ASSIGNMENTS if a.id == work.name), ASSIGNMENTS[0])


def bwrap_command(work: Path, run: Path, connection_file: str, kernel_site: Path | None = None) -> list[str]:
    cmd = ["bwrap", "--die-with-parent", "--unshare-all", "--tmpfs", "/tmp", "--proc", "/proc", "--dev", "/dev"]
    for path in SYSTEM:
        if os.path.exists(path):
            cmd += ["--ro-bind", path, path]
    for path in read_only_paths():
        cmd += ["--ro-bind", path, path]
    chapter = _chapter(work)
    if kernel_site is not None and chapter.trusted_verdicts:  # the course as the kernel may see it, no torch
        own = kernel_site / chapter.notebook / "optimcourse"
        cmd += ["--ro-bind", str(own), str(kernel_package.package_dir())]
        for mask, hidden in kernel_package.masks(kernel_site):
            cmd += ["--ro-bind", str(mask), str(hidden)]
    cmd += ["--bind", str(work), str(work), "--bind", str(run), str(run),
            "--remount-ro", "/",  # the folders bwrap made for the mounts above: not a place to write
            "--chdir", str(work), "--clearenv"]
    kept = KEPT_VARIABLES if chapter.trusted_verdicts else KEPT_VARIABLES + (GRADING_SEED_VARIABLE,)
    for name in kept:  # a chapter checked in the kernel draws its hidden cases there, from the secret
        if name in os.environ:
            cmd += ["--setenv", name, os.environ[name]]
    cmd += ["--setenv", "HOME", "/tmp", "--setenv", "MPLCONFIGDIR", "/tmp", "--setenv", "OMP_NUM_THREADS", "1",
            "--setenv", "PYTHONDONTWRITEBYTECODE", "1",
            # the interpreter as this process was started, not resolved: a venv's bin/python links to a
            # base Python, which would not see the venv's packages (ipykernel among them)
            sys.executable, "-m", "ipykernel_launcher", "-f", connection_file]
    return cmd


def _join_cgroups(limits: Limits) -> list[Path]:
    """Put this process in a pids (and memory) cgroup where the machine lets us: RLIMIT_NPROC does
    nothing for root, and counts all of a user's processes otherwise."""
    made = []
    for controller, setting, value in (("pids", "pids.max", limits.processes),
                                       ("memory", "memory.limit_in_bytes", limits.memory_mb << 20)):
        base = Path("/sys/fs/cgroup") / controller
        if not (base.is_dir() and os.access(base, os.W_OK)):
            continue
        try:
            group = Path(tempfile.mkdtemp(prefix="course-grade-", dir=base))
            (group / setting).write_text(str(value))
            (group / "cgroup.procs").write_text(str(os.getpid()))
            made.append(group)
        except OSError:
            continue
    return made


def _leave_cgroups(groups: list[Path]) -> None:
    for group in groups:
        try:
            (group.parent / "cgroup.procs").write_text(str(os.getpid()))
            group.rmdir()
        except OSError:
            pass


def _note(path: Path, text: str) -> None:
    try:
        path.write_text(text)
    except OSError:  # the worker's folder is gone: nobody is left to read it
        pass


def launch(argv: list[str] | None = None) -> int:
    """The kernel launcher: limits on itself, then ipykernel under bwrap in the current folder."""
    parser = argparse.ArgumentParser(prog="python -m optimcourse.grading.sandbox")
    parser.add_argument("--memory-mb", type=int, required=True)
    parser.add_argument("--processes", type=int, required=True)
    parser.add_argument("--wall-seconds", type=int, required=True)
    parser.add_argument("--kernel-site", type=Path, default=None)
    parser.add_argument("-f", dest="connection_file", required=True)
    args = parser.parse_args(argv)
    limits = Limits(args.memory_mb, args.processes, args.wall_seconds)
    if os.getppid() == 1:  # the grader died before this started: nobody would read the notebook
        return 1
    connection = Path(args.connection_file).resolve()
    stopped = Path(str(connection) + ".stopped")
    stopped.unlink(missing_ok=True)
    groups = _join_cgroups(limits)
    memory = limits.memory_mb << 20
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_NPROC, (limits.processes, limits.processes))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    # nbclient interrupts a cell that runs too long with SIGINT to the kernel's process group: this
    # launcher and bwrap ignore it (bwrap's child inherits that; ipykernel catches SIGINT while it runs a cell)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    log = open(Path(str(connection) + ".log"), "ab")  # the kernel's own chatter, kept out of the grader's output
    child = subprocess.Popen(bwrap_command(Path.cwd(), connection.parent, str(connection), args.kernel_site),
                             stdout=log, stderr=log)
    signal.signal(signal.SIGTERM, lambda *_: (child.kill(), sys.exit(143)))
    parent, deadline = os.getppid(), time.monotonic() + limits.wall_seconds
    while True:
        try:
            code = child.wait(timeout=1.0)
            break
        except subprocess.TimeoutExpired:
            if os.getppid() != parent:  # the grader is gone (killed): so is its notebook
                child.kill()
                code = child.wait()
                break
            if time.monotonic() > deadline:
                _note(stopped, f"the notebook ran longer than its limit of {limits.wall_seconds} s, so its kernel "
                               "was stopped")
                child.kill()
                code = child.wait()
                break
    if code == -signal.SIGKILL and groups and not stopped.exists():
        _note(stopped, f"the kernel was killed, most likely for using more than {limits.memory_mb} MB of memory")
    _leave_cgroups(groups)
    return code if code >= 0 else 128 - code


if __name__ == "__main__":
    sys.exit(launch())
