"""A release: one version in three files, the install cell that fetches its wheel, and its files built
from a tag."""

from __future__ import annotations

import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from optimcourse import notebooks, release
from optimcourse.course import ASSIGNMENTS, REPO_ROOT

VERSION_FILES = ("pyproject.toml", "CITATION.cff", "CHANGELOG.md", "_config.yml")


def test_the_version_agrees_in_pyproject_citation_and_changelog():
    assert release.problems() == [], release.problems()
    v = release.versions()
    assert v.package == v.citation == v.changelog


@pytest.fixture
def files(tmp_path):
    """A copy of the files that carry the version, to break."""
    for name in VERSION_FILES:
        shutil.copy(REPO_ROOT / name, tmp_path / name)
    return tmp_path


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path.name}"
    path.write_text(text.replace(old, new, 1))


def test_a_citation_or_changelog_with_another_version_is_named(files):
    v = release.versions(files)
    edit(files / "CITATION.cff", f'version: "{v.package}"', 'version: "9.9.9"')
    assert release.problems(files) == [f"CITATION.cff gives version 9.9.9, pyproject.toml {v.package}"]
    edit(files / "CHANGELOG.md", f"## {v.package} (", "## 9.9.8 (")
    assert any("newest heading is 9.9.8" in p for p in release.problems(files))
    edit(files / "CHANGELOG.md", "## 9.9.8 (", "## 9.9.8 released (")
    assert any("no heading" in p for p in release.problems(files))


def test_a_tag_must_name_the_version_and_the_changelog_must_date_it(files):
    v = release.versions(files)
    text = (files / "CHANGELOG.md").read_text()
    dated = release.CHANGELOG_HEADING.sub(f"## {v.package} (2026-12-07)", text, count=1)
    (files / "CHANGELOG.md").write_text(dated)
    assert release.problems(files, f"v{v.package}") == []
    assert release.problems(files, "v9.9.9") == [f"the tag v9.9.9 does not name the version v{v.package}"]
    (files / "CHANGELOG.md").write_text(text)
    if v.changelog_date == "unreleased":
        assert release.problems(files, f"v{v.package}") == [
            f"CHANGELOG.md still calls {v.package} unreleased: give it the release's date"
        ]


def test_the_wheel_url_is_the_release_of_this_version_in_the_configured_repository(files):
    v = release.versions(files).package
    edit(files / "_config.yml", "  url: ", "  url: https://github.com/someone/a-fork # ")
    assert release.wheel_url(files) == (
        f"https://github.com/someone/a-fork/releases/download/v{v}/optimcourse-{v}-py3-none-any.whl"
    )


@given(st.lists(st.text("abcdefghij-.", min_size=0, max_size=40), min_size=1, max_size=8))
def test_a_long_address_is_cut_into_literals_that_join_back_and_fit(parts):
    url = "https://" + "/".join(parts)
    literals = release._string_lines(url, 62)
    assert "".join(s[1:-1] for s in literals) == url
    assert all(len(s) <= 64 or "/" not in s[1:-2] for s in literals)  # longer only where no slash to cut at


def test_every_exercise_starts_with_the_install_cell_of_this_version():
    expected = release.install_cell()
    for a in ASSIGNMENTS:
        for path in (a.solution_path(), a.exercise_path()):
            code = [c for c in notebooks.read(path).cells if c.cell_type == "code"]
            assert notebooks.is_install(code[0]) and code[0].source == expected, path
            assert notebooks.grading(code[0])["locked"] and not notebooks.grading(code[0])["grade"]
    assert max(len(line) for line in expected.splitlines()) <= 77  # the site's column


def test_the_install_cell_does_nothing_where_the_package_is_installed(monkeypatch, capsys):
    def no_install(*args, **kwargs):
        raise AssertionError(f"the install cell ran {args}")

    monkeypatch.setattr(subprocess, "run", no_install)
    exec(compile(release.install_cell(), "<install cell>", "exec"), {})
    assert capsys.readouterr().out == ""


def test_the_install_cell_installs_the_package_alone_where_it_is_missing(monkeypatch, capsys):
    calls = []
    monkeypatch.setattr(subprocess, "run", lambda *args, **kwargs: calls.append((args, kwargs)))
    monkeypatch.setattr("importlib.util.find_spec", lambda name: None)
    monkeypatch.delenv(release.PACKAGE_VARIABLE, raising=False)
    exec(compile(release.install_cell(), "<install cell>", "exec"), {})
    (command,), options = calls[0]
    assert command[1:] == ["-m", "pip", "install", "--quiet", "--no-deps", release.wheel_url()]
    assert options == {"check": True} and "Installing" in capsys.readouterr().out


@pytest.fixture(scope="module")
def tagged(tmp_path_factory):
    """A clone of this repository's HEAD with the changelog dated and the tag v<version> on it."""
    clone = tmp_path_factory.mktemp("release") / "clone"
    subprocess.run(["git", "clone", "-q", str(REPO_ROOT), str(clone)], check=True)
    version = release.versions(clone).package
    changelog = clone / "CHANGELOG.md"
    changelog.write_text(release.CHANGELOG_HEADING.sub(f"## {version} (2026-12-07)", changelog.read_text(), count=1))
    git = ["git", "-C", str(clone), "-c", "user.name=course", "-c", "user.email=course@example.org"]
    subprocess.run([*git, "commit", "-q", "-am", "release"], check=True)
    subprocess.run([*git, "tag", f"v{version}"], check=True)
    site = clone.parent / "site"
    (site / "book").mkdir(parents=True)
    (site / "index.html").write_text("<html>the site</html>")
    (site / "book" / "01-manual-updates.html").write_text("<html>chapter 1</html>")
    return clone, version, site


def test_a_release_built_from_a_tag_holds_the_wheel_the_notebooks_and_the_site(tagged, tmp_path):
    clone, version, site = tagged
    wheel, exercises, site_zip = release.build(tmp_path, site, f"v{version}", clone, f"v{version}")
    assert wheel.name == f"optimcourse-{version}-py3-none-any.whl"
    names = set(zipfile.ZipFile(wheel).namelist())
    for a in ASSIGNMENTS:
        assert f"optimcourse/chapters/{a.notebook}.py" in names
        assert f"optimcourse/references/{a.notebook}.py" in names
    assert "optimcourse/chapters/foreach_fused.mutants.toml" in names
    with zipfile.ZipFile(exercises) as z:
        assert sorted(z.namelist()) == sorted(f"exercises-{version}/{a.id}/{a.notebook}.ipynb" for a in ASSIGNMENTS)
        first = ASSIGNMENTS[0]
        assert (
            z.read(f"exercises-{version}/{first.id}/{first.notebook}.ipynb") == first.exercise_path(clone).read_bytes()
        )
    assert set(zipfile.ZipFile(site_zip).namelist()) == {
        f"site-{version}/index.html",
        f"site-{version}/book/01-manual-updates.html",
    }


def test_a_release_is_refused_for_a_tag_that_does_not_match_and_writes_nothing(tagged, tmp_path):
    clone, version, site = tagged
    with pytest.raises(ValueError, match=f"does not name the version v{version}"):
        release.build(tmp_path / "out", site, f"v{version}", clone, "v99.0.0")
    assert not (tmp_path / "out").exists()
    with pytest.raises(ValueError, match="no built website"):
        release.build(tmp_path / "out", tmp_path, f"v{version}", clone)
    with pytest.raises(ValueError, match="git archive v0.0.0-none failed"):
        release.build(tmp_path / "out", site, "v0.0.0-none", clone)
    assert not (tmp_path / "out").exists()
