"""Chapter 6 (06-gradient-clipping): clip_grad_norm_, clip_grad_value_, and where clipping goes in a step.

Each check runs the same gradients through the student's function and through
``torch.nn.utils.clip_grad_norm_`` / ``clip_grad_value_`` (float64), and compares the returned norm,
every gradient afterwards and whether it was changed in place. Gradients span scales from 1e-8 to 1e8,
so values are compared after dividing by their tensor's scale (the tolerance is relative to the scale
of what is compared). The training check runs a micro-batch step with clipping and the course's Adam
against ``torch.optim.Adam`` for several steps.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..cases import HIDDEN_SEEDS, VISIBLE_SEEDS, is_visible
from ..given import Parameter
from ..guard import DelegationError
from ..mutants import load_mutants
from ..scenarios import ObserveScenario, TorchParameter
from ..side import is_torch, read, set_attrs, torch_side
from ..trace import Raised, Trace
from ..verify import verify

__all__ = [
    "HIDDEN_SEEDS",
    "MUTANTS",
    "NORM_TYPES",
    "VISIBLE_SEEDS",
    "check_clip_grad_norm",
    "check_clip_grad_norm_nonfinite",
    "check_clip_grad_value",
    "check_clipped_accumulation_step",
    "grad_sets",
]


_NORM_MULTIPLY = "    for g in grads:\n        g *= clip_coef\n"
_CLAMP = "    clip_coef = np.minimum(clip_coef, 1.0)"
_TOTAL_P = "        total = np.sum(np.array(norms) ** norm_type) ** (1.0 / norm_type)\n"
_ACCUMULATE = (
    "        for p, g in zip(params, grads):\n            if g is None:\n                continue\n"
    "            if p.grad is None:\n                p.grad = np.array(g, dtype=np.float64)\n"
    "            else:\n                p.grad += g\n"
)

MUTANTS = load_mutants("gradient_clipping")  # gradient_clipping.mutants.toml


# -- gradient sets -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GradSet:
    """Initial values, gradients (None: no gradient) and each tensor's scale, to compare g / scale."""

    words: str
    grads: tuple[np.ndarray | None, ...]
    scales: tuple[float, ...]

    @property
    def shapes(self) -> tuple[tuple[int, ...], ...]:
        return tuple(np.shape(g) if g is not None else (2,) for g in self.grads)


def _numpy_norm(grads: Sequence[np.ndarray | None], norm_type: float) -> float:
    """Only to choose max_norm around the gradients' size; the expected values come from torch."""
    flat = np.concatenate([np.ravel(g) for g in grads if g is not None] or [np.zeros(0)])
    if flat.size == 0:
        return 0.0
    return float(
        np.max(np.abs(flat)) if norm_type == math.inf else np.sum(np.abs(flat) ** norm_type) ** (1 / norm_type)
    )


def grad_sets(seed: int, *, finite: bool = True) -> list[GradSet]:
    rng = np.random.default_rng([seed, 6])
    if is_visible(seed):
        base = (np.array([3.0, -4.0, 0.0]), np.array([[1.0, -2.0], [0.5, 0.25]]), np.array(-5.0), None, np.zeros(0))
        sets = [
            GradSet("gradients of about unit size, one None, one empty", base, (1.0,) * 5),
            GradSet("gradients of about unit size, one None", base[:4], (1.0,) * 4),
            GradSet("all-zero gradients", tuple(None if g is None else np.zeros_like(g) for g in base), (1.0,) * 5),
        ]
    else:
        sets = []
        for k in range(3):
            n = int(rng.integers(1, 5))
            shapes = [tuple(int(d) for d in rng.integers(1, 5, size=rng.integers(0, 3))) for _ in range(n)]
            scale = float(10 ** rng.uniform(-8, 8))
            scales = tuple(scale * float(10 ** rng.uniform(-1, 1)) for _ in shapes)
            grads: list[np.ndarray | None] = [rng.normal(size=s) * sc for s, sc in zip(shapes, scales)]
            if k == 1:
                grads.append(None)
                scales += (1.0,)
            sets.append(GradSet(f"{n} gradient(s) of scale about {scale:.1e}", tuple(grads), scales))
    if finite:
        return sets
    keep = [i for i, g in enumerate(sets[0].grads) if g is None or g.size]  # inf-norms need no empty gradient
    g = GradSet(
        sets[0].words.replace(", one empty", ""),
        tuple(sets[0].grads[i] for i in keep),
        tuple(sets[0].scales[i] for i in keep),
    )  # the first set, which has no empty one on hidden seeds
    bad = []
    j = max(i for i, grad in enumerate(g.grads) if grad is not None)
    for word, value in (("a NaN", np.nan), ("an inf", np.inf), ("a -inf", -np.inf)):
        grads = list(g.grads)
        spoiled = np.array(grads[j], dtype=np.float64)
        spoiled.flat[0] = value
        grads[j] = spoiled
        bad.append(GradSet(f"{g.words}, with {word} in gradient {j}", tuple(grads), g.scales))
    return bad


NORM_TYPES = (2.0, 1.0, 3.0, math.inf)


# -- both sides of a comparison ------------------------------------------------------------------------


def _torch_clip_norm(
    params: Sequence[TorchParameter], max_norm: float, norm_type: float = 2.0, error_if_nonfinite: bool = False
) -> float:
    return float(
        torch.nn.utils.clip_grad_norm_(
            (p.tensor for p in params), max_norm, norm_type=norm_type, error_if_nonfinite=error_if_nonfinite
        )
    )


def _torch_clip_value(params: Sequence[TorchParameter], clip_value: float) -> None:
    return torch.nn.utils.clip_grad_value_((p.tensor for p in params), clip_value)


def _set_grads(impl: Any, params: Sequence[Any], grads: Sequence[np.ndarray | None]) -> None:
    """Each parameter's gradient (in one request when the student's code runs in their kernel)."""
    if is_torch(impl):
        for p, g in zip(params, grads):
            p.tensor.grad = None if g is None else torch.tensor(g, dtype=torch.float64)
    else:
        set_attrs([(p, "grad", None if g is None else np.array(g, dtype=np.float64)) for p, g in zip(params, grads)])


def _scaled(value: Any, scale: float) -> np.ndarray | None:
    """value / scale as a float64 array (also when 0-dim), or None."""
    if isinstance(value, torch.Tensor):
        value = value.detach().numpy()
    return None if value is None else np.asarray(np.array(value, dtype=np.float64) / scale)


def _grads(impl: Any, params: Sequence[Any]) -> tuple[list[Any], list[Any]]:
    """Each parameter's .grad (in one request from a kernel), and the object that is the gradient: the same,
    or on torch's side the tensor (its NumPy view is made afresh)."""
    grads = [row[0][0] for row in read(params, ("grad",))]
    return grads, [p.tensor.grad for p in params] if is_torch(impl) else grads


def _observe_grads(
    impl: Any, trace: Trace, label: str, params: Sequence[Any], before: Sequence[Any], scales: Sequence[float]
) -> None:
    grads, objects = _grads(impl, params)
    for i, (grad, now, held, scale) in enumerate(zip(grads, objects, before, scales)):
        trace.add(f"{label}: parameter {i} .grad / {scale:.3g}", _scaled(grad, scale))
        if held is not None and grad is not None:
            trace.add(f"{label}: parameter {i} .grad still the same array (changed in place)", now is held)


TORCH_NAMES = torch_side(Parameter=TorchParameter, clip_grad_norm_=_torch_clip_norm, clip_grad_value_=_torch_clip_value)


def _observe_call(
    gradset: GradSet,
    label: str,
    fn_name: str,
    args: Callable[..., tuple[Any, ...]],  # (params) -> positional arguments
    kwargs: dict[str, Any],
    norm_scale: float,
    as_generator: bool,
) -> Callable[[Any, Callable[..., Any]], Trace]:
    def observe(impl: Any, call: Callable[..., Any]) -> Trace:
        trace = Trace()
        params = [impl["Parameter"](np.zeros(s)) for s in gradset.shapes]
        _set_grads(impl, params, gradset.grads)
        before = _grads(impl, params)[1]
        source = (p for p in params) if as_generator else list(params)
        try:
            with np.errstate(all="ignore"):  # inf * 0 = NaN, as in torch; the warning is no news here
                result = call(impl[fn_name], source, *args(params), **kwargs)
            if fn_name == "clip_grad_norm_":
                trace.add(
                    f"{label}: returned norm / {norm_scale:.3g}",
                    _scaled(result, norm_scale) if isinstance(result, (int, float, np.floating)) else result,
                )
            else:
                trace.add(f"{label}: returned", result)
        except DelegationError:
            raise
        except Exception as exc:  # a refusal is an observation; what it left behind is the next
            trace.add(label, Raised.from_exception(exc))
        _observe_grads(impl, trace, f"after {label}", params, before, gradset.scales)
        return trace

    return observe


def norm_cases(seeds: Sequence[int], *, finite: bool = True) -> list[ObserveScenario]:
    out = []
    for seed in seeds:
        rng = np.random.default_rng([seed, 60])
        for k, gradset in enumerate(grad_sets(seed, finite=finite)):
            types = NORM_TYPES if is_visible(seed) or finite else (2.0, math.inf)
            for norm_type in types:
                has_empty = any(g is not None and g.size == 0 for g in gradset.grads)
                if norm_type == math.inf and has_empty:
                    continue  # torch refuses the inf-norm of an empty gradient (no identity for max)
                size = (
                    _numpy_norm(gradset.grads, norm_type)
                    if finite
                    else _numpy_norm(grad_sets(seed)[0].grads, norm_type)
                )
                factors = (0.5, 4.0) if is_visible(seed) else (float(10 ** rng.uniform(-1, 1)),)
                for factor in factors:
                    max_norm = (size or 1.0) * factor
                    for error in (False, True) if not finite else (False,):
                        kwargs = {"norm_type": norm_type, **({"error_if_nonfinite": True} if error else {})}
                        words = ", ".join(f"{k}={v}" for k, v in kwargs.items())
                        label = f"clip_grad_norm_(params, max_norm={max_norm:.6g}, {words})"
                        as_generator = bool((k + int(factor > 1)) % 2)
                        out.append(
                            ObserveScenario(
                                title="torch.nn.utils.clip_grad_norm_",
                                observe=_observe_call(
                                    gradset,
                                    label,
                                    "clip_grad_norm_",
                                    lambda ps, m=max_norm: (m,),
                                    kwargs,
                                    max(size, 1e-300) if finite else 1.0,
                                    as_generator,
                                ),
                                torch_impl=TORCH_NAMES,
                                words=gradset.words + ("; params passed as a generator" if as_generator else ""),
                            )
                        )
    return out


def threshold_cases(seeds: Sequence[int]) -> list[ObserveScenario]:
    """Gradients whose total norm is just below max_norm: torch still scales them, by
    max_norm / (total + 1e-6) < 1. Small gradients (norm about 1e-3) make that a change of about 1e-3,
    so no rounding decides it, while a test ``if total > max_norm`` leaves them as they are."""
    out = []
    for seed in seeds:
        rng = np.random.default_rng([seed, 62])
        shapes = (
            [(3,), (2, 2)]
            if is_visible(seed)
            else [
                tuple(int(d) for d in rng.integers(1, 4, size=rng.integers(0, 3)))
                for _ in range(int(rng.integers(1, 4)))
            ]
        )
        grads = tuple(rng.normal(size=s) for s in shapes)
        total = _numpy_norm(grads, 2.0)
        grads = tuple(g * (1e-3 / total) for g in grads)
        gradset = GradSet("gradients with a total 2-norm of 1e-3, just below max_norm", grads, (1e-3,) * len(grads))
        max_norm = 1e-3 * (1 + 1e-9)
        label = f"clip_grad_norm_(params, max_norm={max_norm!r})"
        out.append(
            ObserveScenario(
                title="torch.nn.utils.clip_grad_norm_ just below the threshold",
                observe=_observe_call(gradset, label, "clip_grad_norm_", lambda ps, m=max_norm: (m,), {}, 1e-3, False),
                torch_impl=TORCH_NAMES,
                words=gradset.words,
            )
        )
    return out


def clip_values(seed: int) -> list[tuple[GradSet, float]]:
    """The gradient sets of ``seed`` for clip_grad_value_, each with its clip_value: about the median size
    of its finite entries, always a positive finite number (the exercise asks about nothing else)."""
    out = []
    rng = np.random.default_rng([seed, 61])
    for gradset in grad_sets(seed) + grad_sets(seed, finite=False):
        finite = np.concatenate(
            [np.abs(g[np.isfinite(g)]).ravel() for g in gradset.grads if g is not None] + [np.zeros(0)]
        )
        typical = float(np.median(finite)) if finite.size else 1.0  # no finite entry: a median of nothing is NaN
        out.append((gradset, (typical or 1.0) * (1.0 if is_visible(seed) else float(10 ** rng.uniform(-0.5, 0.5)))))
    return out


def value_cases(seeds: Sequence[int]) -> list[ObserveScenario]:
    out = []
    for seed in seeds:
        for k, (gradset, clip_value) in enumerate(clip_values(seed)):
            label = f"clip_grad_value_(params, clip_value={clip_value:.6g})"
            out.append(
                ObserveScenario(
                    title="torch.nn.utils.clip_grad_value_",
                    observe=_observe_call(
                        gradset,
                        label,
                        "clip_grad_value_",
                        lambda ps, c=clip_value: (c,),
                        {},
                        1.0,
                        as_generator=bool(k % 2),
                    ),
                    torch_impl=TORCH_NAMES,
                    words=gradset.words + ("; params passed as a generator" if k % 2 else ""),
                )
            )
    return out


# -- a training step with accumulation and clipping -----------------------------------------------------


def _torch_step(optimizer: Any, params: Sequence[TorchParameter], micro_batch_grads: Any, max_norm: float) -> float:
    optimizer.zero_grad()
    for grads in micro_batch_grads:
        for p, g in zip(params, grads):
            if g is not None:
                p.tensor.backward(torch.tensor(g, dtype=torch.float64))
    total = torch.nn.utils.clip_grad_norm_([p.tensor for p in params], max_norm)
    optimizer.step()
    return float(total)


def _observe_training(seed: int) -> tuple[Callable[[Any, Callable[..., Any]], Trace], str]:
    rng = np.random.default_rng([seed, 62])
    visible = is_visible(seed)
    shapes = (
        [(3,), (2, 2), ()]
        if visible
        else [
            tuple(int(d) for d in rng.integers(1, 4, size=rng.integers(0, 3))) for _ in range(int(rng.integers(2, 5)))
        ]
    )
    init = [rng.normal(size=s) for s in shapes]
    steps, n_micro = (6, 3) if visible else (10, int(rng.integers(2, 5)))
    scale = 1.0 if visible else float(10 ** rng.uniform(-2, 3))
    # np.array: arithmetic on a 0-dim array gives a NumPy scalar; torch's gradients are always tensors
    batches: list[list[list[np.ndarray | None]]] = [
        [[np.array(rng.normal(size=s) * scale * (8.0 if t % 2 else 0.5)) for s in shapes] for _ in range(n_micro)]
        for t in range(steps)
    ]
    frozen = 1 % len(shapes)
    for b in batches[2]:
        b[frozen] = None  # a parameter without a gradient in one step
    max_norm = 2.0 * scale * n_micro
    hyper = (
        {"lr": 0.05, "weight_decay": 0.01, "amsgrad": True}
        if visible
        else {
            "lr": float(10 ** rng.uniform(-3, -1)),
            "betas": (float(rng.uniform(0.5, 0.95)), 0.999),
            "amsgrad": bool(rng.random() < 0.5),
        }
    )

    def observe(impl: Any, call: Callable[..., Any]) -> Trace:
        trace = Trace()
        params = [impl["Parameter"](v.copy()) for v in init]
        if is_torch(impl):
            opt = torch.optim.Adam([p.tensor for p in params], **hyper)
            state = lambda p: opt.state.get(p.tensor, {})
        else:
            opt = impl["Adam"](params, **hyper)
            state = lambda p: opt.state.get(p, {})
        for t, micro in enumerate(batches, start=1):
            label = f"step {t}"
            try:
                with np.errstate(all="ignore"):
                    total = call(impl["clipped_accumulation_step_"], opt, params, [list(b) for b in micro], max_norm)
                trace.add(
                    f"{label}: returned norm / {scale:.3g}",
                    _scaled(total, scale) if isinstance(total, (int, float, np.floating)) else total,
                )
            except DelegationError:
                raise
            except Exception as exc:
                trace.add(label, Raised.from_exception(exc))
                return trace
            for i, p in enumerate(params):
                trace.add(f"after {label}: parameter {i}", _scaled(p.data, 1.0))
                trace.add(f"after {label}: parameter {i} .grad (clipped) / {scale:.3g}", _scaled(p.grad, scale))
                for key, unit in (("exp_avg", scale), ("max_exp_avg_sq", scale**2)):
                    trace.add(
                        f"after {label}: state[{key!r}] of parameter {i} / {unit:.3g}", _scaled(state(p).get(key), unit)
                    )
        return trace

    words = (
        f"{len(shapes)} parameter(s) of shape {', '.join(map(str, shapes))}; {steps} steps of {n_micro} "
        f"micro-batches each, gradients of scale about {scale:.1e} alternating small and large; parameter "
        f"{frozen} has no gradient at step 3; max_norm={max_norm:.6g}; "
        f"the optimizer is Adam({', '.join(f'{k}={v}' for k, v in hyper.items())})"
    )
    return observe, words


def training_cases(seeds: Sequence[int]) -> list[ObserveScenario]:
    out = []
    for seed in seeds:
        observe, words = _observe_training(seed)
        out.append(
            ObserveScenario(
                title="zero_grad, p.backward(g) per micro-batch, torch.nn.utils.clip_grad_norm_, torch.optim.Adam.step",
                observe=observe,
                words=words,
                torch_impl=torch_side(Parameter=TorchParameter, clipped_accumulation_step_=_torch_step),
            )
        )
    return out


# -- what the notebook's test cells call ---------------------------------------------------------------


def check_clip_grad_norm(clip_grad_norm_: Any, *, seeds: Sequence[int] = VISIBLE_SEEDS) -> None:
    __tracebackhide__ = True
    verify(
        "clip_grad_norm_",
        norm_cases(seeds) + threshold_cases(seeds),
        {"Parameter": Parameter, "clip_grad_norm_": clip_grad_norm_},
        MUTANTS,
        "torch.nn.utils.clip_grad_norm_",
    )


def check_clip_grad_norm_nonfinite(clip_grad_norm_: Any, *, seeds: Sequence[int] = VISIBLE_SEEDS) -> None:
    __tracebackhide__ = True
    # the case just below the threshold first: a hint about NaN must fit the finite case the student passed
    verify(
        "clip_grad_norm_",
        threshold_cases(seeds) + norm_cases(seeds, finite=False),
        {"Parameter": Parameter, "clip_grad_norm_": clip_grad_norm_},
        MUTANTS,
        "torch.nn.utils.clip_grad_norm_ on NaN and inf gradients",
    )


def check_clip_grad_value(clip_grad_value_: Any, *, seeds: Sequence[int] = VISIBLE_SEEDS) -> None:
    __tracebackhide__ = True
    verify(
        "clip_grad_value_",
        value_cases(seeds),
        {"Parameter": Parameter, "clip_grad_value_": clip_grad_value_},
        MUTANTS,
        "torch.nn.utils.clip_grad_value_",
    )


def check_clipped_accumulation_step(clipped_accumulation_step_: Any, *, seeds: Sequence[int] = VISIBLE_SEEDS) -> None:
    __tracebackhide__ = True
    from ..given import Adam

    verify(
        "clipped_accumulation_step_",
        training_cases(seeds),
        {"Parameter": Parameter, "Adam": Adam, "clipped_accumulation_step_": clipped_accumulation_step_},
        MUTANTS,
        "a torch training step with accumulation and clipping",
    )
