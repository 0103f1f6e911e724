"""The workflows: clean under actionlint and zizmor (each seen to fail on a broken workflow), and doing
what the README and the build say: the README's two commands, the build's cache key, deploys from
main only, releases only from a tag that names the version."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

from optimcourse import workflows
from optimcourse.course import REPO_ROOT

SITE, RELEASE = workflows.load(workflows.WORKFLOWS / "site.yml"), workflows.load(workflows.WORKFLOWS / "release.yml")
SPEC = importlib.util.spec_from_file_location("course_cache", REPO_ROOT / "book" / "_ext" / "course_cache.py")


def test_actionlint_and_zizmor_find_nothing_in_the_workflows():
    assert workflows.lint() == []


GOOD_STEP = """name: demo
on: push
permissions: {}
jobs:
  demo:
    runs-on: ubuntu-24.04
    timeout-minutes: 5
    permissions: {}
    steps:
"""


@pytest.mark.parametrize(
    ("step", "expected"),
    [
        # a pull request's title pasted into a script: the classic injection
        ('      - run: echo "${{ github.event.pull_request.title }}"\n', r"zizmor: \w+\[template-injection\]"),
        # an action by a moving tag, not a commit
        ("      - uses: actions/checkout@v4\n", r"zizmor: \w+\[unpinned-uses\]"),
        # a step that is neither run: nor uses:
        ("      - name: nothing\n        with: {x: 1}\n", r"actionlint: .*step must run script"),
        # shellcheck, through actionlint: an unquoted expansion
        ("      - run: ls $HOME/*.txt\n", r"actionlint: .*shellcheck reported issue.*SC2086"),
    ],
    ids=["template-injection", "unpinned-action", "broken-step", "shellcheck"],
)
def test_each_linter_reports_a_broken_workflow(tmp_path, step, expected):
    broken = tmp_path / "broken.yml"
    broken.write_text(GOOD_STEP + step)
    findings = workflows.lint([broken])
    assert any(re.search(expected, f) for f in findings), findings


def test_the_build_and_test_jobs_run_the_readmes_two_commands():
    build, test = workflows.readme_commands()
    assert workflows.run_steps(SITE, "build") == [build]
    assert workflows.run_steps(SITE, "test") == [test]
    ci = (REPO_ROOT / ".ci" / "run").read_text()
    assert build in ci and test in ci  # what CI runs on a clean clone


def test_the_pages_cache_is_keyed_on_what_the_build_empties_it_for():
    course_cache = importlib.util.module_from_spec(SPEC)
    SPEC.loader.exec_module(course_cache)
    step = next(s for s in SITE["jobs"]["build"]["steps"] if s.get("uses", "").startswith("actions/cache@"))
    assert step["with"]["path"] == "_build/.jupyter_cache"
    code_hash = re.match(r"pages-\$\{\{ hashFiles\((.*?)\) \}\}-", step["with"]["key"])
    assert code_hash and step["with"]["restore-keys"] == code_hash.group(0)
    globs = [g.strip(" '") for g in code_hash.group(1).split(",")]
    watched = [g.removesuffix("/**") for g in globs]
    assert watched == list(course_cache.WATCHED), (globs, course_cache.WATCHED)
    for glob, part in zip(globs, watched):
        assert glob == (part if (REPO_ROOT / part).is_file() else f"{part}/**")


def test_pull_requests_build_and_upload_the_site_and_only_main_deploys_it():
    assert set(SITE["on"]) == {"push", "pull_request", "workflow_dispatch"}
    assert SITE["on"]["push"]["branches"] == ["main"]
    upload = [
        s for s in SITE["jobs"]["build"]["steps"] if s.get("uses", "").startswith("actions/upload-pages-artifact@")
    ]
    assert len(upload) == 1 and upload[0]["with"]["path"] == "_build/html"
    deploy = SITE["jobs"]["deploy"]
    assert deploy["if"] == "github.event_name == 'push' && github.ref == 'refs/heads/main'"
    assert deploy["needs"] == ["build", "test"] and deploy["environment"]["name"] == "github-pages"
    assert SITE["permissions"] == {} and deploy["permissions"] == {"pages": "write", "id-token": "write"}
    assert all(SITE["jobs"][j]["permissions"] == {"contents": "read"} for j in ("build", "test"))


def test_a_release_comes_from_a_version_tag_and_is_refused_unless_the_versions_agree():
    assert RELEASE["on"] == {"push": {"tags": ["v*.*.*"]}}
    commands = "\n".join(workflows.run_steps(RELEASE, "release"))
    assert workflows.readme_commands()[0] in commands  # the site, built as everywhere else
    assert '-m optimcourse.release build --site _build/html --out dist --ref "$TAG" --tag "$TAG"' in commands
    assert 'gh release create "$TAG" dist/*' in commands
    assert commands.index("optimcourse.release build") < commands.index("gh release create")


def test_every_action_is_pinned_to_a_commit_with_its_version_beside_it():
    for path in sorted(workflows.WORKFLOWS.glob("*.yml")):
        for line in path.read_text().splitlines():
            if "uses:" in line:
                assert re.search(r"uses: [\w-]+/[\w-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+$", line), f"{path.name}: {line}"


def test_readme_commands_reads_the_first_bash_block(tmp_path: Path):
    (tmp_path / "README.md").write_text("# x\n\n```bash\none && two\n\nthree\n```\n\n```bash\nfour\n```\n")
    assert workflows.readme_commands(tmp_path) == ["one && two", "three"]
    (tmp_path / "README.md").write_text("no commands")
    with pytest.raises(ValueError, match="no ```bash block"):
        workflows.readme_commands(tmp_path)
