"""What later exercises import (``optimcourse.given``) passes the checks of the exercise that builds it,
and the registry of torch's own test configurations reads what torch's tests run."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from optimcourse import given
from optimcourse.cases import HIDDEN_SEEDS, VISIBLE_SEEDS, problem
from optimcourse.chapters import manual_updates as ch1
from optimcourse.chapters import momentum_adam_adamw as ch4
from optimcourse.chapters import param_groups as ch3
from optimcourse.course import REFERENCES_DIR
from optimcourse.mutants import MutantLibrary
from optimcourse.scenarios import OptimizerScenario, Step, ZeroGrad
from optimcourse.verify import verify

ALL_SEEDS = VISIBLE_SEEDS + HIDDEN_SEEDS


def test_each_given_piece_is_the_reference_of_the_exercise_that_teaches_it():
    # one source per piece: the gates grade each reference with its own exercise's checks
    from optimcourse.references import manual_updates, momentum_adam_adamw, param_groups

    assert given.Parameter is manual_updates.Parameter
    assert given.Optimizer is param_groups.Optimizer
    assert (given.SGD, given.Adam, given.AdamW) == (
        momentum_adam_adamw.SGD,
        momentum_adam_adamw.Adam,
        momentum_adam_adamw.AdamW,
    )
    assert param_groups.required is given.required  # handed out by exercise 3, torch's sentinel
    # the pieces exercise 12 assembles
    from optimcourse.references import gradient_clipping, lr_schedulers, state_checkpointing

    assert given.split_weight_decay_params is param_groups.split_weight_decay_params
    assert (given.StateDict, given.save_checkpoint, given.load_checkpoint) == (
        state_checkpointing.StateDict,
        state_checkpointing.save_checkpoint,
        state_checkpointing.load_checkpoint,
    )
    assert given.clip_grad_norm_ is gradient_clipping.clip_grad_norm_
    assert (given.LinearLR, given.CosineAnnealingLR, given.SequentialLR) == (
        lr_schedulers.LinearLR,
        lr_schedulers.CosineAnnealingLR,
        lr_schedulers.SequentialLR,
    )


def test_a_student_may_not_hand_in_the_given_class_of_their_own_exercise():
    with pytest.raises(AssertionError, match="called Parameter.__init__ in manual_updates.py"):
        ch1.check_parameter(given.Parameter)
    with pytest.raises(AssertionError, match="called Optimizer.__init__ in param_groups.py"):
        ch3.check_optimizer_groups(given.Optimizer)

    class Sneaky(given.Adam):  # exercise 4's answer, reached through optimcourse.given
        pass

    with pytest.raises(AssertionError, match="course's own answer"):
        ch4.check_adam(Sneaky)


def test_later_exercises_may_use_what_earlier_ones_built():
    # exercise 4 builds on the given Optimizer and Parameter; its own answer passes with them
    ns = {}
    exec(compile((REFERENCES_DIR / "momentum_adam_adamw.py").read_text(), "<a student's notebook>", "exec"), ns)
    ch4.check_sgd(ns["SGD"])
    assert given.Adam.__module__ == "optimcourse.references.momentum_adam_adamw"


class _Idle(given.Optimizer):
    def step(self):
        pass


class _TorchIdle(torch.optim.Optimizer):
    def step(self, closure=None):
        pass


def test_the_given_optimizer_zero_grad_clears_every_group_like_torch():
    cases = []
    for seed in ALL_SEEDS:
        init, grads = problem(seed)
        split = len(init) // 2

        def groups(params, split=split):
            return [{"params": params[:split]}, {"params": params[split:], "lr": 0.5}]

        actions = (Step(tuple(grads[0])), ZeroGrad(False), Step(tuple(grads[1])), ZeroGrad(True), ZeroGrad(False))
        cases.append(
            OptimizerScenario(
                title="torch.optim.Optimizer.zero_grad over two groups",
                init=init,
                actions=actions,
                build=lambda impl, params, groups=groups: _Idle(groups(params), {"lr": 0.1}),
                build_torch=lambda params, groups=groups: _TorchIdle(groups(params), {"lr": 0.1}),
            )
        )
    # the scenario builds given.Optimizer whatever the names: no mutant library can tell them apart, and
    # none is checked here ("given" is no exercise), so the course's own classes may run
    verify("given.Optimizer.zero_grad", cases, {"Parameter": given.Parameter}, MutantLibrary("given", ()))


@pytest.mark.parametrize("first", ["manual_updates", "param_groups", "momentum_adam_adamw"])
def test_each_reference_imports_first_in_a_fresh_interpreter(first):
    # a page imports exercise 4's reference before anything else: the given pieces must not go round in a circle
    code = f"import optimcourse.references.{first}; import optimcourse.given as g; g.Adam, g.Optimizer"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
