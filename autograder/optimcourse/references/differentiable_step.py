"""Reference solution of 08-differentiable-step: generated from solutions/08-differentiable-step/differentiable_step.ipynb by `python -m optimcourse.sync`.

Do not edit: edit the notebook and run the sync. Mutants are text edits of this file.
"""
import numpy as np


def quadratic_grad(A, b, theta):
    """Gradient of 1/2 theta^T A theta - b^T theta (A symmetric)."""
    return A @ theta - b


def least_squares_grad(X, y, w):
    """Gradient of mean((X w - y)**2)."""
    return 2.0 / len(y) * X.T @ (X @ w - y)


def sgd_hypergradient(grad_fn, theta, lr):
    """d L(theta - lr * g) / d lr, where g = grad_fn(theta)."""
    g = grad_fn(theta)
    return float(-grad_fn(theta - lr * g) @ g)


def momentum_hypergradient(grad_fn, theta, lr, momentum, buffer):
    """d L(theta - lr * b) / d lr, where b = momentum * buffer + g.

    b = g when buffer is None.
    """
    g = grad_fn(theta)
    buf = g if buffer is None else momentum * buffer + g
    return float(-grad_fn(theta - lr * buf) @ buf)


def hypergradient_descent(grad_fn, theta, lr, hyper_lr, steps):
    """SGD whose learning rate follows its own hypergradient.

    Returns (learning rates, final theta).
    """
    theta = np.array(theta, dtype=np.float64)
    lrs = []
    for _ in range(steps):
        h = sgd_hypergradient(grad_fn, theta, lr)
        lr = lr - hyper_lr * h
        theta = theta - lr * grad_fn(theta)
        lrs.append(lr)
    return np.array(lrs), theta
