"""Reference solution of 04-momentum-adam-adamw: generated from solutions/04-momentum-adam-adamw/momentum_adam_adamw.ipynb by `python -m optimcourse.sync`.

Do not edit: edit the notebook and run the sync. Mutants are text edits of this file.
"""
import math

import numpy as np

# the base class of exercise 3, and exercise 1's Parameter
from optimcourse.given import Optimizer, Parameter


class SGD(Optimizer):
    """SGD with momentum, dampening, Nesterov momentum and maximize."""

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0,
                 weight_decay=0, nesterov=False, *, maximize=False):
        if lr < 0.0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if momentum < 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError(
                "Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, {"lr": lr, "momentum": momentum,
                                  "dampening": dampening,
                                  "weight_decay": weight_decay,
                                  "nesterov": nesterov,
                                  "maximize": maximize})

    def step(self):
        """One update of every parameter that has a gradient.

        Each uses the hyperparameters of its own group.
        """
        for group in self.param_groups:
            lr, momentum = group["lr"], group["momentum"]
            dampening, nesterov = group["dampening"], group["nesterov"]
            weight_decay = group["weight_decay"]
            maximize = group["maximize"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                d_p = -p.grad if maximize else p.grad
                if weight_decay != 0:
                    d_p = d_p + weight_decay * p.data
                if momentum != 0:
                    state = self.state[p]
                    if "momentum_buffer" not in state:
                        buf = state["momentum_buffer"] = np.array(d_p)  # a copy, and an array even when 0-dim
                    else:
                        buf = state["momentum_buffer"]
                        buf *= momentum
                        buf += (1 - dampening) * d_p
                    d_p = d_p + momentum * buf if nesterov else buf
                p.data -= lr * d_p


class Adam(Optimizer):
    """Adam, with torch.optim.Adam's L2 penalty and the AMSGrad variant."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8,
                 weight_decay=0, amsgrad=False, *, maximize=False):
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= betas[0] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 0: {betas[0]}")
        if not 0.0 <= betas[1] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 1: {betas[1]}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        super().__init__(params, {"lr": lr, "betas": betas, "eps": eps,
                                  "weight_decay": weight_decay,
                                  "amsgrad": amsgrad, "maximize": maximize})

    def step(self):
        """One Adam update of every parameter that has a gradient."""
        for group in self.param_groups:
            lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                grad = -p.grad if group["maximize"] else p.grad
                state = self.state[p]
                if len(state) == 0:
                    state["step"] = 0
                    state["exp_avg"] = np.zeros_like(p.data)
                    state["exp_avg_sq"] = np.zeros_like(p.data)
                    if group["amsgrad"]:
                        state["max_exp_avg_sq"] = np.zeros_like(p.data)
                state["step"] += 1
                step = state["step"]
                grad = self.apply_weight_decay(p, grad, lr, group["weight_decay"])
                exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
                exp_avg *= beta1
                exp_avg += (1 - beta1) * grad
                exp_avg_sq *= beta2
                exp_avg_sq += (1 - beta2) * grad * grad
                bias_correction1 = 1 - beta1 ** step
                bias_correction2 = 1 - beta2 ** step
                if group["amsgrad"]:
                    max_exp_avg_sq = state["max_exp_avg_sq"]
                    np.maximum(max_exp_avg_sq, exp_avg_sq, out=max_exp_avg_sq)
                    denom = np.sqrt(max_exp_avg_sq) / math.sqrt(bias_correction2) + eps
                else:
                    denom = np.sqrt(exp_avg_sq) / math.sqrt(bias_correction2) + eps
                p.data -= lr / bias_correction1 * exp_avg / denom

    def apply_weight_decay(self, p, grad, lr, weight_decay):
        """Adam's weight decay, an L2 penalty: returns the new g.

        The penalty's gradient, weight_decay * theta, joins g.
        """
        if weight_decay != 0:
            grad = grad + weight_decay * p.data
        return grad


class AdamW(Adam):
    """Adam with decoupled weight decay.

    Every step shrinks theta by the factor (1 - lr * weight_decay).
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8,
                 weight_decay=1e-2, amsgrad=False, *, maximize=False):
        super().__init__(params, lr=lr, betas=betas, eps=eps,
                         weight_decay=weight_decay, amsgrad=amsgrad,
                         maximize=maximize)

    def apply_weight_decay(self, p, grad, lr, weight_decay):
        """Decoupled weight decay: shrink theta in place.

        The gradient is returned unchanged.
        """
        if weight_decay != 0:
            p.data *= 1 - lr * weight_decay
        return grad
