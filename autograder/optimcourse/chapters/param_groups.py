"""Chapter 3 (03-param-groups): the Optimizer base class, parameter groups, and SGD on top of them.

The structure checks build the same groups with the student's ``Optimizer`` and with
``torch.optim.Optimizer`` itself (same defaults, same group dicts) and compare what comes out:
groups, key order, merged values, and the exception for each bad input. The SGD checks step the
student's SGD and ``torch.optim.SGD`` with 2 to 3 groups of their own lr, momentum and
weight_decay, change a group's lr mid-run and add a group mid-run.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch.optim.optimizer import required as torch_required

from ..cases import HIDDEN_SEEDS, VISIBLE_SEEDS, is_visible, problem
from ..given import Parameter, required
from ..guard import DelegationError
from ..mutants import load_mutants
from ..scenarios import ObserveScenario, OptimizerScenario, Step, Tweak, ZeroGrad
from ..side import is_torch, torch_side
from ..trace import Raised, Trace
from ..verify import verify

__all__ = [
    "HIDDEN_SEEDS",
    "MUTANTS",
    "VISIBLE_SEEDS",
    "check_optimizer_groups",
    "check_optimizer_validation",
    "check_sgd_groups",
    "check_sgd_validation",
    "check_split_weight_decay_params",
]


_FIRST_BUFFER = (
    '                        state["momentum_buffer"] = np.array(d_p)  # a copy, and an array even when 0-dim\n'
)

MUTANTS = load_mutants("param_groups")  # param_groups.mutants.toml


# -- both sides of a comparison ------------------------------------------------------------------------


def _torch_parameter(data: Any) -> torch.Tensor:
    return torch.tensor(data, dtype=torch.float64, requires_grad=True)


TORCH_NAMES = torch_side(
    Parameter=_torch_parameter, Optimizer=torch.optim.Optimizer, SGD=torch.optim.SGD, required=torch_required
)


@dataclass
class Side:
    """What a recipe builds its arguments from: parameters, a raw array, the `required` marker."""

    impl: Any
    init: tuple[np.ndarray, ...]

    def __post_init__(self) -> None:
        self.params = [self.impl["Parameter"](v.copy()) for v in self.init]

    @property
    def required(self) -> Any:
        return torch_required if is_torch(self.impl) else required

    def array(self, i: int) -> Any:
        """A bare array (torch: a bare tensor), not wrapped in a list."""
        return torch.tensor(self.init[i]) if is_torch(self.impl) else self.init[i].copy()

    def index(self, p: Any) -> int:
        return next((i for i, q in enumerate(self.params) if q is p), -1)


Recipe = Callable[[Side], Any]


@dataclass(frozen=True)
class Construction:
    """``Optimizer(params(side), defaults(side))``, then ``add_param_group(group)`` calls, observed after each."""

    words: str
    params: Recipe
    defaults: Callable[[Side], dict[str, Any]]
    then: tuple[tuple[str, Recipe], ...] = ()
    unordered: bool = False  # its groups come from a set: no order to observe (torch refuses it anyway)


def _plain(value: Any) -> Any:
    """A value as both sides can compare it: each side has its own `required` marker."""
    return "<required parameter>" if value is required or value is torch_required else value


def _observe_groups(trace: Trace, label: str, opt: Any, side: Side, unordered: bool = False) -> None:
    groups = opt.param_groups
    trace.add(f"{label}: number of param_groups", len(groups))
    for g, group in enumerate(groups):
        trace.add(f"{label}: param_groups[{g}] keys, in order", tuple(group))
        numbers = tuple(side.index(p) for p in group.get("params", ()))
        if unordered:  # a set's order changes from run to run; what it holds does not
            trace.add(f"{label}: param_groups[{g}]['params'] (parameter numbers, sorted)", tuple(sorted(numbers)))
        else:
            trace.add(f"{label}: param_groups[{g}]['params'] (parameter numbers)", numbers)
        for key, value in group.items():
            if key != "params":
                trace.add(f"{label}: param_groups[{g}][{key!r}]", _plain(value))
    trace.add(f"{label}: optimizer.defaults", {key: _plain(value) for key, value in opt.defaults.items()})
    trace.add(f"{label}: number of entries in optimizer.state", len(opt.state))


def _observe_construction(
    case: Construction, init: tuple[np.ndarray, ...]
) -> Callable[[Any, Callable[..., Any]], Trace]:
    def observe(impl: Any, call: Callable[..., Any]) -> Trace:
        trace, side = Trace(), Side(impl, init)
        try:
            opt = call(impl["Optimizer"], case.params(side), case.defaults(side))
        except DelegationError:
            raise
        except Exception as exc:
            trace.add("Optimizer(...)", Raised.from_exception(exc))
            return trace
        _observe_groups(trace, "after Optimizer(...)", opt, side, case.unordered)
        for label, group in case.then:
            try:
                call(opt.add_param_group, group(side))
                trace.add(label, "returned")
            except DelegationError:
                raise
            except Exception as exc:  # refused: the groups must be as they were
                trace.add(label, Raised.from_exception(exc))
            _observe_groups(trace, f"after {label}", opt, side, case.unordered)
        return trace

    return observe


def _init(seed: int) -> tuple[np.ndarray, ...]:
    init, _ = problem(seed)
    extra, _ = problem(seed + 1000)
    return init + extra


def _random_groups(rng: np.random.Generator, indices: list[int], side: Side) -> list[dict[str, Any]]:
    """Split the parameters into 1 to 3 groups; each overrides a random subset of keys, in random order."""
    n_groups = int(rng.integers(1, min(3, len(indices)) + 1))
    cuts = sorted(rng.choice(np.arange(1, len(indices)), size=n_groups - 1, replace=False).tolist())
    groups = []
    for part in np.split(np.array(indices), cuts):
        own = {
            key: value
            for key, value in (
                ("lr", float(rng.uniform(0.01, 0.5))),
                ("momentum", float(rng.choice([0.0, 0.5, 0.9]))),
                ("weight_decay", float(rng.uniform(0, 0.1))),
            )
            if rng.random() < 0.5
        }
        items = [("params", [side.params[i] for i in part]), *own.items()]
        order = rng.permutation(len(items))
        groups.append(dict(items[j] for j in order))
    return groups


def construction_cases(seed: int) -> tuple[list[Construction], list[Construction]]:
    """(well-formed constructions, bad inputs) for one seed; hidden seeds draw the groups at random."""
    defaults = lambda s: {"lr": 0.1, "momentum": 0.9, "weight_decay": 0.0}
    if is_visible(seed):
        good = [
            Construction("a flat list of parameters", lambda s: list(s.params[:3]), defaults),
            Construction("a generator, like model.parameters()", lambda s: (p for p in s.params[:2]), defaults),
            Construction(
                "two group dicts, each setting some keys (one in front of 'params')",
                lambda s: [{"params": s.params[:2], "lr": 0.01}, {"weight_decay": 1e-4, "params": s.params[2]}],
                defaults,
                then=(
                    (
                        "add_param_group({'params': [p3], 'momentum': 0.5})",
                        lambda s: {"params": [s.params[3]], "momentum": 0.5},
                    ),
                ),
            ),
            Construction(
                "lr marked `required` in the defaults, set by every group",
                lambda s: [{"params": [s.params[0]], "lr": 0.2}, {"params": [s.params[1]], "lr": 0.3}],
                lambda s: {"lr": s.required, "momentum": 0.0},
            ),
        ]
    else:
        n = len(_init(seed))
        late = n - 1
        shuffled = [int(i) for i in np.random.default_rng(seed).permutation(n)]
        good = [
            Construction(
                "random groups, then one added later",
                lambda s: _random_groups(np.random.default_rng(seed), list(range(late)), s),
                defaults,
                then=(
                    (
                        f"add_param_group({{'params': [p{late}], 'lr': 0.05}})",
                        lambda s: {"lr": 0.05, "params": [s.params[late]]},
                    ),
                ),
            ),
            Construction("a flat list in a shuffled order", lambda s: [s.params[i] for i in shuffled], defaults),
        ]
    bad = [
        Construction("a single Parameter instead of a list", lambda s: s.params[0], defaults),
        Construction("a bare array instead of a list", lambda s: s.array(0), defaults),
        Construction("an empty list", lambda s: [], defaults),
        Construction("an empty generator", lambda s: (p for p in s.params[:0]), defaults),
        Construction(
            "a group whose params are a set",
            lambda s: [{"params": {s.params[0], s.params[1]}}],
            defaults,
            unordered=True,
        ),
        Construction(
            "a parameter in two groups",
            lambda s: [{"params": s.params[:2]}, {"params": [s.params[1], s.params[2]]}],
            defaults,
        ),
        Construction(
            "a group without the required lr",
            lambda s: [{"params": [s.params[0]], "lr": 0.1}, {"params": [s.params[1]]}],
            lambda s: {"lr": s.required, "momentum": 0.0},
        ),
        Construction("a list holding a number among the parameters", lambda s: [s.params[0], 3.0], defaults),
        Construction(
            "add_param_group with a parameter already in a group, then with a list instead of a dict",
            lambda s: [{"params": s.params[:2]}],
            defaults,
            then=(
                ("add_param_group({'params': [p1, p2]})", lambda s: {"params": [s.params[1], s.params[2]]}),
                ("add_param_group([p2])", lambda s: [s.params[2]]),
            ),
        ),
    ]
    return good, bad


def _construction_scenarios(seeds: Sequence[int], which: int) -> list[ObserveScenario]:
    scenarios = []
    for seed in seeds:
        init = _init(seed)
        for case in construction_cases(seed)[which]:
            scenarios.append(
                ObserveScenario(
                    title="torch.optim.Optimizer(params, defaults)",
                    observe=_observe_construction(case, init),
                    torch_impl=TORCH_NAMES,
                    words=case.words,
                )
            )
    return scenarios


# -- SGD with groups -------------------------------------------------------------------------------


def _set_lr(group: int, lr: float) -> Tweak:
    def apply(opt: Any, params: Sequence[Any]) -> None:
        opt.param_groups[group]["lr"] = lr

    return Tweak(f"optimizer.param_groups[{group}]['lr'] = {lr:.6g}", apply)


def _add_group(index: int, **hyper: float) -> Tweak:
    def apply(opt: Any, params: Sequence[Any]) -> None:
        opt.add_param_group({"params": [params[index]], **hyper})

    words = ", ".join(f"'{k}': {v:.6g}" for k, v in hyper.items())
    return Tweak(f"optimizer.add_param_group({{'params': [parameter {index}], {words}}})", apply)


def sgd_cases(seeds: Sequence[int]) -> list[OptimizerScenario]:
    cases = []
    for seed in seeds:
        init, grads = problem(seed)
        extra, extra_grads = problem(seed + 1000)
        init, grads = init + extra, [a + b for a, b in zip(grads, extra_grads)]
        late = len(init) - 1  # joins through add_param_group halfway
        rng = np.random.default_rng(seed)
        if is_visible(seed):
            hyper = {"lr": 0.1, "momentum": 0.9, "weight_decay": 0.01}
            layout = [({"lr": 0.01}, [0, 1]), ({"weight_decay": 0.0, "momentum": 0.5}, [2]), ({}, list(range(3, late)))]
            new_lr, added = 0.02, {"lr": 0.05, "weight_decay": 0.0}
        else:
            hyper = {
                "lr": float(rng.uniform(0.01, 0.3)),
                "momentum": float(rng.choice([0.0, 0.9])),
                "weight_decay": float(rng.uniform(0, 0.05)),
            }
            n_groups = int(rng.integers(2, 4))
            owners = np.sort(rng.integers(0, n_groups, size=late))
            layout = []
            for g in range(n_groups):
                own = {
                    "lr": float(rng.uniform(0.001, 0.5)),
                    "momentum": float(rng.choice([0.0, 0.5, 0.9])),
                    "weight_decay": float(rng.uniform(0, 0.1)),
                }
                keep = [k for k in own if rng.random() < 0.6]
                layout.append(({k: own[k] for k in keep}, [int(i) for i in np.flatnonzero(owners == g)]))
            layout = [(own, idx) for own, idx in layout if idx] or [({}, list(range(late)))]
            new_lr, added = float(rng.uniform(0.001, 0.3)), {"lr": float(rng.uniform(0.001, 0.3)), "weight_decay": 0.0}

        def groups(params: Sequence[Any], layout: Any = layout) -> list[dict[str, Any]]:
            return [{"params": [params[i] for i in idx], **own} for own, idx in layout]

        steps = [Step(tuple(g)) for g in grads]
        actions = (
            steps[0],
            steps[1],
            ZeroGrad(),
            steps[2],
            _set_lr(len(layout) - 1, new_lr),
            steps[3],
            _add_group(late, **added),
            steps[4],
            ZeroGrad(False),
            Step(None),
            steps[5],
            steps[6],
            steps[7],
        )
        where = "; ".join(
            f"group {g}: parameters {idx} with {own or 'the defaults'}" for g, (own, idx) in enumerate(layout)
        )
        cases.append(
            OptimizerScenario(
                title=f"torch.optim.SGD(groups, lr={hyper['lr']:.6g}, momentum={hyper['momentum']:.6g}, "
                f"weight_decay={hyper['weight_decay']:.6g})",
                init=init,
                actions=actions,
                state_names=("momentum_buffer",),
                notes=(where,),
                state_in_place=("momentum_buffer",),
                build=lambda impl, params, groups=groups, hyper=hyper: impl["SGD"](groups(params), **hyper),
                build_torch=lambda params, groups=groups, hyper=hyper: torch.optim.SGD(groups(params), **hyper),
            )
        )
    return cases


def sgd_validation_cases(seeds: Sequence[int]) -> list[OptimizerScenario]:
    cases = []
    for seed in seeds:
        init, _ = problem(seed)
        size = 0.1 if is_visible(seed) else float(np.random.default_rng(seed).uniform(1e-3, 1))
        for key in ("lr", "momentum", "weight_decay"):
            cases.append(
                OptimizerScenario(
                    title=f"torch.optim.SGD(params, {key}={-size:.6g})",
                    init=init,
                    actions=(),
                    build=lambda impl, params, key=key, size=size: impl["SGD"](params, **{key: -size}),
                    build_torch=lambda params, key=key, size=size: torch.optim.SGD(params, **{key: -size}),
                )
            )
    return cases


# -- split_weight_decay_params -------------------------------------------------------------------------


class _Scale(torch.nn.Module):
    """A learned scalar, such as a temperature: a 0-dim parameter."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = torch.nn.Parameter(torch.ones(()))


_LAYERS: dict[str, Callable[[np.random.Generator, int], torch.nn.Module]] = {
    "fc": lambda rng, d: torch.nn.Linear(d, int(rng.integers(2, 6)), bias=bool(rng.integers(0, 4))),
    "norm": lambda rng, d: torch.nn.LayerNorm(d),
    "bn": lambda rng, d: torch.nn.BatchNorm1d(d),
    "conv": lambda rng, d: torch.nn.Conv2d(d, int(rng.integers(2, 6)), 3),
    "embed": lambda rng, d: torch.nn.Embedding(int(rng.integers(5, 20)), d),
    "scale": lambda rng, d: _Scale(),
}


@dataclass(frozen=True)
class Split:
    """A model's named parameters, as ``named_parameters()`` of a real torch module gives them."""

    words: str
    names: tuple[str, ...]
    shapes: tuple[tuple[int, ...], ...]
    embeddings: tuple[str, ...]  # the names of its embedding tables


def _split_model(seed: int) -> Split:
    if is_visible(seed):
        layers = [
            ("embed", torch.nn.Embedding(10, 4)),
            ("fc", torch.nn.Linear(4, 4)),
            ("norm", torch.nn.LayerNorm(4)),
            ("scale", _Scale()),
            ("fc", torch.nn.Linear(4, 10)),
        ]
        named = False
    else:
        rng = np.random.default_rng([seed, 31])
        kinds = rng.choice(list(_LAYERS), size=int(rng.integers(4, 8)))
        layers = [(str(k), _LAYERS[str(k)](rng, 3)) for k in kinds]
        named = bool(rng.integers(0, 2))
    model = (
        torch.nn.Sequential(OrderedDict((f"{k}{i}", m) for i, (k, m) in enumerate(layers)))
        if named
        else torch.nn.Sequential(*(m for _, m in layers))
    )
    params = list(model.named_parameters())
    embeddings = tuple(
        n for n, p in params if any(p is m.weight for _, m in layers if isinstance(m, torch.nn.Embedding))
    )
    what = ", ".join(type(m).__name__ for _, m in layers)
    return Split(
        f"the parameters of nn.Sequential({what}), {'named' if named else 'by position'}",
        tuple(n for n, _ in params),
        tuple(tuple(p.shape) for _, p in params),
        embeddings,
    )


def _torch_split(named_params: Any, weight_decay: float, no_decay_names: Sequence[str] = ()) -> list[dict[str, Any]]:
    """Chapter 3's rule on ``model.named_parameters()``: fewer than two dimensions, or named, means no decay."""
    decay: list[Any] = []
    no_decay: list[Any] = []
    for name, param in named_params:
        (no_decay if param.ndim < 2 or name in no_decay_names else decay).append(param)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def _observe_split(seed: int, model: Split, with_names: bool) -> Callable[[Any, Callable[..., Any]], Trace]:
    weight_decay = 0.01 if is_visible(seed) else float(np.random.default_rng(seed).uniform(1e-3, 0.1))
    rng = np.random.default_rng([seed, 32])
    init = tuple(rng.normal(size=shape) for shape in model.shapes)
    extra = {"no_decay_names": list(model.embeddings)} if with_names else {}

    def observe(impl: Any, call: Callable[..., Any]) -> Trace:
        trace, side = Trace(), Side(impl, init)
        label = f"split_weight_decay_params(named parameters, weight_decay={weight_decay:.6g}" + (
            f", no_decay_names={extra['no_decay_names']})" if with_names else ")"
        )
        fn = _torch_split if is_torch(impl) else impl["split_weight_decay_params"]
        try:
            groups = call(fn, ((n, p) for n, p in zip(model.names, side.params)), weight_decay, **extra)
        except DelegationError:
            raise
        except Exception as exc:
            trace.add(label, Raised.from_exception(exc))
            return trace
        trace.add(f"{label}: number of groups", len(groups))
        for g, group in enumerate(groups):
            trace.add(f"{label}: group {g} keys, in order", tuple(group))
            trace.add(
                f"{label}: group {g} parameters", tuple(model.names[side.index(p)] for p in group.get("params", ()))
            )
            trace.add(f"{label}: group {g} weight_decay", group.get("weight_decay"))
        return trace

    return observe


def split_cases(seeds: Sequence[int]) -> list[ObserveScenario]:
    out = []
    for seed in seeds:
        model = _split_model(seed)
        shapes = ", ".join(f"{n} {s}" for n, s in zip(model.names, model.shapes))
        for with_names in (False, True):
            out.append(
                ObserveScenario(
                    title="chapter 3's rule (no weight decay below two dimensions, or by name)",
                    observe=_observe_split(seed, model, with_names),
                    torch_impl=TORCH_NAMES,
                    expected_by="the course's rule, on torch's named_parameters()",
                    words=f"{model.words}: {shapes}, passed as a generator"
                    + (f"; no_decay_names = its embedding tables {list(model.embeddings)}" if with_names else ""),
                )
            )
    return out


# -- what the notebook's test cells call ---------------------------------------------------------------


def _impl(**names: Any) -> dict[str, Any]:
    return {"Parameter": Parameter, "required": required, **names}


def check_optimizer_groups(Optimizer: Any, *, seeds: Sequence[int] = VISIBLE_SEEDS) -> None:
    __tracebackhide__ = True
    verify("Optimizer", _construction_scenarios(seeds, 0), _impl(Optimizer=Optimizer), MUTANTS)


def check_optimizer_validation(Optimizer: Any, *, seeds: Sequence[int] = VISIBLE_SEEDS) -> None:
    __tracebackhide__ = True
    verify("Optimizer", _construction_scenarios(seeds, 1), _impl(Optimizer=Optimizer), MUTANTS)


def check_sgd_groups(SGD: Any, *, seeds: Sequence[int] = VISIBLE_SEEDS) -> None:
    __tracebackhide__ = True
    verify("SGD", sgd_cases(seeds), _impl(SGD=SGD), MUTANTS)


def check_sgd_validation(SGD: Any, *, seeds: Sequence[int] = VISIBLE_SEEDS) -> None:
    __tracebackhide__ = True
    verify("SGD's constructor", sgd_validation_cases(seeds), _impl(SGD=SGD), MUTANTS)


def check_split_weight_decay_params(split_weight_decay_params: Any, *, seeds: Sequence[int] = VISIBLE_SEEDS) -> None:
    __tracebackhide__ = True
    verify(
        "split_weight_decay_params",
        split_cases(seeds),
        _impl(split_weight_decay_params=split_weight_decay_params),
        MUTANTS,
    )
