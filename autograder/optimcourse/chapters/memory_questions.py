"""Chapter 9 (09-memory-questions): the five systems questions, answered by code and checked against torch.

Q1 how many bytes an optimizer's state takes (measured on real torch optimizers after one step), Q2
wall-clock time from steps and per-step cost, Q3 Adam's bias correction (read from torch's own moment
buffers: with a constant gradient of 1, ``exp_avg`` after t steps is exactly 1 - beta1**t), Q4 one Adam
step with L2 weight decay against one AdamW step with decoupled decay, Q5 resuming after an lr change
with the optimizer's state restored or reset, against the same experiment in torch.

Units: the course writes GB for 10**9 bytes and GiB for 2**30 bytes.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ..cases import HIDDEN_SEEDS, VISIBLE_SEEDS, is_visible
from ..guard import DelegationError
from ..mutants import load_mutants
from ..scenarios import ObserveScenario, RuleScenario, record_call
from ..side import is_torch, torch_side
from ..trace import Raised, Trace
from ..verify import verify

__all__ = [
    "DTYPES",
    "HIDDEN_SEEDS",
    "MUTANTS",
    "VISIBLE_SEEDS",
    "Resume",
    "check_bias_correction",
    "check_memory_report",
    "check_one_step_decay",
    "check_reset_kick",
    "check_resume_experiment",
    "check_state_bytes",
    "check_training_time",
    "resume_draws",
    "torch_bias_corrections",
    "torch_memory_report",
    "torch_one_step",
    "torch_resume",
]


GB = 10**9
OPTIMIZERS = ("SGD", "Adam", "AdamW")
DTYPES = ("float64", "float32", "float16", "bfloat16")

_ADAM_BUFFERS = "        buffers = 3 if amsgrad else 2  # exp_avg, exp_avg_sq (and max_exp_avg_sq)\n"

MUTANTS = load_mutants("memory_questions")  # memory_questions.mutants.toml


# -- Q1: bytes of state, measured on torch --------------------------------------------------------------


@dataclass(frozen=True)
class StateConfig:
    optimizer: str
    dtype: str = "float32"
    amsgrad: bool = False
    momentum: float = 0.9
    count_grads: bool = False

    def call_words(self, n_params: int) -> str:
        extra = f", momentum={self.momentum:g}" if self.optimizer == "SGD" else f", amsgrad={self.amsgrad}"
        return (
            f"optimizer_state_bytes({n_params}, {self.optimizer!r}, dtype={self.dtype!r}{extra}, "
            f"count_grads={self.count_grads})"
        )


def torch_state_bytes(shapes: Sequence[tuple[int, ...]], config: StateConfig) -> int:
    """The bytes of every per-element tensor in torch's ``opt.state`` after one step (``step``, one 0-dim
    tensor per parameter, is not per element), plus the grads' bytes with ``count_grads``."""
    dtype = getattr(torch, config.dtype)
    params = [torch.zeros(s, dtype=dtype, requires_grad=True) for s in shapes]
    kwargs = {"momentum": config.momentum} if config.optimizer == "SGD" else {"amsgrad": config.amsgrad}
    opt = getattr(torch.optim, config.optimizer)(params, lr=1e-3, **kwargs)
    for p in params:
        p.grad = torch.ones_like(p)
    opt.step()
    total = sum(v.nbytes for state in opt.state.values() for k, v in state.items() if k != "step")
    if config.count_grads:
        total += sum(p.grad.nbytes for p in params if p.grad is not None)
    return int(total)


def _model_shapes(seed: int) -> list[tuple[int, ...]]:
    """A small MLP's shapes (visible) or a random model's (weights and biases of a few layers, a 0-dim scale)."""
    if is_visible(seed):
        return [(50, 100), (50,), (10, 50), (10,)]
    rng = np.random.default_rng([seed, 9])
    widths = [int(w) for w in rng.integers(1, 60, size=int(rng.integers(2, 5)))]
    shapes: list[tuple[int, ...]] = []
    for fan_in, fan_out in itertools.pairwise(widths):
        shapes += [(fan_out, fan_in), (fan_out,)]
    return shapes + [()]


def _state_configs(seed: int) -> list[StateConfig]:
    if is_visible(seed):
        return [
            StateConfig("SGD"),
            StateConfig("SGD", momentum=0.0),
            StateConfig("Adam"),
            StateConfig("AdamW", amsgrad=True),
            StateConfig("Adam", count_grads=True),
            StateConfig("SGD", dtype="float64", count_grads=True),
            StateConfig("AdamW", dtype="bfloat16"),
        ]
    rng = np.random.default_rng([seed, 90])
    # every seed covers every variant, every dtype and both count_grads (in a random pairing)
    dtypes = [str(d) for d in rng.permutation(DTYPES)] * 2
    grads = [bool(g) for g in rng.permutation([True, False] * 3)]
    variants: list[tuple[str, dict[str, Any]]] = [
        ("SGD", {"momentum": 0.0}),
        ("SGD", {"momentum": float(rng.uniform(0.1, 0.99))}),
        ("Adam", {"amsgrad": False}),
        ("Adam", {"amsgrad": True}),
        ("AdamW", {"amsgrad": False}),
        ("AdamW", {"amsgrad": True}),
    ]
    return [
        StateConfig(name, dtype=dtype, count_grads=g, **kw) for (name, kw), dtype, g in zip(variants, dtypes, grads)
    ]


def _number(value: Any) -> Any:
    """A returned number as a 0-dim float64 array (what the trace compares); anything else as it is."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, float, np.integer, np.floating)):
        return np.array(float(value))
    if isinstance(value, np.ndarray) and value.dtype.kind in "biuf":
        return value.astype(np.float64)
    return value


def _try(trace: Trace, label: str, thunk: Callable[..., Any]) -> Any:
    return record_call(trace, label, thunk, _number)


def _observe_state_bytes(
    shapes: list[tuple[int, ...]], configs: list[StateConfig]
) -> Callable[[Any, Callable[..., Any]], Trace]:
    n = int(sum(np.prod(s, dtype=np.int64) for s in shapes))

    def observe(impl: Any, call: Callable[..., Any]) -> Trace:
        trace = Trace()
        for dtype in DTYPES:
            thunk = (
                (lambda d=dtype: torch.empty((), dtype=getattr(torch, d)).element_size())
                if is_torch(impl)
                else (lambda d=dtype: call(impl["bytes_per_element"], d))
            )
            _try(trace, f"bytes_per_element({dtype!r})", thunk)
        for c in configs:
            thunk = (
                (lambda c=c: torch_state_bytes(shapes, c))
                if is_torch(impl)
                else (
                    lambda c=c: call(
                        impl["optimizer_state_bytes"],
                        n,
                        c.optimizer,
                        dtype=c.dtype,
                        amsgrad=c.amsgrad,
                        momentum=c.momentum,
                        count_grads=c.count_grads,
                    )
                )
            )
            _try(trace, c.call_words(n), thunk)
        return trace

    return observe


def _refuse(name: str) -> None:
    raise ValueError(f"unknown optimizer {name!r}: expected one of {', '.join(OPTIMIZERS)}")


def _observe_refusal(impl: Any, call: Callable[..., Any]) -> Trace:
    trace = Trace()
    for name in ("RMSprop", "adam"):
        thunk = (
            (lambda name=name: _refuse(name))
            if impl.get("rule")
            else (lambda name=name: call(impl["optimizer_state_bytes"], 1000, name))
        )
        _try(trace, f"optimizer_state_bytes(1000, {name!r})", thunk)
    return trace


TORCH = torch_side()


def state_bytes_cases(seeds: Sequence[int]) -> list[ObserveScenario | RuleScenario]:
    out: list[ObserveScenario | RuleScenario] = []
    for seed in seeds:
        shapes = _model_shapes(seed)
        words = (
            f"{len(shapes)} parameter tensors of shapes {', '.join(map(str, shapes))}; torch's state is read "
            "after one step"
        )
        out.append(
            ObserveScenario(
                title="the state of real torch.optim optimizers",
                observe=_observe_state_bytes(shapes, _state_configs(seed)),
                torch_impl=TORCH,
                words=words,
            )
        )
    out.append(
        RuleScenario(
            title="the course's rule for an optimizer it does not know",
            observe=_observe_refusal,
            rule=lambda: _observe_refusal({"rule": True}, lambda fn: fn()),
            words="names other than 'SGD', 'Adam' and 'AdamW' (spelt as torch spells them) raise "
            "ValueError with a message that names the problem",
            expected_by="the course's rule",
        )
    )
    return out


def _bytes_per_element_torch(optimizer: str, dtype: str, **kwargs: Any) -> float:
    """State bytes per parameter element, measured on a real torch optimizer."""
    shapes = [(30, 20), (30,)]
    n = 30 * 20 + 30
    return torch_state_bytes(shapes, StateConfig(optimizer, dtype=dtype, **kwargs)) / n


REPORT_KEYS = ("params_gb", "adam_state_gb", "sgd_state_gb", "adam_total_gb", "sgd_total_gb", "difference_gb")


def torch_memory_report(n_params: int, dtype: str) -> dict[str, float]:
    """Q1 from torch's own bytes: per-element sizes measured on small torch optimizers, scaled to n_params."""
    param = torch.empty((), dtype=getattr(torch, dtype)).element_size() * n_params
    adam = _bytes_per_element_torch("Adam", dtype) * n_params
    sgd = _bytes_per_element_torch("SGD", dtype, momentum=0.9) * n_params
    return {
        "params_gb": param / GB,
        "adam_state_gb": adam / GB,
        "sgd_state_gb": sgd / GB,
        "adam_total_gb": (param + adam) / GB,
        "sgd_total_gb": (param + sgd) / GB,
        "difference_gb": (adam - sgd) / GB,
    }


def _observe_report(n_params: int, dtype: str) -> Callable[[Any, Callable[..., Any]], Trace]:
    def observe(impl: Any, call: Callable[..., Any]) -> Trace:
        trace = Trace()
        call_words = f"memory_report({n_params:_}, {dtype!r})"
        if is_torch(impl):
            result: Any = torch_memory_report(n_params, dtype)
        else:
            try:
                result = call(impl["memory_report"], n_params, dtype)
            except DelegationError:
                raise
            except Exception as exc:
                trace.add(call_words, Raised.from_exception(exc))
                return trace
        if not isinstance(result, dict):
            trace.add(f"{call_words} returns a dict", type(result).__name__)
            return trace
        for key in REPORT_KEYS:
            trace.add(f"{call_words}[{key!r}]", _number(result.get(key)))
        return trace

    return observe


def report_cases(seeds: Sequence[int]) -> list[ObserveScenario]:
    out = []
    for seed in seeds:
        if is_visible(seed):
            draws = [(10 * 10**9, "float32"), (175 * 10**9, "bfloat16")]
        else:
            rng = np.random.default_rng([seed, 91])
            draws = [(int(10 ** rng.uniform(6, 12)), str(rng.choice(DTYPES))) for _ in range(2)]
        for n, dtype in draws:
            out.append(
                ObserveScenario(
                    title="bytes per element measured on torch.optim.Adam and SGD(momentum=0.9)",
                    observe=_observe_report(n, dtype),
                    torch_impl=TORCH,
                    words=f"{n:,} parameters in {dtype}; GB = 10**9 bytes",
                )
            )
    return out


# -- Q2: time ------------------------------------------------------------------------------------------


def _observe_time(draws: list[tuple[int, float]]) -> Callable[[Any, Callable[..., Any]], Trace]:
    def observe(impl: Any, call: Callable[..., Any]) -> Trace:
        trace = Trace()
        for steps, cost in draws:
            thunk = (
                (lambda s=steps, c=cost: s * c)
                if impl.get("rule")
                else (lambda s=steps, c=cost: call(impl["training_time"], s, c))
            )
            _try(trace, f"training_time({steps}, {cost:g})", thunk)
        return trace

    return observe


def time_cases(seeds: Sequence[int]) -> list[RuleScenario]:
    out = []
    for seed in seeds:
        if is_visible(seed):
            draws = [(100_000, 1.2), (200_000, 1.0)]
        else:
            rng = np.random.default_rng([seed, 92])
            draws = [(int(rng.integers(1, 10**6)), float(rng.uniform(0.05, 5.0))) for _ in range(3)]
        observe = _observe_time(draws)
        out.append(
            RuleScenario(
                title="time = steps x per-step cost",
                observe=observe,
                rule=lambda observe=observe: observe({"rule": True}, lambda fn: fn()),
                words="per-step costs in any time unit",
                expected_by="steps x per-step cost",
            )
        )
    return out


# -- Q3: bias correction, read from torch's moments ------------------------------------------------------


def torch_bias_corrections(beta1: float, beta2: float, ts: Sequence[int]) -> dict[int, tuple[float, float]]:
    """(1 - beta1**t, 1 - beta2**t) for each t, as torch's Adam holds them: with a constant gradient of 1,
    exp_avg and exp_avg_sq after t steps are the weight the zero start has handed over to the gradients."""
    p = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.Adam([p], lr=0.0, betas=(beta1, beta2))
    out = {}
    for t in range(1, max(ts) + 1):
        p.grad = torch.ones_like(p)
        opt.step()
        if t in ts:
            out[t] = (float(opt.state[p]["exp_avg"][0]), float(opt.state[p]["exp_avg_sq"][0]))
    return out


def _observe_bias(beta1: float, beta2: float, ts: Sequence[int]) -> Callable[[Any, Callable[..., Any]], Trace]:
    def observe(impl: Any, call: Callable[..., Any]) -> Trace:
        trace = Trace()
        truth = torch_bias_corrections(beta1, beta2, ts) if is_torch(impl) else {}
        for which, beta in ((0, beta1), (1, beta2)):
            for t in ts:
                thunk = (
                    (lambda t=t, which=which: truth[t][which])
                    if is_torch(impl)
                    else (lambda beta=beta, t=t: call(impl["bias_correction"], beta, t))
                )
                _try(trace, f"bias_correction({beta:.6g}, {t})", thunk)
        return trace

    return observe


def bias_cases(seeds: Sequence[int]) -> list[ObserveScenario]:
    out = []
    for seed in seeds:
        if is_visible(seed):
            draws: list[tuple[float, float, tuple[int, ...]]] = [(0.9, 0.999, (1, 10, 100, 1000))]
        else:
            rng = np.random.default_rng([seed, 93])
            draws = [
                (
                    float(rng.choice([0.0, rng.uniform(0.0, 0.99)])),
                    float(1 - 10 ** rng.uniform(-4, -1)),
                    tuple(sorted({1, *(int(t) for t in rng.integers(2, 3000, size=3))})),
                )
            ]
        for beta1, beta2, ts in draws:
            out.append(
                ObserveScenario(
                    title="torch.optim.Adam's exp_avg and exp_avg_sq after t steps of a constant gradient 1",
                    observe=_observe_bias(beta1, beta2, ts),
                    torch_impl=TORCH,
                    words=f"betas = ({beta1:.6g}, {beta2:.6g}), t in {list(ts)}",
                )
            )
    return out


# -- Q4: one step of Adam with L2 against one of AdamW ---------------------------------------------------


def torch_one_step(param: np.ndarray, grad: np.ndarray, lr: float, weight_decay: float, decoupled: bool) -> np.ndarray:
    p = torch.tensor(param, dtype=torch.float64, requires_grad=True)
    opt = (torch.optim.AdamW if decoupled else torch.optim.Adam)([p], lr=lr, weight_decay=weight_decay)
    p.grad = torch.tensor(grad, dtype=torch.float64)
    opt.step()
    return p.detach().numpy().copy()


def _observe_decay(
    param: np.ndarray, grad: np.ndarray, lr: float, weight_decay: float
) -> Callable[[Any, Callable[..., Any]], Trace]:
    def observe(impl: Any, call: Callable[..., Any]) -> Trace:
        trace = Trace()
        for decoupled in (False, True):
            name = "AdamW" if decoupled else "Adam"
            label = f"the parameter after one {name} step (decoupled={decoupled})"
            thunk = (
                (lambda d=decoupled: torch_one_step(param, grad, lr, weight_decay, d))
                if is_torch(impl)
                else (
                    lambda d=decoupled: call(
                        impl["one_step_decay"],
                        param.copy() if param.ndim else float(param),
                        grad.copy() if grad.ndim else float(grad),
                        lr,
                        weight_decay,
                        d,
                    )
                )
            )
            _try(trace, label, thunk)
        return trace

    return observe


def decay_cases(seeds: Sequence[int]) -> list[ObserveScenario]:
    out = []
    for seed in seeds:
        if is_visible(seed):
            draws = [
                (np.array(1.0), np.array(0.001), 0.1, 0.01),
                (np.array([1.0, -2.0, 0.5]), np.array([0.3, 0.0, -1e-4]), 0.01, 0.1),
            ]
        else:
            rng = np.random.default_rng([seed, 94])
            draws = []
            for _ in range(2):
                shape = tuple(int(n) for n in rng.integers(1, 5, size=int(rng.integers(0, 3))))
                draws.append(
                    (
                        rng.normal(size=shape),
                        rng.normal(size=shape) * 10 ** rng.uniform(-4, 1),
                        float(10 ** rng.uniform(-4, 0)),
                        float(rng.uniform(0, 0.5)),
                    )
                )
        for param, grad, lr, wd in draws:
            out.append(
                ObserveScenario(
                    title="torch.optim.Adam and torch.optim.AdamW, one step from zero state",
                    observe=_observe_decay(param, grad, lr, wd),
                    torch_impl=TORCH,
                    words=f"param of shape {param.shape}, lr = {lr:.6g}, weight_decay = {wd:.6g}, "
                    "betas (0.9, 0.999), eps 1e-8",
                )
            )
    return out


# -- Q5: resume after an lr change -----------------------------------------------------------------------


@dataclass(frozen=True)
class Resume:
    X: np.ndarray
    y: np.ndarray
    w0: np.ndarray
    lr_before: float
    lr_after: float
    steps_before: int
    steps_after: int

    @property
    def words(self) -> str:
        return (
            f"least squares with X of shape {self.X.shape}; {self.steps_before} Adam steps at lr {self.lr_before:g}, "
            f"then {self.steps_after} at lr {self.lr_after:g}"
        )

    def args(self) -> tuple[Any, ...]:
        return (
            self.X.copy(),
            self.y.copy(),
            self.w0.copy(),
            self.lr_before,
            self.lr_after,
            self.steps_before,
            self.steps_after,
        )


def _torch_loss(X: torch.Tensor, y: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    return F.mse_loss(X @ w, y)


def torch_resume(r: Resume) -> tuple[np.ndarray, np.ndarray]:
    """The experiment in torch: train, save model and optimizer state dicts, then resume twice at the new lr,
    once from the saved state (loaded, then lr changed, as a training script does) and once from a fresh Adam."""
    X, y = torch.tensor(r.X), torch.tensor(r.y)
    w = torch.tensor(r.w0, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.Adam([w], lr=r.lr_before)
    for _ in range(r.steps_before):
        opt.zero_grad()
        _torch_loss(X, y, w).backward()
        opt.step()
    saved_w, saved_opt = w.detach().clone(), copy.deepcopy(opt.state_dict())
    runs = []
    for restore in (True, False):
        q = saved_w.clone().requires_grad_(True)
        resumed = torch.optim.Adam([q], lr=r.lr_after)
        if restore:
            resumed.load_state_dict(saved_opt)  # brings back lr_before too ...
            resumed.param_groups[0]["lr"] = r.lr_after  # ... so the new lr is set after loading
        losses = []
        for _ in range(r.steps_after):
            resumed.zero_grad()
            _torch_loss(X, y, q).backward()
            resumed.step()
            losses.append(float(_torch_loss(X, y, q.detach())))
        runs.append(np.array(losses))
    return runs[0], runs[1]


def resume_draws(seed: int) -> list[Resume]:
    if is_visible(seed):
        rng = np.random.default_rng(9)
        X = rng.normal(size=(20, 3))
        return [Resume(X, X @ np.array([1.0, -2.0, 0.5]) + 0.1 * rng.normal(size=20), np.zeros(3), 0.1, 0.01, 20, 10)]
    rng = np.random.default_rng([seed, 95])
    out = []
    for _ in range(2):
        m, n = int(rng.integers(5, 40)), int(rng.integers(1, 6))
        X = rng.normal(size=(m, n))
        lr_before = float(10 ** rng.uniform(-3, -0.5))
        out.append(
            Resume(
                X,
                rng.normal(size=m),
                rng.normal(size=n),
                lr_before,
                lr_before * float(10 ** rng.uniform(-2, 0.5)),
                int(rng.integers(3, 40)),
                int(rng.integers(2, 20)),
            )
        )
    return out


def _observe_resume(r: Resume) -> Callable[[Any, Callable[..., Any]], Trace]:
    def observe(impl: Any, call: Callable[..., Any]) -> Trace:
        trace = Trace()
        if is_torch(impl):
            result: Any = torch_resume(r)
        else:
            try:
                result = call(impl["resume_experiment"], *r.args())
            except DelegationError:
                raise
            except Exception as exc:
                trace.add("resume_experiment(...)", Raised.from_exception(exc))
                return trace
        try:
            restored, reset = (np.asarray(a, dtype=np.float64) for a in result)
        except Exception:
            trace.add("resume_experiment(...) returns (restored_losses, reset_losses)", type(result).__name__)
            return trace
        for name, losses in (("restored", restored), ("reset", reset)):
            trace.add(f"{name} run: number of losses", losses.size)
            for k in range(min(losses.size, r.steps_after)):
                trace.add(f"{name} run: loss after resumed step {k + 1}", np.array(losses[k]))
        return trace

    return observe


def resume_cases(seeds: Sequence[int]) -> list[ObserveScenario]:
    return [
        ObserveScenario(
            title="the same experiment in torch (state_dict saved and loaded, or a fresh Adam)",
            observe=_observe_resume(r),
            torch_impl=TORCH,
            words=r.words,
        )
        for seed in seeds
        for r in resume_draws(seed)
    ]


def kick(restored: np.ndarray, reset: np.ndarray) -> float:
    """The course's measure of a reset's cost: the reset run's first resumed loss over the restored run's, minus 1."""
    return float(reset[0] / restored[0] - 1)


def _observe_kick(pairs: list[tuple[np.ndarray, np.ndarray]]) -> Callable[[Any, Callable[..., Any]], Trace]:
    def observe(impl: Any, call: Callable[..., Any]) -> Trace:
        trace = Trace()
        for k, (restored, reset) in enumerate(pairs):
            thunk = (
                (lambda a=restored, b=reset: kick(a, b))
                if impl.get("rule")
                else (lambda a=restored, b=reset: call(impl["reset_kick"], a.copy(), b.copy()))
            )
            _try(
                trace,
                f"reset_kick on pair {k + 1} (first losses {restored[0]:.6g} restored, "
                f"{reset[0]:.6g} reset; last {restored[-1]:.6g}, {reset[-1]:.6g})",
                thunk,
            )
        return trace

    return observe


def kick_cases(seeds: Sequence[int]) -> list[RuleScenario]:
    """Torch's own loss curves, and pairs whose first and last losses disagree about which run is ahead."""
    out = []
    for seed in seeds:
        pairs = [torch_resume(r) for r in resume_draws(seed)]
        rng = np.random.default_rng([seed, 96])
        a = np.sort(rng.uniform(1.0, 2.0, size=6))[::-1]
        pairs += [(a, a[::-1] * 1.0001), (a[::-1].copy(), a.copy())]  # one starts lower and ends higher
        observe = _observe_kick(pairs)
        out.append(
            RuleScenario(
                title="the reset run's first loss over the restored run's, minus 1",
                observe=observe,
                rule=lambda observe=observe: observe({"rule": True}, lambda fn: fn()),
                words="loss curves from torch's experiment, and curves that cross",
                expected_by="the course's definition of the kick",
            )
        )
    return out


# -- what the notebook's test cells call -----------------------------------------------------------------


def check_state_bytes(
    bytes_per_element: Any, optimizer_state_bytes: Any, *, seeds: Sequence[int] = VISIBLE_SEEDS
) -> None:
    __tracebackhide__ = True
    verify(
        "optimizer_state_bytes",
        state_bytes_cases(seeds),
        {"bytes_per_element": bytes_per_element, "optimizer_state_bytes": optimizer_state_bytes},
        MUTANTS,
        "the state of real torch.optim optimizers",
    )


def check_memory_report(memory_report: Any, *, seeds: Sequence[int] = VISIBLE_SEEDS) -> None:
    __tracebackhide__ = True
    verify(
        "memory_report",
        report_cases(seeds),
        {"memory_report": memory_report},
        MUTANTS,
        "torch's state bytes scaled to the model",
    )


def check_training_time(training_time: Any, *, seeds: Sequence[int] = VISIBLE_SEEDS) -> None:
    __tracebackhide__ = True
    verify("training_time", time_cases(seeds), {"training_time": training_time}, MUTANTS)


def check_bias_correction(bias_correction: Any, *, seeds: Sequence[int] = VISIBLE_SEEDS) -> None:
    __tracebackhide__ = True
    verify("bias_correction", bias_cases(seeds), {"bias_correction": bias_correction}, MUTANTS)


def check_one_step_decay(one_step_decay: Any, *, seeds: Sequence[int] = VISIBLE_SEEDS) -> None:
    __tracebackhide__ = True
    verify("one_step_decay", decay_cases(seeds), {"one_step_decay": one_step_decay}, MUTANTS)


def check_resume_experiment(resume_experiment: Any, *, seeds: Sequence[int] = VISIBLE_SEEDS) -> None:
    __tracebackhide__ = True
    verify("resume_experiment", resume_cases(seeds), {"resume_experiment": resume_experiment}, MUTANTS)


def check_reset_kick(reset_kick: Any, *, seeds: Sequence[int] = VISIBLE_SEEDS) -> None:
    __tracebackhide__ = True
    verify("reset_kick", kick_cases(seeds), {"reset_kick": reset_kick}, MUTANTS)
