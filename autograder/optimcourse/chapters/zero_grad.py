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

from ..cases import HIDDEN_SEEDS, VISIBLE_SEEDS, is_visible, learning_rate, problem  # noqa: F401 (notebooks use checks.HIDDEN_SEEDS)
from ..given import Parameter
from ..guard import DelegationError
from ..mutants import Mutant, MutantLibrary
from ..scenarios import Backward, ObserveScenario, OptimizerScenario, Step, TorchParameter, ZeroGrad
from ..side import is_torch, torch_side
from ..trace import Raised, Trace
from ..verify import verify

MUTANTS = MutantLibrary("zero_grad", (
    Mutant("zero-grad-ignores-set-to-none",
           "zero_grad_(params) must set every grad to None by default (set_to_none=True); only "
           "set_to_none=False fills the gradients with zeros. A None grad makes step() skip the parameter.",
           (("        if set_to_none:\n            p.grad = None\n        else:\n            p.grad[...] = 0.0\n",
             "        p.grad[...] = 0.0\n"),)),
    Mutant("zero-grad-always-none",
           "zero_grad_(params, set_to_none=False) keeps each gradient array and fills it with zeros in "
           "place; only set_to_none=True sets the grads to None.",
           (("        if set_to_none:\n            p.grad = None\n        else:\n            p.grad[...] = 0.0\n",
             "        p.grad = None\n"),)),
    Mutant("zero-grad-new-array",
           "with set_to_none=False, torch zeroes the existing gradient in place (p.grad[...] = 0.0); "
           "binding a new zeros array leaves anyone holding the old .grad with stale values.",
           (("            p.grad[...] = 0.0\n", "            p.grad = np.zeros_like(p.grad)\n"),)),
    Mutant("zero-grad-creates-grads",
           "zero_grad_ only clears gradients that exist: a parameter whose grad is None keeps None, "
           "even with set_to_none=False, so step() still skips it.",
           (("        if p.grad is None:\n            continue\n        if set_to_none:",
             "        if p.grad is None:\n            p.grad = np.zeros_like(p.data)\n        if set_to_none:"),)),
    Mutant("accumulate-overwrites",
           "backward() adds the new gradient to the one already in .grad; replacing it loses the "
           "gradients of the earlier backward passes (the w**2 example: 2, then 4, not 2 again).",
           (("    else:\n        param.grad += grad\n", "    else:\n        param.grad = np.array(grad, dtype=np.float64)\n"),)),
    Mutant("accumulate-aliases-caller",
           "param.grad = grad keeps the caller's array: when the caller reuses it, or a later += adds "
           "into it, both change. Store a copy the first time: np.array(grad, dtype=np.float64).",
           (("        param.grad = np.array(grad, dtype=np.float64)\n    else:",
             "        param.grad = grad\n    else:"),)),
    Mutant("accumulate-rebinds",
           "param.grad = param.grad + grad makes a new array; backward() adds into the existing .grad "
           "in place (param.grad += grad), so whoever holds it sees the sum.",
           (("        param.grad += grad\n", "        param.grad = param.grad + grad\n"),)),
    Mutant("accumulate-shape-unchecked",
           "a gradient must have the parameter's shape; NumPy would broadcast a wrong one silently. "
           "Raise RuntimeError naming both shapes before touching .grad, as backward() does.",
           (("    if grad.shape != param.data.shape:\n", "    if False:\n"),)),
    Mutant("mse-missing-factor-2",
           "the derivative of r**2 is 2 * r: both gradients of the mean squared error carry a factor 2.",
           (("    grad_w = 2.0 * x.T @ residual / n\n    grad_b = 2.0 * residual.sum() / n\n",
             "    grad_w = x.T @ residual / n\n    grad_b = residual.sum() / n\n"),)),
    Mutant("mse-sum-not-mean",
           "the loss is the mean over the batch (F.mse_loss's default), so its gradient is divided by "
           "the number of samples n.",
           (("    grad_w = 2.0 * x.T @ residual / n\n    grad_b = 2.0 * residual.sum() / n\n",
             "    grad_w = 2.0 * x.T @ residual\n    grad_b = 2.0 * residual.sum()\n"),)),
    Mutant("mse-sign-flipped",
           "the residual is prediction minus target (x @ w + b - y); the other order flips the sign of "
           "both gradients, so the optimizer climbs the loss.",
           (("    residual = x @ w + b - y\n", "    residual = y - (x @ w + b)\n"),)),
    Mutant("forgot-zero-grad",
           "without clearing first, the gradients of the previous step are still in .grad and are added "
           "to this step's: call zero_grad_ before the first micro-batch.",
           (("    zero_grad_([w, b])\n", ""),)),
    Mutant("zero-grad-per-micro-batch",
           "clearing inside the loop throws away every micro-batch's gradient but the last; clear once, "
           "before the loop.",
           (("    zero_grad_([w, b])\n    for x_part, y_part in", "    for x_part, y_part in"),
            ("        grad_w, grad_b = mse_gradients(", "        zero_grad_([w, b])\n        grad_w, grad_b = mse_gradients("))),
    Mutant("step-per-micro-batch",
           "optimizer.step() belongs after the loop: one update from the accumulated gradient. Stepping "
           "after every micro-batch makes k small updates from partial sums instead.",
           (("        accumulate_grad_(b, share * grad_b)\n    optimizer.step()\n",
             "        accumulate_grad_(b, share * grad_b)\n        optimizer.step()\n"),)),
    Mutant("not-divided-by-k",
           "each micro-batch's loss is a mean over its own samples; summing k of them gives about k times "
           "the full-batch gradient. Weight each micro-batch's gradient by its share of the batch, "
           "len(y_part) / len(y) (1 / micro_batches when the pieces are equal).",
           (("        accumulate_grad_(w, share * grad_w)\n        accumulate_grad_(b, share * grad_b)\n",
             "        accumulate_grad_(w, grad_w)\n        accumulate_grad_(b, grad_b)\n"),)),
    Mutant("divided-by-k-with-unequal-micro-batches",
           "dividing each micro-batch's mean by micro_batches is right only when the pieces are equal: "
           "when the batch does not divide evenly, the samples of the shorter pieces count for more. "
           "Weight each piece by its share of the batch, len(y_part) / len(y) (chapter 2).",
           (("        share = len(y_part) / len(y)\n", "        share = 1 / micro_batches\n"),)),
    Mutant("divided-twice",
           "the micro-batch gradients were already weighted by their share of the batch; dividing the "
           "accumulated gradient by micro_batches again makes the step k times too small.",
           (("        accumulate_grad_(b, share * grad_b)\n    optimizer.step()\n",
             "        accumulate_grad_(b, share * grad_b)\n    w.grad /= micro_batches\n"
             "    b.grad /= micro_batches\n    optimizer.step()\n"),)),
))


# -- the optimizer the tests drive: plain SGD with weight decay, written here ------------------------

class _SGD:
    """torch.optim.SGD(params, lr, weight_decay) in NumPy, to step the student's gradients.

    Weight decay makes the difference between a zero grad and a None grad visible: a zero grad is
    still stepped (the parameter shrinks by lr * weight_decay * p), a None grad is skipped.
    """

    student_methods = ("step", "zero_grad")  # what the student's code may call (under course-grade, through the channel)

    def __init__(self, params: Sequence[Any], lr: float, weight_decay: float = 0.0,
                 zero_grad_: Callable[..., None] | None = None) -> None:
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
        cases.append(OptimizerScenario(
            title="p.backward(g), which adds g into p.grad", init=init,
            actions=tuple(Backward(tuple(g)) for g in grads),
            build=lambda impl, params: _SGD(params, lr=0.0),
            build_torch=lambda params: torch.optim.SGD(params, lr=0.0)))
    return cases


def _observe_shape_check(seed: int) -> Callable[[Any, Callable[..., Any]], Trace]:
    rng = np.random.default_rng(seed)
    shape = (3,) if is_visible(seed) else tuple(int(n) for n in rng.integers(2, 5, size=int(rng.integers(1, 3))))
    good = rng.normal(size=shape)
    wrong = [rng.normal(size=(1,)), rng.normal(size=shape + (1,)), rng.normal(size=(shape[0] + 1,) + shape[1:])]

    def observe(impl: Any, call: Callable[..., Any]) -> Trace:
        trace = Trace()
        p = impl["Parameter"](np.zeros(shape))
        for i, g in enumerate([None, *wrong, good, *wrong]):
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
    return [ObserveScenario(
        title="p.backward(g) with a gradient of the wrong shape",
        observe=_observe_shape_check(seed),
        torch_impl=torch_side(Parameter=TorchParameter, accumulate_grad_=_torch_accumulate),
        words="one gradient of the right shape between gradients of wrong shapes (torch raises RuntimeError "
              "and leaves .grad as it was)") for seed in seeds]


# -- zero_grad_ ---------------------------------------------------------------------------------------

def zero_grad_cases(seeds: Sequence[int]) -> list[OptimizerScenario]:
    cases = []
    for seed in seeds:
        init, grads = problem(seed, steps=6)
        lr, wd = learning_rate(seed), _weight_decay(seed)
        frozen = [tuple(None if i == 1 % len(gs) else g for i, g in enumerate(gs)) for gs in grads]
        actions = (
            Step(tuple(grads[0])), ZeroGrad(True), Step(None),    # None grads: the step skips every parameter
            Step(tuple(grads[1])), ZeroGrad(False), Step(None),   # zero grads: weight decay still moves them
            Step(frozen[2]), ZeroGrad(False), ZeroGrad(True),     # a None grad stays None
            Step(frozen[3]), ZeroGrad(False), Step(None), ZeroGrad(),
        )
        cases.append(OptimizerScenario(
            title=f"optimizer.zero_grad() of torch.optim.SGD(params, lr={lr:.6g}, weight_decay={wd:.6g})",
            init=init, actions=actions,
            build=lambda impl, params, lr=lr, wd=wd: _SGD(params, lr, wd, impl["zero_grad_"]),
            build_torch=lambda params, lr=lr, wd=wd: torch.optim.SGD(params, lr=lr, weight_decay=wd)))
    return cases


# -- mse_gradients ------------------------------------------------------------------------------------

def _regression(seed: int, steps: int = 1, unequal: bool = False
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
        for label, (xs, ys) in [(f"the whole batch of {len(y)} samples", (x, y)),
                                (f"the first micro-batch of {len(parts[0][1])}", parts[0])]:
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
        cases.append(ObserveScenario(
            title="torch.autograd.grad(F.mse_loss(x @ w + b, y), [w, b])", observe=_observe_mse(seed),
            torch_impl=torch_side(mse_gradients=_torch_mse_gradients),
            words=f"{len(w)} feature(s), {len(batches[0][1])} samples, then the first micro-batch alone"))
    return cases


# -- accumulation_step_ -------------------------------------------------------------------------------

def _torch_accumulation_step(optimizer: torch.optim.Optimizer, w: TorchParameter, b: TorchParameter,
                             x: np.ndarray, y: np.ndarray, micro_batches: int) -> None:
    optimizer.zero_grad()
    for x_part, y_part in zip(torch.tensor_split(torch.tensor(x), micro_batches),
                              torch.tensor_split(torch.tensor(y), micro_batches)):
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
            cases.append(ObserveScenario(
                title="loss.backward() per micro-batch (loss = F.mse_loss(...) * len(y_part) / len(y)), "
                      f"then torch.optim.SGD(lr={lr:.6g})",
                observe=_observe_accumulation(seed, steps, unequal),
                torch_impl=torch_side(Parameter=TorchParameter, accumulation_step_=_torch_accumulation_step),
                words=f"{steps} steps, each on a new batch of {len(batches[0][1])} samples with {len(w)} "
                      f"feature(s), split into {k} micro-batches of {', '.join(map(str, sizes))}"))
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
