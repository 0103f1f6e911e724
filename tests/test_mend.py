"""A submission whose nbgrader cell metadata a student changed is mended before nbgrader sees it, and
graded: each graded cell gets the release's metadata back, any other cell's nbgrader metadata is dropped,
and a notebook that needs nothing (or is no notebook) is passed on byte for byte."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import nbformat
import pytest

import notebook_runner as nr
from optimcourse import notebooks
from optimcourse.course import ASSIGNMENTS
from optimcourse.grading import mend
from test_course_grade import course_grade, scores, write_class

CH1 = ASSIGNMENTS[0]
# the released notebook nbgrader generates is the exercise, normalized (test_nbgrader.py checks it)
RELEASE = CH1.exercise_path().read_bytes()
EXERCISE = nr.read(CH1.exercise_path())
TESTS = [notebooks.grading(c)["grade_id"] for c in EXERCISE.cells if notebooks.is_test(c)]
FIRST_TEST = next(i for i, c in enumerate(EXERCISE.cells) if notebooks.is_test(c))


def handed_in(edit: Callable[[nbformat.NotebookNode], None] | None = None) -> bytes:
    """Chapter 1 with the reference solution, edited, saved as Jupyter saves it (metadata kept as edited)."""
    nb = nr.with_solution_code(EXERCISE, nr.solution_code(CH1))
    if edit is not None:
        edit(nb)
    return (json.dumps(nb, indent=1) + "\n").encode()


def cells(content: bytes) -> list[dict[str, Any]]:
    return json.loads(content)["cells"]


def metadata_of(content: bytes) -> list[Any]:
    """Each cell's nbgrader metadata, in order (None: an ordinary cell)."""
    return [c["metadata"].get("nbgrader") for c in cells(content)]


def each_test(change: Callable[[nbformat.NotebookNode], None]) -> Callable[[nbformat.NotebookNode], None]:
    def edit(nb: nbformat.NotebookNode) -> None:
        for cell in nb.cells:
            if notebooks.is_test(cell):
                change(cell)

    return edit


def assert_restored(content: bytes, sources: list[str]) -> None:
    """Every cell carries the release's nbgrader metadata again, and the sources are the ones handed in."""
    out = mend.mend(content, RELEASE)
    assert metadata_of(out) == [c.metadata.get("nbgrader") for c in EXERCISE.cells]
    assert ["".join(c["source"]) for c in cells(out)] == sources


def test_renamed_test_cells_become_ordinary_cells_for_nbgrader_to_put_the_test_cells_back():
    def rename(cell: nbformat.NotebookNode) -> None:
        cell.metadata.nbgrader.grade_id += "-mine"
        cell.source = "pass"

    content = handed_in(each_test(rename))
    out = mend.mend(content, RELEASE)
    # a renamed id is no graded cell's: nbgrader would fail on it (KeyError: 'grade_id')
    assert metadata_of(out) == [None if notebooks.is_test(c) else c.metadata.get("nbgrader") for c in EXERCISE.cells]
    assert [c["source"] for c in cells(out)] == [c["source"] for c in cells(content)]


def test_test_cells_made_answers_are_test_cells_again_with_the_students_source_left_to_nbgrader():
    def answer(cell: nbformat.NotebookNode) -> None:
        cell.metadata.nbgrader.solution = True
        cell.source = "print('OK')"

    content = handed_in(each_test(answer))
    sources = ["".join(c["source"]) for c in cells(content)]
    assert_restored(content, sources)
    assert sources.count("print('OK')") == len(TESTS)


def test_changed_points_locks_checksums_and_flags_are_the_releases_again():
    def tamper(cell: nbformat.NotebookNode) -> None:
        cell.metadata.nbgrader.update(points=100, locked=False, grade=False, checksum="0" * 32, task=True)

    content = handed_in(each_test(tamper))
    assert_restored(content, ["".join(c["source"]) for c in cells(content)])


@pytest.mark.parametrize(
    "value",
    [
        "a test",
        None,
        3,
        ["x"],
        {"points": 5},
        {"grade_id": 7, "grade": True},
        {"grade_id": ["parameter"]},
        {"grade_id": "my-own-cell", "solution": True},
    ],
    ids=["string", "null", "number", "list", "no-id", "int-id", "list-id", "unknown-id"],
)
def test_metadata_that_names_no_graded_cell_is_dropped_and_the_cell_kept(value):
    def tamper(nb: nbformat.NotebookNode) -> None:
        nb.cells[FIRST_TEST].metadata["nbgrader"] = value
        nb.cells.append(nbformat.v4.new_code_cell("print('mine')", metadata={"nbgrader": value}))

    content = handed_in(tamper)
    out = mend.mend(content, RELEASE)
    assert "nbgrader" not in cells(out)[FIRST_TEST]["metadata"] and "nbgrader" not in cells(out)[-1]["metadata"]
    others = [i for i in range(len(EXERCISE.cells)) if i != FIRST_TEST]
    assert [metadata_of(out)[i] for i in others] == [metadata_of(content)[i] for i in others]
    assert [c["source"] for c in cells(out)] == [c["source"] for c in cells(content)]


def test_a_split_cell_is_joined_even_beside_metadata_the_split_mending_cannot_read():
    def split_and_junk(nb: nbformat.NotebookNode) -> None:
        at = next(i for i, c in enumerate(nb.cells) if notebooks.grading(c).get("grade_id") == "sgd-class")
        lines = nb.cells[at].source.splitlines(keepends=True)
        cut = next(i for i, line in enumerate(lines) if line.startswith("    def zero_grad"))
        second = nbformat.from_dict(json.loads(json.dumps(nb.cells[at])))
        nb.cells[at].source, second.source = "".join(lines[:cut]), "".join(lines[cut:])
        nb.cells.insert(at + 1, second)
        nb.cells[0].metadata["nbgrader"] = "junk"

    content = handed_in(split_and_junk)
    out = mend.mend(content, RELEASE)
    ids = [m["grade_id"] for m in metadata_of(out) if m is not None]
    assert len(ids) == len(set(ids)) and "sgd-class" in ids and "intro" not in ids
    joined = next(c for c in cells(out) if (c["metadata"].get("nbgrader") or {}).get("grade_id") == "sgd-class")
    assert "".join(joined["source"]).split() == nr.solution_code(CH1)["sgd-class"].split()


def test_a_notebook_that_needs_nothing_comes_back_byte_for_byte():
    for content in (RELEASE, handed_in(), handed_in().replace(b"\n", b"\r\n")):
        assert mend.mend(content, RELEASE) is content


@pytest.mark.parametrize(
    "content",
    [b"", b"{ this is not json", b"\xff\xfe\x00", b"[]", b'{"cells": 3}', b"null", b"[" * 100_000 + b"]" * 100_000],
    ids=["empty", "not-json", "not-utf8", "a-list", "cells-not-a-list", "null", "nested-too-deep"],
)
def test_content_that_is_no_notebook_comes_back_unchanged(content):
    assert mend.mend(content, RELEASE) is content


def test_a_mended_notebook_is_written_as_the_split_mending_writes_it():
    def tamper(nb: nbformat.NotebookNode) -> None:
        nb.cells[FIRST_TEST].metadata.nbgrader.points = 9
        nb.cells.append(nbformat.v4.new_markdown_cell("Notes: θ ← θ − η∇"))  # noqa: RUF001 (non-ASCII on purpose)

    out = mend.mend(handed_in(tamper), RELEASE)
    assert out == (json.dumps(json.loads(out), indent=1, ensure_ascii=False) + "\n").encode()
    assert "θ ← θ − η∇".encode() in out  # noqa: RUF001 (the same text)


def test_an_unreadable_release_is_an_error_not_a_stripped_submission():
    with pytest.raises(ValueError, match="released notebook"):
        mend.mend(handed_in(), b"{ not json")


@pytest.mark.nbgrader
def test_notebooks_with_renamed_or_answered_test_cells_are_graded_not_left_out(tmp_path):
    # the attack notebooks' edits; imported here, since that module skips itself where there is no sandbox
    from test_grading_attacks import REF, mangled_made_solutions, mangled_renamed

    def reference(edit: Callable[[nbformat.NotebookNode], None]) -> bytes:
        nb = nr.with_solution_code(EXERCISE, REF[CH1.id])
        edit(nb)
        return (json.dumps(nb, indent=1) + "\n").encode()

    submitted = write_class(
        tmp_path / "in",
        {
            "renamed": reference(mangled_renamed),
            "answers": reference(mangled_made_solutions),
            "untouched": CH1.exercise_path().read_bytes(),
        },
    )
    course = tmp_path / "course"
    done = course_grade(CH1.id, submitted, "--course", course, "--jobs", "2")
    assert done.returncode == 0, done.stderr
    assert "3 graded now" in done.stdout
    got = scores(course)
    assert set(got) == {"renamed", "answers", "untouched"}
    assert sum(got["renamed"].values()) == sum(got["answers"].values()) == 10
    assert set(got["untouched"].values()) == {0.0}
