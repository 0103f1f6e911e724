"""Shared fixtures: the assignments and their mutant libraries, by id."""
from __future__ import annotations


import pytest

from optimcourse.course import ASSIGNMENTS, Assignment
from optimcourse.mutants import MutantLibrary


def library(assignment: Assignment) -> MutantLibrary:
    return assignment.mutant_library()


ALL_MUTANTS = [pytest.param(a, m, id=f"{a.id}:{m.name}") for a in ASSIGNMENTS for m in library(a).mutants]
ASSIGNMENT_PARAMS = [pytest.param(a, id=a.id) for a in ASSIGNMENTS]
