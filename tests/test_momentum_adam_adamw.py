"""Chapter 4's update rules: properties any correct SGD, Adam and AdamW have, checked on the course's
reference and on torch alike; the reference against torch on random draws; and what the hidden
tests cover (every configuration of torch's own tests, the awkward parameters, state every step)."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from optimcourse import cases
from optimcourse.chapters import momentum_adam_adamw as ch4
from optimcourse.given import Parameter
from optimcourse.scenarios import Step
from optimcourse.torch_configs import torch_test_configs
from test_harness import reference

SEEDS = st.integers(1, 2**31 - 1)


# -- one optimizer run, the same way for the reference and for torch ----------------------------------


def as_array(value):
    return value.detach().numpy().astype(np.float64) if isinstance(value, torch.Tensor) else np.array(value, np.float64)


def run(make, init, grads, *, side):
    """Step ``make(params)`` through ``grads``; (parameter values, state) after every step."""
    if side == "torch":
        params = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in init]
    else:
        params = [Parameter(v.copy()) for v in init]
    opt = make(params)
    history = []
    for row in grads:
        for p, g in zip(params, row):
            if side == "torch":
                p.grad = None if g is None else torch.tensor(g, dtype=torch.float64)
            else:
                p.grad = None if g is None else g.copy()
        opt.step()
        values = [as_array(p if side == "torch" else p.data) for p in params]
        state = [{k: as_array(v) for k, v in opt.state[p].items()} if p in opt.state else {} for p in params]
        history.append((values, state))
    return history, opt


def classes(side):
    """torch's classes, the reference's, or (side = a mutant's name) that known mistake's."""
    if side == "torch":
        return torch.optim.SGD, torch.optim.Adam, torch.optim.AdamW
    if side == "reference":
        ns = reference("momentum_adam_adamw")
    else:
        ns = ch4.MUTANTS.impl(next(m for m in ch4.MUTANTS.mutants if m.name == side))
    return ns["SGD"], ns["Adam"], ns["AdamW"]


def same(a, b):
    """Two histories equal bit for bit: values and every state buffer."""
    assert len(a) == len(b)
    for (va, sa), (vb, sb) in zip(a, b):
        for x, y in zip(va, vb):
            np.testing.assert_array_equal(x, y)
        for x, y in zip(sa, sb):
            assert x.keys() == y.keys()
            for k in x:
                np.testing.assert_array_equal(x[k], y[k])


SIDES = pytest.mark.parametrize("side", ["reference", "torch"])


# -- properties -------------------------------------------------------------------------------------


def adamw_without_weight_decay_is_adam(side, seed, amsgrad):
    _SGD, Adam, AdamW = classes(side)
    config = {**ch4.random_adam_config(np.random.default_rng(seed), amsgrad), "weight_decay": 0.0}
    init, grads = ch4.trajectory(seed)
    same(
        run(lambda ps: Adam(ps, **config), init, grads, side=side)[0],
        run(lambda ps: AdamW(ps, **config), init, grads, side=side)[0],
    )


def sgd_without_momentum_keeps_no_state(side, seed):
    SGD, _Adam, _AdamW = classes(side)
    config = {**ch4.random_sgd_config(np.random.default_rng(seed)), "momentum": 0.0}
    config.pop("nesterov", None)
    init, grads = ch4.trajectory(seed)
    history, opt = run(lambda ps: SGD(ps, **config), init, grads, side=side)
    assert all(state == {} for _, states in history for state in states)
    assert not any(opt.state.values())


def adams_first_step_moves_each_coordinate_by_about_lr(side, seed, which):
    # m_hat = g and v_hat = g**2 at t = 1, so the step is lr * g / (|g| + eps): lr * sign(g) to within eps / |g|
    _SGD, Adam, AdamW = classes(side)
    rng = np.random.default_rng(seed)
    config = {**ch4.random_adam_config(rng, bool(rng.random() < 0.5)), "eps": 1e-8, "weight_decay": 0.0}
    g = rng.choice([-1, 1], size=7) * 10 ** rng.uniform(-3, 3, size=7)
    init = rng.normal(size=7)
    history, _ = run(lambda ps: {"Adam": Adam, "AdamW": AdamW}[which](ps, **config), (init,), [[g]], side=side)
    moved = history[0][0][0] - init
    expected = -config["lr"] * np.sign(g) * (-1 if config.get("maximize") else 1)
    np.testing.assert_allclose(moved, expected, rtol=1e-4, atol=0)


def maximizing_minus_f_is_minimizing_f(side, seed, which):
    SGD, Adam, AdamW = classes(side)
    cls = {"SGD": SGD, "Adam": Adam, "AdamW": AdamW}[which]
    rng = np.random.default_rng(seed)
    config = ch4.random_sgd_config(rng) if which == "SGD" else ch4.random_adam_config(rng, bool(rng.random() < 0.5))
    config.pop("maximize", None)
    init, grads = ch4.trajectory(seed)
    negated = [[None if g is None else -g for g in row] for row in grads]
    same(
        run(lambda ps: cls(ps, **config), init, grads, side=side)[0],
        run(lambda ps: cls(ps, **config, maximize=True), init, negated, side=side)[0],
    )


@SIDES
@settings(max_examples=20, deadline=None)
@given(seed=SEEDS, amsgrad=st.booleans())
def test_adamw_without_weight_decay_is_adam(side, seed, amsgrad):
    adamw_without_weight_decay_is_adam(side, seed, amsgrad)


@SIDES
@settings(max_examples=20, deadline=None)
@given(seed=SEEDS)
def test_sgd_without_momentum_keeps_no_state(side, seed):
    sgd_without_momentum_keeps_no_state(side, seed)


@SIDES
@settings(max_examples=20, deadline=None)
@given(seed=SEEDS, which=st.sampled_from(["Adam", "AdamW"]))
def test_adams_first_step_moves_each_coordinate_by_about_lr(side, seed, which):
    adams_first_step_moves_each_coordinate_by_about_lr(side, seed, which)


@SIDES
@settings(max_examples=20, deadline=None)
@given(seed=SEEDS, which=st.sampled_from(["SGD", "Adam", "AdamW"]))
def test_maximizing_minus_f_is_minimizing_f(side, seed, which):
    maximizing_minus_f_is_minimizing_f(side, seed, which)


@pytest.mark.parametrize(
    "prop, mutant, args",
    [
        (adamw_without_weight_decay_is_adam, "adamw-forgets-maximize", (False,)),
        (sgd_without_momentum_keeps_no_state, "velocity-kept-without-momentum", ()),
        (adams_first_step_moves_each_coordinate_by_about_lr, "no-bias-correction", ("Adam",)),
        (adams_first_step_moves_each_coordinate_by_about_lr, "eps-before-bias-correction", ("AdamW",)),
        (maximizing_minus_f_is_minimizing_f, "sgd-maximize-after-weight-decay", ("SGD",)),
        (maximizing_minus_f_is_minimizing_f, "adam-maximize-after-weight-decay", ("Adam",)),
    ],
)
def test_each_property_fails_on_a_known_mistake(prop, mutant, args):
    failed = 0
    for seed in range(1, 11):  # some draws have no weight decay, or no maximize: the mistake must show on some
        try:
            prop(mutant, seed, *args)
        except AssertionError:
            failed += 1
    assert failed, f"{prop.__name__} holds for the mistake {mutant!r} on every seed tried"


# -- the reference against torch, and a near miss that must not pass ---------------------------------


@settings(max_examples=15, deadline=None)
@given(seed=SEEDS)
def test_the_reference_matches_torch_on_random_draws_and_a_tiny_eps_error_does_not(seed):
    ref = reference("momentum_adam_adamw")
    ch4.check_sgd(ref["SGD"], seeds=(seed,))
    ch4.check_sgd_validation(ref["SGD"], seeds=(seed,))
    ch4.check_adam(ref["Adam"], seeds=(seed,))
    ch4.check_adam_amsgrad(ref["Adam"], seeds=(seed,))
    ch4.check_adam_validation(ref["Adam"], seeds=(seed,))
    ch4.check_adamw(ref["AdamW"], seeds=(seed,))

    class LateEps(ref["Adam"]):  # eps 10% too large: must be seen on the visible case, whose eps is 1e-3
        def step(self):
            for group in self.param_groups:
                group["eps"] *= 1.1
            super().step()
            for group in self.param_groups:
                group["eps"] /= 1.1

    with pytest.raises(AssertionError, match="differs from torch.optim.Adam"):
        ch4.check_adam(LateEps)


# -- what the hidden tests cover ---------------------------------------------------------------------

KINDS = {"SGD": ("SGD",), "Adam": ("Adam", "Adam-amsgrad"), "AdamW": ("AdamW",)}


@pytest.mark.parametrize("name", sorted(KINDS))
def test_hidden_tests_run_every_configuration_of_torchs_own_tests(name):
    titles = {s.title for kind in KINDS[name] for s in ch4.cases(kind, cases.DEFAULT_HIDDEN_SEEDS)}
    configs = torch_test_configs(name)
    assert len(configs) >= 5
    for desc, config in configs:
        title = f"torch.optim.{name}(params{', ' if config else ''}{ch4._words(config)})"
        assert title in titles, f"torch's configuration {desc!r} ({title}) is not among the hidden cases"


@pytest.mark.parametrize("kind", ["SGD", "Adam", "Adam-amsgrad", "AdamW"])
@pytest.mark.parametrize("seeds", [cases.VISIBLE_SEEDS, cases.DEFAULT_HIDDEN_SEEDS], ids=["visible", "hidden"])
def test_every_case_steps_often_with_awkward_parameters_and_compares_state(kind, seeds):
    for scenario in ch4.cases(kind, seeds):
        steps = [a for a in scenario.actions if isinstance(a, Step)]
        assert len(steps) >= 10
        shapes = [v.shape for v in scenario.init]
        assert () in shapes and any(0 in s for s in shapes), shapes
        fed = [[g is not None for g in a.grads] for a in steps]
        # some parameter is frozen for a while after a step with a gradient, then gets one again
        assert any(
            any(f[i] and not g[i] for f, g in itertools.pairwise(fed)) and any(row[i] for row in fed[2:])
            for i in range(len(shapes))
        )
        assert not all(fed[0])  # one parameter starts without a gradient: state is created lazily
        assert set(scenario.state_names) >= ({"momentum_buffer"} if kind == "SGD" else {"exp_avg", "step"})


def test_hidden_random_draws_vary_every_hyperparameter():
    sgd = [ch4.random_sgd_config(np.random.default_rng(s)) for s in range(200)]
    adam = [ch4.random_adam_config(np.random.default_rng(s), s % 2 == 0) for s in range(200)]
    for key in ("lr", "momentum", "dampening", "weight_decay", "nesterov", "maximize"):
        assert len({c.get(key) for c in sgd}) > 1, key
    for key in ("lr", "betas", "eps", "weight_decay", "amsgrad", "maximize"):
        assert len({c.get(key) for c in adam}) > 1, key


# -- hidden seeds drawn at grading time ---------------------------------------------------------------


def test_hidden_seeds_come_from_the_grading_secret():
    var = cases.GRADING_SEED_VARIABLE
    assert cases.hidden_seeds({}) == cases.DEFAULT_HIDDEN_SEEDS == cases.hidden_seeds({var: "  "})
    a, again, b = (cases.hidden_seeds({var: s}) for s in ("spring 2027", "spring 2027", "autumn 2027"))
    assert a == again and a != b and a != cases.DEFAULT_HIDDEN_SEEDS
    assert len(a) == 5 and all(1 <= s < 2**31 and not cases.is_visible(s) for s in a + b)


def test_each_submission_gets_hidden_seeds_of_its_own():
    env = {cases.GRADING_SEED_VARIABLE: "spring 2027"}
    salt = cases.submission_salt("ada", "ex04", ["class SGD: ..."])
    own = cases.hidden_seeds(env, salt)
    assert own == cases.hidden_seeds(env, cases.submission_salt("ada", "ex04", ["class SGD: ..."]))  # regraded: same
    others = [
        cases.hidden_seeds(env, cases.submission_salt(*parts))
        for parts in (
            ("bob", "ex04", ["class SGD: ..."]),
            ("ada", "ex05", ["class SGD: ..."]),
            ("ada", "ex04", ["class SGD: ...\n"]),
            ("ada", "ex04", ["class SGD:", " ..."]),
        )
    ]
    assert all(set(own).isdisjoint(seeds) for seeds in others + [cases.hidden_seeds(env)])
    assert all(1 <= s < 2**31 and not cases.is_visible(s) for s in own)
    assert cases.hidden_seeds({}, salt) == cases.DEFAULT_HIDDEN_SEEDS  # no secret: the public ones, as before


def test_a_fresh_kernel_reads_the_grading_secret_from_its_environment():
    env = {**os.environ, cases.GRADING_SEED_VARIABLE: "spring 2027"}
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "from optimcourse.chapters import momentum_adam_adamw as c; print(list(c.HIDDEN_SEEDS))",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == str(list(cases.hidden_seeds({cases.GRADING_SEED_VARIABLE: "spring 2027"})))
