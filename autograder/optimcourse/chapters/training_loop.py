"""Chapter 12 (12-training-loop): a network trained by a loop whose every update is the course's NumPy code.

The student assembles what the earlier exercises built (given, as their references): AdamW over two
parameter groups (decay on the weight matrices, none on biases and norms), a linear warmup followed by a
cosine decay, a step that accumulates the gradients of unequal micro-batches weighted by their sizes and
clips them by their global norm, a checkpoint of everything a resumed run needs, and a run that stops
half-way, starts again from fresh objects and goes on from the file.

The network is a small MLP in torch (``Linear``, ``LayerNorm``, ``tanh``, ``Linear``, float64) on a
regression task drawn per case. Its gradients come from torch's autograd in the grader: the checks hand
the student's code a function ``loss_and_grads(weights, x, y) -> (loss, grads)``, which under course-grade
is a callback from the student's kernel into the grader. Torch's side of every comparison is the same loop
written with ``torch.optim.AdamW``, ``torch.optim.lr_scheduler`` (``LinearLR`` then ``CosineAnnealingLR``
in ``SequentialLR``) and ``torch.nn.utils.clip_grad_norm_``, uninterrupted. Every number is compared with
the chapter's own tolerance (:data:`RTOL`, :data:`ATOL`), tighter than the course's: the two runs do the
same arithmetic in a different order, and agree to about 1e-13 after dozens of steps (measured on the
chapter's page).
"""

from __future__ import annotations

import functools
import os
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.optim import lr_scheduler

from ..cases import HIDDEN_SEEDS, VISIBLE_SEEDS, is_visible
from ..guard import DelegationError, graders_own
from ..mutants import load_mutants
from ..scenarios import ObserveScenario
from ..side import (
    given_piece,
    is_torch,
    list_folder,
    make_class,
    materialize,
    read,
    set_attrs,
    student_folder,
    torch_side,
)
from ..trace import Raised, Trace
from ..verify import RULE_MARK, verify

__all__ = [
    "ATOL",
    "HIDDEN_SEEDS",
    "MUTANTS",
    "NAMES",
    "RTOL",
    "VISIBLE_SEEDS",
    "Case",
    "case",
    "check_make_optimizer",
    "check_make_scheduler",
    "check_save_and_resume",
    "check_train",
    "check_train_step",
    "torch_model",
    "torch_train",
]

MUTANTS = load_mutants("training_loop")  # training_loop.mutants.toml

#: the chapter's tolerance: the course's own loop and torch's agree far more closely than 1e-7
RTOL = 1e-10
ATOL = 1e-12

#: the network's parameters, in torch's named order
NAMES = ("hidden.weight", "hidden.bias", "norm.weight", "norm.bias", "out.weight", "out.bias")


# -- the task and the network ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """A network, its starting values, the batches (each a tuple of unequal micro-batches) and the
    hyperparameters of the run."""

    seed: int
    sizes: tuple[int, int]  # inputs, hidden units
    init: tuple[np.ndarray, ...]  # in the order of NAMES
    batches: tuple[tuple[tuple[np.ndarray, np.ndarray], ...], ...]
    lr: float
    weight_decay: float
    betas: tuple[float, float]
    eps: float
    warmup_steps: int
    start_factor: float
    eta_min: float
    max_norm: float

    @property
    def steps(self) -> int:
        return len(self.batches)

    @property
    def config(self) -> dict[str, Any]:
        """The hyperparameters as ``train`` takes them."""
        return {
            "lr": self.lr,
            "weight_decay": self.weight_decay,
            "betas": self.betas,
            "eps": self.eps,
            "warmup_steps": self.warmup_steps,
            "start_factor": self.start_factor,
            "eta_min": self.eta_min,
            "max_norm": self.max_norm,
        }

    def words(self) -> str:
        d, h = self.sizes
        sizes = ", ".join("+".join(str(len(x)) for x, _ in batch) for batch in self.batches[:4])
        return (
            f"an MLP {d} -> {h} (LayerNorm, tanh) -> 1 in float64, mean squared error; {self.steps} steps, "
            f"each a batch of unequal micro-batches (sizes {sizes}, ...); AdamW lr={self.lr:.4g}, "
            f"weight_decay={self.weight_decay:.4g} on the weight matrices only, betas=({self.betas[0]:.4g}, "
            f"{self.betas[1]:.4g}), eps={self.eps:g}; LinearLR from start_factor={self.start_factor:.4g} over "
            f"{self.warmup_steps} steps, then CosineAnnealingLR down to eta_min={self.eta_min:.4g} at step "
            f"{self.steps}; clip_grad_norm_ to max_norm={self.max_norm:.4g}"
        )


def case(seed: int) -> Case:
    """The visible case (seed 0) or a hidden one."""
    rng = np.random.default_rng([seed, 12])
    if is_visible(seed):
        d, h, n_data, steps = 3, 8, 160, 20
        sizes = [(5, 11, 16), (12, 4), (7, 7, 2, 16)]
        micro = [sizes[t % 3] for t in range(steps)]
        lr, wd, betas, warmup, start, eta_min, max_norm = 0.05, 0.1, (0.9, 0.99), 5, 0.1, 1e-3, 0.5
    else:
        d, h, n_data = int(rng.integers(2, 6)), int(rng.integers(4, 13)), 128
        steps = int(rng.integers(12, 31))
        micro = [tuple(int(n) for n in rng.integers(1, 21, size=int(rng.integers(2, 5)))) for _ in range(steps)]
        lr = float(10 ** rng.uniform(-2.5, -1))
        wd = float(rng.uniform(0.01, 0.3))
        betas = (float(rng.uniform(0.8, 0.95)), float(rng.uniform(0.95, 0.999)))
        warmup = int(rng.integers(1, steps // 2))
        start = float(rng.uniform(0.01, 0.5))
        eta_min = float(lr * rng.uniform(0.0, 0.1))
        max_norm = float(rng.uniform(0.2, 1.5))
    x = rng.normal(size=(n_data, d))
    a, b = rng.normal(size=d), rng.normal(size=d)
    y = (np.sin(x @ a) + 0.3 * (x @ b) ** 2 / d + 0.05 * rng.normal(size=n_data))[:, None]
    batches = tuple(
        tuple((x[idx], y[idx]) for idx in (rng.choice(n_data, n, replace=False) for n in sizes)) for sizes in micro
    )
    bound_in, bound_hidden = 1 / np.sqrt(d), 1 / np.sqrt(h)
    init = (
        rng.uniform(-bound_in, bound_in, size=(h, d)),
        rng.uniform(-bound_in, bound_in, size=h),
        1 + 0.1 * rng.normal(size=h),
        0.1 * rng.normal(size=h),
        rng.uniform(-bound_hidden, bound_hidden, size=(1, h)),
        rng.uniform(-bound_hidden, bound_hidden, size=1),
    )
    return Case(seed, (d, h), init, batches, lr, wd, betas, 1e-8, warmup, start, eta_min, max_norm)


def torch_model(sizes: tuple[int, int], init: Sequence[np.ndarray] | None = None) -> nn.Module:
    """The network in torch, float64, its parameters named as NAMES; from ``init`` where given."""
    d, h = sizes
    model = nn.Sequential(
        OrderedDict(
            hidden=nn.utils.skip_init(nn.Linear, d, h, dtype=torch.float64),
            norm=nn.utils.skip_init(nn.LayerNorm, h, dtype=torch.float64),
            act=nn.Tanh(),
            out=nn.utils.skip_init(nn.Linear, h, 1, dtype=torch.float64),
        )
    )
    if init is not None:
        with torch.no_grad():
            for p, value in zip(model.parameters(), init):
                p.copy_(torch.from_numpy(np.asarray(value, dtype=np.float64)))
    return model


def _mse(model: nn.Module, x: np.ndarray, y: np.ndarray) -> torch.Tensor:
    return F.mse_loss(model(torch.from_numpy(x)), torch.from_numpy(y))


def _torch_adamw(model: nn.Module, c: Case) -> torch.optim.AdamW:
    """torch's AdamW over two groups: weight decay on the weight matrices only."""
    params = list(model.parameters())
    groups = [
        {"params": [p for p in params if p.ndim >= 2], "weight_decay": c.weight_decay},
        {"params": [p for p in params if p.ndim < 2], "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=c.lr, betas=c.betas, eps=c.eps)


def _torch_optimizer(model: nn.Module, c: Case) -> tuple[torch.optim.AdamW, Any]:
    """torch's AdamW over the two groups, and its schedule."""
    opt = _torch_adamw(model, c)
    return opt, _torch_schedule(opt, c)


def _torch_schedule(opt: torch.optim.Optimizer, c: Case) -> Any:
    warmup = lr_scheduler.LinearLR(opt, start_factor=c.start_factor, total_iters=c.warmup_steps)
    decay = lr_scheduler.CosineAnnealingLR(opt, T_max=c.steps - c.warmup_steps, eta_min=c.eta_min)
    return lr_scheduler.SequentialLR(opt, [warmup, decay], milestones=[c.warmup_steps])


def _torch_step(
    model: nn.Module,
    opt: torch.optim.Optimizer,
    scheduler: Any,
    micro_batches: Sequence[tuple[np.ndarray, np.ndarray]],
    max_norm: float | None,
    seen: Callable[[Sequence[np.ndarray], np.ndarray], None] | None = None,
) -> float:
    """One step of torch's loop: each micro-batch's loss weighted by its share of the batch, one clip of the
    accumulated gradient (``max_norm=None``: none), ``optimizer.step()``, then ``scheduler.step()``."""
    opt.zero_grad()
    total = sum(len(x) for x, _ in micro_batches)
    batch_loss = 0.0
    for x, y in micro_batches:
        if seen is not None:
            seen([p.detach().numpy().copy() for p in model.parameters()], x)
        loss = _mse(model, x, y) * (len(x) / total)
        loss.backward()
        batch_loss += loss.item()
    if max_norm is not None:
        nn.utils.clip_grad_norm_(model.parameters(), max_norm)
    opt.step()
    scheduler.step()
    return batch_loss


def torch_train(c: Case, seen: Callable[[Sequence[np.ndarray], np.ndarray], None] | None = None) -> dict[str, Any]:
    """The case's whole run in torch, uninterrupted: the loss of every step, the parameters after every
    step, and the model at the end."""
    model = torch_model(c.sizes, c.init)
    opt, scheduler = _torch_optimizer(model, c)
    losses, params = [], []
    for batch in c.batches:
        losses.append(_torch_step(model, opt, scheduler, batch, c.max_norm, seen))
        params.append([p.detach().numpy().copy() for p in model.parameters()])
    return {"losses": losses, "params": params, "model": model}


def _one_thread(fn: Callable[..., Trace]) -> Callable[..., Trace]:
    """``fn`` with torch on one thread: the tensors here are tiny, and on a busy machine torch's threads
    wait for each other a hundred times longer than the arithmetic takes."""

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Trace:
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            return fn(*args, **kwargs)
        finally:
            torch.set_num_threads(threads)

    return run


# -- the gradients the student's code is handed -------------------------------------------------------------


class _Gradients:
    """``loss_and_grads(weights, x, y)``: the mean squared error of the network with these weights on (x, y),
    and its gradient with respect to each weight, by torch's autograd (in the grader). ``seen`` is told the
    weights and inputs of every call."""

    def __init__(self, c: Case, seen: Callable[[Sequence[np.ndarray], np.ndarray], None] | None = None) -> None:
        self.model = torch_model(c.sizes)
        self.shapes = [tuple(v.shape) for v in c.init]
        self.seen = seen

    def __call__(self, weights: Any, x: Any, y: Any) -> tuple[float, list[np.ndarray]]:
        if not isinstance(weights, (list, tuple)) or len(weights) != len(self.shapes):
            raise TypeError(
                f"loss_and_grads takes a list of the {len(self.shapes)} parameters' arrays, in the order of "
                f"named_params; got {type(weights).__name__}"
                + (f" of length {len(weights)}" if isinstance(weights, (list, tuple)) else "")
            )
        arrays = []
        for i, (w, shape) in enumerate(zip(weights, self.shapes)):
            # plain arrays only: a subclass would run the student's code here, where the guard does not watch
            if type(w) is not np.ndarray or w.shape != shape:
                shown = f"shape {w.shape}" if isinstance(w, np.ndarray) else type(w).__name__
                raise TypeError(
                    f"loss_and_grads: weights[{i}] ({NAMES[i]}) must be an array of shape {shape}, got {shown}"
                )
            arrays.append(np.array(w, dtype=np.float64))
        if type(x) is not np.ndarray or type(y) is not np.ndarray:
            raise TypeError(
                f"loss_and_grads takes a micro-batch's x and y as the arrays it was given, got "
                f"{type(x).__name__} and {type(y).__name__}"
            )
        x, y = np.array(x, dtype=np.float64), np.array(y, dtype=np.float64)
        if self.seen is not None:
            self.seen(arrays, x)
        with torch.no_grad():
            for p, w in zip(self.model.parameters(), arrays):
                p.copy_(torch.from_numpy(w))
        self.model.zero_grad(set_to_none=True)
        loss = _mse(self.model, x, y)
        loss.backward()
        grads = [p.grad.detach().numpy().copy() for p in self.model.parameters()]  # type: ignore[union-attr]
        return float(loss.item()), grads


def _loss_and_grads(c: Case, seen: Callable[[Sequence[np.ndarray], np.ndarray], None] | None = None) -> Any:
    gradients = _Gradients(c, seen)

    def loss_and_grads(weights: Any, x: Any, y: Any) -> tuple[float, list[np.ndarray]]:
        return gradients(weights, x, y)

    return graders_own(loss_and_grads)


def _batches(c: Case) -> list[list[tuple[np.ndarray, np.ndarray]]]:
    """The batches as the student's code gets them: lists of (x, y) pairs of new arrays."""
    return [[(x.copy(), y.copy()) for x, y in batch] for batch in c.batches]


# -- the course's side, built by the checks from the given pieces ----------------------------------------


def _course_params(c: Case, zeros: bool = False) -> list[tuple[str, Any]]:
    parameter = given_piece("Parameter")
    return [(name, parameter(np.zeros_like(v) if zeros else v.copy())) for name, v in zip(NAMES, c.init)]


def _course_optimizer(named: Sequence[tuple[str, Any]], c: Case, with_state: bool = False) -> tuple[Any, Any]:
    """The given AdamW (with exercise 5's state_dict() where asked) over the two groups, and the schedule."""
    groups = given_piece("split_weight_decay_params")(list(named), c.weight_decay)
    cls = given_piece("AdamW")
    if with_state:
        cls = make_class("AdamW", (given_piece("StateDict"), cls))
    opt = cls(groups, lr=c.lr, betas=c.betas, eps=c.eps)
    warmup = given_piece("LinearLR")(opt, start_factor=c.start_factor, total_iters=c.warmup_steps)
    decay = given_piece("CosineAnnealingLR")(opt, T_max=c.steps - c.warmup_steps, eta_min=c.eta_min)
    return opt, given_piece("SequentialLR")(opt, [warmup, decay], milestones=[c.warmup_steps])


def _course_step(params: Sequence[Any], opt: Any, scheduler: Any, gradients: _Gradients, batch: Any, c: Case) -> None:
    """torch's loop on the course's objects, with the given pieces (where the student's objects live)."""
    opt.zero_grad()
    weights = [row[0][0] for row in read(params, ("data",))]
    total = sum(len(x) for x, _ in batch)
    summed = [np.zeros_like(w) for w in weights]
    for x, y in batch:
        _, grads = gradients(weights, x, y)
        for s, g in zip(summed, grads):
            s += len(x) / total * g
    set_attrs([(p, "grad", g) for p, g in zip(params, summed)])
    given_piece("clip_grad_norm_")(list(params), c.max_norm)
    opt.step()
    scheduler.step()


# -- observations -----------------------------------------------------------------------------------------


def _values(params: Sequence[Any], names: Any, attr: str = "data") -> list[np.ndarray | None]:
    if is_torch(names):
        out = []
        for p in params:
            value = p.detach() if attr == "data" else p.grad
            out.append(None if value is None else value.numpy().copy())
        return out
    return [None if row[0][0] is None else np.array(row[0][0], dtype=np.float64) for row in read(params, (attr,))]


def _add_params(trace: Trace, label: str, values: Sequence[Any], what: str = "") -> None:
    for name, value in zip(NAMES, values):
        trace.add(f"{label}: {name}{what}", value)


def _number(value: Any, scale: float = 1.0) -> Any:
    """A number as a 0-dim float64 array (divided by ``scale``), compared within the tolerance; anything
    else (None, a string) as it is."""
    if isinstance(value, torch.Tensor):
        value = value.item()
    if isinstance(value, (int, float, np.integer, np.floating, np.ndarray)) and not isinstance(value, bool):
        try:
            return np.array(float(value) / scale)
        except (TypeError, ValueError):
            return type(value).__name__
    return value if value is None or isinstance(value, str) else type(value).__name__


def _count(value: Any) -> Any:
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return int(value)
    return value if value is None else f"{value!r} ({type(value).__name__})"


def _group_names(groups: Any, named: Sequence[tuple[str, Any]]) -> tuple[str, ...] | str:
    which = {id(p): name for name, p in named}
    try:
        return tuple(which.get(id(p), "a parameter not in named_params") for p in groups["params"])
    except (KeyError, TypeError):
        return "a group without a list of params"


# -- 1. make_optimizer ------------------------------------------------------------------------------------


def _step_grads(c: Case, steps: int = 3) -> list[list[np.ndarray]]:
    rng = np.random.default_rng([c.seed, 12, 1])
    return [[rng.normal(size=v.shape) for v in c.init] for _ in range(steps)]


def _observe_optimizer(c: Case) -> Callable[[Any, Callable[..., Any]], Trace]:
    @_one_thread
    def observe(names: Any, call: Callable[..., Any]) -> Trace:
        trace = Trace()
        if is_torch(names):
            model = torch_model(c.sizes, c.init)
            named: list[tuple[str, Any]] = list(model.named_parameters())
            opt = _torch_adamw(model, c)
        else:
            named = _course_params(c)
            try:
                opt = call(names["make_optimizer"], list(named), c.lr, c.weight_decay, c.betas, c.eps)
            except DelegationError:
                raise
            except Exception as exc:
                trace.add("make_optimizer(...)", Raised.from_exception(exc))
                return trace
        params = [p for _, p in named]
        try:
            groups = materialize(opt.param_groups)
            trace.add("the number of parameter groups", len(groups))
            for i, group in enumerate(groups):
                trace.add(f"group {i}: its parameters, by name", _group_names(group, named))
                trace.add(f"group {i}: lr / {c.lr:.4g}", _number(group.get("lr"), c.lr))
                trace.add(f"group {i}: weight_decay", _number(group.get("weight_decay")))
                trace.add(f"group {i}: betas", np.array(group.get("betas"), dtype=np.float64))
                trace.add(f"group {i}: eps", _number(group.get("eps")))
            for t, grads in enumerate(_step_grads(c), start=1):
                if is_torch(names):
                    for p, g in zip(params, grads):
                        p.grad = torch.from_numpy(g.copy())
                else:
                    set_attrs([(p, "grad", g.copy()) for p, g in zip(params, grads)])
                opt.step()
                _add_params(trace, f"after step {t} (a gradient drawn at random)", _values(params, names))
        except DelegationError:
            raise
        except Exception as exc:
            trace.add("the optimizer", Raised.from_exception(exc))
        return trace

    return observe


def _scenarios(
    title: str, observe: Callable[[Case], Callable[..., Trace]], words: Callable[[Case], str], seeds: Sequence[int]
) -> list[ObserveScenario]:
    """One scenario per seed's case, compared with torch at the chapter's tolerance."""
    return [
        ObserveScenario(title=title, observe=observe(c), torch_impl=torch_side(), words=words(c), rtol=RTOL, atol=ATOL)
        for c in map(case, seeds)
    ]


def check_make_optimizer(make_optimizer: Any, *, seeds: Sequence[int] = VISIBLE_SEEDS) -> None:
    __tracebackhide__ = True
    title = "torch.optim.AdamW over two parameter groups"
    scenarios = _scenarios(
        title,
        _observe_optimizer,
        lambda c: f"the parameters {', '.join(NAMES)} of {c.words()}; three steps with random gradients",
        seeds,
    )
    verify("make_optimizer", scenarios, {"make_optimizer": make_optimizer}, MUTANTS, title)


# -- 2. make_scheduler -----------------------------------------------------------------------------------


def _observe_scheduler(c: Case) -> Callable[[Any, Callable[..., Any]], Trace]:
    @_one_thread
    def observe(names: Any, call: Callable[..., Any]) -> Trace:
        trace = Trace()
        if is_torch(names):
            opt, scheduler = _torch_optimizer(torch_model(c.sizes, c.init), c)
        else:
            opt = given_piece("AdamW")(
                given_piece("split_weight_decay_params")(_course_params(c), c.weight_decay),
                lr=c.lr,
                betas=c.betas,
                eps=c.eps,
            )
            try:
                scheduler = call(names["make_scheduler"], opt, c.warmup_steps, c.steps, c.start_factor, c.eta_min)
            except DelegationError:
                raise
            except Exception as exc:
                trace.add("make_scheduler(...)", Raised.from_exception(exc))
                return trace
        try:
            for t in range(c.steps + 1):
                label = "after the constructor" if t == 0 else f"after step {t}"
                if t > 0:
                    if is_torch(names):
                        opt.step()  # no gradients: nothing changes, but torch expects it before the schedule
                    call(scheduler.step)
                for i, group in enumerate(materialize(opt.param_groups)):
                    trace.add(f"{label}: group {i} lr / {c.lr:.4g}", _number(group.get("lr"), c.lr))
        except DelegationError:
            raise
        except Exception as exc:
            trace.add("the schedule", Raised.from_exception(exc))
        return trace

    return observe


def check_make_scheduler(make_scheduler: Any, *, seeds: Sequence[int] = VISIBLE_SEEDS) -> None:
    __tracebackhide__ = True
    title = "torch's SequentialLR of LinearLR and CosineAnnealingLR"
    scenarios = _scenarios(
        title,
        _observe_scheduler,
        lambda c: f"{c.words()}; each group's lr after the constructor and after every step",
        seeds,
    )
    verify("make_scheduler", scenarios, {"make_scheduler": make_scheduler}, MUTANTS, title)


# -- 3. train_step --------------------------------------------------------------------------------------------


def _observe_steps(c: Case) -> Callable[[Any, Callable[..., Any]], Trace]:
    @_one_thread
    def observe(names: Any, call: Callable[..., Any]) -> Trace:
        trace = Trace()
        if is_torch(names):
            model = torch_model(c.sizes, c.init)
            opt, scheduler = _torch_optimizer(model, c)
            params: list[Any] = list(model.parameters())
        else:
            named = _course_params(c)
            params = [p for _, p in named]
            opt, scheduler = _course_optimizer(named, c)
            loss_and_grads = _loss_and_grads(c)
        for t, batch in enumerate(_batches(c), start=1):
            label = f"step {t}"
            try:
                if is_torch(names):
                    loss: Any = _torch_step(model, opt, scheduler, batch, c.max_norm)
                else:
                    loss = call(names["train_step"], params, opt, scheduler, loss_and_grads, batch, c.max_norm)
            except DelegationError:
                raise
            except Exception as exc:
                trace.add(label, Raised.from_exception(exc))
                return trace
            trace.add(f"{label}: the loss train_step returned", _number(loss))
            _add_params(trace, f"after {label}", _values(params, names))
            _add_params(trace, f"after {label}", _values(params, names, "grad"), " .grad (accumulated, clipped)")
        return trace

    return observe


def check_train_step(train_step: Any, *, seeds: Sequence[int] = VISIBLE_SEEDS) -> None:
    __tracebackhide__ = True
    title = "torch's loop (AdamW, SequentialLR, clip_grad_norm_)"
    scenarios = _scenarios(
        title,
        _observe_steps,
        lambda c: f"{c.words()}; the optimizer and the schedule built from the given pieces",
        seeds,
    )
    verify("train_step", scenarios, {"train_step": train_step}, MUTANTS, title)


# -- 4. save_run and resume_run -------------------------------------------------------------------------


def _observe_state(trace: Trace, label: str, names: Any, c: Case, params: Sequence[Any], opt: Any, sched: Any) -> None:
    _add_params(trace, label, _values(params, names))
    keys = ("step", "exp_avg", "exp_avg_sq")
    if is_torch(names):
        rows = [
            tuple(None if (v := opt.state[p].get(k)) is None else v.detach().numpy().copy() for k in keys)
            for p in params
        ]
    else:
        rows = [entry for _, entry in read(params, ("data",), opt.state, keys)]
    for name, (step, exp_avg, exp_avg_sq) in zip(NAMES, rows):
        trace.add(f"{label}: state['step'] of {name}", _number(step))
        trace.add(f"{label}: state['exp_avg'] of {name}", None if exp_avg is None else np.array(exp_avg, dtype=float))
        trace.add(
            f"{label}: state['exp_avg_sq'] of {name}",
            None if exp_avg_sq is None else np.array(exp_avg_sq, dtype=float),
        )
    for i, group in enumerate(materialize(opt.param_groups)):
        trace.add(f"{label}: group {i} lr / {c.lr:.4g}", _number(group.get("lr"), c.lr))
        trace.add(f"{label}: group {i} initial_lr / {c.lr:.4g}", _number(group.get("initial_lr"), c.lr))
    trace.add(f"{label}: the scheduler's last_epoch", _count(sched.last_epoch))


def _observe_resume(c: Case) -> Callable[[Any, Callable[..., Any]], Trace]:
    half = c.steps // 2

    @_one_thread
    def observe(names: Any, call: Callable[..., Any]) -> Trace:
        trace = Trace()
        batches = _batches(c)
        if is_torch(names):
            model = torch_model(c.sizes, c.init)
            opt, scheduler = _torch_optimizer(model, c)
            params: list[Any] = list(model.parameters())
            for batch in batches[:half]:
                _torch_step(model, opt, scheduler, batch, c.max_norm)
            trace.add("save_run(...)", "returned")
            trace.add("resume_run(...) returned", half)
            _observe_state(trace, "after resume_run", names, c, params, opt, scheduler)
            for t, batch in enumerate(batches[half:], start=half + 1):
                _torch_step(model, opt, scheduler, batch, c.max_norm)
                _add_params(trace, f"after step {t}", _values(params, names))
            return trace
        gradients = _Gradients(c)
        named = _course_params(c)
        params = [p for _, p in named]
        opt, scheduler = _course_optimizer(named, c, with_state=True)
        for batch in batches[:half]:
            _course_step(params, opt, scheduler, gradients, batch, c)
        with student_folder() as folder:
            path = os.path.join(folder, "run.npz")
            try:
                call(names["save_run"], path, params, opt, scheduler, half)
                trace.add("save_run(...)", "returned")
            except DelegationError:
                raise
            except Exception as exc:
                trace.add("save_run(...)", Raised.from_exception(exc))
                return trace
            # a new process: new parameters (zeros), a new optimizer and schedule, then the file
            named = _course_params(c, zeros=True)
            params = [p for _, p in named]
            opt, scheduler = _course_optimizer(named, c, with_state=True)
            try:
                start = call(names["resume_run"], path, params, opt, scheduler)
            except DelegationError:
                raise
            except Exception as exc:
                trace.add("resume_run(...) returned", Raised.from_exception(exc))
                return trace
        trace.add("resume_run(...) returned", _count(start))
        try:
            _observe_state(trace, "after resume_run", names, c, params, opt, scheduler)
            for t, batch in enumerate(batches[half:], start=half + 1):
                _course_step(params, opt, scheduler, gradients, batch, c)
                _add_params(trace, f"after step {t}", _values(params, names))
        except DelegationError:
            raise
        except Exception as exc:
            trace.add("the resumed run", Raised.from_exception(exc))
        return trace

    return observe


def check_save_and_resume(save_run: Any, resume_run: Any, *, seeds: Sequence[int] = VISIBLE_SEEDS) -> None:
    __tracebackhide__ = True
    title = "torch's run, uninterrupted"
    scenarios = _scenarios(
        title,
        _observe_resume,
        lambda c: (
            f"{c.words()}; after step {c.steps // 2}: save_run(path, ...), then new parameters (zeros), a "
            "new optimizer and a new schedule, resume_run(path, ...), and the run goes on with them"
        ),
        seeds,
    )
    verify("save_run and resume_run", scenarios, {"save_run": save_run, "resume_run": resume_run}, MUTANTS, title)


# -- 5. train -----------------------------------------------------------------------------------------------


class _Calls:
    """Each call of loss_and_grads, observed as the step and micro-batch it should belong to."""

    def __init__(self, trace: Trace, c: Case) -> None:
        self.trace = trace
        self.where = [(t, k) for t, batch in enumerate(c.batches, start=1) for k in range(1, len(batch) + 1)]
        self.n = 0

    def __call__(self, weights: Sequence[np.ndarray], x: np.ndarray) -> None:
        self.n += 1
        if self.n <= len(self.where):
            t, k = self.where[self.n - 1]
            label = f"call {self.n} of loss_and_grads (step {t}, micro-batch {k})"
        else:
            label = f"call {self.n} of loss_and_grads (the run has only {len(self.where)} micro-batches)"
        self.trace.add(f"{label}: rows of x", int(x.shape[0]) if x.ndim else 0)
        _add_params(self.trace, label, weights, " it was handed")


def _observe_train(c: Case) -> Callable[[Any, Callable[..., Any]], Trace]:
    @_one_thread
    def observe(names: Any, call: Callable[..., Any]) -> Trace:
        trace = Trace()
        calls = _Calls(trace, c)
        if is_torch(names):
            run = torch_train(c, calls)
            trace.add("train returned", "losses and named parameters")
            trace.add("the losses train returned", np.array(run["losses"]))
            trace.add("the names of the parameters train returned", NAMES)
            _add_params(trace, "the parameters train returned", _values(list(run["model"].parameters()), names))
            trace.add(f"the files train wrote into the checkpoint's folder {RULE_MARK}", ["run.npz"])
            trace.add(f"the parameters train returned are new objects (a restarted run) {RULE_MARK}", True)
            return trace
        named = _course_params(c)
        with student_folder() as folder:
            try:
                result = call(
                    names["train"], list(named), _loss_and_grads(c, calls), _batches(c), c.config, f"{folder}/run.npz"
                )
            except DelegationError:
                raise
            except Exception as exc:
                trace.add("train returned", Raised.from_exception(exc))
                return trace
            written = list_folder(folder)
        result = materialize(result)
        if not (isinstance(result, (tuple, list)) and len(result) == 2):
            trace.add("train returned", f"{type(result).__name__}, not (losses, named parameters)")
            return trace
        trace.add("train returned", "losses and named parameters")
        losses, final = materialize(result[0]), materialize(result[1])
        try:
            trace.add("the losses train returned", np.array([float(v) for v in losses], dtype=np.float64))
        except (TypeError, ValueError):
            trace.add("the losses train returned", f"{type(losses).__name__}, not a list of numbers")
        try:
            pairs = [tuple(materialize(pair)) for pair in final]
            trace.add("the names of the parameters train returned", tuple(str(n) for n, _ in pairs))
            mine = [p for _, p in pairs]
            _add_params(trace, "the parameters train returned", _values(mine, names))
        except (TypeError, ValueError, AttributeError) as exc:
            trace.add("the names of the parameters train returned", Raised.from_exception(exc))
            return trace
        trace.add(f"the files train wrote into the checkpoint's folder {RULE_MARK}", written)
        fresh = all(all(p is not q for _, q in named) for p in mine)
        trace.add(f"the parameters train returned are new objects (a restarted run) {RULE_MARK}", fresh)
        return trace

    return observe


def check_train(train: Any, *, seeds: Sequence[int] = VISIBLE_SEEDS) -> None:
    __tracebackhide__ = True
    title = "torch's run, uninterrupted"
    scenarios = _scenarios(
        title,
        _observe_train,
        lambda c: (
            f"{c.words()}; train(named_params, loss_and_grads, batches, config, path) with path in an "
            "empty folder; every call of loss_and_grads observed"
        ),
        seeds,
    )
    verify("train", scenarios, {"train": train}, MUTANTS, title)
