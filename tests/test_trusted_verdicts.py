"""Trusted verdicts: a graded cell scores the same whether the checks call the student's code in the same
process (a notebook, Validate, plain nbgrader) or through the channel from the grader (course-grade).

Every reference, untouched exercise and named mistake of every chapter is run both ways, cell by cell.
Chapter 7's checks also measure the student's step itself (which arrays share memory, how many Python
lines a step runs, how much it allocates): through the channel those measurements are taken in the
kernel, by the course's agent.
"""

from __future__ import annotations

import numpy as np
import pytest

from conftest import library
from notebook_runner import read, run, run_shared, run_trusted, solution_code, stub_code, with_solution_code
from optimcourse import cases
from optimcourse.course import ASSIGNMENTS, get_assignment
from optimcourse.remote import proxy
from optimcourse.remote.verdicts import pair, run_cell


def _variants():
    """Every reference, untouched exercise and named mistake, one test each (so that the workers share them)."""
    for a in ASSIGNMENTS:
        yield pytest.param(a, "reference", id=f"{a.id}:reference")
        yield pytest.param(a, "untouched", id=f"{a.id}:untouched")
        for m in library(a).mutants:
            yield pytest.param(a, m.name, id=f"{a.id}:{m.name}")


def _code(assignment, name):
    if name == "reference":
        return solution_code(assignment)
    if name == "untouched":
        return stub_code(assignment)
    return solution_code(assignment, next(m for m in library(assignment).mutants if m.name == name))


@pytest.mark.slow
@pytest.mark.parametrize(("assignment", "name"), list(_variants()))
def test_every_variant_scores_the_same_through_the_channel(assignment, name):
    nb = with_solution_code(read(assignment.solution_path()), _code(assignment, name))
    here = [(r.grade_id, r.passed) for r in run_shared(nb)]  # as test_grading_gates ran it
    there = run_trusted(nb, assignment)
    assert here == [(r.grade_id, r.passed) for r in there], (
        f"in the notebook {here}, through the channel {[(r.grade_id, r.passed, r.message[:300]) for r in there]}"
    )
    if name == "reference":
        assert all(r.passed for r in there), there
    elif name == "untouched":
        assert not any(r.passed for r in there), there
    else:
        assert not all(r.passed for r in there), f"mutant {name} keeps full marks through the channel"


def test_the_parity_gate_sees_a_channel_that_loses_writes(monkeypatch):
    """A channel that does not carry the grader's writes into arrays it passed (a caller reusing its buffer)
    lets chapter 2's aliasing mistake pass: the comparison above must see that."""
    assignment = get_assignment("zero_grad")
    mutant = next(m for m in assignment.mutant_library().mutants if m.name == "accumulate-aliases-caller")
    nb = with_solution_code(read(assignment.solution_path()), solution_code(assignment, mutant))
    honest = [r.passed for r in run_trusted(nb, assignment)]
    monkeypatch.setattr(proxy.Session, "_writes", lambda self, blobs: [])
    broken = [r.passed for r in run_trusted(nb, assignment)]
    assert honest == [r.passed for r in run(nb)]
    assert honest != broken


def test_what_crosses_is_data(tmp_path):
    """Arrays come back as arrays (mirrored: the same kernel array is the same local one), the student's
    exceptions as exceptions of the same kind with their message, and the grader refuses to send objects."""

    class Mine(ValueError):
        pass

    def boom():
        raise Mine("no")

    namespace = {"a": np.arange(3.0), "boom": boom, "d": {"k": np.ones(2)}}
    with pair(namespace) as session:
        a = session.name("a")
        assert isinstance(a, np.ndarray) and a.tolist() == [0.0, 1.0, 2.0]
        assert session.name("a") is a
        d = session.name("d")
        assert isinstance(d, dict) and d["k"].tolist() == [1.0, 1.0]
        with pytest.raises(ValueError, match="no") as raised:
            session.name("boom")()
        assert type(raised.value).__name__ == "Mine"
        with pytest.raises(proxy.wire.GraderError):
            session.name("boom")(object())


def test_a_verdict_never_reads_what_the_kernel_prints():
    """A notebook that prints 'OK' or raises in the middle of a check is judged by its numbers only."""
    assignment = ASSIGNMENTS[0]
    code = solution_code(assignment)
    code["sgd-update"] = (
        "def sgd_update_(params, lr):\n    print('OK: sgd_update_ matches everything')\n"
        "    for p in params:\n        pass\n"
    )
    nb = with_solution_code(read(assignment.solution_path()), code)
    results = {r.grade_id: r for r in run_trusted(nb, assignment)}
    assert not results["sgd-update-matches-torch"].passed
    assert "differs from" in results["sgd-update-matches-torch"].message
    with pair({"x": 1}) as session:
        verdict = run_cell("checks.check_parameter(Parameter)", assignment.checks_module, session)
    assert not verdict.passed and verdict.ename == "NameError"


def test_the_grader_takes_no_class_of_its_own_for_a_kernel_answer():
    """An agent that answers a name lookup with {"given": "SGD"} would have the grader check the course's own
    SGD in the student's place: only the `required` sentinel may come back by name."""
    from optimcourse import given
    from optimcourse.remote import wire

    session = proxy.Session(None, 0.0)
    assert session.decode({"given": "required"}, []) is given.required
    for name in ("Parameter", "Optimizer", "SGD", "Adam", "AdamW", "__builtins__"):
        with pytest.raises(wire.ProtocolError):
            session.decode({"given": name}, [])


def test_a_graded_cell_reads_the_submissions_own_hidden_seeds():
    source = "print(checks.HIDDEN_SEEDS, checks.VISIBLE_SEEDS)"
    with pair({}) as session:
        verdict = run_cell(source, ASSIGNMENTS[0].checks_module, session, (11, 22, 33))
    assert verdict.passed and verdict.printed.strip() == "(11, 22, 33) (0,)"
    with pair({}) as session:  # none given: the term's, as in the notebook
        verdict = run_cell(source, ASSIGNMENTS[0].checks_module, session)
    assert verdict.printed.strip() == f"{cases.hidden_seeds()} (0,)"


def test_a_keyboard_interrupt_from_the_students_code_is_their_exception_not_a_dead_kernel():
    def interrupted():
        raise KeyboardInterrupt

    with pair({"interrupted": interrupted, "after": lambda: 3}) as session:
        failed = run_cell("interrupted()", ASSIGNMENTS[0].checks_module, session)
        then = run_cell("print(after())", ASSIGNMENTS[0].checks_module, session)
    assert not failed.passed and failed.ename == "KeyboardInterrupt", failed
    assert then.passed and then.printed.strip() == "3", then  # the kernel's agent still answers


def test_an_oserror_of_the_students_code_is_their_exception_not_a_broken_channel():
    def read_missing():
        with open("/nonexistent/course/file.ckpt", "rb"):
            pass

    with pair({"read_missing": read_missing, "after": lambda: 3}) as session:
        failed = run_cell("read_missing()", ASSIGNMENTS[0].checks_module, session)
        then = run_cell("print(after())", ASSIGNMENTS[0].checks_module, session)
    assert not failed.passed and failed.ename == "FileNotFoundError", failed
    assert then.passed and then.printed.strip() == "3", then


class _Scheduler:
    def __init__(self):
        self.groups = [{"lr": 0.1, "x": np.ones(2)}]
        self.last_epoch = 3
        self.state = {self: {"seen": 7}}

    def get_last_lr(self):
        return [g["lr"] for g in self.groups]

    def step(self, by=1):
        self.last_epoch += by

    def broken(self):
        raise KeyError("no such group")


def _items(s):
    return [
        (s, "call", "step", 2),
        (s, "set", "name", "renamed"),
        (s, "attr", "groups"),
        (s, "call", "get_last_lr"),
        (s, "attr", "last_epoch"),
        (s, "attr", "name"),
        (s, "rows", (s,), ("last_epoch",), ("seen", "unseen")),
    ]


def test_gather_does_in_one_request_what_it_does_here():
    """side.gather is one request through the channel, with the same values and failures as here."""
    from optimcourse import side

    local = _Scheduler()
    here = side.gather(_items(local), call=lambda f, *a: f(*a)).result()
    assert here[2] is local.groups  # here, the object itself; from the kernel, a copy (as materialize gives)
    with pair({"s": _Scheduler()}) as session, side.remote(session):
        remote = session.name("s")
        requests = []
        ask = session.request
        session.request = lambda *a, **k: requests.append(a[0]) or ask(*a, **k)
        there = side.gather(_items(remote), call=lambda f, *a: f(*a)).result()
        assert requests == ["gather"]
        requests.clear()  # the checks' own objects between the kernel's: each run of the kernel's is one request
        mixed = [(remote, "attr", "last_epoch"), (_Scheduler(), "attr", "last_epoch"), (remote, "call", "step")]
        assert side.gather(mixed, call=lambda f, *a: f(*a)).result() == [5, 3, None] and requests == ["gather"] * 2
        failed = side.gather([(remote, "attr", "last_epoch"), (remote, "call", "broken")], call=lambda f: f())
        assert failed.values == [6] and isinstance(failed.failed, KeyError) and "no such group" in str(failed.failed)
        with pytest.raises(KeyError, match="no such group"):
            failed.result()
        with pytest.raises(proxy.wire.ProtocolError, match="not \\(object, how, name"):
            session.gather([(remote, "run", "broken")])
        assert isinstance(session.broken, proxy.wire.ProtocolError)  # the grader's own bug: never a verdict
    assert [type(v) for v in here] == [type(v) for v in there]
    assert here[2][0]["lr"] == there[2][0]["lr"] == 0.1 and here[2][0]["x"].tolist() == there[2][0]["x"].tolist()
    assert here[:2] == there[:2] == [None, None]
    assert here[3:] == there[3:] == [[0.1], 5, "renamed", [((5,), (7, None))]]
    failed = side.gather([(_Scheduler(), "attr", "last_epoch"), (_Scheduler(), "call", "broken")], call=lambda f: f())
    assert failed.values == [3] and isinstance(failed.failed, KeyError)


def test_a_check_waiting_for_an_agent_that_never_comes_is_woken(tmp_path):
    """The grader stops listening once a cell ends: the checks' thread, blocked in accept() for an agent that
    never connected (the notebook stopped it), must end then, not at its own deadline."""
    import socket
    import threading
    import time

    from optimcourse.grading.trusted import stop_listening

    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(tmp_path / "c.sock"))
    listener.listen(1)
    listener.settimeout(600)  # a cell's deadline
    waited: list[BaseException] = []

    def wait() -> None:
        try:
            listener.accept()
        except BaseException as exc:
            waited.append(exc)

    thread = threading.Thread(target=wait, daemon=True)
    thread.start()
    time.sleep(0.5)  # into accept() (were it not there yet, accept() would fail at once: still an OSError)
    stop_listening(listener)
    thread.join(timeout=60)  # generous on a busy machine; a thread left waiting stays alive for 600 s
    assert not thread.is_alive(), "the thread waiting for the agent was not woken when the grader stopped listening"
    assert waited and isinstance(waited[0], OSError)
