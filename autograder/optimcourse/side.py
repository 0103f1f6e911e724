"""Where the student's side of a check lives: in this process, or in the student's kernel.

A check runs the same code on two sides: torch's (the truth it compares with; its names are made with
:func:`torch_side`, and :func:`is_torch` tells them apart) and the student's.

In a notebook (JupyterLab, Validate, plain nbgrader) the checks call the student's objects directly.
Under course-grade they run in a trusted process, and the student's objects are stand-ins for the
kernel's (:mod:`.remote.proxy`); :func:`remote` marks that while a graded cell's checks run. The
checks need to know in two places only: the pieces of :mod:`.given` a check hands to the student's
code must be the kernel's own (the student's ``isinstance(p, Parameter)`` and ``default is required``
compare with those), and a class the check derives from a student's class must be made where that
class lives.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "GIVEN_NAMES",
    "Gathered",
    "copy_folder",
    "gather",
    "given_piece",
    "is_torch",
    "list_folder",
    "make_class",
    "materialize",
    "measure",
    "put_file",
    "read",
    "remote",
    "session",
    "set_attrs",
    "student_folder",
    "student_names",
    "torch_side",
]

#: the names of optimcourse.given a check may hand to the student's code
GIVEN_NAMES = ("Parameter", "Optimizer", "required", "SGD", "Adam", "AdamW")

#: the key that marks a check's names as torch's side of the comparison
TORCH_SIDE = "(torch's side)"


def torch_side(names: Mapping[str, Any] | None = None, /, **more: Any) -> dict[str, Any]:
    """``names`` (and ``more``) as torch's side of a comparison: what a check's observe function gets to
    compute the truth."""
    return {**(names or {}), **more, TORCH_SIDE: True}


def is_torch(names: Mapping[str, Any]) -> bool:
    """Whether a check's names are torch's side (else the student's, here or in their kernel)."""
    return bool(names.get(TORCH_SIDE))


_session: contextvars.ContextVar[Any] = contextvars.ContextVar("optimcourse_session", default=None)


@contextlib.contextmanager
def remote(session: Any) -> Iterator[None]:
    token = _session.set(session)
    try:
        yield
    finally:
        _session.reset(token)


def session() -> Any:
    """The session to the student's kernel while a graded cell runs under course-grade, else None."""
    return _session.get()


def given_name(value: Any) -> str | None:
    """The name of ``value`` in optimcourse.given, if it is one of the pieces checks hand out."""
    from . import given

    for name in GIVEN_NAMES:
        try:
            if getattr(given, name) is value:
                return name
        except (AttributeError, ImportError):
            continue
    return None


def student_names(impl: Mapping[str, Any]) -> Mapping[str, Any]:
    """``impl`` with every piece of optimcourse.given replaced by the kernel's, when the student's code
    runs there; unchanged otherwise."""
    s = session()
    if s is None:
        return impl
    out = dict(impl)
    for key, value in impl.items():
        name = given_name(value)
        if name is not None:
            out[key] = _kernel_piece(s, name)
    return out


def _kernel_piece(s: Any, name: str) -> Any:
    if name not in s.given_pieces:  # one request per piece and cell, not one per use
        s.given_pieces[name] = getattr(s.module("optimcourse.given"), name)
    return s.given_pieces[name]


def given_piece(name: str) -> Any:
    """``optimcourse.given.<name>`` on the side where the student's code runs."""
    s = session()
    if s is not None:
        return _kernel_piece(s, name)
    from . import given

    return getattr(given, name)


def read(
    objs: Sequence[Any], attrs: tuple[str, ...], state: Any = None, names: tuple[str, ...] = ()
) -> list[tuple[tuple[Any, ...], tuple[Any, ...]]]:
    """For each object: its ``attrs``, and its entries ``names`` in the mapping ``state`` (None where it has
    none); from the student's kernel in one request."""
    s = session()
    if s is not None:
        return list(s.read(objs, attrs, state, names))
    return _rows(objs, attrs, state, names)


def _rows(objs: Sequence[Any], attrs: Sequence[str], state: Any, names: Sequence[str]) -> list[Any]:
    rows = []
    for p in objs:
        entry = state.get(p, {}) if state is not None and p in state else {}
        rows.append((tuple(getattr(p, a) for a in attrs), tuple(entry.get(n) for n in names)))
    return rows


def set_attrs(items: Sequence[tuple[Any, str, Any]]) -> None:
    """``setattr(obj, name, value)`` for each item; in the student's kernel in one request."""
    s = session()
    if s is not None:
        s.set_attrs(items)
        return
    for obj, name, value in items:
        setattr(obj, name, value)


@dataclass
class Gathered:
    """What :func:`gather` got: the values of the items that ran, and the exception that stopped it (if any)."""

    values: list[Any]
    failed: Exception | None = None

    def result(self) -> list[Any]:
        """Every item's value; the failure raised if one stopped the run."""
        if self.failed is not None:
            raise self.failed
        return self.values


def _gather_item(item: Sequence[Any]) -> bool:
    """Whether ``item`` is one of gather's."""
    if len(item) < 3:
        return False
    how, n = item[1], len(item)
    if how == "rows":
        return n == 5
    return type(item[2]) is str and (how == "call" or (how == "attr" and n == 3) or (how == "set" and n == 4))


def gather(items: Sequence[tuple[Any, ...]], call: Any) -> Gathered:
    """Run ``items`` in order, from the student's kernel in one request:

    - ``(obj, "attr", name)``: ``getattr(obj, name)``;
    - ``(obj, "call", name, *args)``: ``getattr(obj, name)(*args)``, through ``call`` (the guard's call_student);
    - ``(obj, "set", name, value)``: ``setattr(obj, name, value)`` (its value is None);
    - ``(obj, "rows", objs, attrs, names)``: :func:`read` of ``objs`` with ``getattr(obj, "state", None)``.

    Values come back as :func:`materialize` gives them (rows as :func:`read` does): from a kernel, containers
    as plain data, a copy; here, the objects themselves, so read them before the student's code runs again.
    The first exception stops the run and comes back beside the values of the items before it (a
    DelegationError is raised at once: it is never the student's answer)."""
    for item in items:
        if not _gather_item(item):
            raise ValueError(f"gather: not an item: {tuple(item)[1:]!r}")
    s = session()
    if s is None:  # in the student's own process: nothing to batch (the checks run here on every step)
        return _gather_here(items, call)
    from .remote.proxy import RemoteObject

    values: list[Any] = []
    start = 0
    while start < len(items):
        end = start
        while end < len(items) and isinstance(items[end][0], RemoteObject):
            end += 1
        if end > start:  # a run of the kernel's objects: one request
            got = s.gather(items[start:end])
            values += got.values
            if got.failed is not None:
                return Gathered(values, got.failed)
            start = end
            continue
        obj, how, name, *value = items[start]  # here (or one of the checks' own objects, around the student's)
        start += 1
        try:
            if how == "rows":
                values.append(read(name, value[0], getattr(obj, "state", None), value[1]))
            elif how == "set":
                setattr(obj, name, *value)
                values.append(None)
            else:
                got_value = getattr(obj, name)
                values.append(materialize(call(got_value, *value) if how == "call" else got_value))
        except Exception as exc:
            if type(exc).__name__ == "DelegationError":
                raise
            return Gathered(values, exc)
    return Gathered(values)


def _gather_here(items: Sequence[tuple[Any, ...]], call: Any) -> Gathered:
    values: list[Any] = []
    for obj, how, name, *value in items:
        try:
            if how == "attr":
                values.append(getattr(obj, name))
            elif how == "call":
                values.append(call(getattr(obj, name), *value))
            elif how == "set":
                setattr(obj, name, *value)
                values.append(None)
            else:
                values.append(_rows(name, value[0], getattr(obj, "state", None), value[1]))
        except Exception as exc:
            if type(exc).__name__ == "DelegationError":
                raise
            return Gathered(values, exc)
    return Gathered(values)


def materialize(value: Any) -> Any:
    """A stand-in for the student's dict, list, set or tuple as plain data, fetched in one request (its arrays
    stay mirrored, so later in-place changes still show); anything else as it is."""
    from .remote.proxy import RemoteObject

    return value._value() if isinstance(value, RemoteObject) else value


def make_class(name: str, bases: tuple[Any, ...]) -> Any:
    """``type(name, bases, {})`` on the side where the student's classes live."""
    s = session()
    if s is None:
        return type(name, bases, {})
    return s.builtin("type")(name, bases, {})


def measure(name: str, *args: Any) -> Any:
    """``optimcourse.remote.measure.<name>(*args)`` where the student's code runs (its arrays, its step)."""
    s = session()
    if s is not None:
        return s.request("measure", name=name, args=args)
    from .remote.measure import MEASURES

    return MEASURES[name](*args)


# -- files the student's code reads and writes: in the student's file system, which under course-grade is
# the sandboxed kernel's, not the grader's ------------------------------------------------------------------


@contextlib.contextmanager
def student_folder() -> Iterator[str]:
    """A new empty folder where the student's code runs, removed afterwards; its path."""
    s = session()
    if s is None:
        with tempfile.TemporaryDirectory() as folder:
            yield folder
        return
    folder = s.module("tempfile").mkdtemp()
    if not isinstance(folder, str):
        raise TypeError("the kernel's tempfile.mkdtemp() did not give a path")
    try:
        yield folder
    finally:
        if s.broken is None:  # a kernel that is gone takes its folder with it
            s.module("shutil").rmtree(folder, True)


def list_folder(folder: str) -> list[str]:
    """The sorted names in ``folder`` of the student's file system."""
    s = session()
    if s is None:
        return sorted(os.listdir(folder))
    return sorted(str(name) for name in s.module("os").listdir(folder))


def put_file(path: str, data: bytes) -> None:
    """Write ``data`` to ``path`` in the student's file system (the channel carries it as a uint8 array)."""
    s = session()
    if s is None:
        with open(path, "wb") as out:
            out.write(data)
        return
    import numpy as np

    s.module("numpy").ndarray.tofile(np.frombuffer(data, dtype=np.uint8).copy(), path)


def copy_folder(source: str, target: str) -> None:
    """Every regular file of ``source`` (this process's) into ``target`` of the student's file system."""
    for name in sorted(os.listdir(source)):
        path = os.path.join(source, name)
        if os.path.isfile(path) and not os.path.islink(path):
            with open(path, "rb") as f:
                put_file(os.path.join(target, name), f.read())
