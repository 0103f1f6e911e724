"""Random inputs shared by every chapter: parameters, gradients per step, learning rates.

Seed 0 is the visible case, with fixed, readable shapes; the hidden seeds draw shapes and
hyperparameters at random. Every case has a 0-dim parameter and one parameter whose grad is None
for two consecutive steps, because both are where hand-written optimizers usually go wrong.

The hidden seeds are drawn at grading time: an instructor who sets ``OPTIMCOURSE_GRADING_SEED``
(any text, kept out of the repository) gets seeds derived from it, so the hidden draws cannot be
known from the public notebooks, while grading again with the same text gives the same scores.
Unset, the hidden seeds are the fixed ones below. ``course-grade`` salts them with the submission
(:func:`submission_salt`): the student's code receives its inputs, and could print them into its
feedback, so each submission gets draws of its own; what one notebook learns of them says nothing
about the draws of any other notebook, a classmate's or the same student's next attempt.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping, Sequence

import numpy as np

__all__ = [
    "GRADING_SEED_VARIABLE",
    "HIDDEN_SEEDS",
    "VISIBLE_SEEDS",
    "hidden_seeds",
    "is_visible",
    "learning_rate",
    "problem",
    "submission_salt",
]


VISIBLE_SEEDS = (0,)
DEFAULT_HIDDEN_SEEDS = (101, 202, 303, 404, 505)
GRADING_SEED_VARIABLE = "OPTIMCOURSE_GRADING_SEED"


def hidden_seeds(environ: Mapping[str, str] = os.environ, salt: str = "") -> tuple[int, ...]:
    """Five seeds from the grading secret (a SHA-256 of it, and of ``salt`` if any), or the default ones
    without a secret."""
    secret = environ.get(GRADING_SEED_VARIABLE, "").strip()
    if not secret:
        return DEFAULT_HIDDEN_SEEDS
    digest = hashlib.sha256(secret.encode() + (b"\0" + salt.encode() if salt else b"")).digest()
    # 1 .. 2**31 - 1: never the visible seed 0, and a valid seed for every generator here
    return tuple(1 + int.from_bytes(digest[4 * i : 4 * i + 4], "big") % (2**31 - 2) for i in range(5))


HIDDEN_SEEDS = hidden_seeds()


def submission_salt(student: str, assignment: str, answers: Sequence[str]) -> str:
    """What makes a submission's hidden draws its own: who, which assignment, and the code of its answer
    cells (the same notebook graded again gets the same draws; any change to an answer, new ones)."""
    return json.dumps([student, assignment, list(answers)])


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
    grads = [
        [
            None if (i == frozen and first <= t < first + 2) else rng.normal(scale=2.0, size=s)
            for i, s in enumerate(shapes)
        ]
        for t in range(1, steps + 1)
    ]
    return init, grads


def learning_rate(seed: int) -> float:
    return 0.1 if is_visible(seed) else float(10 ** np.random.default_rng(seed).uniform(-3, 0))
