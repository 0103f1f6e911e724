"""Compare the student's trace with torch's and turn the first difference into advice."""

from __future__ import annotations

from collections.abc import Sequence

from .guard import DelegationError, checking
from .mutants import MutantLibrary
from .scenarios import Impl, Scenario
from .side import remote, student_names
from .trace import Raised, Trace, describe_difference, first_disagreement, show, tolerance

#: in an observation's label: its expected value is the course's rule, where the rest is torch's behaviour
__all__ = ["RULE_MARK", "verify"]


RULE_MARK = "(the course's rule)"


def verify(
    subject: str, scenarios: Sequence[Scenario], impl: Impl, mutants: MutantLibrary, against: str | None = None
) -> None:
    """Raise AssertionError at the first scenario where ``impl`` and torch disagree.

    ``subject`` names what is tested ("sgd_update_"), ``against`` what it is compared with (by
    default the first scenario's title); on success a one-line summary is printed (to stdout:
    nbgrader scores any stderr output as a failure).
    """
    __tracebackhide__ = True  # IPython: the student's traceback ends at their test cell
    impl = student_names(impl)  # under course-grade: the given pieces the kernel has, not this process's
    passed: list[tuple[Scenario, Trace]] = []  # what the student got right, for the hints
    with checking(mutants.reference):
        for n, scenario in enumerate(scenarios):
            with remote(None):  # torch's side (or the course's rule) always runs here
                expected = scenario.expected()
            try:
                got = scenario.run(impl)
            except DelegationError as exc:
                raise AssertionError(f"{subject}: {exc}") from None
            index = first_disagreement(got, expected, *tolerance(scenario))
            if index is not None:
                raise AssertionError(
                    explain(subject, scenario, got, expected, index, mutants, passed, (impl, scenarios[n + 1 :]))
                )
            passed.append((scenario, expected))
    print(f"OK: {subject} matches {against or scenarios[0].title} in all {len(scenarios)} case(s).")


def explain(
    subject: str,
    scenario: Scenario,
    got: Trace,
    expected: Trace,
    index: int,
    mutants: MutantLibrary,
    passed: Sequence[tuple[Scenario, Trace]] = (),
    later: tuple[Impl, Sequence[Scenario]] | None = None,
) -> str:
    lines = [f"{subject} differs from {scenario.title}."]
    exp = expected[index] if index < len(expected) else None
    mine = got[index] if index < len(got) else None
    # who gives the expected values: torch, or the course where torch has no such rule (an observation
    # can say so in its label, inside a comparison that is otherwise torch's)
    truth = (
        "the course's rule" if exp is not None and RULE_MARK in exp.label else getattr(scenario, "expected_by", "torch")
    )
    if scenario.describe():
        lines.append(f"  Case: {scenario.describe()}.")
    if mine is not None and isinstance(mine.value, Raised) and not (exp and isinstance(exp.value, Raised)):
        lines.append(f"  At {mine.label}: your code {mine.value}; {truth} did not raise here.")
    elif exp is None:
        assert mine is not None  # the traces differ at index: one of them has an entry there
        lines.append(f"  After {truth} finished, your code still had: {mine.label}: {show(mine.value)}")
    elif isinstance(exp.value, Raised) and (mine is None or mine.label != exp.label):
        lines.append(f"  At {exp.label}: {truth} {exp.value}; your code did not raise.")
    elif mine is None or mine.label != exp.label:
        lines.append(f"  At {exp.label}: {truth} gives {show(exp.value)}, but your code stopped earlier.")
    elif isinstance(exp.value, Raised):
        lines.append(
            f"  At {exp.label}: {truth} {exp.value}; your code "
            + (
                "did not raise."
                if not isinstance(mine.value, Raised)
                else f"{mine.value} (expected {exp.value.type.__name__} with a message that says what is wrong)."
            )
        )
    else:
        lines.append(f"  First difference: {exp.label}")
        lines.append(f"    expected ({truth}): {show(exp.value)}")
        lines.append(f"    got (yours):      {show(mine.value)}")
        how_far = describe_difference(mine.value, exp.value, *tolerance(scenario))
        if how_far:
            lines.append(f"    {how_far}")
    found = mutants.matching(scenario, got, expected, index, passed, later)
    for mutant in found:
        lines.append(f"  Hint: this matches a known mistake, '{mutant.name}': {mutant.mistake}")
    if not found and mine is not None and isinstance(mine.value, Raised) and mine.value.type is NotImplementedError:
        lines.append(
            "  Hint: this part is not written yet: replace `raise NotImplementedError()` "
            "under `# YOUR CODE HERE` with your code."
        )
    elif not found and exp is not None and isinstance(exp.value, Raised):
        lines.append(
            f"  Hint: check the input before storing anything, and raise {exp.value.type.__name__} "
            f"with a message that names the problem, as {'torch does' if truth == 'torch' else 'the text asks'}."
        )
    elif not found:
        lines.append(
            "  Hint: no known mistake matches; print the values after each step on a small "
            "case and compare them with the rule in the text above."
        )
    return "\n".join(lines)
