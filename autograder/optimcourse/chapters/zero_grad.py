"""Chapter 2 (02-zero-grad): zero_grad_, accumulate_grad_, and gradient accumulation.

The student writes the gradient's life cycle in NumPy: what ``backward()`` does to ``.grad``
(create, then add in place), what ``zero_grad`` does (None, or zeros in place), and a training
step that accumulates micro-batch gradients before one ``optimizer.step()``. Every check runs
the same inputs through torch autograd and ``torch.optim.SGD`` in float64.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ..cases import HIDDEN_SEEDS, VISIBLE_SEEDS, is_visible, learning_rate, problem
from ..given import Parameter
from ..guard import DelegationError
from ..mutants import load_mutants
from ..scenarios import Backward, ObserveScenario, OptimizerScenario, Step, TorchParameter, ZeroGrad
from ..side import is_torch, torch_side
from ..trace import Raised, Trace
from ..verify import verify

__all__ = [
    "HIDDEN_SEEDS",
    "MUTANTS",
    "VISIBLE_SEEDS",
    "check_accumulate_grad",
    "check_accumulate_grad_shapes",
    "check_accumulation_step",
    "check_mse_gradients",
    "check_zero_grad",
]


MUTANTS = load_mutants("zero_grad")  # zero_grad.mutants.toml


# -- the optimizer the tests drive: plain SGD with weight decay, written here ------------------------


class _SGD:
    """torch.optim.SGD(params, lr, weight_decay) in NumPy, to step the student's gradients.

    Weight decay makes the difference between a zero grad and a None grad visible: a zero grad is
    still stepped (the parameter shrinks by lr * weight_decay * p), a None grad is skipped.
    """

    student_methods = (
        "step",
        "zero_grad",
    )  # what the student's code may call (under course-grade, through the channel)

    def __init__(
        self, params: Sequence[Any], lr: float, weight_decay: float = 0.0, zero_grad_: Callable[..., None] | None = None
    ) -> None:
        self.params, self.lr, self.weight_decay, self._zero_grad_ = list(params), lr, weight_decay, zero_grad_

    def step(self) -> None:
        for p in self.params:
            if p.grad is not None:
                p.data -= self.lr * (p.grad + self.weight_decay * p.data)

    def zero_grad(self, set_to_none: bool = True) -> None:
        assert self._zero_grad_ is not None, "this scenario does not clear gradients"
        self._zero_grad_(self.params, set_to_none=set_to_none)


def _weight_decay(seed: int) -> float:
    return 0.5 if is_visible(seed) else float(np.random.default_rng(seed + 1).uniform(0.1, 1.0))


def _impl(**names: Any) -> dict[str, Any]:
    return {"Parameter": Parameter, **names}


# -- accumulate_grad_ -------------------------------------------------------------------------------


def accumulate_cases(seeds: Sequence[int]) -> list[OptimizerScenario]:
    cases = []
    for seed in seeds:
        init, grads = problem(seed, steps=6)
        cases.append(
            OptimizerScenario(
                title="p.backward(g), which adds g into p.grad",
                init=init,
                actions=tuple(Backward(tuple(g)) for g in grads),
                build=lambda impl, params: _SGD(params, lr=0.0),
                build_torch=lambda params: torch.optim.SGD(params, lr=0.0),
            )
        )
    return cases


def _observe_shape_check(seed: int) -> Callable[[Any, Callable[..., Any]], Trace]:
    rng = np.random.default_rng(seed)
    shape = (3,) if is_visible(seed) else tuple(int(n) for n in rng.integers(2, 5, size=int(rng.integers(1, 3))))
    good = rng.normal(size=shape)
    wrong = [rng.normal(size=(1,)), rng.normal(size=shape + (1,)), rng.normal(size=(shape[0] + 1,) + shape[1:])]

    def observe(impl: Any, call: Callable[..., Any]) -> Trace:
        trace = Trace()
        p = impl["Parameter"](np.zeros(shape))
        for _i, g in enumerate([None, *wrong, good, *wrong]):
            label = f"accumulate_grad_(p of shape {shape}, grad of shape {(good if g is None else g).shape})"
            try:
                call(impl["accumulate_grad_"], p, (good if g is None else g).copy())
                trace.add(label, "returned")
            except DelegationError:
                raise
            except Exception as exc:  # a refused input is an observation; what it left behind is the next
                trace.add(label, Raised.from_exception(exc))
            trace.add(f"{label}: p.grad afterwards", _read_grad(p))
        return trace

    return observe


def _torch_accumulate(p: TorchParameter, g: np.ndarray) -> None:
    p.tensor.backward(torch.tensor(g, dtype=torch.float64))


def _read_grad(p: Any) -> np.ndarray | None:
    return None if p.grad is None else np.array(p.grad, dtype=np.float64)


def shape_check_cases(seeds: Sequence[int]) -> list[ObserveScenario]:
    return [
        ObserveScenario(
            title="p.backward(g) with a gradient of the wrong shape",
            observe=_observe_shape_check(seed),
            torch_impl=torch_side(Parameter=TorchParameter, accumulate_grad_=_torch_accumulate),
            words="one gradient of the right shape between gradients of wrong shapes (torch raises RuntimeError "
            "and leaves .grad as it was)",
        )
        for seed in seeds
    ]


# -- zero_grad_ ---------------------------------------------------------------------------------------


def zero_grad_cases(seeds: Sequence[int]) -> list[OptimizerScenario]:
    cases = []
    for seed in seeds:
        init, grads = problem(seed, steps=6)
        lr, wd = learning_rate(seed), _weight_decay(seed)
        frozen = [tuple(None if i == 1 % len(gs) else g for i, g in enumerate(gs)) for gs in grads]
        actions = (
            Step(tuple(grads[0])),
            ZeroGrad(True),
            Step(None),  # None grads: the step skips every parameter
            Step(tuple(grads[1])),
            ZeroGrad(False),
            Step(None),  # zero grads: weight decay still moves them
            Step(frozen[2]),
            ZeroGrad(False),
            ZeroGrad(True),  # a None grad stays None
            Step(frozen[3]),
            ZeroGrad(False),
            Step(None),
            ZeroGrad(),
        )
        cases.append(
            OptimizerScenario(
                title=f"optimizer.zero_grad() of torch.optim.SGD(params, lr={lr:.6g}, weight_decay={wd:.6g})",
                init=init,
                actions=actions,
                build=lambda impl, params, lr=lr, wd=wd: _SGD(params, lr, wd, impl["zero_grad_"]),
                build_torch=lambda params, lr=lr, wd=wd: torch.optim.SGD(params, lr=lr, weight_decay=wd),
            )
        )
    return cases


# -- mse_gradients ------------------------------------------------------------------------------------


def _regression(
    seed: int, steps: int = 1, unequal: bool = False
) -> tuple[np.ndarray, np.ndarray, list[tuple[np.ndarray, np.ndarray]], int]:
    """Initial w and b, a batch (x, y) per step, and a number of micro-batches k.

    k divides the batch, or with ``unequal`` leaves a remainder, so that the pieces differ in size."""
    rng = np.random.default_rng([seed, 1] if unequal else seed)
    if is_visible(seed):
        features, k, per_part = 3, 4, 2
    else:
        features, k, per_part = int(rng.integers(1, 6)), int(rng.integers(2, 6)), int(rng.integers(1, 5))
    n = k * per_part + (int(rng.integers(1, k)) if unequal else 0)
    w_true, b_true = rng.normal(size=features), rng.normal()
    batches = []
    for _ in range(steps):
        x = rng.normal(size=(n, features))
        batches.append((x, x @ w_true + b_true + 0.1 * rng.normal(size=n)))
    return rng.normal(size=features), np.array(rng.normal()), batches, k


def _torch_mse_gradients(w: Any, b: Any, x: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
    wt = torch.tensor(w, dtype=torch.float64, requires_grad=True)
    bt = torch.tensor(b, dtype=torch.float64, requires_grad=True)
    loss = F.mse_loss(torch.tensor(x) @ wt + bt, torch.tensor(y))
    grad_w, grad_b = torch.autograd.grad(loss, [wt, bt])
    return grad_w.numpy(), grad_b.numpy()


def _observe_mse(seed: int) -> Callable[[Any, Callable[..., Any]], Trace]:
    w, b, batches, k = _regression(seed)
    x, y = batches[0]
    parts = list(zip(np.array_split(x, k), np.array_split(y, k)))

    def observe(impl: Any, call: Callable[..., Any]) -> Trace:
        trace = Trace()
        for label, (xs, ys) in [
            (f"the whole batch of {len(y)} samples", (x, y)),
            (f"the first micro-batch of {len(parts[0][1])}", parts[0]),
        ]:
            try:
                grads = call(impl["mse_gradients"], w.copy(), b.copy(), xs.copy(), ys.copy())
                grad_w, grad_b = grads
            except DelegationError:
                raise
            except Exception as exc:
                trace.add(f"mse_gradients on {label}", Raised.from_exception(exc))
                return trace
            trace.add(f"mse_gradients on {label}: gradient for w", np.array(grad_w, dtype=np.float64))
            trace.add(f"mse_gradients on {label}: gradient for b", np.array(grad_b, dtype=np.float64))
        return trace

    return observe


def mse_cases(seeds: Sequence[int]) -> list[ObserveScenario]:
    cases = []
    for seed in seeds:
        w, _, batches, _ = _regression(seed)
        cases.append(
            ObserveScenario(
                title="torch.autograd.grad(F.mse_loss(x @ w + b, y), [w, b])",
                observe=_observe_mse(seed),
                torch_impl=torch_side(mse_gradients=_torch_mse_gradients),
                words=f"{len(w)} feature(s), {len(batches[0][1])} samples, then the first micro-batch alone",
            )
        )
    return cases


# -- accumulation_step_ -------------------------------------------------------------------------------


def _torch_accumulation_step(
    optimizer: torch.optim.Optimizer,
    w: TorchParameter,
    b: TorchParameter,
    x: np.ndarray,
    y: np.ndarray,
    micro_batches: int,
) -> None:
    optimizer.zero_grad()
    for x_part, y_part in zip(
        torch.tensor_split(torch.tensor(x), micro_batches), torch.tensor_split(torch.tensor(y), micro_batches)
    ):
        loss = F.mse_loss(x_part @ w.tensor + b.tensor, y_part) * (len(y_part) / len(y))
        loss.backward()
    optimizer.step()


def _optimizer_for(impl: Any, params: list[Any], lr: float) -> Any:
    """torch.optim.SGD for torch's side, the NumPy SGD above for the student's."""
    if is_torch(impl):
        return torch.optim.SGD([p.tensor for p in params], lr=lr)
    return _SGD(params, lr)


def _observe_accumulation(seed: int, steps: int, unequal: bool) -> Callable[[Any, Callable[..., Any]], Trace]:
    w0, b0, batches, k = _regression(seed, steps, unequal)
    lr = learning_rate(seed)

    def observe(impl: Any, call: Callable[..., Any]) -> Trace:
        trace = Trace()
        w, b = impl["Parameter"](w0.copy()), impl["Parameter"](b0.copy())
        optimizer = _optimizer_for(impl, [w, b], lr)
        for t, (x, y) in enumerate(batches, start=1):
            label = f"step {t}"
            try:
                call(impl["accumulation_step_"], optimizer, w, b, x.copy(), y.copy(), k)
            except DelegationError:
                raise
            except Exception as exc:
                trace.add(label, Raised.from_exception(exc))
                return trace
            for name, p in (("w", w), ("b", b)):
                trace.add(f"after {label}: {name}.grad (accumulated over {k} micro-batches)", _read_grad(p))
                trace.add(f"after {label}: {name}", np.array(p.data, dtype=np.float64))
        return trace

    return observe


def accumulation_cases(seeds: Sequence[int], steps: int = 4) -> list[ObserveScenario]:
    cases = []
    for seed in seeds:
        lr = learning_rate(seed)
        for unequal in (False, True):
            w, _, batches, k = _regression(seed, steps, unequal)
            sizes = [len(part) for part in np.array_split(batches[0][1], k)]
            cases.append(
                ObserveScenario(
                    title="loss.backward() per micro-batch (loss = F.mse_loss(...) * len(y_part) / len(y)), "
                    f"then torch.optim.SGD(lr={lr:.6g})",
                    observe=_observe_accumulation(seed, steps, unequal),
                    torch_impl=torch_side(Parameter=TorchParameter, accumulation_step_=_torch_accumulation_step),
                    words=f"{steps} steps, each on a new batch of {len(batches[0][1])} samples with {len(w)} "
                    f"feature(s), split into {k} micro-batches of {', '.join(map(str, sizes))}",
                )
            )
    return cases


# -- what the notebook's test cells call ---------------------------------------------------------------


def check_accumulate_grad(accumulate_grad_: Any, *, seeds: Sequence[int] = VISIBLE_SEEDS) -> None:
    __tracebackhide__ = True
    verify("accumulate_grad_", accumulate_cases(seeds), _impl(accumulate_grad_=accumulate_grad_), MUTANTS)


def check_accumulate_grad_shapes(accumulate_grad_: Any, *, seeds: Sequence[int] = VISIBLE_SEEDS) -> None:
    __tracebackhide__ = True
    verify("accumulate_grad_", shape_check_cases(seeds), _impl(accumulate_grad_=accumulate_grad_), MUTANTS)


def check_zero_grad(zero_grad_: Any, *, seeds: Sequence[int] = VISIBLE_SEEDS) -> None:
    __tracebackhide__ = True
    verify("zero_grad_", zero_grad_cases(seeds), _impl(zero_grad_=zero_grad_), MUTANTS)


def check_mse_gradients(mse_gradients: Any, *, seeds: Sequence[int] = VISIBLE_SEEDS) -> None:
    __tracebackhide__ = True
    verify("mse_gradients", mse_cases(seeds), _impl(mse_gradients=mse_gradients), MUTANTS)


def check_accumulation_step(accumulation_step_: Any, *, seeds: Sequence[int] = VISIBLE_SEEDS) -> None:
    __tracebackhide__ = True
    verify("accumulation_step_", accumulation_cases(seeds), _impl(accumulation_step_=accumulation_step_), MUTANTS)
