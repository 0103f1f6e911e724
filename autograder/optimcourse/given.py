"""What later exercises start from: the pieces earlier exercises built, each its exercise's reference.

Exercise 1 asks students to write :class:`Parameter`, exercise 3 the :class:`Optimizer` base class,
exercise 4 ``SGD``, ``Adam`` and ``AdamW``; exercise 12 assembles pieces of exercises 3, 5, 6 and 11
(parameter groups, checkpoints, clipping, schedules). Later notebooks import these, so that a mistake made in an
earlier chapter cannot cost points in a later one. Each is the reference solution itself, generated
from its exercise's notebook into ``references/`` (one source per piece). The test suite checks each
with the checks of the exercise that asks for it, and while that exercise is checked its students may
not use them (the guard refuses calls into the reference of the exercise being checked). ``required``
is handed out, not taught: it is torch's sentinel for a hyperparameter without a default.
"""

from __future__ import annotations

import importlib
from typing import Any

# exercise 1's reference imports nothing from here; the later ones import Parameter and required
from .references.manual_updates import Parameter

# the pieces after Parameter come from __getattr__ below
__all__ = [  # noqa: F822
    "SGD",
    "TAUGHT_BY",
    "Adam",
    "AdamW",
    "CosineAnnealingLR",
    "LRScheduler",
    "LinearLR",
    "Optimizer",
    "Parameter",
    "ReduceLROnPlateau",
    "SequentialLR",
    "StateDict",
    "clip_grad_norm_",
    "load_checkpoint",
    "required",
    "save_checkpoint",
    "split_weight_decay_params",
]

#: each given piece, and the exercise (its reference module) that asks students to write it; the kernel
#: that grades a chapter has the pieces of the chapters before it (optimcourse.grading.kernel_package)
TAUGHT_BY = {
    "Parameter": "manual_updates",
    "Optimizer": "param_groups",
    "SGD": "momentum_adam_adamw",
    "Adam": "momentum_adam_adamw",
    "AdamW": "momentum_adam_adamw",
    "split_weight_decay_params": "param_groups",
    "StateDict": "state_checkpointing",
    "save_checkpoint": "state_checkpointing",
    "load_checkpoint": "state_checkpointing",
    "clip_grad_norm_": "gradient_clipping",
    # the schedulers' base class, and ReduceLROnPlateau, which SequentialLR refuses by its class
    "LRScheduler": "lr_schedulers",
    "ReduceLROnPlateau": "lr_schedulers",
    "LinearLR": "lr_schedulers",
    "CosineAnnealingLR": "lr_schedulers",
    "SequentialLR": "lr_schedulers",
}


class _RequiredParameter:
    """Marks a hyperparameter that has no default: every parameter group must set it."""

    def __repr__(self) -> str:
        return "<required parameter>"


#: the sentinel of ``torch.optim.optimizer.required``: ``Optimizer(params, {"lr": required})``
required = _RequiredParameter()


def __getattr__(name: str) -> Any:
    """The pieces after exercise 1's, imported on first use: their modules import from here, and a page
    or a test may import one of them first."""
    if name in TAUGHT_BY:
        return getattr(importlib.import_module(f"{__package__}.references.{TAUGHT_BY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
