"""Run student code while watching that it does the work itself.

The exercises ask for NumPy: a student class that hands the step to ``torch.optim`` (or
imports the course's own answer) would match torch without teaching anything. While
student code runs, a profile hook notes every call into torch or into the answer of the
exercise being checked: its reference module, which also holds the pieces of ``optimcourse.given``
that this exercise asks students to write (a later exercise may use them freely).
"""

from __future__ import annotations

import functools
import os
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import torch

from .course import REFERENCES_DIR
from .side import session

__all__ = ["DelegationError", "call_student", "checking", "graders_own"]


_TORCH_DIR = os.path.dirname(torch.__file__) + os.sep
# outside `checking(...)`: every reference is off limits
_forbidden_prefixes: tuple[str, ...] = (_TORCH_DIR, str(REFERENCES_DIR) + os.sep)


@contextmanager
def checking(exercise: str) -> Iterator[None]:
    """While checking ``exercise`` (a reference stem, "param_groups"): torch and its reference count as
    delegation, and so the given classes it teaches, which are that reference's own."""
    global _forbidden_prefixes  # noqa: PLW0603 (read on every call the student makes)
    saved = _forbidden_prefixes
    _forbidden_prefixes = (_TORCH_DIR, str(REFERENCES_DIR / f"{exercise}.py"))
    try:
        yield
    finally:
        _forbidden_prefixes = saved


class DelegationError(AssertionError):
    """Student code called torch (or the course's reference) instead of NumPy."""


def _is_torch_builtin(fn: Any) -> bool:
    module = getattr(fn, "__module__", None) or ""
    owner = getattr(fn, "__self__", None)
    owner_module = type(owner).__module__ if owner is not None else ""
    return module.startswith("torch") or owner_module.startswith("torch")


def graders_own(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn``, a function of the checks handed to the student's code (a loss's gradient, computed by torch),
    as a function whose calls are the grader's: while it runs, the student's code is not being watched.
    Under course-grade it runs in the grader anyway, called back from the kernel."""

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        hook = sys.getprofile()
        ours = getattr(hook, "watches_student", False)  # the guard's: off while the grader works (it is slow)
        _graders_own.depth += 1
        if ours:
            sys.setprofile(None)
        try:
            return fn(*args, **kwargs)
        finally:
            if ours:
                sys.setprofile(hook)
            _graders_own.depth -= 1

    return run


class _Depth(threading.local):
    depth = 0


#: how deep this thread is in functions of the grader's that the student's code called
_graders_own = _Depth()


def call_student(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call ``fn``; raise DelegationError if it reached into torch or the references."""
    if session() is not None:  # under course-grade the student's code runs in a kernel that has neither
        return fn(*args, **kwargs)
    calls: list[str] = []

    def profile(frame: Any, event: str, arg: Any) -> None:
        if calls or _graders_own.depth:
            return
        if event == "call" and (frame.f_code.co_filename.startswith(_forbidden_prefixes)):
            calls.append(f"{frame.f_code.co_qualname} in {os.path.basename(frame.f_code.co_filename)}")
        elif event == "c_call" and _is_torch_builtin(arg):
            calls.append(getattr(arg, "__qualname__", repr(arg)))

    profile.watches_student = True  # type: ignore[attr-defined]  # read by graders_own
    previous = sys.getprofile()
    sys.setprofile(profile)
    try:
        result = fn(*args, **kwargs)
    finally:
        sys.setprofile(previous)
    if calls:
        raise DelegationError(
            f"your code called {calls[0]}: the exercise asks you to compute the update with NumPy "
            "yourself, not to hand it to torch or to the course's own answer (its reference, which "
            "optimcourse.given hands to later exercises)."
        )
    return result
