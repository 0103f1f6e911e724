"""The configurations of PyTorch's own optimizer tests, read from the installed torch
(``optimcourse.torch_configs``): optimizers' hyperparameters, and the schedulers they are stepped with."""

from __future__ import annotations

import pytest
import torch
from torch.optim import lr_scheduler

from optimcourse.chapters import lr_schedulers as ch11
from optimcourse.torch_configs import parse_configs, parse_scheduler_inputs, torch_scheduler_inputs, torch_test_configs


def test_torch_test_configs_are_read_from_torch_and_construct():
    counts = {name: len(torch_test_configs(name)) for name in ("SGD", "Adam", "AdamW")}
    assert counts["SGD"] >= 9 and counts["Adam"] >= 5, counts
    assert torch_test_configs("AdamW") == torch_test_configs("Adam")  # torch runs Adam's list for AdamW
    described = dict(torch_test_configs("SGD"))
    assert described["nesterov"] == {"momentum": 0.9, "nesterov": True, "weight_decay": 0.1}
    assert described["tensor lr"] == {"lr": 0.001}  # torch.tensor(0.001), read as a float
    for name in counts:
        for _, kwargs in torch_test_configs(name):
            getattr(torch.optim, name)([torch.zeros(2, requires_grad=True)], **kwargs)


def test_an_unreadable_torch_config_is_an_error_not_a_gap():
    source = (
        "def optim_inputs_func_sgd(device, dtype=None):\n"
        '    return [OptimizerInput(params=None, kwargs={"lr": some_function()}, desc="odd")]\n'
    )
    with pytest.raises(ValueError, match="cannot read the configuration 'odd'"):
        parse_configs(source, "SGD")
    with pytest.raises(ValueError, match="optim_inputs_func_rmsprop is not defined"):
        parse_configs(source, "RMSprop")


def test_torch_scheduler_inputs_are_read_from_torch_and_construct():
    inputs = torch_scheduler_inputs()
    assert {optimizer for optimizer, _ in inputs} >= {"SGD", "Adam"}
    assert any(calls == (("StepLR", (), {"gamma": 0.9, "step_size": 10}),) for _, calls in inputs)
    for optimizer, calls in inputs:
        opt = getattr(torch.optim, optimizer)([torch.zeros(2, requires_grad=True)], lr=0.1)
        for cls, args, kwargs in calls:
            getattr(lr_scheduler, cls)(opt, *args, **kwargs)


def test_exercise_11_runs_the_combinations_of_torchs_tests_that_use_its_schedulers():
    singles = {r.words for cls in ("StepLR", "LinearLR") for r in ch11.torch_runs({cls}, chained=False)}
    assert "StepLR(optimizer, gamma=0.9, step_size=10)" in singles
    assert any(w.startswith("LinearLR(") for w in singles)
    chains = ch11.torch_runs(set(ch11.CLASSES), chained=True)
    assert any("StepLR" in r.words and "LinearLR" in r.words for r in chains)
    assert not any("ExponentialLR" in r.words for r in chains)  # not one of the exercise's classes


def test_an_unreadable_scheduler_input_is_an_error_not_a_gap():
    good = "OptimizerInfo(SGD, scheduler_inputs=([lambda opt: StepLR(opt, gamma=0.9, step_size=10)],))\n"
    assert parse_scheduler_inputs(good) == [("SGD", (("StepLR", (), {"gamma": 0.9, "step_size": 10}),))]
    for bad in (
        "OptimizerInfo(SGD, scheduler_inputs=([lambda opt: StepLR(opt, gamma=some_function())],))\n",
        "OptimizerInfo(SGD, scheduler_inputs=([make_step_lr],))\n",
        "OptimizerInfo(SGD, scheduler_inputs=([lambda opt: StepLR(other, 3)],))\n",
        "OptimizerInfo(SGD, scheduler_inputs=SCHEDULERS)\n",
    ):
        with pytest.raises(ValueError, match="SGD"):
            parse_scheduler_inputs(bad)
    with pytest.raises(ValueError, match="no scheduler_inputs"):
        parse_scheduler_inputs("OptimizerInfo(SGD)\n")
