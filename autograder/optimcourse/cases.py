"""Random inputs shared by every chapter: parameters, gradients per step, learning rates.

Seed 0 is the visible case, with fixed, readable shapes; the hidden seeds draw shapes and
hyperparameters at random. Every case has a 0-dim parameter and one parameter whose grad is None
for two consecutive steps, because both are where hand-written optimizers usually go wrong.
"""
from __future__ import annotations

import numpy as np

VISIBLE_SEEDS = (0,)
HIDDEN_SEEDS = (101, 202, 303, 404, 505)

Grads = list[list[np.ndarray | None]]


def is_visible(seed: int) -> bool:
    return seed in VISIBLE_SEEDS


def problem(seed: int, steps: int = 8) -> tuple[tuple[np.ndarray, ...], Grads]:
    """Initial values and per-step gradients (parameter 1 has grad None for two steps)."""
    rng = np.random.default_rng(seed)
    if is_visible(seed):
        shapes: list[tuple[int, ...]] = [(3,), (2, 3), ()]
    else:
        shapes = [tuple(int(n) for n in rng.integers(1, 5, size=rng.integers(0, 3))) for _ in range(rng.integers(2, 5))]
        shapes[int(rng.integers(len(shapes)))] = ()
    init = tuple(rng.normal(size=s) for s in shapes)
    frozen = 1 % len(shapes)
    first = int(rng.integers(2, steps - 2))
    grads = [[None if (i == frozen and first <= t < first + 2) else rng.normal(scale=2.0, size=s)
              for i, s in enumerate(shapes)] for t in range(1, steps + 1)]
    return init, grads


def learning_rate(seed: int) -> float:
    return 0.1 if is_visible(seed) else float(10 ** np.random.default_rng(seed).uniform(-3, 0))
