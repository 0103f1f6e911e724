"""Run student code while watching that it does the work itself.

The exercises ask for NumPy: a student class that hands the step to ``torch.optim`` (or
imports the course's own reference) would match torch without teaching anything. While
student code runs, a profile hook notes every call into torch or into the references.
"""
from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any

import torch

from .course import REFERENCES_DIR

_FORBIDDEN_DIRS = (os.path.dirname(torch.__file__) + os.sep, str(REFERENCES_DIR) + os.sep)


class DelegationError(AssertionError):
    """Student code called torch (or the course's reference) instead of NumPy."""


def _is_torch_builtin(fn: Any) -> bool:
    module = getattr(fn, "__module__", None) or ""
    owner = getattr(fn, "__self__", None)
    owner_module = type(owner).__module__ if owner is not None else ""
    return module.startswith("torch") or owner_module.startswith("torch")


def call_student(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call ``fn``; raise DelegationError if it reached into torch or the references."""
    calls: list[str] = []

    def profile(frame: Any, event: str, arg: Any) -> None:
        if calls:
            return
        if event == "call" and frame.f_code.co_filename.startswith(_FORBIDDEN_DIRS):
            calls.append(f"{frame.f_code.co_qualname} in {os.path.basename(frame.f_code.co_filename)}")
        elif event == "c_call" and _is_torch_builtin(arg):
            calls.append(getattr(arg, "__qualname__", repr(arg)))

    previous = sys.getprofile()
    sys.setprofile(profile)
    try:
        result = fn(*args, **kwargs)
    finally:
        sys.setprofile(previous)
    if calls:
        raise DelegationError(
            f"your code called {calls[0]}: the exercise asks you to compute the update with NumPy "
            "yourself, not to hand it to torch or to the course's reference implementation."
        )
    return result
