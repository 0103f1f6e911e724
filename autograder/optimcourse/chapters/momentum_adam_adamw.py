"""Chapter 4 (04-momentum-adam-adamw): SGD with momentum, Adam and AdamW, as torch.optim computes them.

Every check steps the student's optimizer and the torch one side by side in float64 for 12 steps
and compares parameters, grads and every state buffer after each step. The parameters always
include a 0-dim one, an empty one, one whose grad is None for two steps mid-run and one that gets
its first gradient only at step 3 (so that state must be created lazily, per parameter).

Visible cases are a few fixed configurations chosen so that each known mistake shows (a large eps,
dampening, weight decay with maximize, a learning-rate change mid-run). Hidden cases run every CPU
configuration of PyTorch's own optimizer tests (:mod:`optimcourse.torch_configs`) plus random
draws of every hyperparameter, on problems drawn from the hidden seeds.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from ..cases import HIDDEN_SEEDS, VISIBLE_SEEDS, is_visible, problem
from ..given import Parameter
from ..mutants import load_mutants
from ..scenarios import OptimizerScenario, Step, Tweak
from ..torch_configs import torch_test_configs
from ..verify import verify

__all__ = [
    "ADAM_STATE",
    "DEFAULT_LR",
    "HIDDEN_SEEDS",
    "LATE_START",
    "MUTANTS",
    "SGD_STATE",
    "STEPS",
    "VISIBLE",
    "VISIBLE_SEEDS",
    "check_adam",
    "check_adam_amsgrad",
    "check_adam_validation",
    "check_adamw",
    "check_sgd",
    "check_sgd_validation",
    "random_adam_config",
    "random_sgd_config",
    "trajectory",
]


_FIRST_BUFFER = (
    '                        buf = state["momentum_buffer"] = np.array(d_p)  # a copy, and an array even when 0-dim\n'
)
_BUFFER_UPDATE = (
    '                    if "momentum_buffer" not in state:\n'
    + _FIRST_BUFFER
    + '                    else:\n                        buf = state["momentum_buffer"]\n'
    "                        buf *= momentum\n                        buf += (1 - dampening) * d_p\n"
)
_NESTEROV = "d_p = d_p + momentum * buf if nesterov else buf"
_STEP_COUNT = '                state["step"] += 1\n                step = state["step"]\n'
_DENOM = "denom = np.sqrt(exp_avg_sq) / math.sqrt(bias_correction2) + eps"
_AMSGRAD_MAX = "np.maximum(max_exp_avg_sq, exp_avg_sq, out=max_exp_avg_sq)"
_AMSGRAD_DENOM = "denom = np.sqrt(max_exp_avg_sq) / math.sqrt(bias_correction2) + eps"
_ADAM_DECAY = "            grad = grad + weight_decay * p.data\n"
_ADAMW_DECAY = "            p.data *= 1 - lr * weight_decay\n        return grad\n"
_ADAM_DEFAULTS = '                                  "amsgrad": amsgrad, "maximize": maximize})\n'

MUTANTS = load_mutants("momentum_adam_adamw")  # momentum_adam_adamw.mutants.toml

STEPS = 12
NO_GRAD_STEP = 2  # the step at which every grad is None
LATE_START = 3  # the last parameter has grad None in steps 1 to LATE_START
SGD_STATE = ("momentum_buffer",)
ADAM_STATE = ("step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq")
DEFAULT_LR = {"SGD": 1e-3, "Adam": 1e-3, "AdamW": 1e-3}
Config = dict[str, Any]


def trajectory(seed: int) -> tuple[tuple[np.ndarray, ...], list[list[np.ndarray | None]]]:
    """The shared problem of :func:`cases.problem`, plus an empty parameter and a late starter.

    Parameter 1 has grad None for two steps mid-run; the last parameter has grad None in steps 1 to
    ``LATE_START``, so it has no state before then, and its step count stays behind the others'.
    At step ``NO_GRAD_STEP`` (one of those) every grad is None.
    """
    init, grads = problem(seed, STEPS - 1)
    rng = np.random.default_rng([seed, 4])
    empty_shape = (0,) if is_visible(seed) else (int(rng.integers(1, 3)), 0)
    late_shape = (2,) if is_visible(seed) else tuple(int(n) for n in rng.integers(1, 4, size=rng.integers(0, 3)))
    init = (*init, np.zeros(empty_shape), rng.normal(size=late_shape))
    rows = [
        [*row, np.zeros(empty_shape), None if t < LATE_START else rng.normal(scale=2.0, size=late_shape)]
        for t, row in enumerate(grads, start=1)
    ]  # t < LATE_START: the inserted step below makes it <=
    # as in torch's own tests, one step() with no gradient at all (zero_grad, no backward): a no-op
    rows.insert(NO_GRAD_STEP - 1, [None] * len(init))
    return init, rows


def _words(config: Config) -> str:
    def value(v: Any) -> str:
        if isinstance(v, tuple):
            return "(" + ", ".join(f"{x:.6g}" for x in v) + ")"
        return f"{v:.6g}" if isinstance(v, float) else repr(v)

    return ", ".join(f"{k}={value(v)}" for k, v in config.items())


def _set_lr(lr: float) -> Tweak:
    def apply(opt: Any, params: Sequence[Any]) -> None:
        opt.param_groups[0]["lr"] = lr

    return Tweak(f"optimizer.param_groups[0]['lr'] = {lr:.6g} (as a scheduler does)", apply)


def scenario(name: str, config: Config, seed: int, *, lr_change: bool = False, note: str = "") -> OptimizerScenario:
    """``name(params, **config)`` on the seed's trajectory; ``lr_change`` halves lr after step 6."""
    init, grads = trajectory(seed)
    actions: list[Any] = [Step(tuple(g)) for g in grads]
    if lr_change:
        actions.insert(STEPS // 2, _set_lr(config.get("lr", DEFAULT_LR[name]) / 2))
    torch_class = getattr(torch.optim, name)
    return OptimizerScenario(
        title=f"torch.optim.{name}(params{', ' if config else ''}{_words(config)})",
        init=init,
        actions=tuple(actions),
        state_names=SGD_STATE if name == "SGD" else ADAM_STATE,
        state_in_place=SGD_STATE if name == "SGD" else ADAM_STATE[1:],  # the buffers; step is a count
        notes=(note,) if note else (),
        build=lambda impl, params: impl[name](params, **config),
        build_torch=lambda params: torch_class(params, **config),
    )


# -- the configurations ---------------------------------------------------------------------------

VISIBLE: dict[str, tuple[tuple[Config, bool], ...]] = {
    # (config, change lr mid-run); each is there because some mistake shows only with it
    "SGD": (
        ({"lr": 0.05, "momentum": 0.9, "dampening": 0.5, "weight_decay": 0.1}, True),
        ({"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 0.1, "maximize": True}, False),
        ({"lr": 0.1}, False),
    ),
    "Adam": (
        ({"lr": 0.05, "betas": (0.8, 0.99), "eps": 1e-3, "weight_decay": 0.1}, True),
        ({"lr": 0.05, "weight_decay": 0.1, "maximize": True}, False),
    ),
    "Adam-amsgrad": (({"lr": 0.05, "betas": (0.5, 0.9), "eps": 1e-3, "amsgrad": True}, False),),
    "AdamW": (
        ({"lr": 0.05, "betas": (0.8, 0.99), "eps": 1e-3, "weight_decay": 0.1}, True),
        ({}, False),
        ({"lr": 0.05, "weight_decay": 0.1, "amsgrad": True, "maximize": True}, False),
    ),
}


def random_sgd_config(rng: np.random.Generator) -> Config:
    config: Config = {"lr": float(10 ** rng.uniform(-3, -0.5))}
    if rng.random() < 0.75:
        config["momentum"] = float(rng.uniform(0.1, 0.99))
        if rng.random() < 0.4:
            config["nesterov"] = True
        elif rng.random() < 0.5:
            config["dampening"] = float(rng.uniform(0, 1))
    if rng.random() < 0.5:
        config["weight_decay"] = float(rng.uniform(0, 0.2))
    if rng.random() < 0.4:
        config["maximize"] = True
    return config


def random_adam_config(rng: np.random.Generator, amsgrad: bool) -> Config:
    beta1 = 0.0 if rng.random() < 0.1 else float(rng.uniform(0.5, 0.99))
    config: Config = {
        "lr": float(10 ** rng.uniform(-3, -1)),
        "betas": (beta1, float(rng.uniform(0.8, 0.9999))),
        "eps": float(10 ** rng.uniform(-10, -1)),
    }
    if rng.random() < 0.6:
        config["weight_decay"] = float(rng.uniform(0, 0.2))
    if amsgrad:
        config["amsgrad"] = True
    if rng.random() < 0.4:
        config["maximize"] = True
    return config


def _torch_configs(name: str, amsgrad: bool | None) -> list[tuple[str, Config]]:
    return [
        (desc, config)
        for desc, config in torch_test_configs(name)
        if amsgrad is None or bool(config.get("amsgrad", False)) == amsgrad
    ]


def cases(kind: str, seeds: Sequence[int]) -> list[OptimizerScenario]:
    """The scenarios of one check: "SGD", "Adam" (no AMSGrad), "Adam-amsgrad" or "AdamW"."""
    name = kind.split("-")[0]
    amsgrad = {"Adam": False, "Adam-amsgrad": True}.get(kind)
    out = []
    for seed in seeds:
        if is_visible(seed):
            out += [scenario(name, config, seed, lr_change=change) for config, change in VISIBLE[kind]]
            continue
        out += [
            scenario(name, config, seed, note=f"the configuration {desc!r} of PyTorch's own optimizer tests")
            for desc, config in _torch_configs(name, amsgrad)
        ]
        rng = np.random.default_rng([seed, 40])
        for _ in range(2):
            if name == "SGD":
                config = random_sgd_config(rng)
            else:
                config = random_adam_config(rng, bool(rng.random() < 0.5) if amsgrad is None else amsgrad)
            out.append(scenario(name, config, seed, lr_change=bool(rng.random() < 0.5)))
    return out


def _validation(name: str, config: Config, seed: int) -> OptimizerScenario:
    init, _ = trajectory(seed)
    torch_class = getattr(torch.optim, name)
    return OptimizerScenario(
        title=f"torch.optim.{name}(params, {_words(config)})",
        init=init,
        actions=(),
        build=lambda impl, params: impl[name](params, **config),
        build_torch=lambda params: torch_class(params, **config),
    )


def validation_cases(name: str, seeds: Sequence[int]) -> list[OptimizerScenario]:
    """Hyperparameters torch refuses with ValueError (and, for contrast, edge values it accepts)."""
    out = []
    for seed in seeds:
        size = 0.1 if is_visible(seed) else float(np.random.default_rng([seed, 41]).uniform(1e-3, 1))
        if name == "SGD":
            configs: list[Config] = [
                {"lr": -size},
                {"momentum": -size},
                {"weight_decay": -size},
                {"nesterov": True},
                {"momentum": 0.9, "nesterov": True, "dampening": size},
                {"momentum": 0.9, "nesterov": True},
            ]
        else:
            configs = [
                {"lr": -size},
                {"eps": -size},
                {"weight_decay": -size},
                {"betas": (-size, 0.999)},
                {"betas": (0.9, 1.0)},
                {"betas": (1.0 + size, 0.999)},
                {"betas": (0.9, -size)},
                {"betas": (0.0, 0.0)},
            ]
        out += [_validation(name, config, seed) for config in configs]
    return out


# -- what the notebook's test cells call --------------------------------------------------------------


def _impl(**names: Any) -> dict[str, Any]:
    return {"Parameter": Parameter, **names}


def check_sgd(SGD: Any, *, seeds: Sequence[int] = VISIBLE_SEEDS) -> None:
    __tracebackhide__ = True
    verify("SGD", cases("SGD", seeds), _impl(SGD=SGD), MUTANTS, "torch.optim.SGD")


def check_sgd_validation(SGD: Any, *, seeds: Sequence[int] = VISIBLE_SEEDS) -> None:
    __tracebackhide__ = True
    verify("SGD's constructor", validation_cases("SGD", seeds), _impl(SGD=SGD), MUTANTS, "torch.optim.SGD's")


def check_adam(Adam: Any, *, seeds: Sequence[int] = VISIBLE_SEEDS) -> None:
    __tracebackhide__ = True
    verify("Adam", cases("Adam", seeds), _impl(Adam=Adam), MUTANTS, "torch.optim.Adam")


def check_adam_amsgrad(Adam: Any, *, seeds: Sequence[int] = VISIBLE_SEEDS) -> None:
    __tracebackhide__ = True
    verify(
        "Adam(amsgrad=True)", cases("Adam-amsgrad", seeds), _impl(Adam=Adam), MUTANTS, "torch.optim.Adam(amsgrad=True)"
    )


def check_adam_validation(Adam: Any, *, seeds: Sequence[int] = VISIBLE_SEEDS) -> None:
    __tracebackhide__ = True
    verify("Adam's constructor", validation_cases("Adam", seeds), _impl(Adam=Adam), MUTANTS, "torch.optim.Adam's")


def check_adamw(AdamW: Any, *, seeds: Sequence[int] = VISIBLE_SEEDS) -> None:
    __tracebackhide__ = True
    verify(
        "AdamW",
        cases("AdamW", seeds) + validation_cases("AdamW", seeds),
        _impl(AdamW=AdamW),
        MUTANTS,
        "torch.optim.AdamW (and its constructor's checks)",
    )
