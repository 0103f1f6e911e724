"""What later exercises start from: the pieces earlier exercises built, written once.

Exercise 1 asks students to write :class:`Parameter`, exercise 3 the :class:`Optimizer` base class,
exercise 4 ``SGD``, ``Adam`` and ``AdamW``; later notebooks import these, so that a mistake made in an
earlier chapter cannot cost points in a later one. The test suite checks each with the checks of the
exercise that asks for it, and while that exercise is checked its students may not use them
(``TAUGHT_IN``; the guard refuses the call).
"""
from __future__ import annotations

import importlib
from collections import defaultdict
from typing import Any

import numpy as np


class Parameter:
    """A trainable array, like ``torch.nn.Parameter``: its own float64 ``data`` and a ``grad``."""

    def __init__(self, data: Any) -> None:
        self.data = np.array(data, dtype=np.float64)
        self.grad: np.ndarray | None = None

    def __repr__(self) -> str:
        return f"Parameter(shape={self.data.shape})"


class _RequiredParameter:
    """Marks a hyperparameter that has no default: every parameter group must set it."""

    def __repr__(self) -> str:
        return "<required parameter>"


#: the sentinel of ``torch.optim.optimizer.required``: ``Optimizer(params, {"lr": required})``
required = _RequiredParameter()


class Optimizer:
    """The base class of exercise 3, with the interface of ``torch.optim.Optimizer``.

    ``param_groups`` (dicts, the caller's own, with missing hyperparameters filled in from
    ``defaults``), ``state`` (Parameter -> dict) and ``zero_grad``; ``step`` is each subclass's.
    """

    def __init__(self, params: Any, defaults: dict[str, Any]) -> None:
        if isinstance(params, (Parameter, np.ndarray)):
            raise TypeError("params argument given to the optimizer should be an iterable of "
                            f"Parameters or dicts, but got {type(params).__name__}")
        self.defaults = defaults
        self.state: defaultdict[Parameter, dict[str, Any]] = defaultdict(dict)
        self.param_groups: list[dict[str, Any]] = []
        param_groups = list(params)
        if len(param_groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for param_group in param_groups:
            self.add_param_group(param_group)

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group).__name__}")
        params = param_group["params"]
        if isinstance(params, Parameter):
            param_group["params"] = [params]
        elif isinstance(params, set):
            raise TypeError("optimizer parameters need to be organized in ordered collections, but the "
                            "ordering of parameters in sets will change between runs. Please use a list instead.")
        else:
            param_group["params"] = list(params)
        for p in param_group["params"]:
            if not isinstance(p, Parameter):
                raise TypeError(f"optimizer can only optimize Parameters, but one of the params is {type(p).__name__}")
        for name, default in self.defaults.items():
            if default is required and name not in param_group:
                raise ValueError(f"parameter group didn't specify a value of required optimization parameter {name}")
            param_group.setdefault(name, default)
        existing = {id(p) for group in self.param_groups for p in group["params"]}
        if not existing.isdisjoint(id(p) for p in param_group["params"]):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(param_group)

    def zero_grad(self, set_to_none: bool = True) -> None:
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    p.grad[...] = 0.0

    def step(self) -> None:
        raise NotImplementedError


#: the exercise (reference stem) whose students write each given class; they may not import it
TAUGHT_IN: dict[str, tuple[type, ...]] = {"manual_updates": (Parameter,), "param_groups": (Optimizer,)}

_FROM_REFERENCES = {"SGD": "momentum_adam_adamw", "Adam": "momentum_adam_adamw", "AdamW": "momentum_adam_adamw"}


def __getattr__(name: str) -> Any:
    """Exercise 4's optimizers are its reference itself, generated from its notebook. They build on
    the Optimizer above, so they are imported on first use, not at import (that would be circular);
    the guard refuses them while exercise 4 is checked."""
    if name in _FROM_REFERENCES:
        module = importlib.import_module(f"{__package__}.references.{_FROM_REFERENCES[name]}")
        return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
