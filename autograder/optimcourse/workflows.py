"""The repository's GitHub Actions workflows: linted, read, and their build and test run here.

    python -m optimcourse.workflows lint      # actionlint (with shellcheck) and zizmor, every finding
    python -m optimcourse.workflows dry-run   # site.yml's build and test steps on a fresh clone

``.github/workflows/site.yml`` builds the website and runs every test with the README's two commands,
and deploys from main; ``release.yml`` publishes a release from a tag. The dry run clones this
repository's HEAD into a new folder and runs there, in order, the ``run:`` steps of site.yml's build
and test jobs, with ``CI=true`` as on GitHub; the steps that use an action (checkout, the cache, the
upload, the deployment) are GitHub's own and are left out.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from .course import REPO_ROOT

__all__ = ["WORKFLOWS", "dry_run", "lint", "load", "main", "readme_commands", "run_steps"]

WORKFLOWS = REPO_ROOT / ".github" / "workflows"
DRY_RUN_JOBS = ("build", "test")
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def load(path: Path) -> dict[str, Any]:
    """A workflow as data. YAML reads a bare ``on:`` as True; it is put back under "on"."""
    data = yaml.safe_load(path.read_text())
    if True in data:
        data["on"] = data.pop(True)
    return data


def run_steps(workflow: dict[str, Any], job: str) -> list[str]:
    """The shell commands of a job's ``run:`` steps, in order."""
    return [step["run"].strip() for step in workflow["jobs"][job]["steps"] if "run" in step]


def readme_commands(root: Path = REPO_ROOT) -> list[str]:
    """The README's set-up commands: the lines of its first bash block."""
    block = re.search(r"```bash\n(.*?)```", (root / "README.md").read_text(), re.S)
    if block is None:
        raise ValueError("README.md has no ```bash block")
    return [line for line in block.group(1).splitlines() if line.strip()]


def _tool(name: str) -> str:
    """A linter installed with this environment (its scripts folder), or on PATH."""
    here = Path(sys.executable).parent / name
    found = str(here) if here.exists() else shutil.which(name)
    if found is None:
        raise FileNotFoundError(f"{name} is not installed: pip install -r requirements.txt")
    return found


def lint(paths: list[Path] | None = None) -> list[str]:
    """Every finding of actionlint (which runs shellcheck on the run: scripts) and of zizmor (offline,
    with its most thorough persona) on the workflow files; none when they are clean."""
    files = [str(p) for p in (paths or sorted(WORKFLOWS.glob("*.yml")))]
    findings = []
    actionlint = subprocess.run(
        [_tool("actionlint"), "-no-color", "-shellcheck", _tool("shellcheck"), *files], capture_output=True, text=True
    )
    if actionlint.returncode not in (0, 1):
        raise RuntimeError(f"actionlint failed to run: {actionlint.stderr.strip()}")
    findings += [f"actionlint: {line}" for line in actionlint.stdout.splitlines() if re.match(r"\S+:\d+:\d+: ", line)]
    zizmor = subprocess.run(
        # plain text without colour: zizmor colours its output when CI=true, even into a pipe
        [_tool("zizmor"), "--offline", "--persona=auditor", "--format=plain", "--color=never", "--no-progress", *files],
        capture_output=True,
        text=True,
    )
    plain = ANSI.sub("", zizmor.stdout)
    found = [line for line in plain.splitlines() if re.match(r"(error|warning|help|info|note)\[", line)]
    if zizmor.returncode != 0 and not found:  # it could not read a file: a finding too
        err = ANSI.sub("", zizmor.stderr)
        why = [line.strip() for line in err.splitlines() if line.strip().startswith(("fatal:", "error:"))]
        found = [f"cannot audit: {' '.join(why) or err.strip()[-500:]}"]
    findings += [f"zizmor: {line}" for line in found]
    return findings


def dry_run(into: Path, workflow: Path = WORKFLOWS / "site.yml", root: Path = REPO_ROOT) -> list[tuple[str, float]]:
    """Clone `root`'s HEAD into `into` and run the build and test jobs' commands there; (command,
    seconds) of each. Raises CalledProcessError at the first that fails."""
    subprocess.run(["git", "clone", "--quiet", str(root), str(into)], check=True)
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env["CI"] = "true"
    done = []
    steps = load(workflow)
    for job in DRY_RUN_JOBS:
        for command in run_steps(steps, job):
            print(f"dry run: {job}: {command}", flush=True)
            start = time.perf_counter()
            subprocess.run(["bash", "-e", "-o", "pipefail", "-c", command], cwd=into, env=env, check=True)
            done.append((command, time.perf_counter() - start))
    return done


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m optimcourse.workflows", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("lint", help="actionlint and zizmor on .github/workflows")
    dry = sub.add_parser("dry-run", help="site.yml's build and test steps on a fresh clone of HEAD")
    dry.add_argument("--into", type=Path, help="the clone's folder, new (default: a temporary one, removed after)")
    args = parser.parse_args(argv)
    if args.command == "lint":
        findings = lint()
        print("\n".join(findings) or "workflows: no findings (actionlint with shellcheck, zizmor --persona=auditor)")
        return 1 if findings else 0
    with tempfile.TemporaryDirectory() as tmp:
        into = args.into or Path(tmp) / "clone"
        try:
            done = dry_run(into)
        except subprocess.CalledProcessError as exc:
            print(f"dry run: failed ({exc.returncode}): {exc.cmd[-1]}", file=sys.stderr)
            return 1
    for command, seconds in done:
        print(f"dry run: {seconds / 60:5.1f} min  {command}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
