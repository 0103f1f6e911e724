"""The README's promises: CI runs its two commands, pins hold, the repository URL is set once."""
from __future__ import annotations

import re
import subprocess

import yaml

from optimcourse.course import REPO_ROOT

README = (REPO_ROOT / "README.md").read_text()


def setup_commands() -> list[str]:
    block = re.search(r"## Set up.*?```bash\n(.*?)```", README, re.S)
    assert block, "README has no set-up block"
    return [line for line in block.group(1).splitlines() if line.strip()]


def test_the_readme_gives_exactly_two_commands_build_and_test():
    commands = setup_commands()
    assert len(commands) == 2
    assert "jupyter-book build . -W --keep-going" in commands[0]
    assert "pytest" in commands[1]
    assert all("pip install -r requirements.txt" in c for c in commands)


def test_ci_runs_the_readme_commands_verbatim():
    ci = [line for line in (REPO_ROOT / ".ci" / "run").read_text().splitlines()
          if line.strip() and not line.startswith("#") and not line.startswith(("set ", "cd "))]
    assert ci == setup_commands()


def test_requirements_are_pinned():
    lines = [line.split("#")[0].strip() for line in (REPO_ROOT / "requirements.txt").read_text().splitlines()]
    lines = [line for line in lines if line]
    assert "torch==2.13.0" in lines and "jupyter-book==1.0.4.post1" in lines and "nbgrader==0.9.6" in lines
    loose = [line for line in lines if "==" not in line and line != "-e ."]
    assert not loose, f"unpinned requirements: {loose}"
    binder = (REPO_ROOT / "binder" / "requirements.txt").read_text()
    assert "torch==2.13.0+cpu" in binder and "download.pytorch.org/whl/cpu" in binder


def test_the_binder_badge_points_at_the_configured_repository():
    config = yaml.safe_load((REPO_ROOT / "_config.yml").read_text())
    url = config["repository"]["url"].rstrip("/")
    slug = url.removeprefix("https://github.com/")
    branch = config["repository"]["branch"]
    assert f"https://mybinder.org/v2/gh/{slug}/{branch}?" in README


def test_the_repository_url_is_written_only_in_the_config_and_the_readme_badge():
    slug = yaml.safe_load((REPO_ROOT / "_config.yml").read_text())["repository"]["url"].removeprefix("https://github.com/")
    found = subprocess.run(["git", "grep", "-l", slug.rstrip("/")], cwd=REPO_ROOT, capture_output=True, text=True)
    assert set(found.stdout.split()) == {"_config.yml", "README.md"}, found.stdout


def test_binder_pins_the_course_versions():
    def pins(path):
        lines = (REPO_ROOT / path).read_text().splitlines()
        return dict(line.split("#")[0].strip().split("==") for line in lines if "==" in line)

    course, binder = pins("requirements.txt"), pins("binder/requirements.txt")
    assert binder.pop("torch") == course["torch"] + "+cpu"
    assert all(course[name] == version for name, version in binder.items()), (binder, course)
