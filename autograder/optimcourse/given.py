"""What later exercises start from: the pieces earlier exercises built, written once.

Exercise 1 asks students to write :class:`Parameter`; from exercise 2 on, notebooks import
this one, so that a mistake made in an earlier chapter cannot cost points in a later one. The
test suite checks it with exercise 1's own checks.
"""
from __future__ import annotations

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
