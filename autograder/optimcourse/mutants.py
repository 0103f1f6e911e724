"""Known mistakes: the reference with one real student error in it.

A :class:`Mutant` is a set of text edits on a chapter's reference source (the solution cells
of its notebook, generated into ``references/``). The same edits serve twice: the grading
suite places the mutated code into the exercise notebook and checks that its tests lose
points, and at grading time :func:`matching` runs every mutant through the scenario a
student failed, so that the failure can say which mistake the student's numbers match.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np

from . import side
from .course import REFERENCES_DIR
from .scenarios import Impl, Scenario
from .trace import Trace, agree


@dataclass(frozen=True)
class Mutant:
    name: str  # kebab-case, shown to students: "sign-flipped"
    mistake: str  # what the code does wrong, and what to do instead
    edits: tuple[tuple[str, str], ...]  # (text in the reference, replacement); each must occur once

    def apply(self, source: str) -> str:
        return self.apply_to_cells({"reference": source})["reference"]

    def apply_to_cells(self, cells: dict[str, str]) -> dict[str, str]:
        """The edits applied to code split into cells: each edit's text must occur once in all of them."""
        cells = dict(cells)
        for old, new in self.edits:
            holders = [name for name, text in cells.items() for _ in range(text.count(old))]
            if len(holders) != 1:
                raise ValueError(
                    f"mutant {self.name!r}: {old!r} occurs {len(holders)} times in the reference (needs exactly 1)"
                )
            cells[holders[0]] = cells[holders[0]].replace(old, new)
        return cells


@dataclass(frozen=True)
class MutantLibrary:
    reference: str  # module stem in references/, e.g. "manual_updates"
    mutants: tuple[Mutant, ...]

    def __post_init__(self) -> None:
        names = [m.name for m in self.mutants]
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate mutant names in {self.reference}: {names}")

    def impl(self, mutant: Mutant) -> Impl:
        return _namespace(self.reference, mutant)

    def matching(self, scenario: Scenario, got: Trace, expected: Trace, index: int) -> list[Mutant]:
        """The mutants whose trace equals the student's up to the first difference from torch."""
        found = []
        for mutant in self.mutants:
            try:
                # a mutant is the course's code: it runs here, even while the student's runs in their kernel
                with warnings.catch_warnings(), np.errstate(all="ignore"), side.remote(None):
                    warnings.simplefilter("ignore")  # a mistake's overflow is no news to the student
                    theirs = scenario.run(self.impl(mutant))
            except Exception:
                continue
            if len(theirs) <= index or len(got) <= index:
                continue
            same_as_student = all(agree(got[k].value, theirs[k].value) and got[k].label == theirs[k].label
                                  for k in range(index + 1))
            if same_as_student and not agree(theirs[index].value, expected[index].value):
                found.append(mutant)
        return found


@cache
def _namespace(reference: str, mutant: Mutant) -> dict[str, Any]:
    source = mutant.apply((REFERENCES_DIR / f"{reference}.py").read_text())
    namespace: dict[str, Any] = {"__name__": f"mutant_{mutant.name.replace('-', '_')}"}
    exec(compile(source, f"<mutant {mutant.name}>", "exec"), namespace)
    return namespace
