"""Reference solution of 09-memory-questions: generated from solutions/09-memory-questions/memory_questions.ipynb by `python -m optimcourse.sync`.

Do not edit: edit the notebook and run the sync. Mutants are text edits of this file.
"""
import copy

import numpy as np

# exercise 4's Adam, exercise 1's Parameter
from optimcourse.given import Adam, Parameter


def bytes_per_element(dtype):
    """Bytes of one element of dtype.

    dtype: 'float64', 'float32', 'float16' or 'bfloat16'.
    """
    if dtype == "bfloat16":
        return 2  # NumPy has no bfloat16
    return np.dtype(dtype).itemsize


def optimizer_state_bytes(n_params, optimizer, dtype="float32",
                          amsgrad=False, momentum=0.9, count_grads=False):
    """Bytes of the per-element state optimizer keeps for n_params elements.

    With count_grads, the grads are counted too.
    """
    if optimizer == "SGD":
        buffers = 1 if momentum != 0 else 0
    elif optimizer in ("Adam", "AdamW"):
        buffers = 3 if amsgrad else 2  # exp_avg, exp_avg_sq (and max_exp_avg_sq)
    else:
        raise ValueError(f"unknown optimizer {optimizer!r}: "
                         "expected 'SGD', 'Adam' or 'AdamW'")
    if count_grads:
        buffers += 1
    return buffers * n_params * bytes_per_element(dtype)


def memory_report(n_params, dtype="float32"):
    """Q1 in GB (10**9 bytes).

    The parameters, Adam's and SGD-momentum's state, the totals and the
    difference.
    """
    gb = 10**9
    params = n_params * bytes_per_element(dtype)
    adam = optimizer_state_bytes(n_params, "Adam", dtype)
    sgd = optimizer_state_bytes(n_params, "SGD", dtype, momentum=0.9)
    return {"params_gb": params / gb,
            "adam_state_gb": adam / gb, "sgd_state_gb": sgd / gb,
            "adam_total_gb": (params + adam) / gb,
            "sgd_total_gb": (params + sgd) / gb,
            "difference_gb": (adam - sgd) / gb}


def training_time(steps, per_step_cost):
    """Wall-clock time of `steps` steps that cost `per_step_cost` each."""
    return steps * per_step_cost


def bias_correction(beta, t):
    """1 - beta**t, what Adam divides its moment by at step t.

    t = 1 is the first step.
    """
    return 1 - beta**t


def one_step_decay(param, grad, lr, weight_decay, decoupled):
    """The parameter after one step from zero state.

    Adam's step (L2) with decoupled=False, AdamW's with decoupled=True.
    """
    beta1, beta2, eps = 0.9, 0.999, 1e-8
    param = np.asarray(param, dtype=np.float64)
    grad = np.asarray(grad, dtype=np.float64)
    if decoupled:
        param = param * (1 - lr * weight_decay)
    else:
        grad = grad + weight_decay * param
    exp_avg = (1 - beta1) * grad  # both moments start at zero
    exp_avg_sq = (1 - beta2) * grad * grad
    step_size = lr / (1 - beta1)  # the bias corrections of step t = 1
    denom = np.sqrt(exp_avg_sq) / np.sqrt(1 - beta2) + eps
    return param - step_size * exp_avg / denom


def resume_experiment(X, y, w0, lr_before, lr_after, steps_before,
                      steps_after):
    """Adam on mean((X w - y)**2), checkpointed and resumed at lr_after.

    Resumed twice, with the state restored and with it reset; returns the
    losses of both runs: (restored, reset).
    """
    def grad(w):
        return 2.0 / len(y) * X.T @ (X @ w - y)

    def loss(w):
        return float(np.mean((X @ w - y) ** 2))

    p = Parameter(w0)
    opt = Adam([p], lr=lr_before)
    for _ in range(steps_before):
        p.grad = grad(p.data)
        opt.step()
    checkpoint, saved = p.data.copy(), copy.deepcopy(opt.state[p])

    runs = []
    for restore in (True, False):
        q = Parameter(checkpoint)
        fresh = Adam([q], lr=lr_after)
        if restore:
            fresh.state[q] = copy.deepcopy(saved)
        losses = []
        for _ in range(steps_after):
            q.grad = grad(q.data)
            fresh.step()
            losses.append(loss(q.data))
        runs.append(np.array(losses))
    return runs[0], runs[1]


def reset_kick(restored_losses, reset_losses):
    """The reset run's excess loss after the first resumed step.

    As a fraction of the restored run's loss.
    """
    return float(reset_losses[0] / restored_losses[0] - 1)
