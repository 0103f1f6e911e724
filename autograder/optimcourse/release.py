"""A release of the course: its version, where its files live, and the files themselves.

    python -m optimcourse.release check [--tag vX.Y.Z]      # the versions agree (and match the tag)
    python -m optimcourse.release build --site _build/html  # dist/: wheel, notebooks zip, site zip

The version is written three times: ``pyproject.toml`` (the package), ``CITATION.cff`` (the citation)
and the newest heading of ``CHANGELOG.md`` (``## X.Y.Z (YYYY-MM-DD)``, or ``(unreleased)`` between
releases). A release is a tag ``vX.Y.Z`` on a commit where all three say X.Y.Z and the changelog gives
a date. It carries three files: the grading package as a wheel (what an exercise notebook installs
where the package is missing, on Colab), the student notebooks as a zip, and the built website as a zip.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from dataclasses import dataclass
from pathlib import Path

from .course import ASSIGNMENTS, REPO_ROOT

__all__ = [
    "Versions",
    "build",
    "install_cell",
    "main",
    "problems",
    "repository_url",
    "versions",
    "wheel_name",
    "wheel_url",
]

PACKAGE = "optimcourse"
CHANGELOG_HEADING = re.compile(r"^## (\S+) \((unreleased|\d{4}-\d{2}-\d{2})\)\s*$", re.M)
CITATION_VERSION = re.compile(r"""^version:\s*["']?([^"'\s]+)["']?\s*$""", re.M)
REPOSITORY_URL = re.compile(r"^repository:\s*\n(?:[ \t]+.*\n)*?[ \t]+url:\s*(\S+)", re.M)
# the environment variable that points an exercise's install cell at another wheel (the tests' own)
PACKAGE_VARIABLE = "OPTIMCOURSE_PACKAGE"


@dataclass(frozen=True)
class Versions:
    package: str  # pyproject.toml
    citation: str | None  # CITATION.cff
    changelog: str | None  # the newest heading of CHANGELOG.md
    changelog_date: str | None  # its date, or "unreleased"


def versions(root: Path = REPO_ROOT) -> Versions:
    package = tomllib.loads((root / "pyproject.toml").read_text())["project"]["version"]
    citation = CITATION_VERSION.search((root / "CITATION.cff").read_text())
    heading = CHANGELOG_HEADING.search((root / "CHANGELOG.md").read_text())
    return Versions(
        package,
        citation.group(1) if citation else None,
        heading.group(1) if heading else None,
        heading.group(2) if heading else None,
    )


def problems(root: Path = REPO_ROOT, tag: str | None = None) -> list[str]:
    """What stops a release (of `tag`, if given) from being made here: each as a sentence."""
    v = versions(root)
    found = []
    if v.citation != v.package:
        found.append(f"CITATION.cff gives version {v.citation}, pyproject.toml {v.package}")
    if v.changelog is None:
        found.append("CHANGELOG.md has no heading '## X.Y.Z (YYYY-MM-DD)' or '## X.Y.Z (unreleased)'")
    elif v.changelog != v.package:
        found.append(f"CHANGELOG.md's newest heading is {v.changelog}, pyproject.toml's version {v.package}")
    if tag is not None:
        if tag != f"v{v.package}":
            found.append(f"the tag {tag} does not name the version v{v.package}")
        if v.changelog_date == "unreleased":
            found.append(f"CHANGELOG.md still calls {v.changelog} unreleased: give it the release's date")
    return found


def repository_url(root: Path = REPO_ROOT) -> str:
    """The repository's address, from ``_config.yml``, the one place that names it."""
    found = REPOSITORY_URL.search((root / "_config.yml").read_text())
    if not found:
        raise ValueError("_config.yml has no repository: url: entry")
    return found.group(1).strip("'\"").rstrip("/").removesuffix(".git")


def wheel_name(version: str) -> str:
    return f"{PACKAGE}-{version}-py3-none-any.whl"


def wheel_url(root: Path = REPO_ROOT) -> str:
    """Where the release of this version keeps the grading package's wheel."""
    version = versions(root).package
    return f"{repository_url(root)}/releases/download/v{version}/{wheel_name(version)}"


def _string_lines(text: str, width: int) -> list[str]:
    """``text`` as Python string literals of at most `width` characters each, cut after slashes."""
    pieces = re.findall(r"[^/]*/?", text)[:-1]
    lines, line = [], ""
    for piece in pieces:
        if line and len(line) + len(piece) + 2 > width:
            lines.append(line)
            line = ""
        line += piece
    return [f'"{part}"' for part in [*lines, line]]


def install_cell(root: Path = REPO_ROOT) -> str:
    """The first code cell of every exercise notebook: on Colab, or wherever else the grading package is
    missing, it installs this version's wheel from the release, and only it (``--no-deps``: the torch
    and NumPy already there stay). Plain Python, lines that fit the site's column."""
    literals = _string_lines(wheel_url(root), 62)
    release = "RELEASE = (" + ("\n" + " " * 11).join(literals) + ")"
    return (
        "# Where the course's grading package is missing (on Colab, say), this\n"
        "# installs it: the package alone, so the torch and NumPy here stay.\n"
        "import importlib\n"
        "import importlib.util\n"
        "import os\n"
        "import subprocess\n"
        "import sys\n"
        "\n"
        f"{release}\n"
        f'if importlib.util.find_spec("{PACKAGE}") is None:\n'
        '    print("Installing the course\'s grading package ...")\n'
        f'    package = os.environ.get("{PACKAGE_VARIABLE}", RELEASE)\n'
        '    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet",\n'
        '                    "--no-deps", package], check=True)\n'
        "    importlib.invalidate_caches()"
    )


# ---------------------------------------------------------------- building


def _tree(ref: str, root: Path, into: Path) -> Path:
    """The files of commit `ref` (a tag, a branch, HEAD), as ``git archive`` gives them."""
    archive = subprocess.run(["git", "archive", "--format=tar", ref], cwd=root, capture_output=True)
    if archive.returncode != 0:
        raise ValueError(f"git archive {ref} failed: {archive.stderr.decode(errors='replace').strip()}")
    into.mkdir(parents=True)
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    return into


def _zip(directory: Path, target: Path, prefix: str) -> None:
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as z:
        for path in sorted(p for p in directory.rglob("*") if p.is_file()):
            z.write(path, f"{prefix}/{path.relative_to(directory).as_posix()}")


def build(out: Path, site: Path, ref: str = "HEAD", root: Path = REPO_ROOT, tag: str | None = None) -> list[Path]:
    """The release's files, in `out`, made from commit `ref` (the package and notebooks) and the built
    website in `site`. With `tag`, refuses unless the versions agree with it (:func:`problems`)."""
    if not (site / "index.html").is_file():
        raise ValueError(f"{site} holds no built website (no index.html): build the book first")
    with tempfile.TemporaryDirectory() as tmp:
        tree = _tree(ref, root, Path(tmp) / "tree")
        found = problems(tree, tag)
        if found and tag is not None:
            raise ValueError(f"{ref} cannot be released as {tag}: " + "; ".join(found))
        version = versions(tree).package
        out.mkdir(parents=True, exist_ok=True)  # only once nothing stands in the way
        wheel = subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "-w", tmp, "."],
            cwd=tree,
            capture_output=True,
            text=True,
        )
        if wheel.returncode != 0:
            raise RuntimeError(f"building the wheel failed:\n{wheel.stderr[-3000:]}")
        made = [
            out / wheel_name(version),
            out / f"{PACKAGE}-exercises-{version}.zip",
            out / f"{PACKAGE}-site-{version}.zip",
        ]
        shutil.copy(Path(tmp) / wheel_name(version), made[0])
        with zipfile.ZipFile(made[1], "w", zipfile.ZIP_DEFLATED) as z:
            for a in ASSIGNMENTS:
                path = a.exercise_path(tree)
                z.write(path, f"exercises-{version}/{a.id}/{path.name}")
        _zip(site, made[2], f"site-{version}")
    return made


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m optimcourse.release", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser("check", help="the versions in pyproject.toml, CITATION.cff and CHANGELOG.md agree")
    check.add_argument("--tag", help="and a release tagged TAG (vX.Y.Z) may be made of them")
    make = sub.add_parser("build", help="the release's wheel, notebooks zip and site zip")
    make.add_argument("--site", type=Path, required=True, help="the built website (_build/html)")
    make.add_argument("--out", type=Path, default=Path("dist"), help="where the files go (default dist/)")
    make.add_argument("--ref", default="HEAD", help="the commit to release (default HEAD)")
    make.add_argument("--tag", help="refuse unless the versions agree with this tag (vX.Y.Z)")
    args = parser.parse_args(argv)
    if args.command == "check":
        found = problems(REPO_ROOT, args.tag)
        for line in found:
            print(f"release: {line}", file=sys.stderr)
        if not found:
            print(
                f"release: version {versions().package} agrees in all three files"
                + (f", tag {args.tag}" if args.tag else "")
            )
        return 1 if found else 0
    try:
        made = build(args.out, args.site, args.ref, REPO_ROOT, args.tag)
    except ValueError as exc:
        print(f"release: {exc}", file=sys.stderr)
        return 1
    for path in made:
        print(f"release: wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
