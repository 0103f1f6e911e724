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

from ..cases import HIDDEN_SEEDS, VISIBLE_SEEDS, is_visible, problem  # noqa: F401 (notebooks use checks.HIDDEN_SEEDS)
from ..given import Parameter
from ..mutants import Mutant, MutantLibrary
from ..scenarios import OptimizerScenario, Step, Tweak
from ..torch_configs import torch_test_configs
from ..verify import verify

_FIRST_BUFFER = '                        buf = state["momentum_buffer"] = np.array(d_p)  # a copy, and an array even when 0-dim\n'
_BUFFER_UPDATE = ('                    if "momentum_buffer" not in state:\n' + _FIRST_BUFFER +
                  '                    else:\n                        buf = state["momentum_buffer"]\n'
                  '                        buf *= momentum\n                        buf += (1 - dampening) * d_p\n')
_NESTEROV = "d_p = d_p + momentum * buf if nesterov else buf"
_STEP_COUNT = '                state["step"] += 1\n                step = state["step"]\n'
_DENOM = "denom = np.sqrt(exp_avg_sq) / math.sqrt(bias_correction2) + eps"
_AMSGRAD_MAX = "np.maximum(max_exp_avg_sq, exp_avg_sq, out=max_exp_avg_sq)"
_AMSGRAD_DENOM = "denom = np.sqrt(max_exp_avg_sq) / math.sqrt(bias_correction2) + eps"
_ADAM_DECAY = "            grad = grad + weight_decay * p.data\n"
_ADAMW_DECAY = "            p.data *= 1 - lr * weight_decay\n        return grad\n"
_ADAM_DEFAULTS = '                                  "amsgrad": amsgrad, "maximize": maximize})\n'

MUTANTS = MutantLibrary("momentum_adam_adamw", (
    # -- SGD ---------------------------------------------------------------------------------------
    Mutant("momentum-buffer-starts-at-zero",
           "torch's first momentum buffer is a copy of the gradient (after maximize and weight decay). "
           "Starting from zeros and applying the usual update gives (1 - dampening) * g on the first step, "
           "which is only the same when dampening is 0.",
           ((_BUFFER_UPDATE,
             '                    if "momentum_buffer" not in state:\n'
             '                        state["momentum_buffer"] = np.zeros_like(d_p)\n'
             '                    buf = state["momentum_buffer"]\n                    buf *= momentum\n'
             '                    buf += (1 - dampening) * d_p\n'),)),
    Mutant("momentum-buffer-a-numpy-scalar",
           "for a 0-dim parameter, NumPy arithmetic on 0-dim arrays (-p.grad, d_p + weight_decay * p.data) "
           "returns a NumPy scalar, and its .copy() is a scalar too: the buffer then cannot change in place, "
           "and buf *= momentum only rebinds a local name. Make the first buffer with np.array(d_p), an "
           "array whatever the shape, as torch's buffer is always a tensor.",
           ((_FIRST_BUFFER, '                        buf = state["momentum_buffer"] = d_p.copy()\n'),)),
    Mutant("momentum-buffer-not-in-place",
           "after the first step the buffer is updated in place (buf *= momentum; buf += (1 - dampening) * d_p), "
           "as torch's mul_ and add_ do: a new array each step leaves whoever holds the old one (a "
           "checkpoint, chapter 7's flat packs) with stale values.",
           (('                        buf = state["momentum_buffer"]\n'
             '                        buf *= momentum\n                        buf += (1 - dampening) * d_p\n',
             '                        buf = state["momentum_buffer"] = (momentum * state["momentum_buffer"]\n'
             '                                                          + (1 - dampening) * d_p)\n'),)),
    Mutant("dampening-on-first-step",
           "on a parameter's first step the buffer is a plain copy of the gradient; dampening applies "
           "only from the second step on (b = momentum * b + (1 - dampening) * g).",
           ((_FIRST_BUFFER, '                        buf = state["momentum_buffer"] = (1 - dampening) * d_p\n'),)),
    Mutant("nesterov-uses-previous-buffer",
           "Nesterov momentum looks ahead with the buffer just updated this step: g + momentum * b, "
           "where b already includes this step's gradient, not the buffer of the previous step.",
           (('                    state = self.state[p]\n                    if "momentum_buffer" not in state:',
             '                    state = self.state[p]\n                    previous = (state["momentum_buffer"].copy() '
             'if "momentum_buffer" in state else np.zeros_like(d_p))\n'
             '                    if "momentum_buffer" not in state:'),
            (_NESTEROV, "d_p = d_p + momentum * previous if nesterov else buf"))),
    Mutant("sgd-maximize-after-weight-decay",
           "maximize negates the gradient first; weight decay is added after that, so that it still "
           "pulls the parameter toward 0: g = -g, then g + weight_decay * theta.",
           (("d_p = -p.grad if maximize else p.grad\n", "d_p = p.grad\n"),
            ("                    d_p = d_p + weight_decay * p.data\n",
             "                    d_p = d_p + weight_decay * p.data\n                if maximize:\n"
             "                    d_p = -d_p\n"))),
    Mutant("velocity-includes-lr",
           "torch's buffer is a sum of gradients, b = momentum * b + g, and the step is theta -= lr * b. "
           "The CS231n form v = momentum * v - lr * g keeps the learning rate inside the buffer: "
           "momentum_buffer comes out lr times torch's, and the steps differ once lr changes.",
           ((_FIRST_BUFFER, '                        buf = state["momentum_buffer"] = lr * d_p\n'),
            ("buf += (1 - dampening) * d_p\n", "buf += (1 - dampening) * lr * d_p\n"),
            (_NESTEROV, "d_p = (d_p + momentum * buf / lr) if nesterov else buf / lr"))),
    Mutant("velocity-kept-without-momentum",
           "with momentum=0 torch.optim.SGD keeps no state at all: create the momentum buffer only when "
           "momentum != 0 (it saves a copy of every parameter).",
           (("                if momentum != 0:\n                    state = self.state[p]\n",
             "                if True:\n                    state = self.state[p]\n"),)),
    Mutant("sgd-weight-decay-changes-grad",
           "d_p += weight_decay * theta adds into p.grad itself when d_p is the gradient array; torch "
           "leaves .grad alone: d_p = d_p + weight_decay * p.data makes a new array.",
           (("                    d_p = d_p + weight_decay * p.data\n",
             "                    d_p += weight_decay * p.data\n"),)),
    Mutant("nesterov-accepted-without-momentum",
           "torch refuses nesterov=True unless momentum > 0 and dampening == 0, with ValueError "
           "('Nesterov momentum requires a momentum and zero dampening').",
           (("        if nesterov and (momentum <= 0 or dampening != 0):\n", "        if False:\n"),)),
    Mutant("sgd-hyperparameters-unchecked",
           "torch.optim.SGD refuses a negative lr, momentum or weight_decay with ValueError; check them "
           "before calling the base constructor.",
           (("        if lr < 0.0:\n", "        if False:\n"), ("        if momentum < 0.0:\n", "        if False:\n"),
            ("        if weight_decay < 0.0:\n", "        if False:\n"))),
    # -- Adam --------------------------------------------------------------------------------------
    Mutant("adam-moments-not-in-place",
           "m and v are updated in place (exp_avg *= beta1; exp_avg += (1 - beta1) * grad), as torch's "
           "lerp_ and mul_ do: new arrays each step leave whoever holds the old ones (a checkpoint, chapter "
           "7's flat packs) with stale values.",
           (("                exp_avg *= beta1\n                exp_avg += (1 - beta1) * grad\n"
             "                exp_avg_sq *= beta2\n                exp_avg_sq += (1 - beta2) * grad * grad\n",
             "                exp_avg = state[\"exp_avg\"] = beta1 * exp_avg + (1 - beta1) * grad\n"
             "                exp_avg_sq = state[\"exp_avg_sq\"] = beta2 * exp_avg_sq + (1 - beta2) * grad * grad\n"),)),
    Mutant("eps-inside-sqrt",
           "eps is added after the square root: denom = sqrt(v) / sqrt(1 - beta2**t) + eps, not "
           "sqrt(v_hat + eps).",
           ((_DENOM, "denom = np.sqrt(exp_avg_sq / bias_correction2 + eps)"),)),
    Mutant("eps-before-bias-correction",
           "eps is added after the bias correction: sqrt(v) / sqrt(1 - beta2**t) + eps; adding it to "
           "sqrt(v) first scales eps by 1 / sqrt(1 - beta2**t) too.",
           ((_DENOM, "denom = (np.sqrt(exp_avg_sq) + eps) / math.sqrt(bias_correction2)"),)),
    Mutant("no-bias-correction",
           "m and v start at zero, so early on they are too small by the factors 1 - beta1**t and "
           "1 - beta2**t; Adam divides them out (the step size is lr / (1 - beta1**t), and sqrt(v) is "
           "divided by sqrt(1 - beta2**t)).",
           (("bias_correction1 = 1 - beta1 ** step\n", "bias_correction1 = 1.0\n"),
            ("bias_correction2 = 1 - beta2 ** step\n", "bias_correction2 = 1.0\n"))),
    Mutant("bias-correction-from-step-zero",
           "the step count is increased before it is used: the first update has t = 1, so its bias "
           "correction is 1 - beta1**1; with t = 0 it is 1 - beta1**0 = 0, a division by zero.",
           ((_STEP_COUNT, '                step = state["step"]\n                state["step"] += 1\n'),)),
    Mutant("step-shared-across-parameters",
           "each parameter counts its own steps in state['step']: one skipped while its grad was None "
           "(or added later) has taken fewer steps, and its bias correction uses its own count, not the "
           "number of times step() was called.",
           ((_STEP_COUNT, '                state["step"] = self.steps_taken\n                step = state["step"]\n'),
            ("        for group in self.param_groups:\n            lr, (beta1, beta2), eps",
             '        self.steps_taken = getattr(self, "steps_taken", 0) + 1\n'
             "        for group in self.param_groups:\n            lr, (beta1, beta2), eps"))),
    Mutant("amsgrad-max-of-bias-corrected",
           "AMSGrad keeps the running maximum of the raw v (max_exp_avg_sq = max(max_exp_avg_sq, v)) and "
           "divides by the current sqrt(1 - beta2**t) afterwards; the maximum of the bias-corrected v_hat "
           "is a different (older) rule.",
           ((_AMSGRAD_MAX, "np.maximum(max_exp_avg_sq, exp_avg_sq / bias_correction2, out=max_exp_avg_sq)"),
            (_AMSGRAD_DENOM, "denom = np.sqrt(max_exp_avg_sq) + eps"))),
    Mutant("amsgrad-max-stored-in-exp-avg-sq",
           "with amsgrad, exp_avg_sq keeps its ordinary running average; the maximum lives in its own "
           "buffer, max_exp_avg_sq, and only the denominator uses it.",
           ((_AMSGRAD_MAX + "\n", _AMSGRAD_MAX + "\n                    exp_avg_sq[...] = max_exp_avg_sq\n"),)),
    Mutant("adam-decay-after-moments",
           "Adam's weight decay is an L2 penalty: weight_decay * theta is added to the gradient before "
           "the moments, so it is divided by sqrt(v_hat) + eps like the rest. Subtracting "
           "lr * weight_decay * theta outside the moments is AdamW's rule.",
           ((_ADAM_DECAY, "            p.data -= lr * weight_decay * p.data\n"),)),
    Mutant("adam-maximize-after-weight-decay",
           "maximize negates the gradient first, and the L2 term is added after that: g = -g, then "
           "g + weight_decay * theta.",
           (('grad = -p.grad if group["maximize"] else p.grad\n', "grad = p.grad\n"),
            ('                grad = self.apply_weight_decay(p, grad, lr, group["weight_decay"])\n',
             '                grad = self.apply_weight_decay(p, grad, lr, group["weight_decay"])\n'
             '                if group["maximize"]:\n                    grad = -grad\n'))),
    Mutant("first-moment-of-squared-grad",
           "exp_avg (m) is the running average of the gradient g; only exp_avg_sq (v) averages g**2.",
           (("exp_avg += (1 - beta1) * grad\n", "exp_avg += (1 - beta1) * grad * grad\n"),)),
    Mutant("second-moment-of-grad",
           "exp_avg_sq (v) is the running average of the squared gradient g * g, not of g.",
           (("exp_avg_sq += (1 - beta2) * grad * grad\n", "exp_avg_sq += (1 - beta2) * grad\n"),)),
    Mutant("beta-and-one-minus-beta-swapped",
           "beta weighs the old average and 1 - beta the new gradient: m = beta1 * m + (1 - beta1) * g; "
           "the other way round, the averages forget almost everything every step.",
           (("exp_avg *= beta1\n                exp_avg += (1 - beta1) * grad\n",
             "exp_avg *= 1 - beta1\n                exp_avg += beta1 * grad\n"),
            ("exp_avg_sq *= beta2\n                exp_avg_sq += (1 - beta2) * grad * grad\n",
             "exp_avg_sq *= 1 - beta2\n                exp_avg_sq += beta2 * grad * grad\n"))),
    Mutant("state-for-frozen-params",
           "state is created lazily, on a parameter's first step with a gradient; a parameter whose grad "
           "is None has no state (not zeros with step 0), so do not fill state in the constructor.",
           ((_ADAM_DEFAULTS, _ADAM_DEFAULTS +
             '        for group in self.param_groups:\n            for p in group["params"]:\n'
             '                self.state[p].update(step=0, exp_avg=np.zeros_like(p.data), '
             'exp_avg_sq=np.zeros_like(p.data))\n'
             '                if group["amsgrad"]:\n'
             '                    self.state[p]["max_exp_avg_sq"] = np.zeros_like(p.data)\n'),)),
    Mutant("betas-not-below-one",
           "each beta must be in [0, 1): with beta = 1 the average never takes in a gradient and the "
           "bias correction divides by zero; torch refuses it with ValueError.",
           (("        if not 0.0 <= betas[0] < 1.0:\n", "        if not 0.0 <= betas[0]:\n"),
            ("        if not 0.0 <= betas[1] < 1.0:\n", "        if not 0.0 <= betas[1]:\n"))),
    # -- AdamW -------------------------------------------------------------------------------------
    Mutant("adamw-decay-after-update",
           "torch multiplies theta by (1 - lr * weight_decay) before the Adam update, right after the "
           "step count; decaying the already-updated theta adds an extra lr**2 * weight_decay term.",
           ((_ADAMW_DECAY,
             "            pass\n        return grad\n\n    def step(self):\n        super().step()\n"
             '        for group in self.param_groups:\n            for p in group["params"]:\n'
             "                if p.grad is not None:\n"
             '                    p.data *= 1 - group["lr"] * group["weight_decay"]\n'),)),
    Mutant("adamw-decay-without-lr",
           "AdamW shrinks theta by the factor (1 - lr * weight_decay), with the group's learning rate; "
           "(1 - weight_decay) decays far too fast and ignores learning-rate schedules.",
           (("p.data *= 1 - lr * weight_decay\n", "p.data *= 1 - weight_decay\n"),)),
    Mutant("adamw-decay-into-gradient",
           "AdamW's weight decay is decoupled: it never enters the gradient (that is Adam's L2 penalty); "
           "it multiplies theta by (1 - lr * weight_decay) and returns g unchanged.",
           ((_ADAMW_DECAY, "            grad = grad + weight_decay * p.data\n        return grad\n"),)),
    Mutant("adamw-forgets-maximize",
           "AdamW's constructor must hand every argument on to Adam's, maximize included (it is "
           "keyword-only, so it is easy to drop); otherwise AdamW(..., maximize=True) descends.",
           (("amsgrad=amsgrad,\n                         maximize=maximize)\n", "amsgrad=amsgrad)\n"),)),
))

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
    rows = [[*row, np.zeros(empty_shape), None if t < LATE_START else rng.normal(scale=2.0, size=late_shape)]
            for t, row in enumerate(grads, start=1)]  # t < LATE_START: the inserted step below makes it <=
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
        init=init, actions=tuple(actions), state_names=SGD_STATE if name == "SGD" else ADAM_STATE,
        state_in_place=SGD_STATE if name == "SGD" else ADAM_STATE[1:],  # the buffers; step is a count
        notes=(note,) if note else (),
        build=lambda impl, params: impl[name](params, **config),
        build_torch=lambda params: torch_class(params, **config))


# -- the configurations ---------------------------------------------------------------------------

VISIBLE: dict[str, tuple[tuple[Config, bool], ...]] = {
    # (config, change lr mid-run); each is there because some mistake shows only with it
    "SGD": (({"lr": 0.05, "momentum": 0.9, "dampening": 0.5, "weight_decay": 0.1}, True),
            ({"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 0.1, "maximize": True}, False),
            ({"lr": 0.1}, False)),
    "Adam": (({"lr": 0.05, "betas": (0.8, 0.99), "eps": 1e-3, "weight_decay": 0.1}, True),
             ({"lr": 0.05, "weight_decay": 0.1, "maximize": True}, False)),
    "Adam-amsgrad": (({"lr": 0.05, "betas": (0.5, 0.9), "eps": 1e-3, "amsgrad": True}, False),),
    "AdamW": (({"lr": 0.05, "betas": (0.8, 0.99), "eps": 1e-3, "weight_decay": 0.1}, True),
              ({}, False),
              ({"lr": 0.05, "weight_decay": 0.1, "amsgrad": True, "maximize": True}, False)),
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
    config: Config = {"lr": float(10 ** rng.uniform(-3, -1)), "betas": (beta1, float(rng.uniform(0.8, 0.9999))),
                      "eps": float(10 ** rng.uniform(-10, -1))}
    if rng.random() < 0.6:
        config["weight_decay"] = float(rng.uniform(0, 0.2))
    if amsgrad:
        config["amsgrad"] = True
    if rng.random() < 0.4:
        config["maximize"] = True
    return config


def _torch_configs(name: str, amsgrad: bool | None) -> list[tuple[str, Config]]:
    return [(desc, config) for desc, config in torch_test_configs(name)
            if amsgrad is None or bool(config.get("amsgrad", False)) == amsgrad]


def cases(kind: str, seeds: Sequence[int]) -> list[OptimizerScenario]:
    """The scenarios of one check: "SGD", "Adam" (no AMSGrad), "Adam-amsgrad" or "AdamW"."""
    name = kind.split("-")[0]
    amsgrad = {"Adam": False, "Adam-amsgrad": True}.get(kind)
    out = []
    for seed in seeds:
        if is_visible(seed):
            out += [scenario(name, config, seed, lr_change=change) for config, change in VISIBLE[kind]]
            continue
        out += [scenario(name, config, seed, note=f"the configuration {desc!r} of PyTorch's own optimizer tests")
                for desc, config in _torch_configs(name, amsgrad)]
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
        title=f"torch.optim.{name}(params, {_words(config)})", init=init, actions=(),
        build=lambda impl, params: impl[name](params, **config),
        build_torch=lambda params: torch_class(params, **config))


def validation_cases(name: str, seeds: Sequence[int]) -> list[OptimizerScenario]:
    """Hyperparameters torch refuses with ValueError (and, for contrast, edge values it accepts)."""
    out = []
    for seed in seeds:
        size = 0.1 if is_visible(seed) else float(np.random.default_rng([seed, 41]).uniform(1e-3, 1))
        if name == "SGD":
            configs: list[Config] = [{"lr": -size}, {"momentum": -size}, {"weight_decay": -size},
                                     {"nesterov": True}, {"momentum": 0.9, "nesterov": True, "dampening": size},
                                     {"momentum": 0.9, "nesterov": True}]
        else:
            configs = [{"lr": -size}, {"eps": -size}, {"weight_decay": -size}, {"betas": (-size, 0.999)},
                       {"betas": (0.9, 1.0)}, {"betas": (1.0 + size, 0.999)}, {"betas": (0.9, -size)},
                       {"betas": (0.0, 0.0)}]
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
    verify("Adam(amsgrad=True)", cases("Adam-amsgrad", seeds), _impl(Adam=Adam), MUTANTS,
           "torch.optim.Adam(amsgrad=True)")


def check_adam_validation(Adam: Any, *, seeds: Sequence[int] = VISIBLE_SEEDS) -> None:
    __tracebackhide__ = True
    verify("Adam's constructor", validation_cases("Adam", seeds), _impl(Adam=Adam), MUTANTS, "torch.optim.Adam's")


def check_adamw(AdamW: Any, *, seeds: Sequence[int] = VISIBLE_SEEDS) -> None:
    __tracebackhide__ = True
    verify("AdamW", cases("AdamW", seeds) + validation_cases("AdamW", seeds), _impl(AdamW=AdamW), MUTANTS,
           "torch.optim.AdamW (and its constructor's checks)")
