"""Reference solution of 01-manual-updates: generated from solutions/01-manual-updates/manual_updates.ipynb by `python -m optimcourse.sync`.

Do not edit: edit the notebook and run the sync. Mutants are text edits of this file.
"""
import numpy as np


class Parameter:
    """A trainable array, like ``torch.nn.Parameter``.

    data : np.ndarray, float64, a copy of the values passed in
           (any shape, 0-dim included)
    grad : np.ndarray of the same shape, or None (no gradient yet)
    """

    def __init__(self, data):
        self.data = np.array(data, dtype=np.float64)
        self.grad = None


def sgd_update_(params, lr):
    """theta <- theta - lr * grad, in place, where the grad is not None."""
    for p in params:
        if p.grad is None:
            continue
        p.data -= lr * p.grad


class SGD:
    """Plain SGD, with the interface of ``torch.optim.SGD``."""

    def __init__(self, params, lr=1e-3):
        if lr < 0:
            raise ValueError(f"Invalid learning rate: {lr}")
        self.params = list(params)
        if not self.params:
            raise ValueError("optimizer got an empty parameter list")
        self.lr = lr

    def step(self):
        """Update every parameter that has a gradient."""
        sgd_update_(self.params, self.lr)

    def zero_grad(self, set_to_none=True):
        """Forget the gradients.

        None by default; zeros, in place, with set_to_none=False.
        """
        for p in self.params:
            if p.grad is None:
                continue
            if set_to_none:
                p.grad = None
            else:
                p.grad[...] = 0.0
