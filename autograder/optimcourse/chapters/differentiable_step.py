"""Chapter 8 (08-differentiable-step): the derivative of the loss after a step with respect to the learning rate.

The student derives it by hand, in NumPy, for a quadratic and for linear least squares, after one SGD
step and after one step of SGD with momentum, and runs a few steps of hypergradient descent on lr.
Torch computes the same numbers by differentiating through ``torch.optim.SGD(..., differentiable=True)``
with a tensor learning rate; a central finite difference of the loss after the step checks both.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ..cases import HIDDEN_SEEDS, VISIBLE_SEEDS, is_visible
from ..guard import DelegationError
from ..mutants import load_mutants
from ..scenarios import ObserveScenario, record_call
from ..side import is_torch, torch_side
from ..trace import Raised, Trace
from ..verify import verify

__all__ = [
    "HIDDEN_SEEDS",
    "MUTANTS",
    "VISIBLE_SEEDS",
    "check_gradients",
    "check_hypergradient_descent",
    "check_momentum_hypergradient",
    "check_sgd_hypergradient",
    "problems",
]


_SGD_H = "    return float(-grad_fn(theta - lr * g) @ g)\n"
_MOMENTUM_H = "    return float(-grad_fn(theta - lr * buf) @ buf)\n"

MUTANTS = load_mutants("differentiable_step")  # differentiable_step.mutants.toml


# -- problems ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    kind: str  # "quadratic" or "least squares"
    data: tuple[np.ndarray, np.ndarray]  # (A, b) or (X, y)
    theta: np.ndarray
    lr: float

    @property
    def words(self) -> str:
        first, _second = self.data
        what = (
            f"L(theta) = 1/2 theta^T A theta - b^T theta with A of shape {first.shape}"
            if self.kind == "quadratic"
            else f"L(w) = mean((X w - y)**2) with X of shape {first.shape}"
        )
        return f"{what}, lr = {self.lr:.6g}"


def problems(seed: int) -> list[Problem]:
    rng = np.random.default_rng([seed, 8])
    if is_visible(seed):
        A = np.array([[3.0, 0.5], [0.5, 1.0]])
        X = np.array([[1.0, 0.5], [0.2, -1.0], [2.0, 1.0], [-0.5, 0.3], [1.5, -0.7], [0.0, 1.0]])
        return [
            Problem("quadratic", (A, np.array([1.0, -1.0])), np.array([0.3, 0.7]), 0.1),
            Problem("least squares", (X, X @ np.array([1.0, -2.0]) + 0.1), np.zeros(2), 0.05),
        ]
    n = int(rng.integers(2, 7))
    q = np.linalg.qr(rng.normal(size=(n, n)))[0]
    A = q @ np.diag(10 ** rng.uniform(-1, 1, size=n)) @ q.T
    A = (A + A.T) / 2
    m = int(rng.integers(n + 1, 3 * n + 3))
    X = rng.normal(size=(m, n))
    return [
        Problem("quadratic", (A, rng.normal(size=n)), rng.normal(size=n), float(10 ** rng.uniform(-2, -0.5))),
        Problem("least squares", (X, rng.normal(size=m)), rng.normal(size=n), float(10 ** rng.uniform(-2.5, -1))),
    ]


def _numpy_loss(problem: Problem, theta: np.ndarray) -> float:
    first, second = problem.data
    if problem.kind == "quadratic":
        return float(0.5 * theta @ first @ theta - second @ theta)
    return float(np.mean((first @ theta - second) ** 2))


def _torch_loss(problem: Problem, theta: torch.Tensor) -> torch.Tensor:
    first, second = (torch.tensor(a, dtype=torch.float64) for a in problem.data)
    if problem.kind == "quadratic":
        return 0.5 * theta @ first @ theta - second @ theta
    return F.mse_loss(first @ theta, second)


def _torch_grad(problem: Problem, theta: np.ndarray) -> np.ndarray:
    t = torch.tensor(theta, dtype=torch.float64, requires_grad=True)
    (g,) = torch.autograd.grad(_torch_loss(problem, t), t)
    return g.numpy()


def _torch_hypergradient(
    problem: Problem, theta: np.ndarray, lr: float, momentum: float = 0.0, buffer: np.ndarray | None = None
) -> float:
    """d L(theta after one torch.optim.SGD step) / d lr, by autograd through the step itself."""
    lr_t = torch.tensor(lr, dtype=torch.float64, requires_grad=True)
    p = torch.tensor(theta, dtype=torch.float64, requires_grad=True).clone()  # a non-leaf: the step is in-place
    opt = torch.optim.SGD([p], lr=lr_t, momentum=momentum, differentiable=True)
    if buffer is not None:
        opt.state[p]["momentum_buffer"] = torch.tensor(buffer, dtype=torch.float64)
    p.grad = torch.tensor(_torch_grad(problem, theta), dtype=torch.float64)
    opt.step()
    _torch_loss(problem, p).backward()
    assert lr_t.grad is not None
    return float(lr_t.grad)


# -- the observations ------------------------------------------------------------------------------------


def _numpy_grad(problem: Problem) -> Callable[[np.ndarray], np.ndarray]:
    """The loss's gradient handed to the student's hypergradient functions (an input, not an expected
    value: the hypergradient checks should not fail because of a gradient exercise)."""
    first, second = problem.data
    if problem.kind == "quadratic":
        return lambda theta: first @ theta - second
    return lambda theta: 2.0 / len(second) * first.T @ (first @ theta - second)


def _student_grad(problem: Problem, impl: Any) -> Callable[[np.ndarray], np.ndarray]:
    name = "quadratic_grad" if problem.kind == "quadratic" else "least_squares_grad"
    first, second = problem.data
    return lambda theta: impl[name](first.copy(), second.copy(), np.array(theta, dtype=np.float64))


def _as_value(result: Any) -> Any:
    return (
        np.array(float(result))
        if isinstance(result, (int, float, np.floating, np.ndarray)) and np.size(result) == 1
        else result
    )


def _finite_difference(problem: Problem, theta: np.ndarray, lr: float, direction: np.ndarray) -> float:
    """Central difference of L(theta - lr * direction) in lr."""
    h = 1e-5 * max(lr, 1e-3)
    return (_numpy_loss(problem, theta - (lr + h) * direction) - _numpy_loss(problem, theta - (lr - h) * direction)) / (
        2 * h
    )


def _try(trace: Trace, label: str, thunk: Callable[..., Any]) -> Any:
    return record_call(trace, label, thunk, _as_value)


def _observe_grads(problem: Problem) -> Callable[[Any, Callable[..., Any]], Trace]:
    def observe(impl: Any, call: Callable[..., Any]) -> Trace:
        trace = Trace()
        grad = (lambda theta: _torch_grad(problem, theta)) if is_torch(impl) else _student_grad(problem, impl)
        for k, theta in enumerate((problem.theta, problem.theta + 0.5, -2 * problem.theta + 1)):
            _try(trace, f"gradient at point {k}", lambda theta=theta: call(grad, theta))
        return trace

    return observe


def _observe_hyper(
    problem: Problem, momentum: float, buffer: np.ndarray | None
) -> Callable[[Any, Callable[..., Any]], Trace]:
    def observe(impl: Any, call: Callable[..., Any]) -> Trace:
        trace = Trace()
        g = _torch_grad(problem, problem.theta)
        direction = g if buffer is None else momentum * buffer + g
        if momentum == 0.0:
            label = "hypergradient dL/dlr after one SGD step"
            thunk = (
                (lambda: _torch_hypergradient(problem, problem.theta, problem.lr))
                if is_torch(impl)
                else (lambda: call(impl["sgd_hypergradient"], _numpy_grad(problem), problem.theta.copy(), problem.lr))
            )
        else:
            label = "hypergradient dL/dlr after one step of SGD with momentum"
            thunk = (
                (lambda: _torch_hypergradient(problem, problem.theta, problem.lr, momentum, buffer))
                if is_torch(impl)
                else (
                    lambda: call(
                        impl["momentum_hypergradient"],
                        _numpy_grad(problem),
                        problem.theta.copy(),
                        problem.lr,
                        momentum,
                        None if buffer is None else buffer.copy(),
                    )
                )
            )
        value = _try(trace, label, thunk)
        if value is not None and not isinstance(value, Raised):
            fd = _finite_difference(problem, problem.theta, problem.lr, direction)
            scale = max(abs(fd), float(direction @ direction), 1.0)
            trace.add(
                f"{label}: within 1e-5 (relative) of a central finite difference",
                bool(abs(float(value) - fd) <= 1e-5 * scale),
            )
        return trace

    return observe


def _observe_descent(problem: Problem, hyper_lr: float, steps: int) -> Callable[[Any, Callable[..., Any]], Trace]:
    def observe(impl: Any, call: Callable[..., Any]) -> Trace:
        trace = Trace()
        if is_torch(impl):
            theta, lr, torch_lrs = problem.theta.copy(), problem.lr, []
            try:
                for _ in range(steps):
                    lr = lr - hyper_lr * _torch_hypergradient(problem, theta, lr)
                    theta = theta - lr * _torch_grad(problem, theta)
                    torch_lrs.append(lr)
            except Exception as exc:  # the cases keep lr positive; were one not to, the trace says so
                trace.add("hypergradient descent in torch", Raised.from_exception(exc))
                return trace
            result: Any = (np.array(torch_lrs), theta)
        else:
            try:
                result = call(
                    impl["hypergradient_descent"],
                    _numpy_grad(problem),
                    problem.theta.copy(),
                    problem.lr,
                    hyper_lr,
                    steps,
                )
            except DelegationError:
                raise
            except Exception as exc:
                trace.add("hypergradient_descent(...)", Raised.from_exception(exc))
                return trace
        try:
            raw_lrs, theta = result
            lrs = np.asarray(raw_lrs, dtype=np.float64)
        except Exception:
            trace.add("hypergradient_descent(...) returned (learning rates, theta)", type(result).__name__)
            return trace
        for k in range(steps):
            trace.add(f"learning rate after step {k + 1}", np.array(lrs[k]) if k < lrs.size else None)
        trace.add(f"theta after {steps} steps", np.asarray(theta, dtype=np.float64))
        return trace

    return observe


TORCH = torch_side()


def gradient_cases(seeds: Sequence[int]) -> list[ObserveScenario]:
    return [
        ObserveScenario(
            title="torch.autograd.grad of the loss", observe=_observe_grads(p), torch_impl=TORCH, words=p.words
        )
        for seed in seeds
        for p in problems(seed)
    ]


def hyper_cases(seeds: Sequence[int], with_momentum: bool) -> list[ObserveScenario]:
    out = []
    for seed in seeds:
        rng = np.random.default_rng([seed, 80])
        for p in problems(seed):
            if not with_momentum:
                settings: list[tuple[float, np.ndarray | None]] = [(0.0, None)]
            else:
                momentum = 0.9 if is_visible(seed) else float(rng.uniform(0.1, 0.99))
                settings = [(momentum, None), (momentum, rng.normal(size=p.theta.shape))]
            for momentum, buffer in settings:
                words = p.words + (
                    f", momentum = {momentum:.6g}, "
                    + ("no buffer yet (first step)" if buffer is None else "a momentum buffer from earlier steps")
                    if momentum
                    else ""
                )
                out.append(
                    ObserveScenario(
                        title="autograd through torch.optim.SGD(..., differentiable=True) with a tensor lr",
                        observe=_observe_hyper(p, momentum, buffer),
                        torch_impl=TORCH,
                        words=words,
                    )
                )
    return out


def _curvature(problem: Problem) -> float:
    """The largest eigenvalue of the loss's Hessian (SGD is stable below lr = 2 / curvature)."""
    first, second = problem.data
    hessian = first if problem.kind == "quadratic" else 2.0 / len(second) * first.T @ first
    return float(np.linalg.eigvalsh(hessian)[-1])


def descent_cases(seeds: Sequence[int]) -> list[ObserveScenario]:
    """Hypergradient descent from a stable lr, with hyper_lr scaled so that lr stays positive: the first
    change of lr is a fraction of lr itself (torch refuses a negative lr)."""
    out = []
    for seed in seeds:
        rng = np.random.default_rng([seed, 81])
        for p in problems(seed):
            curvature = _curvature(p)
            lr = (0.5 if is_visible(seed) else float(rng.uniform(0.1, 0.9))) / curvature
            p = Problem(p.kind, p.data, p.theta, lr)
            g = _numpy_grad(p)(p.theta)
            fraction = 0.1 if is_visible(seed) else float(rng.uniform(0.02, 0.3))
            hyper_lr = fraction * lr / max(float(g @ g), 1e-12)
            out.append(
                ObserveScenario(
                    title="hypergradient descent with torch's hypergradients",
                    observe=_observe_descent(p, hyper_lr, 5),
                    torch_impl=TORCH,
                    words=p.words + f", hyper_lr = {hyper_lr:.3g}, 5 steps",
                )
            )
    return out


# -- what the notebook's test cells call ---------------------------------------------------------------


def check_gradients(quadratic_grad: Any, least_squares_grad: Any, *, seeds: Sequence[int] = VISIBLE_SEEDS) -> None:
    __tracebackhide__ = True
    verify(
        "each gradient function",
        gradient_cases(seeds),
        {"quadratic_grad": quadratic_grad, "least_squares_grad": least_squares_grad},
        MUTANTS,
        "torch.autograd.grad",
    )


def check_sgd_hypergradient(sgd_hypergradient: Any, *, seeds: Sequence[int] = VISIBLE_SEEDS) -> None:
    __tracebackhide__ = True
    verify(
        "sgd_hypergradient",
        hyper_cases(seeds, False),
        {"sgd_hypergradient": sgd_hypergradient},
        MUTANTS,
        "autograd through torch.optim.SGD(differentiable=True)",
    )


def check_momentum_hypergradient(momentum_hypergradient: Any, *, seeds: Sequence[int] = VISIBLE_SEEDS) -> None:
    __tracebackhide__ = True
    verify(
        "momentum_hypergradient",
        hyper_cases(seeds, True),
        {"momentum_hypergradient": momentum_hypergradient},
        MUTANTS,
        "autograd through torch.optim.SGD(momentum=..., differentiable=True)",
    )


def check_hypergradient_descent(hypergradient_descent: Any, *, seeds: Sequence[int] = VISIBLE_SEEDS) -> None:
    __tracebackhide__ = True
    verify(
        "hypergradient_descent",
        descent_cases(seeds),
        {"hypergradient_descent": hypergradient_descent},
        MUTANTS,
        "hypergradient descent with torch's hypergradients",
    )
