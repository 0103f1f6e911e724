"""Measurements of how the student's code runs, taken where it runs.

Some checks are about the code, not its numbers: which arrays share memory (a parameter must be a view
into its flat buffer), how many Python lines a step runs, how much memory it allocates. Those can only be
measured in the process that holds the arrays and runs the step. In a notebook that is the student's
kernel, which also runs the checks; under course-grade the grader asks the kernel's agent for them
(:mod:`.agent`, the ``measure`` request) and compares the answer with its own rule.

The functions here keep their own references to NumPy's and the interpreter's tools, taken when this
module is first imported: under course-grade that is when the kernel starts, before any of the
notebook's code runs, so a notebook that rebinds ``np.shares_memory`` or ``sys.settrace`` does not change
what is measured.
"""

from __future__ import annotations

import gc
import os
import sys
import tracemalloc
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

__all__ = ["MEASURES", "count_lines", "kept_bytes", "overlapping", "peak_allocation"]

_shares_memory = np.shares_memory
_ndarray = np.ndarray
_settrace, _gettrace = sys.settrace, sys.gettrace
_gc_isenabled, _gc_disable, _gc_enable = gc.isenabled, gc.disable, gc.enable
_trace_start, _trace_stop, _traced = tracemalloc.start, tracemalloc.stop, tracemalloc.get_traced_memory
_NUMPY_DIR = os.path.dirname(np.__file__)
# showing a warning (NumPy's "invalid value in sqrt", say) runs the warnings module's Python code, and
# linecache's below it, once per new warning: the student's step did not run those lines
_WARNINGS_FILE = warnings.__file__


def overlapping(arrays: Sequence[Any]) -> list[tuple[int, int]]:
    """The pairs ``(i, j)``, ``i < j``, of non-empty arrays that share memory."""
    arrays = list(arrays)
    real = [isinstance(a, _ndarray) and a.size > 0 for a in arrays]
    return [
        (i, j)
        for i in range(len(arrays))
        for j in range(i + 1, len(arrays))
        if real[i] and real[j] and bool(_shares_memory(arrays[i], arrays[j]))
    ]


def count_lines(fn: Callable[..., Any], allowed: str | Sequence[str] = ()) -> int:
    """Python lines run by ``fn()``, leaving out NumPy's own, those run to show a warning, and those run inside
    a function named in ``allowed`` (loops the rule permits).

    The cyclic garbage collector is off while ``fn`` runs: a collection starts at whichever allocation
    crosses its threshold and may run Python callbacks (a weak set dropping a dead entry), so counting
    them would make the count depend on the collector's history, not on the step."""
    count = 0
    allowed = (allowed,) if isinstance(allowed, str) else tuple(allowed)

    def local(frame: Any, event: str, arg: Any) -> Any:
        nonlocal count
        if event == "line":
            count += 1
        return local

    def tracer(frame: Any, event: str, arg: Any) -> Any:
        if event != "call" or frame.f_code.co_filename.startswith(_NUMPY_DIR):
            return None
        f = frame
        while f is not None:
            if f.f_code.co_name in allowed or f.f_code.co_filename == _WARNINGS_FILE:
                return None
            f = f.f_back
        return local

    previous, collecting = _gettrace(), _gc_isenabled()
    _gc_disable()
    _settrace(tracer)
    try:
        fn()
    finally:
        _settrace(previous)
        if collecting:
            _gc_enable()
    return count


def peak_allocation(fn: Callable[..., Any]) -> int:
    """The most memory, in bytes, that ``fn()`` held at once beyond what was allocated when it started."""
    _trace_start()
    try:
        before = _traced()[0]
        fn()
        return max(0, _traced()[1] - before)
    finally:
        _trace_stop()


def _owner(a: Any) -> Any:
    while isinstance(a.base, _ndarray):
        a = a.base
    return a


def kept_bytes(holders: Sequence[Any], exclude: Sequence[Any]) -> int:
    """Bytes of the arrays that ``holders`` keep in their attributes (directly, or in a list, tuple or dict
    there), counted by the array that owns the memory, so that a view of a large array counts as all of it;
    leaving out the memory of the arrays in ``exclude`` (parameters, state, the caller's grads)."""
    theirs = {id(_owner(a)) for a in exclude if isinstance(a, _ndarray)}
    kept: dict[int, int] = {}
    for holder in holders:
        for value in vars(holder).values():
            values = (
                value.values() if isinstance(value, dict) else value if isinstance(value, (list, tuple)) else [value]
            )
            for a in values:
                if isinstance(a, _ndarray) and id(_owner(a)) not in theirs:
                    kept[id(_owner(a))] = _owner(a).nbytes
    return sum(kept.values())


#: what the agent's ``measure`` request may run, by name
MEASURES: dict[str, Callable[..., Any]] = {
    "overlapping": overlapping,
    "count_lines": count_lines,
    "kept_bytes": kept_bytes,
    "peak_allocation": peak_allocation,
}
