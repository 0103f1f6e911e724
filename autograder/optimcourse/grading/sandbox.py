"""Each notebook's kernel in a sandbox: bubblewrap, no network, the Python environment read-only, and
nothing it writes kept: its working folder, /tmp and /dev/shm are small memory-backed folders of its
own that vanish with it; limits on memory, processes, CPU, file size and wall time. The course folder
(solutions' copy, gradebook, other submissions) and the instructor's home are not mounted at all.

A worker's kernelspec runs ``python -m optimcourse.grading.sandbox`` (the launcher below) instead of
ipykernel. The launcher starts in the notebook's folder (nbgrader's working copy of the submission),
sets the limits on itself, and runs ipykernel under ``bwrap`` in a scratch folder mounted at that
folder's path (the same cwd, with copies of the regular files nbgrader put there but the notebooks):
the notebook comes back through the kernel protocol only, so no link, FIFO or large file a kernel makes
ever reaches nbgrader's feedback or the instructor's folders. The client talks to the kernel through
IPC sockets in a folder of the worker's that is mounted into the sandbox, since the sandbox has no
network, not even loopback to the outside; the launcher empties that folder of whatever else a kernel
left there, and writes why it stopped a kernel, and what the kernel printed, where no kernel can reach.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import math
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, fields
from pathlib import Path
from typing import BinaryIO

from traitlets.config import Config

from ..course import ASSIGNMENTS, Assignment
from ..remote.kernel import COMMAND as KERNEL_COMMAND
from . import kernel_package, settings

__all__ = ["KERNEL", "Limits", "install", "problem", "remove_groups", "run_folder"]


KERNEL = "course-sandbox"
SYSTEM = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/etc")


@dataclass(frozen=True)
class Limits:
    memory_mb: int = 2048  # address space per kernel (torch and the checks need about 1 GB)
    processes: int = 256  # processes and threads per kernel
    wall_seconds: int = 900  # the whole notebook; each cell also has nbgrader's timeout
    cpus: float = 1.0  # the cores' worth of CPU time a kernel gets at most, where a cgroup can hold it there
    cpu_seconds: int = 0  # CPU time per process of the kernel; 0: the wall limit's worth at that share
    file_mb: int = 128  # the largest file a kernel may write
    tmp_mb: int = 256  # each of its writable folders (working folder, /tmp, /dev/shm): memory, so capped
    cell_output_mb: int = 1  # output the grader keeps of a cell (the rest is dropped as it arrives)
    notebook_output_mb: int = 5  # and of the whole notebook

    def cpu_limit(self) -> int:
        """RLIMIT_CPU: a process at its full share for the whole wall limit just reaches it."""
        return self.cpu_seconds or max(1, math.ceil(self.wall_seconds * self.cpus))

    def as_arguments(self) -> list[str]:
        return [arg for f in fields(self) for arg in (f"--{f.name.replace('_', '-')}", str(getattr(self, f.name)))]

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        for f in fields(cls):
            parser.add_argument(f"--{f.name.replace('_', '-')}", dest=f.name, type=type(f.default), required=True)

    @classmethod
    def from_arguments(cls, args: argparse.Namespace) -> Limits:
        return cls(**{f.name: getattr(args, f.name) for f in fields(cls)})


NICENESS = 10  # a kernel yields the CPU to the grader and whatever else the machine runs
LOG_BYTES = 1 << 16  # of what one kernel prints outside the notebook, kept in the log (read when it cannot start)


def problem() -> str | None:
    """Why no sandbox can run here, or None."""
    if sys.platform != "linux":
        return "the sandbox needs Linux (bubblewrap)"
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return "bubblewrap (bwrap) is not installed (Debian and Ubuntu: apt-get install bubblewrap)"
    done = subprocess.run(
        [bwrap, "--ro-bind", "/", "/", "--unshare-all", "--die-with-parent", "true"], capture_output=True, text=True
    )
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
    paths |= {
        Path(p).resolve() for p in sys.path if p and Path(p).is_dir() and ("site-packages" in p or "dist-packages" in p)
    }
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


def notes_folder(worker: Path) -> Path:
    """Where a worker's launchers write why they stopped a kernel and what it printed: a folder no kernel
    can reach (the kernels write in the run folder, and the grader reads these files)."""
    notes = worker / "kernel-notes"
    notes.mkdir(parents=True, exist_ok=True)
    return notes


def install(worker: Path, limits: Limits) -> tuple[Config, Path]:
    """Write the worker's sandbox kernelspec and the kernels' view of the course (:mod:`.kernel_package`);
    return the nbgrader configuration that uses them, and the folder of the kernels' sockets, connection
    files and packages (remove it when the worker is done)."""
    run = run_folder(worker)
    for assignment in ASSIGNMENTS:
        kernel_package.build(run / "kernel-site", assignment)
    kernel_package.masks(run / "kernel-site")
    write_accounts(run / "kernel-site")
    notes = notes_folder(worker)
    spec = worker / "kernels" / KERNEL
    spec.mkdir(parents=True, exist_ok=True)
    argv = [
        sys.executable,
        "-m",
        "optimcourse.grading.sandbox",
        *limits.as_arguments(),
        "--kernel-site",
        str(run / "kernel-site"),
        "--stop-file",
        str(notes / "stopped"),
        "--log-file",
        str(notes / "kernel.log"),
        "-f",
        "{connection_file}",
    ]
    (spec / "kernel.json").write_text(
        json.dumps({"argv": argv, "display_name": "Python 3 (sandboxed)", "language": "python"}, indent=1)
    )
    return settings.sandbox_config(KERNEL, run, notes), run


#: the files of /etc that name the machine's users, replaced in the sandbox by ones that name the kernel's alone
ACCOUNT_FILES = ("passwd", "group", "shadow", "gshadow")


def write_accounts(kernel_site: Path) -> None:
    """The sandbox's /etc/passwd and /etc/group (one user, the kernel's) and empty shadow files: a
    notebook that prints /etc/passwd shows nothing of the grading machine's accounts."""
    etc = kernel_site / "etc"
    etc.mkdir(parents=True, exist_ok=True)
    uid, gid = os.getuid(), os.getgid()
    contents = {
        "passwd": f"student:x:{uid}:{gid}:student:/tmp:/usr/sbin/nologin\n",
        "group": f"student:x:{gid}:\n",
        "shadow": "",
        "gshadow": "",
    }
    for name in ACCOUNT_FILES:
        (etc / name).write_text(contents[name])


#: the variables a kernel keeps from the grader's environment (everything else, secrets included, is cleared)
KEPT_VARIABLES = ("PATH", "PYTHONPATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ")


def kept_environment() -> dict[str, str]:
    """bwrap's own environment: bwrap is pid 1 in the kernel's pid namespace, and its /proc/1/environ is
    readable there, so it gets the kept variables only (--clearenv clears what the kernel inherits, not that)."""
    return {name: os.environ[name] for name in KEPT_VARIABLES if name in os.environ}


def _chapter(work: Path) -> Assignment:
    """The assignment a notebook's folder belongs to (nbgrader's ``autograded/<student>/<assignment>``);
    an unknown one gets the first chapter's view, which has the fewest given pieces."""
    return next((a for a in ASSIGNMENTS if a.id == work.name), ASSIGNMENTS[0])


def scratch_contents(work: Path) -> tuple[list[Path], list[Path]]:
    """The folders and regular files under ``work`` (relative paths) a kernel's scratch starts with: what
    nbgrader copied there from the assignment's source, in case an exercise reads a file. Not the
    notebooks (the graded one holds the hidden tests), and never a link, FIFO or anything else."""
    folders: list[Path] = []
    files: list[Path] = []
    pending = [Path(".")]
    while pending:
        folder = pending.pop()
        with os.scandir(work / folder) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    folders.append(folder / entry.name)
                    pending.append(folder / entry.name)
                elif entry.is_file(follow_symlinks=False) and not entry.name.endswith(".ipynb"):
                    files.append(folder / entry.name)
    return sorted(folders), sorted(files)


def bwrap_command(
    work: Path,
    run: Path,
    connection_file: str,
    kernel_site: Path | None = None,
    limits: Limits = Limits(),
    scratch: list[tuple[int, Path]] | None = None,
    folders: list[Path] | None = None,
) -> list[str]:
    """bwrap running ipykernel in ``work``: a fresh tmpfs there with ``folders`` and, from the open file
    descriptors of ``scratch``, those files (relative to ``work``)."""
    size = str(limits.tmp_mb << 20)
    cmd = [
        shutil.which("bwrap") or "bwrap",
        "--die-with-parent",
        "--unshare-all",
        "--size",
        size,
        "--tmpfs",
        "/tmp",
        "--proc",
        "/proc",
        # /dev is a tmpfs bwrap makes writable, and /dev/shm a folder in it: neither may grow without bound
        "--dev",
        "/dev",
        "--size",
        size,
        "--tmpfs",
        "/dev/shm",
        "--remount-ro",
        "/dev",
    ]
    for path in SYSTEM:
        if os.path.exists(path):
            cmd += ["--ro-bind", path, path]
    for path in read_only_paths():
        cmd += ["--ro-bind", path, path]
    chapter = _chapter(work)
    if kernel_site is not None:  # the course as the kernel may see it, no torch
        own = kernel_site / chapter.notebook / "optimcourse"
        cmd += ["--ro-bind", str(own), str(kernel_package.package_dir())]
        for mask, hidden in kernel_package.masks(kernel_site):
            cmd += ["--ro-bind", str(mask), str(hidden)]
    # the kernel's own working folder, at the notebook folder's path: what it writes there stays there
    cmd += ["--size", size, "--tmpfs", str(work)]
    for folder in folders or []:
        cmd += ["--dir", str(work / folder)]
    for fd, relative in scratch or []:
        cmd += ["--file", str(fd), str(work / relative)]
    cmd += ["--bind", str(run), str(run)]  # its sockets; the launcher empties it of anything else
    if kernel_site is not None:  # in the run folder, but the next kernels' packages: not the kernel's to change
        cmd += ["--ro-bind", str(kernel_site), str(kernel_site)]
        for name in ACCOUNT_FILES:
            if os.path.exists(f"/etc/{name}") and (kernel_site / "etc" / name).exists():
                cmd += ["--ro-bind", str(kernel_site / "etc" / name), f"/etc/{name}"]
    cmd += [
        "--remount-ro",
        "/",  # the folders bwrap made for the mounts above: not a place to write
        "--chdir",
        str(work),
        "--clearenv",
    ]
    for name in KEPT_VARIABLES:
        if name in os.environ:
            cmd += ["--setenv", name, os.environ[name]]
    cmd += [
        "--setenv",
        "HOME",
        "/tmp",
        "--setenv",
        "MPLCONFIGDIR",
        "/tmp",
        "--setenv",
        "OMP_NUM_THREADS",
        "1",
        "--setenv",
        "PYTHONDONTWRITEBYTECODE",
        "1",
        # the interpreter as this process was started, not resolved: a venv's bin/python links to a
        # base Python, which would not see the venv's packages (ipykernel among them)
        sys.executable,
        "-c",
        KERNEL_COMMAND,
        "-f",
        connection_file,
    ]
    return cmd


CFS_PERIOD_US = 100_000


def _cgroup_settings(limits: Limits) -> dict[str, list[tuple[str, str]]]:
    """What each controller's group of a kernel is set to (cgroup v1): pids and memory, as RLIMIT_NPROC does
    nothing for root and counts all of a user's processes otherwise; the CPU share, as nice alone does not
    keep a kernel's hundreds of busy processes from crowding the machine."""
    return {
        "pids": [("pids.max", str(limits.processes))],
        "memory": [("memory.limit_in_bytes", str(limits.memory_mb << 20))],
        "cpu": [
            ("cpu.cfs_period_us", str(CFS_PERIOD_US)),
            ("cpu.cfs_quota_us", str(max(1000, round(limits.cpus * CFS_PERIOD_US)))),
        ],
    }


def _unified_settings(limits: Limits) -> list[tuple[str, str]]:
    """The same limits in a cgroup v2 group."""
    return [
        ("pids.max", str(limits.processes)),
        ("memory.max", str(limits.memory_mb << 20)),
        ("cpu.max", f"{max(1000, round(limits.cpus * CFS_PERIOD_US))} {CFS_PERIOD_US}"),
    ]


def group_prefix(run: Path) -> str:
    """The names of a worker's kernels' cgroups begin with this: its run folder's, so that it can find the
    groups a killed launcher left behind (one kernel at a time per worker: they are all dead)."""
    return f"course-grade-{hashlib.sha256(str(run.resolve()).encode()).hexdigest()[:12]}-"


def _make_group(base: Path, settings: list[tuple[str, str]], prefix: str) -> Path | None:
    """A new group under ``base`` with ``settings``, this process in it; None where the machine does not let us."""
    if not (base.is_dir() and os.access(base, os.W_OK)):
        return None
    group: Path | None = None
    try:
        group = Path(tempfile.mkdtemp(prefix=prefix, dir=base))
        for setting, value in settings:
            (group / setting).write_text(value)
        (group / "cgroup.procs").write_text(str(os.getpid()))
        return group
    except OSError:
        if group is not None:
            try:
                group.rmdir()
            except OSError:
                pass
        return None


def _unified_base() -> Path | None:
    """Where a kernel's cgroup v2 group goes: under this process's own group, on a machine with cgroup v2
    alone (a hybrid one's v1 controllers serve)."""
    root = Path("/sys/fs/cgroup")
    if not (root / "cgroup.controllers").exists():
        return None
    try:
        own = next(line[3:] for line in Path("/proc/self/cgroup").read_text().splitlines() if line.startswith("0::"))
    except (OSError, StopIteration):
        return None
    return root / own.strip().lstrip("/")


def _join_cgroups(limits: Limits, prefix: str) -> list[Path]:
    """Put this process in cgroups that hold a kernel's processes, memory and CPU share, where the machine
    lets us (as root, or with a delegated group); elsewhere the rlimits and nice are all there is."""
    unified = _unified_base()
    if unified is not None:
        try:  # the controllers must be on for the groups below; refused where this group holds processes itself
            (unified / "cgroup.subtree_control").write_text("+pids +memory +cpu")
        except OSError:
            pass
        group = _make_group(unified, _unified_settings(limits), prefix)
        return [group] if group is not None else []
    made = []
    for controller, values in _cgroup_settings(limits).items():
        group = _make_group(Path("/sys/fs/cgroup") / controller, values, prefix)
        if group is not None:
            made.append(group)
    return made


def _remove_group(group: Path, tries: int = 1) -> None:
    """Remove an empty group; one whose processes are still exiting is tried again a little later."""
    for attempt in range(tries):
        try:
            group.rmdir()
            return
        except OSError:
            if attempt + 1 < tries:
                time.sleep(0.1)


def _leave_cgroups(groups: list[Path]) -> None:
    for group in groups:
        try:
            (group.parent / "cgroup.procs").write_text(str(os.getpid()))
        except OSError:
            continue
        _remove_group(group, tries=10)


def remove_groups(run: Path) -> None:
    """Remove the empty cgroups of a worker's kernels (its run folder's), which a launcher killed before it
    could tidy up leaves behind."""
    unified = _unified_base()
    bases = [unified] if unified is not None else [Path("/sys/fs/cgroup") / c for c in _cgroup_settings(Limits())]
    for base in bases:
        for group in base.glob(group_prefix(run) + "*") if base.is_dir() else []:
            _remove_group(group)


def _note(path: Path, text: str) -> None:
    """Write why a kernel stopped: a fresh file, so that nothing already at ``path`` (a link) is followed."""
    try:
        path.unlink(missing_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(text)
    except OSError:  # the worker's folder is gone: nobody is left to read it
        pass


def _remove(path: Path) -> None:
    """Remove ``path`` whatever it is, never following a link."""
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
    except OSError:
        pass


def sweep(run: Path, connection: Path, kernel_site: Path | None) -> None:
    """Empty the run folder of what a kernel may have left there, since it can write in it (its sockets go
    there): a link or FIFO where the grader writes, a folder in place of the next connection file, large
    files. The connection file and the kernels' packages stay. Only a folder that holds the kernels'
    packages is a run folder: any other is left alone."""
    if kernel_site is None or kernel_site.resolve().parent != run.resolve():
        return
    keep = {connection.name: False, kernel_site.name: True}  # name: whether it is a folder
    try:
        entries = list(os.scandir(run))
    except OSError:
        return
    for entry in entries:
        if entry.name in keep and (
            entry.is_dir(follow_symlinks=False) if keep[entry.name] else entry.is_file(follow_symlinks=False)
        ):
            continue
        _remove(Path(entry.path))


def _set_limits(limits: Limits) -> None:
    """The rlimits (this launcher's, inherited by bwrap and the kernel) and a lower priority."""
    memory, cpu, size = limits.memory_mb << 20, limits.cpu_limit(), limits.file_mb << 20
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_NPROC, (limits.processes, limits.processes))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    # SIGXCPU at the limit, SIGKILL a little later for a process that ignores it
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 5))
    resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
    os.nice(NICENESS)


def _pump(source: io.BufferedReader, log: BinaryIO) -> None:
    """Copy what the kernel prints outside the notebook into the log, its first LOG_BYTES; read the rest
    and drop it, so that the kernel never blocks and the log stays small."""
    kept = 0
    while chunk := source.read1(1 << 16):
        if kept < LOG_BYTES:
            piece = chunk[: LOG_BYTES - kept]
            kept += len(piece)
            try:
                log.write(piece + (b"\n[... the rest dropped]\n" if kept >= LOG_BYTES else b""))
                log.flush()
            except OSError:  # the log is at the file size limit: the kernel is not stopped for it
                kept = LOG_BYTES


def _hit_memory_limit(groups: list[Path]) -> bool:
    """Whether the kernel's memory cgroup reached its limit (v1: memory.failcnt; v2: memory.events)."""
    for group in groups:
        try:
            if (group / "memory.failcnt").exists():
                return int((group / "memory.failcnt").read_text()) > 0
            if (group / "memory.events").exists():
                events = dict(line.split() for line in (group / "memory.events").read_text().splitlines())
                return int(events.get("max", 0)) + int(events.get("oom_kill", 0)) > 0
        except (OSError, ValueError):
            continue
    return False


def _stop_reason(code: int, limits: Limits, groups: list[Path]) -> str | None:
    """Which limit stopped the kernel, from how bwrap ended (128 + the signal that ended the kernel)."""
    signalled = -code if code < 0 else code - 128 if code > 128 else 0
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = f"the kernel used more than its limit of {limits.cpu_limit()} s of CPU time (a process's), so it was stopped"
    if signalled == signal.SIGXCPU:
        return cpu
    if signalled == signal.SIGXFSZ:
        return f"the kernel wrote a file larger than its limit of {limits.file_mb} MB, so it was stopped"
    if signalled == signal.SIGKILL and _hit_memory_limit(groups):
        return f"the kernel was killed, most likely for using more than {limits.memory_mb} MB of memory"
    if signalled == signal.SIGKILL and used.ru_utime + used.ru_stime >= limits.cpu_limit():
        return cpu  # it ignored SIGXCPU: the hard limit kills
    return None


def launch(argv: list[str] | None = None) -> int:
    """The kernel launcher: limits on itself, then ipykernel under bwrap in the current folder."""
    parser = argparse.ArgumentParser(prog="python -m optimcourse.grading.sandbox")
    Limits.add_arguments(parser)
    parser.add_argument("--kernel-site", type=Path, default=None)
    parser.add_argument("--stop-file", type=Path, required=True, help="where to write why the kernel stopped")
    parser.add_argument("--log-file", type=Path, required=True, help="where to write what the kernel prints")
    parser.add_argument("-f", dest="connection_file", required=True)
    args = parser.parse_args(argv)
    limits = Limits.from_arguments(args)
    if os.getppid() == 1:  # the grader died before this started: nobody would read the notebook
        return 1
    connection = Path(args.connection_file).resolve()
    run, stopped, work = connection.parent, args.stop_file, Path.cwd()
    stopped.unlink(missing_ok=True)
    sweep(run, connection, args.kernel_site)  # what an earlier kernel left, if its launcher was killed
    remove_groups(run)
    groups = _join_cgroups(limits, group_prefix(run))
    folders, files = scratch_contents(work)
    fds = [os.open(work / name, os.O_RDONLY | os.O_NOFOLLOW) for name in files]
    _set_limits(limits)
    # nbclient interrupts a cell that runs too long with SIGINT to the kernel's process group: this
    # launcher and bwrap ignore it (bwrap's child inherits that; ipykernel catches SIGINT while it runs a cell)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    child = subprocess.Popen(
        bwrap_command(work, run, str(connection), args.kernel_site, limits, list(zip(fds, files)), folders),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        pass_fds=fds,
        env=kept_environment(),
    )
    for fd in fds:
        os.close(fd)

    def stop(*_: object) -> None:
        child.kill()
        sys.exit(143)

    signal.signal(signal.SIGTERM, stop)
    code = -signal.SIGKILL
    try:
        with open(args.log_file, "ab") as log:  # the kernel's own chatter, kept out of the grader's output
            pump = threading.Thread(target=_pump, args=(child.stdout, log), daemon=True)
            pump.start()
            code = _watch(child, limits, stopped)
            pump.join(timeout=1)
        reason = _stop_reason(code, limits, groups)
        if reason is not None and not stopped.exists():
            _note(stopped, reason)
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second request to stop must not cut the tidying short
        child.kill()
        child.wait()
        sweep(run, connection, args.kernel_site)
        _leave_cgroups(groups)
    return code if code >= 0 else 128 - code


def _watch(child: subprocess.Popen, limits: Limits, stopped: Path) -> int:
    """Wait for the kernel; stop it when the grader is gone or the notebook's wall time is up."""
    parent, deadline = os.getppid(), time.monotonic() + limits.wall_seconds
    while True:
        try:
            return child.wait(timeout=1.0)
        except subprocess.TimeoutExpired:
            if os.getppid() != parent:  # the grader is gone (killed): so is its notebook
                child.kill()
                return child.wait()
            if time.monotonic() > deadline:
                _note(
                    stopped,
                    f"the notebook ran longer than its limit of {limits.wall_seconds} s, so its kernel was stopped",
                )
                child.kill()
                return child.wait()


if __name__ == "__main__":
    sys.exit(launch())
