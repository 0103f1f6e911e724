"""Facts the book states about each exercise, computed from the exercise itself.

A page ends with ``glue_exercise_facts("zero_grad")``: the number of graded cells, their points,
the number of named mistakes and the tolerances (the course's, or the chapter's own ``RTOL`` and ``ATOL``)
are read from the source notebook and the chapter's checks, so the prose cannot drift from what the grader does.
"""

from __future__ import annotations

from . import notebooks
from .course import ATOL, RTOL, get_assignment

__all__ = ["exercise_facts", "glue_exercise_facts", "sci"]


def sci(value: float) -> str:
    """1e-07 -> '1e-7': a tolerance written the way people read it."""
    mantissa, exponent = f"{float(value):.0e}".split("e")
    return f"{mantissa}e{int(exponent)}"


def exercise_facts(notebook: str) -> dict[str, str | int]:
    import importlib

    assignment = get_assignment(notebook)
    tests = [c for c in notebooks.read(assignment.solution_path()).cells if notebooks.is_test(c)]
    mutants = assignment.mutant_library().mutants
    points = sum(float(notebooks.grading(c)["points"]) for c in tests)
    checks = importlib.import_module(assignment.checks_module)  # a chapter may set a tolerance of its own
    return {
        "graded_cells": len(tests),
        "points": f"{points:g}",
        "n_mutants": len(mutants),
        "rtol": sci(getattr(checks, "RTOL", RTOL)),
        "atol": sci(getattr(checks, "ATOL", ATOL)),
    }


def glue_exercise_facts(notebook: str) -> None:
    """Glue each fact under its own name (``graded_cells``, ``points``, ``n_mutants``, ``rtol``, ``atol``)."""
    from myst_nb import glue

    for name, value in exercise_facts(notebook).items():
        glue(name, value, display=False)
