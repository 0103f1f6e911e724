"""Chapter 9: the reference against torch on random draws, near misses that must fail, the facts about
torch's state the exercise rests on, and what the hidden cases cover."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from optimcourse.cases import DEFAULT_HIDDEN_SEEDS
from optimcourse.chapters import memory_questions as ch9
from test_harness import reference

SEEDS = st.integers(1, 2**31 - 1)
SHAPES = st.lists(st.lists(st.integers(1, 7), min_size=0, max_size=3).map(tuple), min_size=1, max_size=5)


@settings(max_examples=8, deadline=None)
@given(seed=SEEDS)
def test_the_reference_matches_torch_on_random_draws(seed):
    ref = reference("memory_questions")
    ch9.check_state_bytes(ref["bytes_per_element"], ref["optimizer_state_bytes"], seeds=(seed,))
    ch9.check_memory_report(ref["memory_report"], seeds=(seed,))
    ch9.check_training_time(ref["training_time"], seeds=(seed,))
    ch9.check_bias_correction(ref["bias_correction"], seeds=(seed,))
    ch9.check_one_step_decay(ref["one_step_decay"], seeds=(seed,))
    ch9.check_resume_experiment(ref["resume_experiment"], seeds=(seed,))
    ch9.check_reset_kick(ref["reset_kick"], seeds=(seed,))


def test_near_misses_fail():
    ref = reference("memory_questions")
    with pytest.raises(AssertionError, match="differs from torch.optim.Adam's exp_avg"):
        ch9.check_bias_correction(lambda beta, t: (1 - beta**t) * (1 + 1e-6))
    with pytest.raises(AssertionError, match="differs from the state of real torch.optim"):
        ch9.check_state_bytes(ref["bytes_per_element"], lambda n, *a, **k: ref["optimizer_state_bytes"](n + 1, *a, **k))
    with pytest.raises(AssertionError, match="differs from torch.optim.Adam and torch.optim.AdamW"):
        ch9.check_one_step_decay(lambda p, g, lr, wd, d: ref["one_step_decay"](p, g, lr * (1 + 1e-5), wd, d))
    with pytest.raises(AssertionError, match="differs from the course's rule"):  # no refusal of other names
        ch9.check_state_bytes(
            ref["bytes_per_element"],
            lambda n, name, *a, **k: ref["optimizer_state_bytes"](
                n, name if name in ch9.OPTIMIZERS else "SGD", *a, **k
            ),
        )


# -- what torch keeps, as the exercise counts it -----------------------------------------------------


@settings(max_examples=15, deadline=None)
@given(shapes=SHAPES, dtype=st.sampled_from(ch9.DTYPES), amsgrad=st.booleans())
def test_adams_state_is_two_or_three_copies_of_the_parameters_and_one_step_scalar_each(shapes, dtype, amsgrad):
    params = [torch.zeros(s, dtype=getattr(torch, dtype), requires_grad=True) for s in shapes]
    opt = torch.optim.Adam(params, amsgrad=amsgrad)
    for p in params:
        p.grad = torch.ones_like(p)
    opt.step()
    param_bytes = sum(p.nbytes for p in params)
    buffers = ch9.torch_state_bytes(shapes, ch9.StateConfig("Adam", dtype=dtype, amsgrad=amsgrad))
    assert buffers == (3 if amsgrad else 2) * param_bytes
    steps = [s["step"] for s in opt.state.values()]
    assert len(steps) == len(params) and all(t.dim() == 0 and t.dtype == torch.float32 for t in steps)


@settings(max_examples=15, deadline=None)
@given(shapes=SHAPES, dtype=st.sampled_from(ch9.DTYPES), momentum=st.sampled_from([0.0, 0.5, 0.9]))
def test_sgd_keeps_one_copy_with_momentum_and_nothing_without(shapes, dtype, momentum):
    n = int(sum(np.prod(s, dtype=np.int64) for s in shapes))
    got = ch9.torch_state_bytes(shapes, ch9.StateConfig("SGD", dtype=dtype, momentum=momentum))
    assert got == (n * torch.empty((), dtype=getattr(torch, dtype)).element_size() if momentum else 0)


def test_q4_numbers_are_torchs_and_adamw_decays_more_on_the_first_step():
    """The claim the book and the notebook discuss: Adam's first step is about lr whatever L2 adds to the
    gradient, so on step 1 AdamW (which shrinks the parameter as well) moves it further."""
    adam = float(ch9.torch_one_step(np.array(1.0), np.array(0.001), 0.1, 0.01, decoupled=False))
    adamw = float(ch9.torch_one_step(np.array(1.0), np.array(0.001), 0.1, 0.01, decoupled=True))
    plain = float(ch9.torch_one_step(np.array(1.0), np.array(0.001), 0.1, 0.0, decoupled=False))
    assert abs(adam - plain) < 1e-6 < plain - adamw


def test_bias_corrections_read_from_torch_are_the_closed_form():
    truth = ch9.torch_bias_corrections(0.9, 0.999, (1, 10, 1000))
    for t, (m, v) in truth.items():
        assert m == pytest.approx(1 - 0.9**t, rel=1e-12) and v == pytest.approx(1 - 0.999**t, rel=1e-12)


# -- what the hidden cases cover -----------------------------------------------------------------------


def test_hidden_state_cases_cover_every_variant_and_dtype_on_every_seed():
    for seed in ch9.HIDDEN_SEEDS:
        configs = ch9._state_configs(seed)
        variants = {(c.optimizer, c.amsgrad if c.optimizer != "SGD" else c.momentum != 0) for c in configs}
        assert variants == {
            ("SGD", False),
            ("SGD", True),
            ("Adam", False),
            ("Adam", True),
            ("AdamW", False),
            ("AdamW", True),
        }
        assert {c.dtype for c in configs} == set(ch9.DTYPES)
        assert {c.count_grads for c in configs} == {True, False}
        assert len(ch9._model_shapes(seed)) >= 3


def test_hidden_resume_cases_change_the_lr_both_ways_across_seeds():
    draws = [r for seed in DEFAULT_HIDDEN_SEEDS for r in ch9.resume_draws(seed)]
    assert any(r.lr_after < r.lr_before for r in draws) and any(r.lr_after > r.lr_before for r in draws)


@pytest.mark.parametrize("answer", [0.0, 1.0])
def test_a_constant_kick_fails(answer):
    for seeds in (ch9.VISIBLE_SEEDS, ch9.HIDDEN_SEEDS):
        with pytest.raises(AssertionError, match="differs from the reset run's first loss"):
            ch9.check_reset_kick(lambda restored, reset: answer, seeds=seeds)


def test_the_kick_is_positive_near_a_minimum_in_torch():
    """The rule the exercise teaches holds on torch's own curves: resumed after many steps, the reset
    run's first step raises the loss (chapter 9, Q5)."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 5))
    y = X @ rng.normal(size=5) + 0.1 * rng.normal(size=200)
    restored, reset = ch9.torch_resume(ch9.Resume(X, y, np.zeros(5), 0.05, 0.005, 200, 30))
    assert ch9.kick(restored, reset) > 0.01
