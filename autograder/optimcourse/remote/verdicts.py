"""Run a graded cell's checks in the trusted process against the student's names in their kernel.

A graded test cell of the course is a few calls such as ``checks.check_sgd_step(SGD, Parameter,
seeds=checks.HIDDEN_SEEDS)``. :func:`run_cell` executes that source (the course's, from nbgrader's
gradebook, never the notebook's copy) here, with ``checks`` the chapter's real checks module and every
other name a stand-in for the kernel's (:class:`~.proxy.RemoteObject`). The check's verdict, and so the
cell's score, is decided here: what the kernel prints or raises is only data the check compares.

:func:`pair` connects a session to an agent serving a namespace in a thread of this process: the test
suite uses it to run every chapter's checks through the channel without a kernel.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import socket
import time
import types
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from .. import side
from . import wire
from .proxy import KernelTimeout, Session, raised_by_student

__all__ = ["Verdict", "pair", "run_cell"]


@dataclass(frozen=True)
class Verdict:
    passed: bool
    printed: str  # what the checks printed ("OK: ... matches ...")
    ename: str = ""  # on failure: the exception's type and message, as a test cell's error output shows them
    evalue: str = ""


class KernelNames(Mapping):
    """The names a test cell reads: ``checks`` is the trusted module, anything else the kernel's."""

    def __init__(self, session: Session, trusted: dict[str, Any]) -> None:
        self.session, self.trusted = session, trusted
        self.cache: dict[str, Any] = {}

    def __getitem__(self, name: str) -> Any:
        if name in self.trusted:
            return self.trusted[name]
        if name not in self.cache:
            try:
                self.cache[name] = self.session.name(name)
            except NameError:
                raise KeyError(name) from None
        return self.cache[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.trusted)

    def __len__(self) -> int:
        return len(self.trusted)


class ChecksView(types.ModuleType):
    """The chapter's checks module as a graded cell reads it, with this submission's hidden seeds."""

    def __init__(self, module: types.ModuleType, hidden_seeds: tuple[int, ...]) -> None:
        super().__init__(module.__name__, module.__doc__)
        self.__dict__.update(vars(module))
        self.HIDDEN_SEEDS = hidden_seeds


def run_cell(source: str, checks_module: str, session: Session, hidden_seeds: tuple[int, ...] | None = None) -> Verdict:
    """The verdict of one graded cell: its source run here, the student's names read from the kernel;
    ``checks.HIDDEN_SEEDS`` is ``hidden_seeds`` where given (a submission's own draws)."""
    checks = importlib.import_module(checks_module)
    if hidden_seeds is not None:
        checks = ChecksView(checks, tuple(hidden_seeds))
    names = KernelNames(session, {"checks": checks})
    printed = io.StringIO()
    failure: BaseException | None = None
    try:
        with contextlib.redirect_stdout(printed), side.remote(session):
            exec(compile(source, "<graded cell>", "exec"), {"__builtins__": __builtins__}, names)
    except Exception as exc:
        failure = exc
    if session.broken is not None:  # the channel failed: that, not what the checks made of it, is the reason
        failure = session.broken
    text = printed.getvalue()
    if failure is None:
        return Verdict(True, text)
    if isinstance(failure, wire.GraderError):
        raise failure  # the grader's own failure: never a score
    if isinstance(failure, KernelTimeout):
        return Verdict(False, text, "TimeoutError", f"{failure}: it may loop forever")
    if isinstance(failure, (wire.ChannelClosed, OSError)) and not raised_by_student(failure):
        return Verdict(
            False,
            text,
            "KernelStopped",
            "the kernel stopped while the grader was running your code (it ran out of memory or "
            "processes, or the code ended the process)",
        )
    if isinstance(failure, wire.ProtocolError):
        return Verdict(
            False,
            text,
            "ProtocolError",
            f"your notebook answered the grader with something that is not data: {failure}",
        )
    return Verdict(False, text, type(failure).__name__, str(failure))


@contextlib.contextmanager
def pair(namespace: dict[str, Any], seconds: float = 600.0) -> Iterator[Session]:
    """A session whose agent serves ``namespace`` from a forked process, as a kernel's would (for tests:
    the student's side of every check goes through the channel, without starting a kernel)."""
    import multiprocessing

    from . import agent

    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)

    def serve() -> None:
        ours.close()
        try:
            agent.Agent(theirs, namespace).loop()
        except (wire.ChannelClosed, OSError):
            pass

    child = multiprocessing.get_context("fork").Process(target=serve, daemon=True)
    child.start()
    theirs.close()
    session = Session(ours, time.monotonic() + seconds)
    try:
        yield session
    finally:
        session.done()
        ours.close()
        child.join(timeout=10)
        if child.is_alive():
            child.kill()
