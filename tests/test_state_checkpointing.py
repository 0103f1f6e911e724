"""Chapter 5 beyond the notebook: state dicts cross between the course's optimizers and torch's both ways,
the resume experiment (restore vs reset, lr changed at resume), checkpoint files never run code, and
the reference against torch on random draws."""

from __future__ import annotations

import copy
import os

import numpy as np
import pytest
import torch
from hypothesis import given as draws
from hypothesis import settings
from hypothesis import strategies as st

from optimcourse import given
from optimcourse.chapters import state_checkpointing as ch5
from optimcourse.chapters.momentum_adam_adamw import trajectory
from optimcourse.interop import from_torch_state_dict, to_torch_state_dict
from test_harness import reference

CONFIGS = [
    ("SGD", {"lr": 0.05, "momentum": 0.9, "dampening": 0.1, "weight_decay": 0.01}),
    ("Adam", {"lr": 0.05, "betas": (0.8, 0.99), "weight_decay": 0.01}),
    ("AdamW", {"lr": 0.05, "amsgrad": True, "weight_decay": 0.1}),
]


def course_class(name):
    return type(name, (reference("state_checkpointing")["StateDict"], getattr(given, name)), {})


def course_run(name, config, init, grads):
    params = [given.Parameter(v.copy()) for v in init]
    opt = course_class(name)(params, **config)
    return params, opt


def torch_run(name, config, init):
    params = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in init]
    return params, getattr(torch.optim, name)(params, **config)


def step_course(params, opt, grads):
    for p, g in zip(params, grads):
        p.grad = None if g is None else g.copy()
    opt.step()


def step_torch(params, opt, grads):
    for p, g in zip(params, grads):
        p.grad = None if g is None else torch.tensor(g, dtype=torch.float64)
    opt.step()


def values(params):
    return [np.array(p.detach().numpy() if isinstance(p, torch.Tensor) else p.data) for p in params]


@pytest.mark.parametrize("name, config", CONFIGS, ids=[c[0] for c in CONFIGS])
@pytest.mark.parametrize("direction", ["numpy-to-torch", "torch-to-numpy"])
def test_a_state_dict_crosses_over_and_both_continue_identically_for_10_steps(name, config, direction):
    init, grads = trajectory(3)
    cp, co = course_run(name, config, init, grads)
    tp, to = torch_run(name, config, init)
    for g in grads[:4]:
        step_course(cp, co, g)
        step_torch(tp, to, g)
    # a second pair continues from the first pair's state dict, across the border
    cp2, co2 = course_run(name, {**config, "lr": 9.0}, values(cp), grads)
    tp2, to2 = torch_run(name, {**config, "lr": 9.0}, values(tp))
    if direction == "numpy-to-torch":
        to2.load_state_dict(to_torch_state_dict(co.state_dict()))
        co2.load_state_dict(co.state_dict())
    else:
        co2.load_state_dict(from_torch_state_dict(to.state_dict()))
        to2.load_state_dict(copy.deepcopy(to.state_dict()))
    for g in (grads * 2)[4:14]:
        step_course(cp2, co2, g)
        step_torch(tp2, to2, g)
        for a, b in zip(values(cp2), values(tp2)):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    assert co2.param_groups[0]["lr"] == to2.param_groups[0]["lr"] == config["lr"]


def test_the_course_state_dict_loads_where_torch_expects_its_flags():
    name, config = CONFIGS[2]
    init, grads = trajectory(3)
    cp, co = course_run(name, config, init, grads)
    step_course(cp, co, grads[0])
    tp, to = torch_run(name, config, init)
    to.load_state_dict(to_torch_state_dict(co.state_dict()))
    assert to.param_groups[0]["decoupled_weight_decay"] is True  # AdamW's flag, filled in by torch
    assert to.state[tp[0]]["step"].dtype == torch.float32 and to.state[tp[0]]["step"].item() == 1.0


def test_resume_restored_equals_uninterrupted_and_a_fresh_optimizer_jumps():
    """The Q5 experiment: checkpoint after 5 steps, change lr at resume; restore the state or reset it."""
    init, grads = trajectory(0)
    config = {"lr": 0.05, "betas": (0.8, 0.99)}
    schedule = [0.05] * 5 + [0.01] * (len(grads) - 5)

    def run(resume):
        params, opt = course_run("Adam", config, init, grads)
        for t, g in enumerate(grads):
            if t == 5 and resume != "uninterrupted":
                sd = copy.deepcopy(opt.state_dict())
                params, opt = course_run("Adam", config, values(params), grads)
                if resume == "restored":
                    opt.load_state_dict(sd)
            opt.param_groups[0]["lr"] = schedule[t]  # set after loading, or the checkpoint's lr wins
            step_course(params, opt, g)
        return values(params)

    uninterrupted, restored, reset = run("uninterrupted"), run("restored"), run("reset")
    for a, b in zip(uninterrupted, restored):
        np.testing.assert_array_equal(a, b)
    jump = max(float(np.max(np.abs(a - b), initial=0.0)) for a, b in zip(uninterrupted, reset))
    assert jump > 1e-3, jump


def test_load_state_dict_takes_the_checkpoints_lr_over_one_set_before():
    init, grads = trajectory(0)
    params, opt = course_run("SGD", {"lr": 0.05, "momentum": 0.9}, init, grads)
    step_course(params, opt, grads[0])
    sd = opt.state_dict()
    _params2, opt2 = course_run("SGD", {"lr": 0.05, "momentum": 0.9}, values(params), grads)
    opt2.param_groups[0]["lr"] = 0.5
    opt2.load_state_dict(sd)
    assert opt2.param_groups[0]["lr"] == 0.05  # as torch: hyperparameters come from the checkpoint


class _Payload:
    ran = False

    def __reduce__(self):  # what unpickling this object would do: call _Payload.mark()
        return (_Payload.mark, ())

    @staticmethod
    def mark():
        _Payload.ran = True
        return "ran"


def test_a_checkpoint_holding_a_pickle_is_refused_without_running_it(tmp_path):
    ref = reference("state_checkpointing")
    path = tmp_path / "evil.ckpt"
    with open(path, "wb") as f:
        np.savez(f, meta=np.array([_Payload()], dtype=object))
    init, grads = trajectory(0)
    params, opt = course_run("Adam", {"lr": 0.1}, init, grads)
    with pytest.raises(ValueError, match="not a checkpoint"):
        ref["load_checkpoint"](str(path), params, opt)
    assert not _Payload.ran
    # the same file with pickle allowed would have run it: the test can see the difference
    np.load(path, allow_pickle=True)["meta"]
    assert _Payload.ran


def test_save_checkpoint_writes_one_file_at_exactly_the_path(tmp_path):
    ref = reference("state_checkpointing")
    init, grads = trajectory(0)
    params, opt = course_run("AdamW", {"lr": 0.1, "amsgrad": True}, init, grads)
    step_course(params, opt, grads[0])
    ref["save_checkpoint"](str(tmp_path / "model"), params, opt, epoch=1)
    assert os.listdir(tmp_path) == ["model"]


@settings(max_examples=10, deadline=None)
@draws(seed=st.integers(1, 2**31 - 1))
def test_the_reference_matches_torch_on_random_draws(seed):
    ref = reference("state_checkpointing")
    state_dict, save, load = ref["StateDict"], ref["save_checkpoint"], ref["load_checkpoint"]
    ch5.check_state_dict(state_dict, seeds=(seed,))
    ch5.check_load_state_dict(state_dict, seeds=(seed,))
    ch5.check_checkpoint_files(state_dict, save, load, seeds=(seed,))
