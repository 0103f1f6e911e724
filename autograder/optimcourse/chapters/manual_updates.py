"""Chapter 1 (01-manual-updates): Parameter, sgd_update_ and a minimal SGD class.

Every check compares the student's NumPy code with ``torch.optim.SGD`` (float64) over several
steps with a new gradient each step, a 0-dim parameter, and a parameter whose grad is None
for some steps. Visible tests use the fixed cases below; hidden tests add seeded random ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from ..cases import HIDDEN_SEEDS, VISIBLE_SEEDS, is_visible, learning_rate, problem
from ..mutants import load_mutants
from ..scenarios import ObserveScenario, OptimizerScenario, Step, TorchParameter, ZeroGrad, observe_calls
from ..side import torch_side
from ..trace import Trace
from ..verify import verify

__all__ = [
    "HIDDEN_SEEDS",
    "MUTANTS",
    "VISIBLE_SEEDS",
    "check_parameter",
    "check_sgd_step",
    "check_sgd_update",
    "check_sgd_validation",
    "check_sgd_zero_grad",
]


MUTANTS = load_mutants("manual_updates")  # manual_updates.mutants.toml


# -- the cases ---------------------------------------------------------------------------------


def _torch_sgd(**hparams: Any):
    return lambda params: torch.optim.SGD(params, **hparams)


class _FunctionStepper:
    """Gives sgd_update_ the step() of an optimizer, so the engine can drive it."""

    def __init__(self, fn: Any, params: Any, lr: float) -> None:
        self.fn, self.params, self.lr = fn, list(params), lr

    def step(self) -> None:
        self.fn(self.params, self.lr)


def sgd_update_cases(seeds: Sequence[int]) -> list[OptimizerScenario]:
    cases = []
    for seed in seeds:
        init, grads = problem(seed)
        lr = learning_rate(seed)
        cases.append(
            OptimizerScenario(
                title=f"torch.optim.SGD(params, lr={lr:.6g}).step()",
                init=init,
                actions=tuple(Step(tuple(g)) for g in grads),
                build=lambda impl, params, lr=lr: _FunctionStepper(impl["sgd_update_"], params, lr),
                build_torch=_torch_sgd(lr=lr),
            )
        )
    return cases


def sgd_step_cases(seeds: Sequence[int]) -> list[OptimizerScenario]:
    cases = []
    for seed in seeds:
        init, grads = problem(seed)
        lr = learning_rate(seed)
        steps = tuple(Step(tuple(g)) for g in grads)
        cases.append(
            OptimizerScenario(
                title=f"torch.optim.SGD(params, lr={lr:.6g})",
                init=init,
                actions=steps,
                build=lambda impl, params, lr=lr: impl["SGD"](params, lr=lr),
                build_torch=_torch_sgd(lr=lr),
            )
        )
        cases.append(
            OptimizerScenario(
                title=f"torch.optim.SGD(model.parameters(), lr={lr / 2:.6g})",
                init=init,
                actions=steps,
                build=lambda impl, params, lr=lr: impl["SGD"](params, lr=lr / 2),
                build_torch=_torch_sgd(lr=lr / 2),
                as_generator=True,
            )
        )
        cases.append(
            OptimizerScenario(
                title="torch.optim.SGD(params) (default lr=1e-3)",
                init=init,
                actions=steps[:3],
                build=lambda impl, params: impl["SGD"](params),
                build_torch=_torch_sgd(),
            )
        )
    return cases


def zero_grad_cases(seeds: Sequence[int]) -> list[OptimizerScenario]:
    cases = []
    for seed in seeds:
        init, grads = problem(seed, steps=6)
        lr = learning_rate(seed)
        frozen = [tuple(None if i == 1 % len(gs) else g for i, g in enumerate(gs)) for gs in grads]
        actions = (
            Step(tuple(grads[0])),
            ZeroGrad(True),
            Step(None),  # grads None: step is a no-op
            Step(tuple(grads[1])),
            ZeroGrad(False),
            Step(None),  # zero grads: plain SGD stays put
            Step(frozen[2]),
            ZeroGrad(False),
            ZeroGrad(True),  # a None grad stays None
            Step(tuple(grads[3])),
            ZeroGrad(),
        )
        cases.append(
            OptimizerScenario(
                title=f"torch.optim.SGD(params, lr={lr:.6g}) with zero_grad",
                init=init,
                actions=actions,
                build=lambda impl, params, lr=lr: impl["SGD"](params, lr=lr),
                build_torch=_torch_sgd(lr=lr),
            )
        )
    return cases


def validation_cases(seeds: Sequence[int]) -> list[OptimizerScenario]:
    cases = []
    for seed in seeds:
        init, _ = problem(seed)
        bad_lr = -learning_rate(seed)
        cases += [
            OptimizerScenario(
                title=f"torch.optim.SGD(params, lr={bad_lr:.6g})",
                init=init,
                actions=(),
                build=lambda impl, params, lr=bad_lr: impl["SGD"](params, lr=lr),
                build_torch=_torch_sgd(lr=bad_lr),
            ),
            OptimizerScenario(
                title="torch.optim.SGD([], lr=0.1)",
                init=(),
                actions=(),
                build=lambda impl, params: impl["SGD"](params, lr=0.1),
                build_torch=_torch_sgd(lr=0.1),
                as_generator=not is_visible(seed),
            ),
        ]
    return cases


def _observe_parameter(seed: int):
    rng = np.random.default_rng(seed)
    ints = rng.integers(-5, 5, size=3)
    floats = rng.normal(size=(2, 2))
    scalar = float(rng.normal())

    def observe(impl: Any, call: Any) -> Trace:
        source = floats.copy()
        made: dict[str, Any] = {}

        def make(name: str, data: Any) -> Any:
            made[name] = impl["Parameter"](data)
            return "returned"

        return observe_calls(
            [
                ("Parameter(int array)", lambda: make("i", ints.copy())),
                ("Parameter(int array).data is a NumPy array", lambda: isinstance(made["i"].data, np.ndarray)),
                ("Parameter(int array).data.dtype", lambda: str(np.asarray(made["i"].data).dtype)),
                ("Parameter(int array).data", lambda: np.array(made["i"].data, dtype=np.float64)),
                ("Parameter(int array).grad", lambda: made["i"].grad),
                ("Parameter(float array)", lambda: make("f", source)),
                (
                    "Parameter(float array).data after the caller changes its array",
                    lambda: (source.__setitem__((0, 0), 99.0), np.array(made["f"].data, dtype=np.float64))[1],
                ),
                ("Parameter(python float)", lambda: make("s", scalar)),
                ("Parameter(python float).data", lambda: np.array(made["s"].data, dtype=np.float64)),
            ],
            call,
        )

    return observe


def parameter_cases(seeds: Sequence[int]) -> list[ObserveScenario]:
    return [
        ObserveScenario(
            title="torch.nn.Parameter(torch.tensor(data, dtype=torch.float64))",
            observe=_observe_parameter(seed),
            torch_impl=torch_side(Parameter=TorchParameter),
            words="an int array, a float64 array the caller changes afterwards, and a Python float",
        )
        for seed in seeds
    ]


# -- what the notebook's test cells call ---------------------------------------------------------


def check_parameter(Parameter: Any, *, seeds: Sequence[int] = VISIBLE_SEEDS) -> None:
    __tracebackhide__ = True
    verify("Parameter", parameter_cases(seeds), {"Parameter": Parameter}, MUTANTS)


def check_sgd_update(sgd_update_: Any, Parameter: Any, *, seeds: Sequence[int] = VISIBLE_SEEDS) -> None:
    __tracebackhide__ = True
    verify("sgd_update_", sgd_update_cases(seeds), {"Parameter": Parameter, "sgd_update_": sgd_update_}, MUTANTS)


def check_sgd_step(SGD: Any, Parameter: Any, *, seeds: Sequence[int] = VISIBLE_SEEDS) -> None:
    __tracebackhide__ = True
    verify("SGD.step", sgd_step_cases(seeds), {"Parameter": Parameter, "SGD": SGD}, MUTANTS)


def check_sgd_zero_grad(SGD: Any, Parameter: Any, *, seeds: Sequence[int] = VISIBLE_SEEDS) -> None:
    __tracebackhide__ = True
    verify("SGD.zero_grad", zero_grad_cases(seeds), {"Parameter": Parameter, "SGD": SGD}, MUTANTS)


def check_sgd_validation(SGD: Any, Parameter: Any, *, seeds: Sequence[int] = VISIBLE_SEEDS) -> None:
    __tracebackhide__ = True
    verify("SGD's constructor", validation_cases(seeds), {"Parameter": Parameter, "SGD": SGD}, MUTANTS)
