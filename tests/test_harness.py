"""The comparison engine itself: delegation guard, silence on success, hints, trace semantics."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import notebook_runner as nr
from optimcourse import cases
from optimcourse.chapters import differentiable_step as ch8
from optimcourse.chapters import gradient_clipping as ch6
from optimcourse.chapters import manual_updates as ch1
from optimcourse.chapters import param_groups as ch3
from optimcourse.chapters import zero_grad as ch2
from optimcourse.course import ASSIGNMENTS, get_assignment
from optimcourse.mutants import Mutant, MutantLibrary
from optimcourse.trace import Raised, Trace, agree, first_disagreement


def reference(notebook: str = "manual_updates") -> dict:
    """A chapter's reference, defined the way a notebook defines it (not imported from the package)."""
    assignment = get_assignment(notebook)
    namespace: dict = {}
    exec(compile(assignment.reference_path().read_text(), "<reference>", "exec"), namespace)
    return namespace


def test_a_passing_check_writes_nothing_to_stderr(capfd):
    ref = reference()
    ch1.check_sgd_step(ref["SGD"], ref["Parameter"], seeds=ch1.HIDDEN_SEEDS)
    out, err = capfd.readouterr()
    assert err == "" and "OK: SGD.step matches" in out


def test_delegating_to_torch_fails_with_a_clear_message():
    ref = reference()

    class TorchSGD:  # right numbers, wrong exercise
        def __init__(self, params, lr=1e-3):
            self.params = list(params)
            self.tensors = [torch.from_numpy(p.data) for p in self.params]
            self.opt = torch.optim.SGD(self.tensors, lr=lr)

        def step(self):
            for p, t in zip(self.params, self.tensors):
                t.grad = None if p.grad is None else torch.from_numpy(p.grad)
            self.opt.step()

    with pytest.raises(AssertionError, match="your code called .*torch"):
        ch1.check_sgd_step(TorchSGD, ref["Parameter"])


def test_importing_the_reference_counts_as_delegation():
    from optimcourse.references.manual_updates import SGD, Parameter

    with pytest.raises(AssertionError, match="course's own answer"):
        ch1.check_sgd_step(SGD, Parameter)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31 - 1))
def test_the_reference_matches_torch_and_a_tiny_lr_error_does_not(seed):
    ref = reference()
    ch1.check_sgd_update(ref["sgd_update_"], ref["Parameter"], seeds=(seed,))

    def off_by_a_little(params, lr):
        ref["sgd_update_"](params, lr * (1 + 1e-4))

    with pytest.raises(AssertionError, match="differs from torch.optim.SGD"):
        ch1.check_sgd_update(off_by_a_little, ref["Parameter"], seeds=(seed,))


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(1, 2**31 - 1))
def test_gradient_accumulation_reference_matches_torch_on_random_batches(seed):
    ref = reference("zero_grad")
    ch2.check_accumulation_step(ref["accumulation_step_"], seeds=(seed,))
    ch2.check_accumulate_grad(ref["accumulate_grad_"], seeds=(seed,))
    ch2.check_zero_grad(ref["zero_grad_"], seeds=(seed,))


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(1, 2**31 - 1))
def test_param_groups_reference_matches_torch_on_random_layouts_and_a_small_lr_error_does_not(seed):
    ref = reference("param_groups")
    ch3.check_optimizer_groups(ref["Optimizer"], seeds=(seed,))
    ch3.check_optimizer_validation(ref["Optimizer"], seeds=(seed,))
    ch3.check_sgd_groups(ref["SGD"], seeds=(seed,))

    class OffByALittle(ref["SGD"]):
        def step(self):
            for group in self.param_groups:
                group["lr"] *= 1 + 1e-3
            super().step()
            for group in self.param_groups:
                group["lr"] /= 1 + 1e-3

    with pytest.raises(AssertionError, match="differs from torch.optim.SGD"):
        ch3.check_sgd_groups(OffByALittle, seeds=(seed,))


def test_failure_message_names_step_parameter_and_difference():
    ref = reference()

    calls = [0]

    def late_bug(params, lr):  # correct for two steps, then doubles the lr
        calls[0] += 1
        ref["sgd_update_"](params, lr if calls[0] <= 2 else 2 * lr)

    with pytest.raises(AssertionError) as info:
        ch1.check_sgd_update(late_bug, ref["Parameter"])
    message = str(info.value)
    for part in (
        "after step 3: parameter 0",
        "expected (torch)",
        "got (yours)",
        "max |difference|",
        "lr=0.1",
        "no known mistake matches",
    ):
        assert part in message, (part, message)


def test_agree_semantics():
    a = np.array([1.0, np.nan])
    assert agree(a, a.copy())
    assert not agree(a[:1], a)  # shape
    assert not agree(np.array([1.0 + 1e-6]), np.array([1.0]))
    assert agree(np.array([1.0 + 1e-8]), np.array([1.0]))
    assert agree(Raised(ValueError, "my words"), Raised(ValueError, "other words"))
    assert not agree(Raised(TypeError, ""), Raised(ValueError, ""))
    assert not agree(Raised(ValueError, " "), Raised(ValueError, "Invalid learning rate: -0.1"))
    assert not agree(None, np.zeros(2)) and agree(None, None)
    expected, got = Trace(), Trace()
    for t in (expected, got):
        t.add("a", np.zeros(2))
    got.add("b", True)
    assert first_disagreement(got, expected) == 1  # extra observations count as a difference


class _AgreesWithAnything:
    def __eq__(self, other):
        return True

    __hash__ = object.__hash__


def test_an_object_that_says_it_equals_anything_does_not_agree_inside_a_container():
    """A student's value whose __eq__ says True to everything, at any depth of what a check compares."""
    liar = _AgreesWithAnything()
    assert not agree(liar, 0.5)
    assert not agree([liar, 1], [0.5, 1]) and agree([0.5, 1], [0.5, 1])
    assert not agree((1, liar), (1, "x")) and agree((1, "x"), (1, "x"))
    assert not agree({"lr": liar}, {"lr": 0.1}) and agree({"lr": 0.1}, {"lr": 0.1})
    assert not agree({liar: 0.1}, {"lr": 0.1})  # a key that claims to be "lr"
    assert not agree({"state": {0: {"step": liar}}}, {"state": {0: {"step": 3.0}}})
    assert agree({"a": [np.ones(2)]}, {"a": [np.ones(2) + 1e-9]})  # arrays in containers: within tolerance


def test_a_mutant_edit_must_match_exactly_once():
    with pytest.raises(ValueError, match="occurs 0 times"):
        Mutant("x", "", (("not in the text", ""),)).apply("source")
    with pytest.raises(ValueError, match="occurs 2 times"):
        Mutant("x", "", (("a", "b"),)).apply("a a")


def _hints(library: MutantLibrary, check, names: tuple[str, ...], edits, seeds) -> list[str]:
    """The mistakes named when ``check`` fails on the chapter's reference with a student's ``edits``."""
    student = library.impl(Mutant("a-student", "", tuple(edits)))
    with pytest.raises(AssertionError) as failure:
        check(*(student[name] for name in names), seeds=seeds)
    return [m.name for m in library.mutants if f"'{m.name}'" in str(failure.value)]


ZERO_GRAD_BODY = (
    "            if p.grad is None:\n                continue\n            if set_to_none:\n"
    "                p.grad = None\n            else:\n                p.grad[...] = 0.0\n"
)


@pytest.mark.parametrize("seeds", [ch1.VISIBLE_SEEDS, ch1.HIDDEN_SEEDS], ids=["visible", "hidden"])
@pytest.mark.parametrize(
    "line, named",
    [
        # replaces every array, and np.zeros_like(None) makes a gradient where torch keeps None
        ("            p.grad = None if set_to_none else np.zeros_like(p.grad)\n", "zero-grad-zeros-like-none"),
        # skips None, but replaces the arrays it should fill in place
        (
            "            if p.grad is not None:\n"
            "                p.grad = None if set_to_none else np.zeros_like(p.grad)\n",
            "zero-grad-replaces-the-array",
        ),
    ],
)
def test_the_hint_names_the_zero_grad_mistake_the_code_made(seeds, line, named):
    assert _hints(ch1.MUTANTS, ch1.check_sgd_zero_grad, ("SGD", "Parameter"), [(ZERO_GRAD_BODY, line)], seeds) == [
        named
    ]


@pytest.mark.parametrize("seeds", [ch6.VISIBLE_SEEDS, ch6.HIDDEN_SEEDS], ids=["visible", "hidden"])
def test_np_fmin_is_named_as_the_nan_it_drops_not_as_a_threshold_test(seeds):
    """np.fmin(coef, 1.0) and `if total > max_norm` both leave NaN gradients unscaled; only the threshold
    test also leaves gradients just below max_norm unscaled, which the same check holds against torch."""
    edits = [("    clip_coef = np.minimum(clip_coef, 1.0)", "    clip_coef = np.fmin(clip_coef, 1.0)")]
    assert _hints(ch6.MUTANTS, ch6.check_clip_grad_norm_nonfinite, ("clip_grad_norm_",), edits, seeds) == [
        "nan-not-spread"
    ]


def test_a_mutant_that_parts_from_the_student_after_the_first_difference_is_not_named():
    """Two mistakes give the same first wrong value; only the one whose whole trace is the student's is named."""

    class Scenario:
        def __init__(self, fn_values):
            self.fn_values = fn_values

        def run(self, impl):
            trace = Trace()
            for x in self.fn_values:
                trace.add(f"f({x})", impl["f"](x))
            return trace

    library = MutantLibrary("manual_updates", ())
    doubles, squares = Mutant("doubles", "", ()), Mutant("squares", "", ())
    impls = {doubles.name: {"f": lambda x: 2 * x}, squares.name: {"f": lambda x: x * x}}
    library = MutantLibrary("manual_updates", (doubles, squares))
    object.__setattr__(library, "impl", lambda mutant: impls[mutant.name])
    scenario = Scenario([2.0, 3.0])
    expected = scenario.run({"f": lambda x: x + 1})  # the truth: 3, 4
    got = scenario.run({"f": lambda x: x * x})  # the student squares: 4, 9 (doubling also gives 4 first)
    assert first_disagreement(got, expected) == 0
    assert [m.name for m in library.matching(scenario, got, expected, 0)] == ["squares"]


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(1, 2**31 - 1))
def test_clipping_reference_matches_torch_at_every_scale(seed):
    ref = reference("gradient_clipping")
    ch6.check_clip_grad_norm(ref["clip_grad_norm_"], seeds=(seed,))
    ch6.check_clip_grad_norm_nonfinite(ref["clip_grad_norm_"], seeds=(seed,))
    ch6.check_clip_grad_value(ref["clip_grad_value_"], seeds=(seed,))
    ch6.check_clipped_accumulation_step(ref["clipped_accumulation_step_"], seeds=(seed,))


def _clip_value_entry_by_entry(params, clip_value):
    """An honest clip_grad_value_ a student writes with a loop (NaN entries stay NaN, as the prompt says)."""
    for p in params:
        if p.grad is None:
            continue
        for index in np.ndindex(p.grad.shape):
            if p.grad[index] > clip_value:
                p.grad[index] = clip_value
            elif p.grad[index] < -clip_value:
                p.grad[index] = -clip_value


# 12, 14 and 26 once drew clip_value=NaN (a median of no finite entry), which the loop above reads differently
@pytest.mark.parametrize("seed", [12, 14, 26, 101, 202, 303, 404, 505])
def test_clip_by_value_cases_are_what_the_prompt_asks_about(seed):
    assert all(math.isfinite(c) and c > 0 for _, c in ch6.clip_values(seed))
    ch6.check_clip_grad_value(_clip_value_entry_by_entry, seeds=(seed,))


def test_a_slightly_wrong_clipping_epsilon_is_caught():
    near_miss = Mutant("epsilon-1e-5", "", (("(total + 1e-6)", "(total + 1e-5)"),))  # torch adds 1e-6
    clip = MutantLibrary("gradient_clipping", (near_miss,)).impl(near_miss)["clip_grad_norm_"]
    with pytest.raises(AssertionError, match="differs from torch.nn.utils.clip_grad_norm_"):
        ch6.check_clip_grad_norm(clip)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(1, 2**31 - 1))
def test_hypergradient_reference_matches_torch_through_a_differentiable_step(seed):
    ref = reference("differentiable_step")
    ch8.check_gradients(ref["quadratic_grad"], ref["least_squares_grad"], seeds=(seed,))
    ch8.check_sgd_hypergradient(ref["sgd_hypergradient"], seeds=(seed,))
    ch8.check_momentum_hypergradient(ref["momentum_hypergradient"], seeds=(seed,))
    ch8.check_hypergradient_descent(ref["hypergradient_descent"], seeds=(seed,))


def test_a_hypergradient_off_by_a_little_is_caught():
    ref = reference("differentiable_step")

    def off(grad_fn, theta, lr):
        return ref["sgd_hypergradient"](grad_fn, theta, lr) * (1 + 1e-5)

    with pytest.raises(AssertionError, match="differs from autograd through torch.optim.SGD"):
        ch8.check_sgd_hypergradient(off)


def _numpy_scalars(value, where: str, depth: int = 0):
    """Where ``value`` holds a NumPy scalar: in itself, its items, or a Parameter's data and grad."""
    if isinstance(value, np.generic):
        yield where
    elif depth > 3:
        return
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            yield from _numpy_scalars(item, f"{where}[{i}]", depth + 1)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _numpy_scalars(item, f"{where}[{key!r}]", depth + 1)
    elif hasattr(value, "grad") and hasattr(value, "data"):
        yield from _numpy_scalars(value.grad, f"{where}.grad", depth + 1)
        yield from _numpy_scalars(value.data, f"{where}.data", depth + 1)
    elif hasattr(value, "param_groups"):
        yield from _numpy_scalars([g.get("params") for g in value.param_groups], f"{where}.param_groups", depth + 1)


@pytest.mark.parametrize("assignment", ASSIGNMENTS, ids=lambda a: a.notebook)
def test_students_get_arrays_where_torch_has_tensors(assignment):
    """Every value a check hands to the student's code (arguments, and the grads of the parameters it
    steps) is an array, also when 0-dim: arithmetic on a 0-dim array gives a NumPy scalar, which a
    student's honest `g *= coef` cannot change in place, and torch never hands out anything but tensors."""
    import contextlib
    import importlib
    import inspect
    import io
    import sys

    checks = importlib.import_module(f"optimcourse.chapters.{assignment.notebook}")
    ref = reference(assignment.notebook)
    found: set[tuple[str, str]] = set()

    def tracer(frame, event, arg):
        # calls into the student's code (here the reference, run as a notebook runs it) from the checks
        if (
            event == "call"
            and frame.f_code.co_filename == "<reference>"
            and (frame.f_back is None or frame.f_back.f_code.co_filename != "<reference>")
        ):
            code = frame.f_code
            for name in code.co_varnames[: code.co_argcount + code.co_kwonlyargcount]:
                found.update((code.co_qualname, w) for w in _numpy_scalars(frame.f_locals.get(name), name))
        return None

    for name, check in list(vars(checks).items()):
        if not name.startswith("check_") or not callable(check):
            continue
        names = [p.name for p in inspect.signature(check).parameters.values() if p.kind == p.POSITIONAL_OR_KEYWORD]
        for seeds in (checks.VISIBLE_SEEDS, checks.HIDDEN_SEEDS):
            previous = sys.gettrace()
            sys.settrace(tracer)
            try:
                with contextlib.redirect_stdout(io.StringIO()):
                    check(*(ref[n] for n in names), seeds=seeds)
            finally:
                sys.settrace(previous)
    assert not found, sorted(found)


def test_masks_and_counts_are_shown_as_they_are_and_compared_as_numbers():
    from optimcourse.trace import show

    assert show(np.array([True, False])) == "[True, False] (shape (2,), bool)"
    assert show(np.array([0, 3])) == "[0, 3] (shape (2,), int64)"
    assert agree(np.array([1.0, 0.0]), np.array([True, False]))  # a float mask is an honest mask
    assert not agree(np.array([True, True]), np.array([True, False]))


@pytest.mark.parametrize(
    "mutant, rule",
    [
        ("checkpoint-adds-npz-suffix", "expected (the course's rule): True"),  # which file save_checkpoint writes
        ("shapes-unchecked", "the course's rule raised ValueError"),  # torch does not check a state's shape
    ],
)
def test_a_failure_says_when_the_expected_value_is_the_courses_rule_not_torchs(mutant, rule):
    from optimcourse.chapters import state_checkpointing as ch5

    impl = ch5.MUTANTS.impl(next(m for m in ch5.MUTANTS.mutants if m.name == mutant))
    check = ch5.check_checkpoint_files if mutant.startswith("checkpoint") else ch5.check_load_state_dict_validation
    args = [impl["StateDict"], impl["save_checkpoint"], impl["load_checkpoint"]][
        : 3 if mutant.startswith("checkpoint") else 1
    ]
    with pytest.raises(AssertionError) as failure:
        check(*args)
    assert rule in str(failure.value) and "torch did not raise" not in str(failure.value)


def test_a_shared_run_is_computed_once_and_read_back_the_same(tmp_path, monkeypatch):
    monkeypatch.setenv(nr.SHARED_RUNS, str(tmp_path))
    assignment = ASSIGNMENTS[0]
    nb = nr.with_solution_code(nr.read(assignment.solution_path()), nr.stub_code(assignment))
    first = nr.run_shared(nb)
    assert len(list(tmp_path.glob("*.json"))) == 1 and not any(r.passed for r in first)
    monkeypatch.setattr(nr, "run", lambda nb: pytest.fail("computed again"))
    assert nr.run_shared(nb) == first
    other = nr.with_solution_code(nr.read(assignment.solution_path()), nr.solution_code(assignment))
    with pytest.raises(pytest.fail.Exception, match="computed again"):
        nr.run_shared(other)  # another notebook is another key
    monkeypatch.setenv(cases.GRADING_SEED_VARIABLE, "another term")
    with pytest.raises(pytest.fail.Exception, match="computed again"):
        nr.run_shared(nb)  # another grading secret draws other hidden cases


def test_a_function_of_the_graders_handed_to_the_students_code_may_use_torch_and_the_student_may_not():
    from optimcourse.guard import DelegationError, call_student, graders_own

    def loss(x):  # the grader's: a loss computed by torch, called back by the student's code
        return float(torch.tensor(x).square().sum())

    def student(callback):
        return callback(3.0) + 1.0

    def sneaky(callback):
        callback(3.0)
        return float(torch.tensor(1.0))

    assert call_student(student, graders_own(loss)) == 10.0
    with pytest.raises(DelegationError, match="torch"):
        call_student(student, loss)  # not marked as the grader's: the torch calls count as the student's
    with pytest.raises(DelegationError, match="torch"):
        call_student(sneaky, graders_own(loss))  # the student's own torch call, after the callback, still counts


@pytest.mark.parametrize("rtol, passes", [(None, True), (1e-10, False)])
def test_a_scenario_is_judged_by_its_own_tolerance_where_it_sets_one(rtol, passes):
    from optimcourse.scenarios import ObserveScenario
    from optimcourse.side import is_torch, torch_side
    from optimcourse.verify import verify

    def observe(names, call):
        trace = Trace()
        trace.add("a value", np.array(1.0 if is_torch(names) else 1.0 + 1e-9))
        return trace

    extra = {} if rtol is None else {"rtol": rtol, "atol": 0.0}
    scenario = ObserveScenario(title="a rule", observe=observe, torch_impl=torch_side(), **extra)
    if passes:
        verify("value", [scenario], {}, MutantLibrary("given", ()))
        return
    with pytest.raises(AssertionError, match=r"tolerance rtol=1e-10, atol=0"):
        verify("value", [scenario], {}, MutantLibrary("given", ()))


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(1, 2**31 - 1))
def test_training_loop_reference_matches_torch_on_random_cases(seed):
    from optimcourse.chapters import training_loop as ch12

    ref = reference("training_loop")
    ch12.check_make_optimizer(ref["make_optimizer"], seeds=(seed,))
    ch12.check_make_scheduler(ref["make_scheduler"], seeds=(seed,))
    ch12.check_train_step(ref["train_step"], seeds=(seed,))
    ch12.check_save_and_resume(ref["save_run"], ref["resume_run"], seeds=(seed,))
    ch12.check_train(ref["train"], seeds=(seed,))


def test_the_training_loop_catches_one_step_whose_lr_is_off_by_a_part_in_a_billion():
    """What chapter 12's page says its tolerance is for."""
    from optimcourse.chapters import training_loop as ch12

    ref = reference("training_loop")
    calls = [0]

    def train_step(params, optimizer, scheduler, *args):
        calls[0] += 1
        off = 1 + 1e-9 if calls[0] == 3 else 1.0  # step 3's lr only: the schedule is put back after it
        for group in optimizer.param_groups:
            group["lr"] *= off
        loss = ref["train_step"](params, optimizer, scheduler, *args)
        for group in optimizer.param_groups:
            group["lr"] /= off
        return loss

    with pytest.raises(AssertionError, match=r"after step 3: .*\n.*\n.*\n.*tolerance rtol=1e-10"):
        ch12.check_train_step(train_step)


def test_the_training_loops_callback_takes_plain_arrays_only():
    """Chapter 12's loss_and_grads runs where the guard does not watch: an array subclass handed to it
    (whose methods are the student's code) is refused, not converted."""
    from optimcourse.chapters import training_loop as ch12

    class Sneaky(np.ndarray):
        pass

    c = ch12.case(0)
    loss_and_grads = ch12._loss_and_grads(c)
    x, y = c.batches[0][0]
    loss, grads = loss_and_grads([v.copy() for v in c.init], x, y)
    assert isinstance(loss, float) and [g.shape for g in grads] == [v.shape for v in c.init]
    with pytest.raises(TypeError, match="must be an array"):
        loss_and_grads([c.init[0].view(Sneaky), *c.init[1:]], x, y)
    with pytest.raises(TypeError, match="x and y as the arrays"):
        loss_and_grads(list(c.init), x.view(Sneaky), y)
