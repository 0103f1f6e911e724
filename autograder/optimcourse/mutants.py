"""Known mistakes: the reference with one real student error in it.

A :class:`Mutant` is a set of text edits on a chapter's reference source (the solution cells
of its notebook, generated into ``references/``), kept as data beside the chapter's checks in
``chapters/<chapter>.mutants.toml`` and written dedented (:mod:`optimcourse.blocks` finds them at
any indentation). The same edits serve twice: the grading
suite places the mutated code into the exercise notebook and checks that its tests lose
points, and at grading time :func:`matching` runs every mutant through the scenario a
student failed, so that the failure can say which mistake the student's numbers match.
"""

from __future__ import annotations

import tomllib
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from . import blocks, side
from .course import PACKAGE_DIR, REFERENCES_DIR
from .scenarios import Impl, Scenario
from .trace import Trace, agree, first_disagreement, tolerance

__all__ = ["Mutant", "MutantLibrary", "load_mutants"]


@dataclass(frozen=True)
class Mutant:
    name: str  # kebab-case, shown to students: "sign-flipped"
    mistake: str  # what the code does wrong, and what to do instead
    edits: tuple[tuple[str, str], ...]  # (find, replace): each find must occur once (see blocks.apply_edit)

    def apply(self, source: str) -> str:
        return self.apply_to_cells({"reference": source})["reference"]

    def apply_to_cells(self, cells: dict[str, str]) -> dict[str, str]:
        """The edits applied to code split into cells: each edit's text must occur once in all of them."""
        cells = dict(cells)
        for find, replace in self.edits:
            holders = [(name, match) for name, text in cells.items() for match in blocks.find(text, find)]
            if len(holders) != 1:
                shown = find if len(find) < 60 else find[:57] + "..."
                raise ValueError(
                    f"mutant {self.name!r}: {shown!r} occurs {len(holders)} times in the reference (needs exactly 1)"
                )
            name, match = holders[0]
            cells[name] = blocks.replace(cells[name], match, replace)
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

    def matching(
        self,
        scenario: Scenario,
        got: Trace,
        expected: Trace,
        index: int,
        passed: Sequence[tuple[Scenario, Trace]] = (),
        later: tuple[Impl, Sequence[Scenario]] | None = None,
    ) -> list[Mutant]:
        """The mutants that reproduce the student's whole trace, which differs from torch's at ``index``,
        and pass the scenarios in ``passed`` (each with torch's trace), which the student passed.

        Agreeing up to the first difference is not enough: two mistakes can give the same first wrong
        value and part ways after it, or on a case the student got right, and the hint must name the
        one the student's code made. Where several mutants still fit, the student's code (``later``: its
        names and the scenarios after this one) runs on, until the cases tell them apart."""
        found = []
        rtol, atol = tolerance(scenario)
        for mutant in self.mutants:
            theirs = self._run(mutant, scenario)
            if theirs is None or len(theirs) != len(got) or len(got) <= index:
                continue
            same_as_student = all(
                agree(mine.value, theirs[k].value, rtol, atol) and mine.label == theirs[k].label
                for k, mine in enumerate(got)
            )
            if not same_as_student or agree(theirs[index].value, expected[index].value, rtol, atol):
                continue
            if all(
                (run := self._run(mutant, earlier)) is not None
                and first_disagreement(run, truth, *tolerance(earlier)) is None
                for earlier, truth in passed
            ):
                found.append(mutant)
        return self._tell_apart(found, later) if later and len(found) > 1 else found

    def _tell_apart(self, found: list[Mutant], later: tuple[Impl, Sequence[Scenario]]) -> list[Mutant]:
        """Of several mutants that fit, those that also behave like the student on the later scenarios;
        all of them where none does (the student's code makes a second mistake there)."""
        impl, scenarios = later
        for scenario in scenarios:
            try:
                mine = scenario.run(impl)
            except Exception:  # the student's code in a case not graded here: no reason to guess further
                return found
            rtol, atol = tolerance(scenario)
            fits = [
                m
                for m in found
                if (run := self._run(m, scenario)) is not None
                and len(run) == len(mine)
                and all(
                    agree(o.value, run[k].value, rtol, atol) and o.label == run[k].label for k, o in enumerate(mine)
                )
            ]
            if fits:
                found = fits
            if len(found) == 1:
                break
        return found

    def _run(self, mutant: Mutant, scenario: Scenario) -> Trace | None:
        """The mutant's trace on ``scenario``, or None where the mutant itself cannot run it."""
        try:
            # a mutant is the course's code: it runs here, even while the student's runs in their kernel
            with warnings.catch_warnings(), np.errstate(all="ignore"), side.remote(None):
                warnings.simplefilter("ignore")  # a mistake's overflow is no news to the student
                return scenario.run(self.impl(mutant))
        except Exception:
            return None


def load_mutants(reference: str, path: Path | None = None) -> MutantLibrary:
    """The named mistakes of a chapter, from ``chapters/<reference>.mutants.toml`` (or ``path``)."""
    path = path or PACKAGE_DIR / "chapters" / f"{reference}.mutants.toml"
    try:
        data = tomllib.loads(path.read_text())
        mutants = tuple(
            Mutant(entry["name"], entry["mistake"], tuple((edit["find"], edit["replace"]) for edit in entry["edit"]))
            for entry in data["mutant"]
        )
    except (tomllib.TOMLDecodeError, KeyError, TypeError) as exc:
        raise ValueError(
            f"{path.name}: not a list of mutants, each with a name, a mistake and edits "
            f"of find and replace ({type(exc).__name__}: {exc})"
        ) from exc
    for mutant in mutants:
        for find, _ in mutant.edits:
            if "\n" not in find and find != find.lstrip():
                raise ValueError(
                    f"{path.name}: mutant {mutant.name!r}: a find of one line starts with its "
                    f"code, not its indentation: {find!r}"
                )
    return MutantLibrary(reference, mutants)


@cache
def _namespace(reference: str, mutant: Mutant) -> dict[str, Any]:
    source = mutant.apply((REFERENCES_DIR / f"{reference}.py").read_text())
    namespace: dict[str, Any] = {"__name__": f"mutant_{mutant.name.replace('-', '_')}"}
    exec(compile(source, f"<mutant {mutant.name}>", "exec"), namespace)
    return namespace
