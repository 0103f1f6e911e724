"""Scenarios: one script of inputs, run on the student's code, on torch and on each mutant.

A scenario has a ``title`` (what torch call it stands for), ``describe()`` (the inputs, in
words), ``run(impl)`` (the trace of an implementation: the names a notebook defines, such as
``{"Parameter": ..., "SGD": ...}``) and ``expected()`` (torch's trace of the same script).

:class:`OptimizerScenario` is the engine every chapter reuses: it builds parameters from the
same initial values on both sides, feeds the same gradients (None for a frozen parameter),
calls ``step()`` / ``zero_grad()``, and observes parameters, grads and optimizer state after
every action. :class:`ObserveScenario` covers the rest: any observation function run once on
the student's names and once on torch-backed stand-ins.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import torch

from .course import ATOL, RTOL
from .guard import DelegationError, call_student
from .side import gather, is_torch, read, torch_side
from .trace import Raised, Trace

__all__ = [
    "Backward",
    "Impl",
    "ObserveScenario",
    "OptimizerScenario",
    "RuleScenario",
    "Scenario",
    "Step",
    "TorchParameter",
    "Tweak",
    "ZeroGrad",
    "observe_calls",
    "record_call",
]


Impl = Mapping[str, Any]


class Scenario(Protocol):
    @property
    def title(self) -> str: ...

    def describe(self) -> str: ...

    def run(self, impl: Impl) -> Trace: ...

    def expected(self) -> Trace: ...


@dataclass(frozen=True)
class Step:
    """Set every parameter's grad (None = no gradient), then call ``step()``.

    ``grads=None`` calls ``step()`` with the grads left as they are.
    """

    grads: tuple[np.ndarray | None, ...] | None


@dataclass(frozen=True)
class ZeroGrad:
    set_to_none: bool = True


@dataclass(frozen=True)
class Backward:
    """A backward pass that adds these gradients into each parameter's ``.grad`` (None: no gradient).

    Torch runs ``p.backward(g)``; the student's side calls ``accumulate_grad_(p, g)``
    with an array it then overwrites, as a caller reusing its buffer would.
    """

    grads: tuple[np.ndarray | None, ...]


@dataclass(frozen=True)
class Tweak:
    """Change the optimizer between steps as a training script would: ``apply(optimizer, params)``.

    Examples: ``optimizer.param_groups[0]["lr"] = 0.01`` (what a scheduler does), or
    ``optimizer.add_param_group(...)`` (unfreezing a layer). ``params`` are all the scenario's
    parameters, including any the optimizer was not given.
    """

    label: str
    apply: Callable[[Any, Sequence[Any]], None]


Action = Step | ZeroGrad | Backward | Tweak


#: what is read of each parameter after every action (with its entries in the optimizer's state)
_READ = ("data", "grad")


def _as_array(value: Any) -> np.ndarray:
    return np.array(value, dtype=np.float64, copy=True)


@dataclass(frozen=True)
class OptimizerScenario:
    """Step an optimizer built from the student's names and one built by torch.

    ``build(impl, params)`` makes the student's optimizer (anything with ``step()`` and, if
    the script uses it, ``zero_grad()``); ``build_torch(params)`` makes torch's.
    """

    title: str
    init: tuple[np.ndarray, ...]
    actions: tuple[Action, ...]
    # (impl, params) -> the student's optimizer, (params) -> torch's; the cases' lambdas bind their
    # hyperparameters as defaults, hence the open signatures
    build: Callable[..., Any]
    build_torch: Callable[..., torch.optim.Optimizer]
    state_names: tuple[str, ...] = ()
    as_generator: bool = False  # pass the parameters as a generator, as model.parameters() does
    # state buffers that the exercise asks to update in place, as torch does: from a parameter's second
    # step on, each must still be the array it was
    state_in_place: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default=())

    # -- words -----------------------------------------------------------------------------
    def describe(self) -> str:
        shapes = ", ".join(str(v.shape) for v in self.init)
        steps = [a for a in self.actions if isinstance(a, Step)]
        parts = [f"{len(self.init)} parameter(s) of shape {shapes}" if self.init else "no parameters"]
        if self.as_generator:
            parts.append("passed as a generator")
        fed = [a for a in steps if a.grads is not None]
        if steps and len(fed) == len(steps):
            parts.append(f"{len(steps)} step(s), a different gradient each step")
        elif steps:
            parts.append(f"{len(steps)} step(s), {len(fed)} of them after setting new gradients")
        empty = [n for n, a in enumerate(steps, start=1) if a.grads and all(g is None for g in a.grads)]
        for i, when in self._frozen_steps().items():
            when = [n for n in when if n not in empty]
            if when:
                parts.append(f"parameter {i} has grad None at step(s) {', '.join(map(str, when))}")
        if empty:
            parts.append(f"every grad is None at step(s) {', '.join(map(str, empty))} (step() must change nothing)")
        backward = [a for a in self.actions if isinstance(a, Backward)]
        if backward:
            parts.append(f"{len(backward)} backward pass(es) adding into .grad")
        zero = [a for a in self.actions if isinstance(a, ZeroGrad)]
        if zero:
            parts.append("zero_grad(" + " / ".join(f"set_to_none={a.set_to_none}" for a in zero) + ") between steps")
        done = 0
        for a in self.actions:
            done += isinstance(a, Step)
            if isinstance(a, Tweak):
                parts.append(f"after step {done}: {a.label}" if done else f"before the first step: {a.label}")
        return "; ".join(parts + list(self.notes))

    def _frozen_steps(self) -> dict[int, list[int]]:
        frozen: dict[int, list[int]] = {}
        n = 0
        for a in self.actions:
            if isinstance(a, Step):
                n += 1
                for i, g in enumerate(a.grads or ()):
                    if g is None:
                        frozen.setdefault(i, []).append(n)
        return frozen

    # -- the student's side ------------------------------------------------------------------
    def run(self, impl: Impl) -> Trace:
        trace = Trace()
        try:
            params = [call_student(impl["Parameter"], v.copy()) for v in self.init]
            source = (p for p in params) if self.as_generator else list(params)
            opt = call_student(self.build, impl, source)
            # after the constructor: it may re-home the values (chapter 7 packs them into one buffer);
            # from then on every step must update them in place
            arrays = [p.data for p in params]
        except DelegationError:
            raise
        except Exception as exc:  # the student's constructor raised: that is the observation
            trace.add("constructor", Raised.from_exception(exc))
            return trace
        trace.add("constructor", "returned")

        # np.array, not .copy(): a 0-dim gradient stays an array (a NumPy scalar's copy is a scalar), as
        # torch's gradients are always tensors
        def read_all() -> list[Any]:
            return read(params, _READ, getattr(opt, "state", None), self.state_names)

        def step(grads: Sequence[np.ndarray | None] | None) -> tuple[list[Any], Exception | None, Any]:
            # the gradients set and read back, the step, and what it left: one request when the code runs in a
            # kernel (a script is mostly steps)
            items: list[tuple[Any, ...]] = [
                (p, "set", "grad", None if g is None else np.array(g)) for p, g in zip(params, grads or ())
            ]
            items += [(p, "attr", "grad") for p in params]
            got = gather([*items, (opt, "call", "step"), (opt, "rows", params, _READ, self.state_names)], call_student)
            if len(got.values) < len(items):  # setting or reading .grad raised: not the step's doing
                got.result()
            before = got.values[len(items) - len(params) : len(items)]
            return before, got.failed, None if got.failed is not None else got.values[-1]

        def backward(p: Any, g: np.ndarray) -> None:
            buffer = np.array(g)
            impl["accumulate_grad_"](p, buffer)
            buffer[...] = np.nan  # the caller reuses its array: a .grad that aliases it turns NaN

        held: dict[tuple[int, str], Any] = {}
        self._play(
            trace,
            params,
            opt,
            step,
            backward,
            call_student,
            lambda label, before, rows: self._observe(
                trace, label, arrays, before, read_all() if rows is None else rows, impl, held
            ),
        )
        return trace

    # -- torch's side --------------------------------------------------------------------------
    def expected(self) -> Trace:
        trace = Trace()
        params = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in self.init]
        try:
            opt = self.build_torch((p for p in params) if self.as_generator else list(params))
        except Exception as exc:
            trace.add("constructor", Raised(type(exc), str(exc)))
            return trace
        trace.add("constructor", "returned")

        def step(grads: Sequence[np.ndarray | None] | None) -> tuple[list[Any], Exception | None, Any]:
            for p, g in zip(params, grads or ()):
                p.grad = None if g is None else torch.tensor(g, dtype=torch.float64)
            before = [p.grad for p in params]
            try:
                opt.step()
            except Exception as exc:
                return before, exc, None
            return before, None, None

        def read_all() -> list[Any]:
            return [
                ((p, p.grad), tuple((opt.state[p].get(n) if p in opt.state else None) for n in self.state_names))
                for p in params
            ]

        def backward(p: torch.Tensor, g: np.ndarray) -> None:
            p.backward(torch.tensor(g, dtype=torch.float64))  # adds g into p.grad, as autograd does

        held: dict[tuple[int, str], Any] = {}
        self._play(
            trace,
            params,
            opt,
            step,
            backward,
            lambda fn: fn(),
            lambda label, before, rows: self._observe(trace, label, None, before, read_all(), torch_side(), held),
        )
        return trace

    def _play(
        self,
        trace: Trace,
        params: Sequence[Any],
        opt: Any,
        step: Callable[[Sequence[np.ndarray | None] | None], tuple[list[Any], Exception | None, Any]],
        backward: Callable[[Any, np.ndarray], None],
        invoke: Callable[[Callable[..., Any]], Any],
        observe: Callable[[str, list[Any], Any], None],
    ) -> None:
        """Perform the script's actions in order; stop at the first one that raises. ``step(grads)`` sets the
        gradients given, then steps: the gradients it found before the step, what the step (or reading what it
        left) raised, and what it left, read, if it read it (else None); ``observe(label, before, read)``."""
        steps = backwards = 0
        for action in self.actions:
            failed: Exception | None = None
            after = None
            if isinstance(action, Step):
                steps += 1
                label = f"step {steps}"
                before, failed, after = step(action.grads)
            else:
                if isinstance(action, Backward):
                    backwards += 1
                    label = f"backward pass {backwards}"
                elif isinstance(action, Tweak):
                    label = action.label
                else:
                    label = f"zero_grad(set_to_none={action.set_to_none})"

                def call(action: Backward | Tweak | ZeroGrad = action) -> None:
                    if isinstance(action, Backward):
                        for p, g in zip(params, action.grads):
                            if g is not None:
                                backward(p, g)
                    elif isinstance(action, Tweak):
                        action.apply(opt, params)
                    else:
                        opt.zero_grad(set_to_none=action.set_to_none)

                before = [row[0][0] for row in read(params, ("grad",))]
                try:
                    invoke(call)
                except DelegationError:
                    raise
                except Exception as exc:
                    failed = exc
            try:
                if failed is None:
                    observe(label, before, after)
            except DelegationError:
                raise
            except Exception as exc:
                failed = exc
            if failed is not None:
                trace.add(label, Raised.from_exception(failed))
                return

    # -- what is compared after every action ------------------------------------------------------
    def _observe(
        self,
        trace: Trace,
        label: str,
        arrays: Sequence[Any] | None,
        grads_before: Sequence[Any],
        rows: Sequence[Any],
        names: Impl,
        held: dict[tuple[int, str], Any],
    ) -> None:
        """Add to the trace what ``rows`` say about each parameter (``((data, grad), state entries)``, read in
        one go: one request when the student's code runs in their kernel)."""
        student = not is_torch(names)
        for i, ((data, raw_grad), entry) in enumerate(rows):
            if student:
                value, grad = _as_array(data), (None if raw_grad is None else _as_array(raw_grad))
                in_place = arrays is not None and data is arrays[i]
            else:
                value = data.detach().numpy().copy()
                grad = None if raw_grad is None else raw_grad.detach().numpy().copy()
                in_place = True
            trace.add(f"after {label}: parameter {i}", value)
            trace.add(f"after {label}: parameter {i} still the same array (updated in place)", in_place)
            trace.add(f"after {label}: parameter {i} .grad", grad)
            if grads_before[i] is not None and raw_grad is not None:
                # torch zeroes and accumulates gradients in place: whoever holds .grad sees the change
                trace.add(
                    f"after {label}: parameter {i} .grad still the same array (changed in place)",
                    raw_grad is grads_before[i],
                )
            for name, raw in zip(self.state_names, entry):
                trace.add(
                    f"after {label}: state[{name!r}] of parameter {i}",
                    None if raw is None else (_as_array(raw) if student else raw.detach().numpy().copy()),
                )
                if name in self.state_in_place and raw is not None:
                    if (i, name) in held:
                        trace.add(
                            f"after {label}: state[{name!r}] of parameter {i} still the same array (updated in place)",
                            raw is held[i, name],
                        )
                    held[i, name] = raw


class TorchParameter:
    """A float64 ``torch.nn.Parameter`` seen the way the exercises see a Parameter: ``.data`` and
    ``.grad`` as NumPy arrays (views), ``.tensor`` for torch's side of a comparison."""

    def __init__(self, data: Any) -> None:
        self.tensor = torch.nn.Parameter(torch.tensor(data, dtype=torch.float64))

    @property
    def data(self) -> np.ndarray:
        return self.tensor.detach().numpy()

    @property
    def grad(self) -> np.ndarray | None:
        return None if self.tensor.grad is None else self.tensor.grad.numpy()


@dataclass(frozen=True)
class ObserveScenario:
    """Run ``observe`` on the student's names, and on torch-backed stand-ins for the truth."""

    title: str
    observe: Callable[[Impl, Callable[..., Any]], Trace]  # (impl, call) -> trace; call guards student code
    torch_impl: Impl
    words: str = ""
    expected_by: str = "torch"  # who the stand-ins are, for the failure message
    rtol: float = RTOL  # a chapter whose runs agree more closely than the course's tolerance sets its own
    atol: float = ATOL

    def describe(self) -> str:
        return self.words

    def run(self, impl: Impl) -> Trace:
        return self.observe(impl, call_student)

    def expected(self) -> Trace:
        return self.observe(self.torch_impl, lambda fn, *a, **k: fn(*a, **k))


@dataclass(frozen=True)
class RuleScenario:
    """A property with no torch counterpart (how much a step allocates, say): ``observe`` measures it
    on the student's names, and ``rule`` is the trace every correct implementation gives."""

    title: str
    observe: Callable[[Impl, Callable[..., Any]], Trace]
    rule: Callable[..., Trace]  # a thunk; the cases bind its inputs as defaults
    words: str = ""
    expected_by: str = "the rule"

    def describe(self) -> str:
        return self.words

    def run(self, impl: Impl) -> Trace:
        return self.observe(impl, call_student)

    def expected(self) -> Trace:
        return self.rule()


def observe_calls(steps: Sequence[tuple[str, Callable[..., Any]]], call: Callable[..., Any]) -> Trace:
    """Helper for ObserveScenario: run labelled thunks in order, stopping at the first raise."""
    trace = Trace()
    for label, thunk in steps:
        try:
            trace.add(label, call(thunk))
        except DelegationError:
            raise
        except Exception as exc:
            trace.add(label, Raised.from_exception(exc))
            break
    return trace


def record_call(
    trace: Trace, label: str, thunk: Callable[..., Any], as_value: Callable[[Any], Any] = lambda value: value
) -> Any:
    """Helper for ObserveScenario: add what ``thunk`` returned (through ``as_value``) or raised to ``trace``
    under ``label``, and return the value (None if it raised). Delegation is not an observation: it goes up."""
    try:
        value = thunk()
    except DelegationError:
        raise
    except Exception as exc:
        trace.add(label, Raised.from_exception(exc))
        return None
    trace.add(label, as_value(value))
    return value
