"""What a scenario observed, and whether two observations agree.

A run of a scenario produces a :class:`Trace`: a list of labelled observations
(parameter values, grads, state, "raised ValueError"). The student's code, torch and
every mutant produce traces of the same scenario; comparing traces is all the grading does.
"""

from __future__ import annotations

import os
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from .course import ATOL, RTOL

__all__ = ["Raised", "Trace", "agree", "describe_difference", "first_disagreement", "show", "tolerance"]


_TORCH_DIR = os.path.dirname(torch.__file__)


@dataclass(frozen=True)
class Raised:
    """The code under test raised instead of returning."""

    type: type[BaseException]
    message: str
    where: str = ""  # last line of the traceback inside the student's code (not torch's, not ours)

    @classmethod
    def from_exception(cls, exc: BaseException) -> Raised:
        where = getattr(exc, "student_where", None)  # raised in the student's kernel: said by its agent
        if where is not None:
            return cls(type(exc), str(exc), str(where))
        frames = traceback.extract_tb(exc.__traceback__)
        own = [f for f in frames if "optimcourse" not in f.filename and not f.filename.startswith(_TORCH_DIR)]
        where = ""
        if own:
            f = own[-1]
            where = f"in {f.name}: {f.line}" if f.line else f"in {f.name}"
        return cls(type(exc), str(exc), where)

    def __str__(self) -> str:
        text = f"raised {self.type.__name__}"
        if self.message:
            text += f": {self.message}"
        if self.where:
            text += f" ({self.where})"
        return text


@dataclass
class Obs:
    label: str  # e.g. "after step 3: parameter 1"
    value: object  # np.ndarray | None | bool | str | Raised


@dataclass
class Trace:
    observations: list[Obs] = field(default_factory=list)

    def add(self, label: str, value: object) -> None:
        self.observations.append(Obs(label, value))

    def __len__(self) -> int:
        return len(self.observations)

    def __getitem__(self, i: int) -> Obs:
        return self.observations[i]

    def __iter__(self) -> Iterator[Obs]:
        return iter(self.observations)


def tolerance(scenario: Any) -> tuple[float, float]:
    """The (rtol, atol) a scenario's arrays are compared with: the course's, unless its chapter sets its own."""
    return getattr(scenario, "rtol", RTOL), getattr(scenario, "atol", ATOL)


def agree(got: Any, expected: Any, rtol: float = RTOL, atol: float = ATOL) -> bool:
    """Whether an observation of the code under test matches the expected one."""
    if isinstance(expected, Raised) or isinstance(got, Raised):
        # same kind of exception; and where torch explains itself, a message is expected too
        return (
            isinstance(expected, Raised)
            and isinstance(got, Raised)
            and issubclass(got.type, expected.type)
            and (bool(got.message.strip()) or not expected.message)
        )
    if isinstance(expected, np.ndarray):
        if not isinstance(got, np.ndarray):
            return False
        got = np.asarray(got)  # a plain view: a subclass's own __array_ufunc__ does not decide the comparison
        return got.shape == expected.shape and _close(got, expected, rtol, atol)
    if type(got) is not type(expected):
        return False
    # containers item by item: a student's object inside one (its __eq__ says True to anything) is compared
    # by the rules above, never by its own ==
    if isinstance(expected, (list, tuple)):
        return len(got) == len(expected) and all(agree(g, e, rtol, atol) for g, e in zip(got, expected))
    if isinstance(expected, dict):
        keys = list(expected)
        return (
            len(got) == len(keys)
            and all(type(k) in _PLAIN_KEYS for k in got)
            and set(got) == set(keys)
            and all(agree(got[k], expected[k], rtol, atol) for k in keys)
        )
    if isinstance(expected, (set, frozenset)):
        return all(type(k) in _PLAIN_KEYS for k in got) and got == expected
    return bool(got == expected)


_PLAIN_KEYS = (str, int, float, bool, type(None), tuple)


# NumPy's functions as they were when the checks were imported: a student's cell that reassigns
# numpy.allclose (or isclose, or absolute) cannot change how the grader compares values
_absolute, _isnan, _isfinite = np.absolute, np.isnan, np.isfinite


def _close(got: np.ndarray, expected: np.ndarray, rtol: float, atol: float) -> bool:
    """np.allclose(got, expected, rtol, atol, equal_nan=True), from captured ufuncs and array operators."""
    try:
        if got.dtype.kind == "b" or expected.dtype.kind == "b":  # masks: compared as 0 and 1, shown as they are
            got, expected = got.astype(np.float64), expected.astype(np.float64)
        with np.errstate(invalid="ignore", over="ignore"):
            close = (
                _isfinite(got) & _isfinite(expected) & (_absolute(got - expected) <= atol + rtol * _absolute(expected))
            )
            same = (got == expected) | (_isnan(got) & _isnan(expected))  # equal infinities; NaN with NaN
            return bool((close | same).all())
    except (TypeError, ValueError):
        return False


def first_disagreement(got: Trace, expected: Trace, rtol: float = RTOL, atol: float = ATOL) -> int | None:
    """Index of the first observation that differs, or None when the traces agree."""
    for i, exp in enumerate(expected.observations):
        if i >= len(got):
            return i
        if got[i].label != exp.label or not agree(got[i].value, exp.value, rtol, atol):
            return i
    return len(expected) if len(got) > len(expected) else None


def show(value: object, limit: int = 6) -> str:
    """A short rendering of an observed value for a failure message."""
    if isinstance(value, np.ndarray):
        flat = value.ravel()
        # floats to 10 significant digits; masks and counts as they are (True, 3), not as 1.0 and 3.0
        items = ", ".join(f"{x:.10g}" if value.dtype.kind in "fc" else str(x) for x in flat[:limit])
        more = f", ... ({flat.size} values)" if flat.size > limit else ""
        body = f"[{items}{more}]" if value.ndim else items
        return f"{body} (shape {value.shape}, {value.dtype})"
    if value is None:
        return "None"
    return str(value)


def describe_difference(got: object, expected: object, rtol: float = RTOL, atol: float = ATOL) -> str:
    """Where and by how much two values differ, when both are arrays of one shape."""
    if isinstance(got, np.ndarray) and isinstance(expected, np.ndarray) and got.shape == expected.shape:
        with np.errstate(invalid="ignore"):
            diff = np.abs(got.astype(np.float64) - expected.astype(np.float64))
        if diff.size == 0:
            return ""
        diff = np.where(np.isnan(diff), np.inf, diff)
        idx = np.unravel_index(int(np.argmax(diff)), diff.shape)
        where = f" at index {tuple(int(i) for i in idx)}" if diff.ndim else ""
        return f"max |difference| {float(diff[idx]):.3g}{where} (tolerance rtol={rtol:g}, atol={atol:g})"
    if isinstance(got, np.ndarray) and isinstance(expected, np.ndarray):
        return f"shape {got.shape} where torch has {expected.shape}"
    return ""
