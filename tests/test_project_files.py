"""The README's promises: CI runs its two commands, pins hold, the repository URL is set once."""

from __future__ import annotations

import re
import subprocess
import sys
from importlib import metadata

import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

from optimcourse.course import ASSIGNMENTS, REPO_ROOT

README = (REPO_ROOT / "README.md").read_text()


def setup_commands() -> list[str]:
    block = re.search(r"## Set up.*?```bash\n(.*?)```", README, re.S)
    assert block, "README has no set-up block"
    return [line for line in block.group(1).splitlines() if line.strip()]


def test_the_readme_gives_exactly_two_commands_build_and_test_each_in_its_own_virtual_environment():
    commands = setup_commands()
    assert len(commands) == 2
    assert ".venv/bin/jupyter-book build . -W --keep-going" in commands[0]
    assert ".venv/bin/python -m pytest" in commands[1]
    for command in commands:
        steps = [step.strip() for step in command.split("&&")]
        assert steps[:2] == ["python3 -m venv .venv", ".venv/bin/python -m pip install -r requirements.txt"]
        # after the environment is made, nothing runs from outside it (no activation needed, none assumed)
        assert all(step.startswith(".venv/bin/") for step in steps[1:]), steps


def test_ci_runs_the_readme_commands_verbatim():
    ci = [
        line
        for line in (REPO_ROOT / ".ci" / "run").read_text().splitlines()
        if line.strip() and not line.startswith("#") and not line.startswith(("set ", "cd "))
    ]
    assert ci == setup_commands()


def pinned(name: str) -> dict[str, str]:
    """name -> version of each `name==version` line of a requirements file (names normalised)."""
    lines = [line.split("#")[0].strip() for line in (REPO_ROOT / name).read_text().splitlines()]
    return {canonicalize_name(line.split("==")[0]): line.split("==")[1] for line in lines if "==" in line}


def test_requirements_pin_the_whole_environment():
    lines = [line.split("#")[0].strip() for line in (REPO_ROOT / "requirements.txt").read_text().splitlines()]
    lines = [line for line in lines if line]
    assert "torch==2.13.0" in lines and "jupyter-book==1.0.4.post1" in lines and "nbgrader==0.9.6" in lines
    loose = [line for line in lines if "==" not in line and line != "-e ."]
    assert not loose, f"unpinned requirements: {loose}"
    lock, direct = pinned("requirements.txt"), pinned("requirements.in")
    assert {name: lock.get(name) for name in direct} == direct, "requirements.txt is older than requirements.in"
    # every package a pinned one needs (here, on this Python) is pinned too, and installed as pinned
    missing, differ = set(), {}
    for name, version in lock.items():
        dist = metadata.distribution(name)
        if not SpecifierSet(f"=={version}").contains(dist.version):  # 2.13.0 admits the local 2.13.0+cpu
            differ[name] = (version, dist.version)
        for text in dist.requires or []:
            req = Requirement(text)
            needed = req.marker is None or req.marker.evaluate({"extra": ""})
            if needed and canonicalize_name(req.name) not in lock:
                missing.add(f"{req.name} (needed by {name})")
    assert not missing, f"not pinned in requirements.txt: {sorted(missing)}; run .ci/lock"
    assert not differ, f"installed versions differ from requirements.txt: {differ}"
    binder = (REPO_ROOT / "binder" / "requirements.txt").read_text()
    assert "torch==2.13.0+cpu" in binder and "download.pytorch.org/whl/cpu" in binder


def test_the_binder_badge_points_at_the_configured_repository():
    config = yaml.safe_load((REPO_ROOT / "_config.yml").read_text())
    url = config["repository"]["url"].rstrip("/")
    slug = url.removeprefix("https://github.com/")
    branch = config["repository"]["branch"]
    assert f"https://mybinder.org/v2/gh/{slug}/{branch}?" in README


def test_the_repository_url_is_written_only_in_the_config_and_the_readme_badge():
    """Besides those two, only the notebooks' install cells name it, made from the config by the sync
    (whose --check keeps them current)."""
    slug = yaml.safe_load((REPO_ROOT / "_config.yml").read_text())["repository"]["url"].removeprefix(
        "https://github.com/"
    )
    found = subprocess.run(["git", "grep", "-l", slug.rstrip("/")], cwd=REPO_ROOT, capture_output=True, text=True)
    generated = {
        p.relative_to(REPO_ROOT).as_posix() for a in ASSIGNMENTS for p in (a.solution_path(), a.exercise_path())
    }
    assert set(found.stdout.split()) == {"_config.yml", "README.md", *generated}, found.stdout


def test_binder_pins_the_course_versions():
    def pins(path):
        lines = (REPO_ROOT / path).read_text().splitlines()
        return dict(line.split("#")[0].strip().split("==") for line in lines if "==" in line)

    course, binder = pins("requirements.txt"), pins("binder/requirements.txt")
    assert binder.pop("torch") == course["torch"] + "+cpu"
    assert all(course[name] == version for name, version in binder.items()), (binder, course)


def test_the_fast_tier_leaves_out_every_end_to_end_test():
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-m", "not e2e", "-p", "no:cacheprovider"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
    )
    collected = [line for line in done.stdout.splitlines() if "::" in line]
    assert done.returncode == 0 and collected, done.stdout[-2000:] + done.stderr[-2000:]
    slow_files = ("test_nbgrader.py", "test_site.py", "test_book.py", "test_course_grade.py", "test_binder.py")
    assert not [line for line in collected if line.split("::")[0].endswith(slow_files)]
    assert not [line for line in collected if "every_variant_scores_the_same_through_the_channel" in line]
    assert any("test_grading_gates.py" in line for line in collected)
