"""Facts the book states about each exercise and chapter, computed from the exercise and the page.

A page ends with ``glue_exercise_facts("zero_grad")``: the number of graded cells, their points,
the number of named mistakes and the tolerances (the course's, or the chapter's own ``RTOL`` and ``ATOL``)
are read from the source notebook and the chapter's checks, so the prose cannot drift from what the grader does.
"""

from __future__ import annotations

import re
from pathlib import Path

from . import notebooks
from .course import ASSIGNMENTS, ATOL, REPO_ROOT, RTOL, get_assignment

__all__ = [
    "MINUTES_PER_POINT",
    "WORDS_PER_MINUTE",
    "chapter_times",
    "exercise_facts",
    "glue_chapter_times",
    "glue_exercise_facts",
    "prose_words",
    "sci",
]

# The rates behind the minutes each chapter announces: reading prose (code, outputs and figures are
# not counted, so a reader who runs or studies them takes longer), and the exercise by its points.
WORDS_PER_MINUTE = 200
MINUTES_PER_POINT = 10
FENCE = re.compile(r"^(`{3,}|:{3,})")


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


def prose_words(markdown: str) -> int:
    """The words of a MyST page a reader reads: the front matter, code cells and code blocks, directive
    options and glue names left out."""
    body = markdown.split("---", 2)[2] if markdown.startswith("---") else markdown
    words, code = 0, None
    for line in body.splitlines():
        fence = FENCE.match(line.strip())
        if code is not None:
            if fence and line.strip() == code:
                code = None
            continue
        if fence and fence.group(1).startswith("`"):  # a code cell or a code block
            code = fence.group(1)
            continue
        if fence or re.match(r"^:\w[\w-]*:", line.strip()):
            continue  # a ::: fence or a directive's option
        line = re.sub(r"\{glue:\w+\}`[^`]*`", "N", line)
        words += sum(1 for word in line.split() if re.search(r"\w", word))
    return words


def chapter_times(page: str, root: Path = REPO_ROOT) -> dict[str, int | None]:
    """Minutes to read the chapter ``page`` (``book/05-state-checkpointing``) and to do its exercise
    (None without one), and the exercise's points."""
    read = max(1, round(prose_words((root / f"{page}.md").read_text()) / WORDS_PER_MINUTE))
    assignment = next((a for a in ASSIGNMENTS if a.chapter_page == page), None)
    if assignment is None:
        return {"read_minutes": read, "exercise_minutes": None, "exercise_points": None}
    points = float(exercise_facts(assignment.notebook)["points"])
    return {
        "read_minutes": read,
        "exercise_minutes": round(points * MINUTES_PER_POINT),
        "exercise_points": round(points),
    }


def glue_chapter_times(page: str) -> None:
    """Glue the sentence of the chapter's box that says how long it takes (``chapter_time``)."""
    from myst_nb import glue

    t = chapter_times(page)
    sentence = f"About {t['read_minutes']} minutes to read"
    if t["exercise_minutes"] is None:
        sentence += "; no exercise."
    else:
        sentence += f", and about {t['exercise_minutes']} for the exercise ({t['exercise_points']} points)."
    glue("chapter_time", sentence, display=False)
