"""Reference solution of 06-gradient-clipping: generated from solutions/06-gradient-clipping/gradient_clipping.ipynb by `python -m optimcourse.sync`.

Do not edit: edit the notebook and run the sync. Mutants are text edits of this file.
"""
import math

import numpy as np

# exercise 4's Adam, and exercise 1's Parameter
from optimcourse.given import Adam, Parameter


def clip_grad_norm_(params, max_norm, norm_type=2.0,
                    error_if_nonfinite=False):
    """Scale all gradients together to a total norm of at most max_norm.

    Returns the total norm before clipping.
    """
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return 0.0
    norm_type = float(norm_type)
    if norm_type == math.inf:
        norms = [float(np.max(np.abs(g))) for g in grads]
        total = np.max(norms)
    else:
        norms = [np.sum(np.abs(g) ** norm_type) ** (1.0 / norm_type)
                 for g in grads]
        total = np.sum(np.array(norms) ** norm_type) ** (1.0 / norm_type)
    total = float(total)
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(
            f"The total norm of order {norm_type} for gradients is "
            "non-finite, so it cannot be clipped; set "
            "error_if_nonfinite=False to scale by it anyway")
    clip_coef = max_norm / (total + 1e-6)
    # NaN stays NaN, as in torch's clamp
    clip_coef = np.minimum(clip_coef, 1.0)
    for g in grads:
        g *= clip_coef
    return total


def clip_grad_value_(params, clip_value):
    """Clamp each gradient entry to [-clip_value, clip_value], in place."""
    for p in params:
        if p.grad is not None:
            np.clip(p.grad, -clip_value, clip_value, out=p.grad)


def clipped_accumulation_step_(optimizer, params, micro_batch_grads,
                               max_norm):
    """zero_grad, accumulate every micro-batch's gradient, clip once, step.

    Returns the total norm before clipping.
    """
    optimizer.zero_grad()
    for grads in micro_batch_grads:
        for p, g in zip(params, grads):
            if g is None:
                continue
            if p.grad is None:
                p.grad = np.array(g, dtype=np.float64)
            else:
                p.grad += g
    total = clip_grad_norm_(params, max_norm)
    optimizer.step()
    return total
