"""The course's registry: one lookup finds an assignment by either of its names."""

from __future__ import annotations

import pytest

from optimcourse.course import ASSIGNMENTS, get_assignment


@pytest.mark.parametrize("assignment", ASSIGNMENTS, ids=lambda a: a.id)
def test_an_assignment_is_found_by_its_id_and_by_its_notebook(assignment):
    assert get_assignment(assignment.id) is assignment
    assert get_assignment(assignment.notebook) is assignment


def test_an_unknown_name_is_refused_with_the_names_the_course_has():
    with pytest.raises(KeyError, match="01-manual-updates"):
        get_assignment("10-choosing-an-optimizer")
