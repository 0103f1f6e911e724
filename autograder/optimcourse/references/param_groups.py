"""Reference solution of 03-param-groups: generated from solutions/03-param-groups/param_groups.ipynb by `python -m optimcourse.sync`.

Do not edit: edit the notebook and run the sync. Mutants are text edits of this file.
"""
from collections import defaultdict

import numpy as np

# Parameter from exercise 1; `required`, as in torch.optim
from optimcourse.given import Parameter, required


class Optimizer:
    """The base class of every optimizer, like ``torch.optim.Optimizer``.

    param_groups : list of dicts, one per group:
                   {"params": [Parameter, ...], hyperparameter: value, ...}
    defaults     : dict of the constructor's hyperparameters, which fill in
                   what a group does not set
    state        : dict Parameter -> dict of that parameter's buffers
                   (empty until a step needs one)
    """

    def __init__(self, params, defaults):
        if isinstance(params, (Parameter, np.ndarray)):
            raise TypeError(
                "params argument given to the optimizer should be an "
                "iterable of Parameters or dicts, but got "
                f"{type(params).__name__}")
        self.defaults = defaults
        self.state = defaultdict(dict)
        self.param_groups = []
        param_groups = list(params)
        if len(param_groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for param_group in param_groups:
            self.add_param_group(param_group)

    def add_param_group(self, param_group):
        """Add one group; what it does not set comes from self.defaults."""
        if not isinstance(param_group, dict):
            raise TypeError("param_group must be a dict, but got "
                            f"{type(param_group).__name__}")
        params = param_group["params"]
        if isinstance(params, Parameter):
            param_group["params"] = [params]
        elif isinstance(params, set):
            raise TypeError(
                "optimizer parameters need to be organized in ordered "
                "collections, but the ordering of parameters in sets will "
                "change between runs. Please use a list instead.")
        else:
            param_group["params"] = list(params)
        for p in param_group["params"]:
            if not isinstance(p, Parameter):
                raise TypeError(
                    "optimizer can only optimize Parameters, but one of the "
                    f"params is {type(p).__name__}")
        for name, default in self.defaults.items():
            if default is required and name not in param_group:
                raise ValueError(
                    "parameter group didn't specify a value of required "
                    f"optimization parameter {name}")
            param_group.setdefault(name, default)
        existing = {id(p) for group in self.param_groups
                    for p in group["params"]}
        if not existing.isdisjoint(id(p) for p in param_group["params"]):
            raise ValueError(
                "some parameters appear in more than one parameter group")
        self.param_groups.append(param_group)

    def zero_grad(self, set_to_none=True):
        """Forget the gradients of every parameter in every group."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    p.grad[...] = 0.0

    def step(self):
        """One update of every parameter that has a gradient.

        Each optimizer defines its own.
        """
        raise NotImplementedError


class SGD(Optimizer):
    """SGD with momentum and weight decay, read from each param group."""

    def __init__(self, params, lr=1e-3, momentum=0, weight_decay=0):
        if lr < 0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if momentum < 0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if weight_decay < 0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        super().__init__(params, {"lr": lr, "momentum": momentum,
                                  "weight_decay": weight_decay})

    def step(self):
        """Update every parameter that has a gradient.

        Each uses the hyperparameters of its own group.
        """
        for group in self.param_groups:
            lr = group["lr"]
            momentum = group["momentum"]
            weight_decay = group["weight_decay"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                d_p = p.grad
                if weight_decay != 0:
                    d_p = d_p + weight_decay * p.data
                if momentum != 0:
                    state = self.state[p]
                    if "momentum_buffer" not in state:
                        state["momentum_buffer"] = np.array(d_p)  # a copy, and an array even when 0-dim
                    else:
                        state["momentum_buffer"] *= momentum
                        state["momentum_buffer"] += d_p
                    d_p = state["momentum_buffer"]
                p.data -= lr * d_p


def split_weight_decay_params(named_params, weight_decay,
                              no_decay_names=()):
    """Two parameter groups: those that decay, then the rest.

    The rest: parameters below two dimensions, or named in no_decay_names.
    """
    decay, no_decay = [], []
    for name, param in named_params:
        if param.data.ndim < 2 or name in no_decay_names:
            no_decay.append(param)
        else:
            decay.append(param)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
