"""Reference solution of 02-zero-grad: generated from solutions/02-zero-grad/zero_grad.ipynb by `python -m optimcourse.sync`.

Do not edit: edit the notebook and run the sync. Mutants are text edits of this file.
"""
import numpy as np

# the class of exercise 1: .data (float64) and .grad (None at first)
from optimcourse.given import Parameter


def accumulate_grad_(param, grad):
    """Add grad into param.grad as backward() does.

    A copy of grad the first time (param.grad is None), in place afterwards.
    """
    grad = np.asarray(grad, dtype=np.float64)
    if grad.shape != param.data.shape:
        raise RuntimeError(f"gradient of shape {grad.shape} for a parameter "
                           f"of shape {param.data.shape}")
    if param.grad is None:
        param.grad = np.array(grad, dtype=np.float64)
    else:
        param.grad += grad


def zero_grad_(params, set_to_none=True):
    """Forget the gradients.

    None by default; zeros, in place, with set_to_none=False.
    """
    for p in params:
        if p.grad is None:
            continue
        if set_to_none:
            p.grad = None
        else:
            p.grad[...] = 0.0


def mse_gradients(w, b, x, y):
    """Gradients of mean((x @ w + b - y) ** 2) with respect to w and b."""
    residual = x @ w + b - y
    n = len(y)
    grad_w = 2.0 * x.T @ residual / n
    grad_b = 2.0 * residual.sum() / n
    return grad_w, grad_b


def accumulation_step_(optimizer, w, b, x, y, micro_batches):
    """One optimizer step on the batch (x, y).

    Its gradient is accumulated over `micro_batches` micro-batches.
    """
    zero_grad_([w, b])
    for x_part, y_part in zip(np.array_split(x, micro_batches),
                              np.array_split(y, micro_batches)):
        grad_w, grad_b = mse_gradients(w.data, b.data, x_part, y_part)
        share = len(y_part) / len(y)
        accumulate_grad_(w, share * grad_w)
        accumulate_grad_(b, share * grad_b)
    optimizer.step()
