"""Chapter 11 (11-lr-schedulers): the learning rate schedulers of ``torch.optim.lr_scheduler``.

The student writes ``LRScheduler`` and eight schedulers on the course's ``Optimizer`` (exercise 3's, with
exercise 4's ``SGD`` and ``Adam``). Each check builds the same schedule twice, with the student's class on
the course's optimizer and with torch's on ``torch.optim``, over several parameter groups with different
learning rates, steps both for hundreds of steps and compares, after the constructor and after every step:
each group's ``lr`` (and ``momentum`` or ``betas`` where the schedule cycles them), ``get_last_lr()`` and
``last_epoch``; after the constructor also ``base_lrs`` and each group's ``initial_lr``.

Learning rates are compared divided by their group's starting lr (``max_lr`` for OneCycleLR), so that the
tolerance is relative to the lr whatever its size. On a plain run torch's chainable form and the closed
form agree to about 1e-13 (see the chapter), which no tolerance can tell apart: the runs therefore halve
one group's lr by hand part-way, as a user might, after which the two forms part for good. Every run is
also cut in two: ``state_dict()`` after some step, fresh optimizer and scheduler, the optimizer's groups
and then the scheduler's state loaded, and the run continued, which must go on exactly as torch's.
Where torch has a closed form, the run ends with jumps: ``_update_lr(epoch)`` (torch's deprecated
``step(epoch)``) to earlier and later epochs. And each scheduler of a fixed schedule is also built with
``last_epoch >= 0`` on groups that hold an ``initial_lr``, as when a run is resumed by hand.
The hidden tests also run the scheduler combinations PyTorch's own optimizer tests step with an optimizer
(``scheduler_inputs`` of its ``optim_db``, read from the installed torch), where they use only the exercise's
classes: single schedulers, and several chained on one optimizer (in the SequentialLR test, which has them all).
Bad arguments must raise what torch raises (the exception's type, with a message), except where torch's
exception is an accident of its code (LambdaLR reads ``optimizer.param_groups`` before the base class
checks the optimizer): there the base class's ``TypeError`` is as good.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch.optim import lr_scheduler

from ..cases import HIDDEN_SEEDS, VISIBLE_SEEDS, is_visible
from ..guard import DelegationError
from ..mutants import load_mutants
from ..scenarios import ObserveScenario
from ..side import gather, given_piece, is_torch, materialize, torch_side
from ..torch_configs import torch_scheduler_inputs
from ..trace import Raised, Trace
from ..verify import verify

__all__ = [
    "CLASSES",
    "HIDDEN_SEEDS",
    "MUTANTS",
    "VISIBLE_SEEDS",
    "check_cosine_annealing_lr",
    "check_lambda_lr",
    "check_linear_lr",
    "check_multistep_lr",
    "check_one_cycle_lr",
    "check_reduce_lr_on_plateau",
    "check_sequential_lr",
    "check_step_lr",
    "plateau_metrics",
]

MUTANTS = load_mutants("lr_schedulers")  # lr_schedulers.mutants.toml

#: the classes the exercise asks for, by torch's names
CLASSES = (
    "LRScheduler",
    "LambdaLR",
    "StepLR",
    "MultiStepLR",
    "LinearLR",
    "CosineAnnealingLR",
    "OneCycleLR",
    "ReduceLROnPlateau",
    "SequentialLR",
)

TORCH_NAMES = torch_side({name: getattr(lr_scheduler, name) for name in CLASSES})

#: what makes a scheduler: (the names of one side, the optimizer) -> the scheduler; the cases' lambdas bind
#: their arguments as defaults, hence the open signature
Make = Callable[..., Any]


# -- one schedule, run on both sides ---------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    """A schedule: an optimizer over ``len(lrs)`` groups, a scheduler made by ``make``, ``steps`` steps."""

    words: str  # the scheduler's arguments, in words
    make: Make
    lrs: tuple[float, ...]  # each group's lr when the optimizer is built
    steps: int
    optimizer: str = "SGD"  # or "Adam"
    scales: tuple[float, ...] = ()  # each group's lr is compared divided by this (default: lrs)
    watch: tuple[str, ...] = ()  # group entries compared besides lr: "momentum", "betas"
    metrics: tuple[float, ...] = ()  # ReduceLROnPlateau: step(metrics[t - 1]) at step t
    halve_at: int | None = None  # after this step, group 0's lr is halved by hand
    resume_at: int | None = None  # after this step, state_dict() into fresh objects
    jumps: tuple[int, ...] = ()  # after the last step, _update_lr(epoch) to each (the closed form), then a step
    has_base_lrs: bool = True  # SequentialLR and ReduceLROnPlateau keep none

    def describe(self) -> str:
        parts = [
            f"{self.words} on {self.optimizer} over {len(self.lrs)} group(s) with lr "
            + ", ".join(f"{lr:.4g}" for lr in self.lrs),
            f"{self.steps} step(s)",
        ]
        if self.halve_at is not None:
            parts.append(f"after step {self.halve_at} group 0's lr is halved by hand")
        if self.resume_at is not None:
            parts.append(
                f"after step {self.resume_at}: state_dict(), a new optimizer and scheduler, the optimizer's "
                "groups loaded, then load_state_dict(), and the run goes on with them"
            )
        if self.jumps:
            parts.append(
                "then _update_lr(epoch) (torch's deprecated step(epoch)) to epoch "
                + ", ".join(str(e) for e in self.jumps)
                + " in turn, and one step() after the last"
            )
        return "; ".join(parts)


def _optimizer(names: Any, kind: str, lrs: Sequence[float]) -> Any:
    """An optimizer over one parameter per group, each group with its own lr; torch's or the course's."""
    if is_torch(names):
        params = [torch.zeros(1, dtype=torch.float64, requires_grad=True) for _ in lrs]
        cls: Any = getattr(torch.optim, kind)
    else:
        params = [given_piece("Parameter")(np.zeros(1)) for _ in lrs]
        cls = given_piece(kind)
    groups = [{"params": [p], "lr": lr} for p, lr in zip(params, lrs)]
    hyper = {"momentum": 0.9} if kind == "SGD" else {"betas": (0.9, 0.99)}
    return cls(groups, lr=lrs[0], **hyper)


def _number(value: Any, scale: float = 1.0) -> Any:
    """A float (or 0-dim array) as a 0-dim float64 array divided by ``scale``; anything else as it is."""
    if isinstance(value, (float, int, np.floating, np.integer, np.ndarray)) and not isinstance(value, bool):
        try:
            return np.array(float(value) / scale)
        except (TypeError, ValueError):
            return value
    return value


def _numbers(values: Any, scales: Sequence[float]) -> Any:
    """A list of floats, one per group, as one float64 array (each divided by its scale)."""
    values = materialize(values)
    if not isinstance(values, (list, tuple)):
        return values if values is None or isinstance(values, (str, int)) else type(values).__name__
    try:
        return np.array([float(v) / s for v, s in zip(values, scales)] + [float(v) for v in values[len(scales) :]])
    except (TypeError, ValueError):
        return str(values)


def _count(value: Any) -> Any:
    """last_epoch as a plain int (a NumPy integer is the same count)."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return int(value)
    return value


def _reads(run: Run, opt: Any, scheduler: Any, built: bool = False) -> list[tuple[Any, ...]]:
    """What one observation reads (side.gather's items: one request under course-grade, and a run observes
    every step)."""
    items = [(opt, "attr", "param_groups"), (scheduler, "call", "get_last_lr"), (scheduler, "attr", "last_epoch")]
    if built and run.has_base_lrs:
        items.append((scheduler, "attr", "base_lrs"))
    return items


def _record(trace: Trace, label: str, run: Run, values: Sequence[Any], built: bool = False) -> None:
    """Add what :func:`_reads` read to the trace."""
    scales = run.scales or run.lrs
    groups, last_lr, last_epoch, *base_lrs = values
    for i, (group, scale) in enumerate(zip(groups, scales)):
        trace.add(f"{label}: group {i} lr / {scale:.4g}", _number(group.get("lr"), scale))
        if built:
            trace.add(f"{label}: group {i} initial_lr / {scale:.4g}", _number(group.get("initial_lr"), scale))
        for key in run.watch:
            value = group.get(key)
            shown = _number(value) if key == "momentum" else (np.array(value, dtype=np.float64) if value else value)
            trace.add(f"{label}: group {i} {key}", shown)
    trace.add(f"{label}: get_last_lr() / the groups' scales", _numbers(last_lr, scales))
    trace.add(f"{label}: last_epoch", _count(last_epoch))
    if base_lrs:
        trace.add(f"{label}: base_lrs / the groups' scales", _numbers(base_lrs[0], scales))


def _observe(trace: Trace, label: str, run: Run, opt: Any, scheduler: Any, call: Any, built: bool = False) -> None:
    _record(trace, label, run, gather(_reads(run, opt, scheduler, built), call).result(), built)


def _load_groups(names: Any, new: Any, old: Any) -> None:
    """The optimizer's part of a resume: its groups' settings (lr, initial_lr, ...) into the new one."""
    if is_torch(names):
        new.load_state_dict(old.state_dict())
        return
    for target, saved in zip(new.param_groups, materialize(old.param_groups)):
        for key, value in saved.items():
            if key != "params":
                target[key] = value


def _observe_run(run: Run) -> Callable[[Any, Callable[..., Any]], Trace]:
    def observe(names: Any, call: Callable[..., Any]) -> Trace:
        trace = Trace()
        opt = _optimizer(names, run.optimizer, run.lrs)
        try:
            scheduler = call(run.make, names, opt)
            _observe(trace, "after the constructor", run, opt, scheduler, call, built=True)
            for t in range(1, run.steps + 1):
                label = f"step {t}"
                if is_torch(names):
                    opt.step()  # torch warns when a scheduler steps before its optimizer
                metric = (run.metrics[t - 1],) if run.metrics else ()
                # the step and what follows it, in one request under course-grade
                stepped = gather([(scheduler, "call", "step", *metric), *_reads(run, opt, scheduler)], call)
                if stepped.failed is not None and not stepped.values:  # torch's OneCycleLR past total_steps
                    trace.add(label, Raised.from_exception(stepped.failed))
                    return trace
                _record(trace, f"after {label}", run, stepped.result()[1:])
                if t == run.halve_at:
                    opt.param_groups[0]["lr"] = opt.param_groups[0]["lr"] / 2
                if t == run.resume_at:
                    state = call(scheduler.state_dict)
                    fresh = _optimizer(names, run.optimizer, run.lrs)
                    # as torch's documentation orders it: the scheduler first, then both states
                    scheduler = call(run.make, names, fresh)
                    _load_groups(names, fresh, opt)
                    call(scheduler.load_state_dict, state)
                    opt = fresh
                    _observe(trace, f"after resuming from the state after {label}", run, opt, scheduler, call)
            for epoch in run.jumps:
                if is_torch(names):
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")  # step(epoch) is deprecated: it warns each time
                        scheduler.step(epoch)
                else:
                    call(scheduler._update_lr, epoch)
                _observe(trace, f"after _update_lr({epoch})", run, opt, scheduler, call)
            if run.jumps:
                call(scheduler.step)
                _observe(trace, f"after a step() following _update_lr({run.jumps[-1]})", run, opt, scheduler, call)
        except DelegationError:
            raise
        except Exception as exc:
            trace.add("the run", Raised.from_exception(exc))
        return trace

    return observe


def _runs(title: str, runs: Sequence[Run]) -> list[ObserveScenario]:
    return [
        ObserveScenario(title=title, observe=_observe_run(run), torch_impl=TORCH_NAMES, words=run.describe())
        for run in runs
    ]


# -- arguments torch refuses ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Refusal:
    words: str  # the call, in words
    make: Make
    optimizer: str = "SGD"
    lrs: tuple[float, ...] = (0.1, 0.03)
    fresh_groups: bool = False  # the groups have no initial_lr (no scheduler was ever built on them)
    #: exception types taken as one: where torch's exception is an accident of its code, not a check
    either: tuple[type[Exception], ...] = ()


def _observe_refusals(refusals: Sequence[Refusal]) -> Callable[[Any, Callable[..., Any]], Trace]:
    def observe(names: Any, call: Callable[..., Any]) -> Trace:
        trace = Trace()
        for refusal in refusals:
            opt = _optimizer(names, refusal.optimizer, refusal.lrs)
            try:
                call(refusal.make, names, opt)
                trace.add(refusal.words, "returned")
            except DelegationError:
                raise
            except Exception as exc:
                if refusal.either and isinstance(exc, refusal.either):
                    trace.add(refusal.words, "raised " + " or ".join(t.__name__ for t in refusal.either))
                else:
                    trace.add(refusal.words, Raised.from_exception(exc))
        return trace

    return observe


def _refusals(title: str, refusals: Sequence[Refusal]) -> list[ObserveScenario]:
    return [
        ObserveScenario(
            title=f"{title} with arguments it refuses",
            observe=_observe_refusals(refusals),
            torch_impl=TORCH_NAMES,
            words="; ".join(r.words for r in refusals),
        )
    ]


def _not_an_optimizer(cls: str, *args: Any, **kwargs: Any) -> Refusal:
    """The scheduler given the parameters instead of the optimizer: torch raises TypeError, except LambdaLR,
    which reads ``optimizer.param_groups`` before the base class checks: its AttributeError is an accident,
    and a student's TypeError from checking first is as good."""
    return Refusal(
        f"{cls}(<a list of parameters, not an optimizer>, ...)",
        lambda names, opt: names[cls](list(opt.param_groups[0]["params"]), *args, **kwargs),
        either=(TypeError, AttributeError) if cls == "LambdaLR" else (),
    )


def _resumed_without_initial_lr(cls: str, *args: Any, **kwargs: Any) -> Refusal:
    """last_epoch >= 0 on groups no scheduler has set initial_lr in: torch raises KeyError."""
    return Refusal(
        f"{cls}(optimizer, ..., last_epoch=3) on groups without 'initial_lr'",
        lambda names, opt: names[cls](opt, *args, last_epoch=3, **kwargs),
    )


# -- the draws: seed 0 visible and fixed, the hidden seeds at random -----------------------------------------


def _rng(seed: int, part: int) -> np.random.Generator:
    return np.random.default_rng([seed, 11, part])


def _group_lrs(rng: np.random.Generator, seed: int) -> tuple[float, ...]:
    if is_visible(seed):
        return (0.1, 0.03, 0.5)
    return tuple(float(10 ** rng.uniform(-4, 0)) for _ in range(int(rng.integers(1, 5))))


def _lambda(kind: int, a: float) -> Callable[[int], float]:
    """A multiplicative factor of the epoch: decay, inverse time, warmup, a staircase."""
    if kind == 0:
        return lambda epoch: a**epoch
    if kind == 1:
        return lambda epoch: 1.0 / (1.0 + a * epoch)
    if kind == 2:
        return lambda epoch: min(1.0, (epoch + 1) * a)
    return lambda epoch: 0.5 ** (epoch // max(1, round(1 / a)))


_LAMBDA_WORDS = (
    "{a:.4g} ** epoch",
    "1 / (1 + {a:.4g} * epoch)",
    "min(1, (epoch + 1) * {a:.4g})",
    "0.5 ** (epoch // {n})",
)


def _lambda_words(kind: int, a: float) -> str:
    return "lambda epoch: " + _LAMBDA_WORDS[kind].format(a=a, n=max(1, round(1 / a)))


def lambda_runs(seed: int) -> list[Run]:
    rng = _rng(seed, 1)
    lrs = _group_lrs(rng, seed)
    if is_visible(seed):
        laws = [(0, 0.97), (1, 0.05), (2, 0.1)]
        steps, halve, resume = 200, 50, 120
    else:
        laws = [(int(rng.integers(4)), float(rng.uniform(0.02, 0.99))) for _ in lrs]
        steps = int(rng.integers(60, 240))
        halve, resume = int(rng.integers(1, steps // 2)), int(rng.integers(steps // 2, steps))
    lambdas = [_lambda(k, a) for k, a in laws]
    words = "LambdaLR(optimizer, [" + ", ".join(_lambda_words(k, a) for k, a in laws) + "])"
    first = float(rng.uniform(0.2, 0.9)) if not is_visible(seed) else 0.5
    second = float(rng.uniform(0.9, 0.999)) if not is_visible(seed) else 0.98
    by_hand = 40 if is_visible(seed) else int(rng.integers(0, steps))
    return [
        Run(
            words,
            lambda names, opt, fs=tuple(lambdas): names["LambdaLR"](opt, list(fs)),
            lrs,
            steps,
            halve_at=halve,
            resume_at=resume,
        ),
        Run(
            f"LambdaLR(optimizer, lambda epoch: {first:.4g}), then a second "
            f"LambdaLR(optimizer, lambda epoch: {second:.4g} ** epoch) on the same optimizer, which is stepped",
            lambda names, opt, a=first, b=second: (
                names["LambdaLR"](opt, lambda epoch: a),
                names["LambdaLR"](opt, lambda epoch: b**epoch),
            )[1],
            lrs,
            steps // 2,
            resume_at=steps // 4,
        ),
        Run(
            _by_hand_words(words, by_hand),
            _by_hand(lambda names, opt, epoch, fs=tuple(lambdas): names["LambdaLR"](opt, list(fs), epoch), by_hand),
            lrs,
            20,
        ),
    ]


def lambda_refusals() -> list[Refusal]:
    return [
        Refusal(
            "LambdaLR(optimizer, [f, f, f]) on an optimizer with 2 groups",
            lambda names, opt: names["LambdaLR"](opt, [_lambda(0, 0.9)] * 3),
        ),
        _not_an_optimizer("LambdaLR", _lambda(0, 0.9)),
        _resumed_without_initial_lr("LambdaLR", _lambda(0, 0.9)),
    ]


def _halve_and_resume(rng: np.random.Generator, seed: int, steps: int, visible: tuple[int, int]) -> tuple[int, int]:
    if is_visible(seed):
        return visible
    return int(rng.integers(1, steps // 2)), int(rng.integers(steps // 2, steps))


def _jumps(rng: np.random.Generator, seed: int, steps: int, visible: tuple[int, ...]) -> tuple[int, ...]:
    """Epochs to jump to with _update_lr(epoch): epoch 0, and three drawn up to past the run's end."""
    if is_visible(seed):
        return visible
    return (0, *(int(e) for e in rng.integers(1, steps + 50, size=3)))


def _resumed_by_hand(opt: Any) -> Any:
    """``opt`` as a user who resumes by hand leaves it: every group's lr has decayed to half its
    initial_lr, which the scheduler built with ``last_epoch >= 0`` must start from."""
    for group in opt.param_groups:
        group["initial_lr"] = 2 * group["lr"]
    return opt


def _by_hand(make: Make, epoch: int) -> Make:
    return lambda names, opt: make(names, _resumed_by_hand(opt), epoch)


def _by_hand_words(words: str, epoch: int) -> str:
    return (
        f"{words[:-1]}, last_epoch={epoch}) on groups whose initial_lr is twice their lr (a run resumed by "
        "hand, without state_dict)"
    )


def step_runs(seed: int) -> list[Run]:
    rng = _rng(seed, 2)
    lrs = _group_lrs(rng, seed)
    step_size, gamma = (7, 0.8) if is_visible(seed) else (int(rng.integers(1, 30)), float(rng.uniform(0.1, 0.99)))
    steps = 200 if is_visible(seed) else int(rng.integers(60, 240))
    halve, resume = _halve_and_resume(rng, seed, steps, (30, 100))
    jumps = _jumps(rng, seed, steps, (0, 23, 230, 7))
    by_hand = 13 if is_visible(seed) else int(rng.integers(0, 3 * step_size + 2))
    words = f"StepLR(optimizer, step_size={step_size}, gamma={gamma:.4g})"

    def make(names: Any, opt: Any, epoch: int = -1) -> Any:
        return names["StepLR"](opt, step_size, gamma=gamma, last_epoch=epoch)

    return [
        Run(words, make, lrs, steps, halve_at=halve, resume_at=resume, jumps=jumps),
        Run(_by_hand_words(words, by_hand), _by_hand(make, by_hand), lrs, 3 * step_size),
    ]


def multistep_runs(seed: int) -> list[Run]:
    rng = _rng(seed, 3)
    lrs = _group_lrs(rng, seed)
    steps = 200 if is_visible(seed) else int(rng.integers(60, 240))
    if is_visible(seed):
        milestones, gamma = [10, 30, 30, 55, 120], 0.5
    else:
        milestones = sorted(int(m) for m in rng.integers(1, steps, size=int(rng.integers(2, 7))))
        milestones.insert(int(rng.integers(len(milestones))), milestones[int(rng.integers(len(milestones)))])
        gamma = float(rng.uniform(0.1, 0.9))
    halve, resume = _halve_and_resume(rng, seed, steps, (20, 40))
    jumps = _jumps(rng, seed, steps, (0, 30, 29, 150))
    by_hand = 27 if is_visible(seed) else int(rng.integers(0, max(milestones) + 1))
    words = f"MultiStepLR(optimizer, milestones={milestones}, gamma={gamma:.4g})"

    def make(names: Any, opt: Any, epoch: int = -1) -> Any:
        return names["MultiStepLR"](opt, list(milestones), gamma=gamma, last_epoch=epoch)

    return [
        Run(words, make, lrs, steps, halve_at=halve, resume_at=resume, jumps=jumps),
        Run(_by_hand_words(words, by_hand), _by_hand(make, by_hand), lrs, max(milestones) + 5),
    ]


def linear_runs(seed: int) -> list[Run]:
    rng = _rng(seed, 4)
    lrs = _group_lrs(rng, seed)
    if is_visible(seed):
        configs = [(0.1, 1.0, 37, 200, 10, 20), (1.0, 0.2, 50, 120, 60, 25)]
    else:
        configs = []
        for warmup in (True, False):
            start, end = sorted(float(f) for f in rng.uniform(0.01, 1.0, size=2))
            total = int(rng.integers(1, 100))
            steps = int(rng.integers(total + 10, total + 120))
            configs.append(
                (start, end, total, steps, int(rng.integers(1, steps)), int(rng.integers(1, steps)))
                if warmup
                else (end, start, total, steps, int(rng.integers(1, steps)), int(rng.integers(1, steps)))
            )
    runs = []
    for i, (start, end, total, steps, halve, resume) in enumerate(configs):
        words = f"LinearLR(optimizer, start_factor={start:.4g}, end_factor={end:.4g}, total_iters={total})"

        def make(names: Any, opt: Any, epoch: int = -1, s: float = start, e: float = end, n: int = total) -> Any:
            return names["LinearLR"](opt, start_factor=s, end_factor=e, total_iters=n, last_epoch=epoch)

        jumps = _jumps(rng, seed, steps, (0, total // 2, total, total + 7))
        runs.append(Run(words, make, lrs, steps, halve_at=halve, resume_at=resume, jumps=jumps))
        if i == 0:
            by_hand = total // 3 if is_visible(seed) else int(rng.integers(0, total + 1))
            runs.append(Run(_by_hand_words(words, by_hand), _by_hand(make, by_hand), lrs, total + 5))
    return runs


def linear_refusals() -> list[Refusal]:
    out = [
        Refusal(
            f"LinearLR(optimizer, {key}={value})",
            lambda names, opt, k=key, v=value: names["LinearLR"](opt, **{k: v}),
        )
        for key, value in (("start_factor", 0.0), ("start_factor", 1.5), ("end_factor", -0.1), ("end_factor", 1.2))
    ]
    return [*out, _not_an_optimizer("LinearLR"), _resumed_without_initial_lr("LinearLR")]


def cosine_runs(seed: int) -> list[Run]:
    rng = _rng(seed, 5)
    lrs = _group_lrs(rng, seed)
    if is_visible(seed):
        T_max, eta_min, steps = 40, 0.001, 300
    else:
        T_max = int(rng.integers(2, 80))
        eta_min = float(rng.choice([0.0, float(10 ** rng.uniform(-6, -3))]))
        steps = int(rng.integers(2 * T_max + 2, 2 * T_max + 120))
    halve, resume = _halve_and_resume(rng, seed, steps, (20, 150))
    jumps = _jumps(rng, seed, steps, (0, 7, T_max, T_max + 3, 2 * T_max + 1))
    by_hand = 25 if is_visible(seed) else int(rng.integers(0, 2 * T_max))
    words = f"CosineAnnealingLR(optimizer, T_max={T_max}, eta_min={eta_min:.4g})"

    def make(names: Any, opt: Any, epoch: int = -1) -> Any:
        return names["CosineAnnealingLR"](opt, T_max=T_max, eta_min=eta_min, last_epoch=epoch)

    return [
        Run(words, make, lrs, steps, halve_at=halve, resume_at=resume, jumps=jumps),
        Run(_by_hand_words(words, by_hand), _by_hand(make, by_hand), lrs, T_max + 5),
    ]


def one_cycle_runs(seed: int) -> list[Run]:
    rng = _rng(seed, 6)
    lrs = _group_lrs(rng, seed)
    n = len(lrs)
    if is_visible(seed):
        max_lrs = [1.0, 0.3, 2.0]
        total, pct, div, final_div, steps_per_epoch = 200, 0.3, 25.0, 1e4, 25
    else:
        max_lrs = [float(10 ** rng.uniform(-3, 1)) for _ in range(n)]
        steps_per_epoch = int(rng.integers(5, 25))
        total = steps_per_epoch * int(rng.integers(4, 10))
        pct = float(rng.uniform(0.15, 0.45))
        div, final_div = float(rng.uniform(5, 50)), float(10 ** rng.uniform(2, 5))
    epochs = total // steps_per_epoch
    sgd = Run(
        f"OneCycleLR(optimizer, max_lr={[round(m, 6) for m in max_lrs]}, total_steps={total}, pct_start={pct:.4g}, "
        f"div_factor={div:.4g}, final_div_factor={final_div:.4g}), stepped once past total_steps",
        lambda names, opt, m=tuple(max_lrs), t=total, p=pct, d=div, f=final_div: names["OneCycleLR"](
            opt, list(m), total_steps=t, pct_start=p, div_factor=d, final_div_factor=f
        ),
        lrs,
        total + 1,
        scales=tuple(max_lrs),
        watch=("momentum",),
        resume_at=total // 2,
    )
    adam = Run(
        f"OneCycleLR(optimizer, max_lr={max_lrs[0]:.4g}, epochs={epochs}, steps_per_epoch={steps_per_epoch}, "
        f"pct_start={pct / 1.5:.4g}, anneal_strategy='linear', three_phase=True, base_momentum=0.8, "
        "max_momentum=0.9)",
        lambda names, opt, m=max_lrs[0], e=epochs, s=steps_per_epoch, p=pct / 1.5: names["OneCycleLR"](
            opt,
            m,
            epochs=e,
            steps_per_epoch=s,
            pct_start=p,
            anneal_strategy="linear",
            three_phase=True,
            base_momentum=0.8,
            max_momentum=0.9,
        ),
        lrs,
        epochs * steps_per_epoch,
        optimizer="Adam",
        scales=(max_lrs[0],) * n,
        watch=("betas",),
        resume_at=epochs * steps_per_epoch // 3,
    )
    still = Run(
        f"OneCycleLR(optimizer, max_lr={max_lrs[-1]:.4g}, total_steps={total}, three_phase=True, "
        "cycle_momentum=False), on groups that already hold an initial_lr (the optimizer's state from an "
        "earlier run, loaded before the new schedule is built)",
        lambda names, opt, m=max_lrs[-1], t=total: names["OneCycleLR"](
            _with_initial_lr(opt), m, total_steps=t, three_phase=True, cycle_momentum=False
        ),
        lrs,
        total,
        scales=(max_lrs[-1],) * n,
        watch=("momentum",),
    )
    return [sgd, adam, still]


def _with_initial_lr(opt: Any) -> Any:
    """``opt`` with an initial_lr in every group, as a scheduler of an earlier run leaves it."""
    for group in opt.param_groups:
        group["initial_lr"] = group["lr"]
    return opt


def one_cycle_refusals() -> list[Refusal]:
    def cycle(**kwargs: Any) -> Make:
        return lambda names, opt: names["OneCycleLR"](opt, **{"max_lr": 1.0, "total_steps": 100, **kwargs})

    return [
        Refusal("OneCycleLR(optimizer, 1.0, total_steps=0)", cycle(total_steps=0)),
        Refusal("OneCycleLR(optimizer, 1.0) without total_steps or epochs", cycle(total_steps=None)),
        Refusal(
            "OneCycleLR(optimizer, 1.0, epochs=0, steps_per_epoch=10)",
            cycle(total_steps=None, epochs=0, steps_per_epoch=10),
        ),
        Refusal("OneCycleLR(optimizer, 1.0, total_steps=100, pct_start=1.5)", cycle(pct_start=1.5)),
        Refusal("OneCycleLR(optimizer, 1.0, total_steps=100, pct_start=1) (an int)", cycle(pct_start=1)),
        Refusal("OneCycleLR(optimizer, 1.0, total_steps=100, anneal_strategy='exp')", cycle(anneal_strategy="exp")),
        Refusal("OneCycleLR(optimizer, [1.0, 2.0, 3.0], total_steps=100) on 2 groups", cycle(max_lr=[1.0, 2.0, 3.0])),
        Refusal(
            "OneCycleLR(optimizer, 1.0, total_steps=100, max_momentum=[0.9]) on 2 groups", cycle(max_momentum=[0.9])
        ),
        Refusal(
            "OneCycleLR(Optimizer(params, {'lr': 0.1}), 1.0, total_steps=100): no momentum or betas to cycle",
            lambda names, opt: names["OneCycleLR"](_bare_optimizer(names, opt), 1.0, total_steps=100),
        ),
        _not_an_optimizer("OneCycleLR", 1.0, total_steps=100),
    ]


def _bare_optimizer(names: Any, opt: Any) -> Any:
    """The base class itself, on the parameters of ``opt``: an optimizer without momentum or betas."""
    params = list(opt.param_groups[0]["params"])
    cls = torch.optim.Optimizer if is_torch(names) else given_piece("Optimizer")
    return cls(params, {"lr": 0.1})


def plateau_metrics(seed: int, n: int, mode: str, decimals: int | None = None) -> tuple[float, ...]:
    """A validation loss of about 1000 (mode "min") or an accuracy below 1 ("max") over ``n`` epochs, as
    training gives them: fast progress, then noisy plateaus broken by sudden drops (as after a cut of the
    lr); rounded to ``decimals`` where given, which makes ties with the best value so far."""
    rng = _rng(seed, 70 + (mode == "max"))
    t = np.arange(n)
    drops = np.sort(rng.choice(np.arange(40, max(41, n - 20)), size=3, replace=False))
    level = 1.0 + 0.1 * np.exp(-t / 30.0) + 0.01 * (drops[:, None] > t).sum(axis=0)
    values = level + rng.normal(scale=3e-4, size=n)
    values = 1000.0 * values if mode == "min" else 1.5 - values
    if decimals is not None:
        values = np.round(values, decimals)
    return tuple(float(v) for v in values)


def plateau_runs(seed: int) -> list[Run]:
    rng = _rng(seed, 7)
    lrs = _group_lrs(rng, seed)
    if is_visible(seed):
        first = {"factor": 0.5, "patience": 5, "cooldown": 4, "threshold": 1e-3, "min_lr": [0.001, 0.0, 0.01]}
        second = {
            "mode": "max",
            "factor": 0.3,
            "patience": 2,
            "threshold": 2e-4,
            "threshold_mode": "abs",
            "min_lr": 1e-4,
            "eps": 1e-3,
        }
        third = {"factor": 0.7, "patience": 3, "threshold": 0.0}
        fourth = {"factor": 0.5, "patience": 4, "threshold": 0.5, "threshold_mode": "abs"}
        steps = 300
    else:
        steps = int(rng.integers(120, 250))
        first = {
            "factor": float(rng.uniform(0.3, 0.9)),
            "patience": int(rng.integers(0, 12)),
            "cooldown": int(rng.integers(0, 8)),
            "threshold": float(10 ** rng.uniform(-4, -2.5)),
            "min_lr": [float(lr * 10 ** rng.uniform(-4, -1)) for lr in lrs],
        }
        second = {
            "mode": "max",
            "factor": float(rng.uniform(0.3, 0.9)),
            "patience": int(rng.integers(0, 6)),
            "cooldown": int(rng.integers(0, 4)),
            "threshold": float(10 ** rng.uniform(-5, -3)),
            "threshold_mode": str(rng.choice(["abs", "rel"])),
            "eps": float(10 ** rng.uniform(-10, -2)),
        }
        third = {"factor": float(rng.uniform(0.3, 0.9)), "patience": int(rng.integers(0, 6)), "threshold": 0.0}
        fourth = {
            "factor": float(rng.uniform(0.3, 0.9)),
            "patience": int(rng.integers(0, 8)),
            "threshold": float(rng.uniform(0.05, 2.0)),
            "threshold_mode": "abs",
        }
    words = "ReduceLROnPlateau(optimizer, {}) with a {} that improves fast, then in sudden drops between noisy plateaus"
    return [
        Run(
            words.format(_kwargs(first), "validation loss of about 1000"),
            _plateau(first),
            lrs,
            steps,
            metrics=plateau_metrics(seed, steps, "min"),
            resume_at=steps // 2,
            has_base_lrs=False,
        ),
        Run(
            words.format(_kwargs(second), "accuracy below 1"),
            _plateau(second),
            lrs,
            steps,
            metrics=plateau_metrics(seed, steps, "max"),
            resume_at=steps // 3,
            has_base_lrs=False,
        ),
        Run(
            words.format(_kwargs(third), "validation loss of about 1000, rounded to 1 decimal (so with ties)"),
            _plateau(third),
            lrs,
            steps,
            metrics=plateau_metrics(seed, steps, "min", decimals=1),
            has_base_lrs=False,
        ),
        Run(
            words.format(_kwargs(fourth), "validation loss of about 1000"),
            _plateau(fourth),
            lrs,
            steps,
            metrics=plateau_metrics(seed, steps, "min"),
            has_base_lrs=False,
        ),
    ]


def _plateau(kwargs: dict[str, Any]) -> Make:
    return lambda names, opt: names["ReduceLROnPlateau"](opt, **kwargs)


def _kwargs(kwargs: dict[str, Any]) -> str:
    def shown(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:.4g}"
        if isinstance(v, list):
            return "[" + ", ".join(shown(x) for x in v) + "]"
        return repr(v)

    return ", ".join(f"{k}={shown(v)}" for k, v in kwargs.items())


def plateau_refusals() -> list[Refusal]:
    def plateau(**kwargs: Any) -> Make:
        return lambda names, opt: names["ReduceLROnPlateau"](opt, **kwargs)

    return [
        Refusal("ReduceLROnPlateau(optimizer, factor=1.0)", plateau(factor=1.0)),
        Refusal("ReduceLROnPlateau(optimizer, mode='lowest')", plateau(mode="lowest")),
        Refusal("ReduceLROnPlateau(optimizer, threshold_mode='relative')", plateau(threshold_mode="relative")),
        Refusal("ReduceLROnPlateau(optimizer, min_lr=[0.0]) on 2 groups", plateau(min_lr=[0.0])),
        _not_an_optimizer("ReduceLROnPlateau"),
    ]


def sequential_runs(seed: int) -> list[Run]:
    rng = _rng(seed, 8)
    lrs = _group_lrs(rng, seed)
    if is_visible(seed):
        warm, start, T_max, eta_min, steps = 20, 0.01, 150, 1e-4, 250
        step_size, gamma, a, ms, g2, m1, m2, steps2 = 3, 0.7, 0.1, [5, 25], 0.3, 12, 40, 120
    else:
        warm, start = int(rng.integers(1, 50)), float(rng.uniform(0.001, 0.5))
        T_max, eta_min = int(rng.integers(10, 200)), float(rng.choice([0.0, 1e-5]))
        steps = int(rng.integers(warm + T_max, warm + 2 * T_max + 50))
        step_size, gamma, a = int(rng.integers(1, 10)), float(rng.uniform(0.3, 0.95)), float(rng.uniform(0.01, 0.5))
        m1 = int(rng.integers(1, 30))
        m2 = m1 + int(rng.integers(1, 40))
        ms = sorted(int(m) for m in rng.integers(1, 40, size=2))
        g2, steps2 = float(rng.uniform(0.1, 0.9)), m2 + int(rng.integers(10, 100))
    halve, resume = _halve_and_resume(rng, seed, steps, (60, 100))
    halve2, resume2 = _halve_and_resume(rng, seed, steps2, (5, 30))
    return [
        Run(
            f"SequentialLR(optimizer, [LinearLR(optimizer, start_factor={start:.4g}, total_iters={warm}), "
            f"CosineAnnealingLR(optimizer, T_max={T_max}, eta_min={eta_min:.4g})], milestones=[{warm}])",
            lambda names, opt, w=warm, s=start, T=T_max, e=eta_min: names["SequentialLR"](
                opt,
                [names["LinearLR"](opt, start_factor=s, total_iters=w), names["CosineAnnealingLR"](opt, T, eta_min=e)],
                milestones=[w],
            ),
            lrs,
            steps,
            halve_at=halve,
            resume_at=resume,
            has_base_lrs=False,
        ),
        Run(
            f"SequentialLR(optimizer, [StepLR(optimizer, {step_size}, gamma={gamma:.4g}), "
            f"LambdaLR(optimizer, lambda epoch: 1 / (1 + {a:.4g} * epoch)), "
            f"MultiStepLR(optimizer, {ms}, gamma={g2:.4g})], milestones=[{m1}, {m2}])",
            lambda names, opt, n=step_size, g=gamma, a=a, ms=tuple(ms), g2=g2, m=(m1, m2): names["SequentialLR"](
                opt,
                [
                    names["StepLR"](opt, n, gamma=g),
                    names["LambdaLR"](opt, _lambda(1, a)),
                    names["MultiStepLR"](opt, list(ms), gamma=g2),
                ],
                milestones=list(m),
            ),
            lrs,
            steps2,
            halve_at=halve2,
            resume_at=resume2,
            has_base_lrs=False,
        ),
    ]


def sequential_refusals() -> list[Refusal]:
    def linear(names: Any, opt: Any) -> Any:
        return names["LinearLR"](opt, start_factor=0.1, total_iters=5)

    return [
        Refusal("SequentialLR(optimizer, [], milestones=[])", lambda names, opt: names["SequentialLR"](opt, [], [])),
        Refusal(
            "SequentialLR(optimizer, [LinearLR(...), StepLR(...)], milestones=[5, 10])",
            lambda names, opt: names["SequentialLR"](opt, [linear(names, opt), names["StepLR"](opt, 3)], [5, 10]),
        ),
        Refusal(
            "SequentialLR(optimizer, [LinearLR(optimizer, ...), StepLR(another_optimizer, ...)], milestones=[5])",
            lambda names, opt: names["SequentialLR"](
                opt, [linear(names, opt), names["StepLR"](_optimizer(names, "SGD", (0.1,)), 3)], [5]
            ),
        ),
        Refusal(
            "SequentialLR(optimizer, [LinearLR(...), ReduceLROnPlateau(optimizer)], milestones=[5])",
            lambda names, opt: names["SequentialLR"](opt, [linear(names, opt), names["ReduceLROnPlateau"](opt)], [5]),
        ),
    ]


# -- the combinations PyTorch's own optimizer tests run -------------------------------------------------------


class _Chain:
    """Schedulers built on one optimizer and stepped together, one after the other, as torch's optimizer tests
    chain them; what it reports (get_last_lr(), last_epoch) is the last one's."""

    def __init__(self, schedulers: Sequence[Any], classes: Sequence[str]) -> None:
        self.schedulers, self.classes = list(schedulers), list(classes)

    def step(self, metric: float | None = None) -> None:
        for scheduler, cls in zip(self.schedulers, self.classes):
            if cls == "ReduceLROnPlateau":
                scheduler.step(metric)
            else:
                scheduler.step()

    def get_last_lr(self) -> Any:
        return self.schedulers[-1].get_last_lr()

    @property
    def last_epoch(self) -> Any:
        return self.schedulers[-1].last_epoch


def _call_words(cls: str, args: tuple[object, ...], kwargs: dict[str, object]) -> str:
    return f"{cls}(optimizer{''.join(f', {a!r}' for a in args)}{''.join(f', {k}={v!r}' for k, v in kwargs.items())})"


def torch_runs(classes: set[str], chained: bool) -> list[Run]:
    """The scheduler combinations of torch's optimizer tests (read from the installed torch) that use only
    ``classes``: single schedulers (``chained=False``) or several on one optimizer (``chained=True``)."""
    runs, seen = [], set()
    for optimizer, calls in torch_scheduler_inputs():
        used = {cls for cls, _, _ in calls}
        if not used <= classes or (len(calls) > 1) != chained or optimizer not in ("SGD", "Adam"):
            continue
        key = repr((optimizer, calls))
        if key in seen:
            continue
        seen.add(key)
        plateau = "ReduceLROnPlateau" in used
        steps = 80 if plateau else 40

        def make(names: Any, opt: Any, calls: tuple[Any, ...] = calls) -> Any:
            made = [names[cls](opt, *args, **kwargs) for cls, args, kwargs in calls]
            return _Chain(made, [cls for cls, _, _ in calls]) if len(made) > 1 else made[0]

        words = " and ".join(_call_words(*call) for call in calls)
        runs.append(
            Run(
                f"{words}, stepped together (PyTorch's own optimizer tests chain them)" if chained else words,
                make,
                (0.1, 0.03),
                steps,
                optimizer=optimizer,
                metrics=plateau_metrics(0, steps, "min") if plateau else (),
                has_base_lrs=not chained and not plateau,
            )
        )
    return runs


def _all(fn: Callable[[int], list[Run]], seeds: Sequence[int], torch_classes: set[str] | None = None) -> list[Run]:
    """The runs of every seed, and where a seed is hidden, the combinations of torch's own tests that use
    only ``torch_classes`` (several schedulers chained when the set holds more than one)."""
    runs = [run for seed in seeds for run in fn(seed)]
    if torch_classes and not all(is_visible(seed) for seed in seeds):
        runs += torch_runs(torch_classes, chained=len(torch_classes) > 1)
    return runs


# -- what the notebook's test cells call -----------------------------------------------------------------


def _check_one(
    cls: str, impl: Any, runs: Callable[[int], list[Run]], refusals: list[Refusal], seeds: Sequence[int]
) -> None:
    """The check of one scheduler class: its runs (and, hidden, those of torch's tests), then its refusals."""
    __tracebackhide__ = True
    title = f"torch.optim.lr_scheduler.{cls}"
    verify(cls, _runs(title, _all(runs, seeds, {cls})) + _refusals(title, refusals), {cls: impl}, MUTANTS, title)


def check_lambda_lr(LambdaLR: Any, *, seeds: Sequence[int] = VISIBLE_SEEDS) -> None:
    __tracebackhide__ = True
    _check_one("LambdaLR", LambdaLR, lambda_runs, lambda_refusals(), seeds)


def check_step_lr(StepLR: Any, *, seeds: Sequence[int] = VISIBLE_SEEDS) -> None:
    __tracebackhide__ = True
    refusals = [_not_an_optimizer("StepLR", 5), _resumed_without_initial_lr("StepLR", 5)]
    _check_one("StepLR", StepLR, step_runs, refusals, seeds)


def check_multistep_lr(MultiStepLR: Any, *, seeds: Sequence[int] = VISIBLE_SEEDS) -> None:
    __tracebackhide__ = True
    refusals = [_not_an_optimizer("MultiStepLR", [5]), _resumed_without_initial_lr("MultiStepLR", [5])]
    _check_one("MultiStepLR", MultiStepLR, multistep_runs, refusals, seeds)


def check_linear_lr(LinearLR: Any, *, seeds: Sequence[int] = VISIBLE_SEEDS) -> None:
    __tracebackhide__ = True
    _check_one("LinearLR", LinearLR, linear_runs, linear_refusals(), seeds)


def check_cosine_annealing_lr(CosineAnnealingLR: Any, *, seeds: Sequence[int] = VISIBLE_SEEDS) -> None:
    __tracebackhide__ = True
    refusals = [_not_an_optimizer("CosineAnnealingLR", 10), _resumed_without_initial_lr("CosineAnnealingLR", 10)]
    _check_one("CosineAnnealingLR", CosineAnnealingLR, cosine_runs, refusals, seeds)


def check_one_cycle_lr(OneCycleLR: Any, *, seeds: Sequence[int] = VISIBLE_SEEDS) -> None:
    __tracebackhide__ = True
    _check_one("OneCycleLR", OneCycleLR, one_cycle_runs, one_cycle_refusals(), seeds)


def check_reduce_lr_on_plateau(ReduceLROnPlateau: Any, *, seeds: Sequence[int] = VISIBLE_SEEDS) -> None:
    __tracebackhide__ = True
    _check_one("ReduceLROnPlateau", ReduceLROnPlateau, plateau_runs, plateau_refusals(), seeds)


def check_sequential_lr(
    SequentialLR: Any,
    LinearLR: Any,
    CosineAnnealingLR: Any,
    StepLR: Any,
    LambdaLR: Any,
    MultiStepLR: Any,
    ReduceLROnPlateau: Any,
    *,
    seeds: Sequence[int] = VISIBLE_SEEDS,
) -> None:
    __tracebackhide__ = True
    title = "torch.optim.lr_scheduler.SequentialLR"
    names = {
        "SequentialLR": SequentialLR,
        "LinearLR": LinearLR,
        "CosineAnnealingLR": CosineAnnealingLR,
        "StepLR": StepLR,
        "LambdaLR": LambdaLR,
        "MultiStepLR": MultiStepLR,
        "ReduceLROnPlateau": ReduceLROnPlateau,
    }
    verify(
        "SequentialLR",
        _runs(title, _all(sequential_runs, seeds, set(CLASSES) - {"SequentialLR", "LRScheduler"}))
        + _refusals(title, sequential_refusals()),
        names,
        MUTANTS,
        title,
    )
