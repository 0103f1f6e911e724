"""Chapter 7 (07-foreach-fused): multi-tensor Adam and SGD in NumPy, packed into flat buffers and
updated a block at a time.

Four kinds of check:

- the blocks (``check_split_blocks``): the flat buffer cut into blocks of ``block_size`` elements, the
  last one shorter, each with the segments of the parameters it holds; compared with the course's
  reference ``split_blocks``;
- the packing and the gathering (``check_flat_pack``, ``check_gather_block``): the parameters become
  views into one buffer per dtype with their values, shapes and dtypes kept, no two of a pack's arrays
  share memory, and a block's gradients come back whole, with zeros for a missing grad, whatever the
  scratch held before. Compared with the course's reference run on the same inputs;
- the numbers (``check_adam``, ``check_sgd``): chapter 4's 12-step trajectories (a 0-dim, an empty,
  a frozen and a late parameter, one step with no grads at all) against ``torch.optim`` run three
  ways, ``foreach=False``, ``foreach=True`` and ``fused=True``, with blocks of the default size on one
  thread and with blocks of a few elements on several. Each must pack its parameters;
- the blocked rules (``check_*_blocked``): a pack keeps no more scratch than a few rows of a block per
  worker (the course's rule), a step allocates nothing as large as half a block (tracemalloc), and runs
  as many Python lines for 24 parameters as for 6 (sys.settrace; the loops allowed are in
  ``gather_grads`` and ``gather_block``).

Which arrays share memory, the line counts and the memory are measured where the student's code runs
(:func:`optimcourse.side.measure`): under course-grade, in the kernel, by the course's agent.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from ..cases import HIDDEN_SEEDS, VISIBLE_SEEDS, is_visible
from ..given import Parameter
from ..mutants import load_mutants
from ..references import foreach_fused as reference
from ..remote import measure
from ..scenarios import Impl, ObserveScenario, OptimizerScenario, RuleScenario, Step, observe_calls
from ..side import materialize, set_attrs
from ..side import measure as measured
from ..trace import Trace
from ..verify import verify
from . import momentum_adam_adamw as ch4

__all__ = [
    "HIDDEN_SEEDS",
    "LARGE",
    "MUTANTS",
    "SMALL",
    "VISIBLE_SEEDS",
    "check_adam",
    "check_adam_blocked",
    "check_flat_pack",
    "check_gather_block",
    "check_sgd",
    "check_sgd_blocked",
    "check_split_blocks",
]


MUTANTS = load_mutants("foreach_fused")  # foreach_fused.mutants.toml

ADAM_STATE = ch4.ADAM_STATE
SGD_STATE = ch4.SGD_STATE
ROUTES: tuple[tuple[str, dict[str, bool]], ...] = (
    ("for-loop", {"foreach": False}),
    ("foreach", {"foreach": True}),
    ("fused", {"fused": True}),
)
# how the student's optimizer cuts its packs, beside each of torch's routes: the default blocks (every
# parameter in one) on one thread, and blocks of a few elements, which cut parameters apart and leave a
# shorter last block, on several threads
BLOCKING: dict[str, dict[str, int | None]] = {
    "for-loop": {"block_size": None, "workers": 1},
    "foreach": {"block_size": 3, "workers": 2},
    "fused": {"block_size": 2, "workers": 3},
}
Config = dict[str, Any]


# -- blocks -------------------------------------------------------------------------------------------------


def _split_problems(seed: int) -> list[tuple[list[int], int]]:
    """Parameter sizes and block sizes: tails, exact multiples, empty parameters, blocks of one element."""
    if is_visible(seed):
        return [([3, 0, 5], 4), ([4, 4], 4), ([7], 3), ([1, 1, 1, 1, 1], 2), ([10], 100), ([0, 0], 3), ([2, 6], 1)]
    rng = np.random.default_rng([seed, 73])
    problems = []
    for _ in range(8):
        sizes = [int(k) for k in rng.integers(0, 10, size=rng.integers(1, 7))]
        sizes[int(rng.integers(len(sizes)))] = 0
        problems.append((sizes, int(rng.integers(1, 13))))
    return problems


def _offsets(sizes: Sequence[int]) -> np.ndarray:
    return np.concatenate([[0], np.cumsum(sizes, dtype=np.int64)])


def blocks_words(blocks: Any) -> str:
    """Blocks as text, ``start:stop [i lo:hi, ...]`` each; a TypeError where one is not (start, stop,
    segments) with segments (i, lo, hi) of whole numbers."""
    words = []
    for block in materialize(blocks):
        start, stop, segments = block
        parts = []
        for segment in segments:
            i, lo, hi = (operator.index(x) for x in segment)
            parts.append(f"{i} {lo}:{hi}")
        words.append(f"{operator.index(start)}:{operator.index(stop)} [{', '.join(parts)}]")
    return "; ".join(words) or "no blocks"


def _observe_split(problems: Sequence[tuple[list[int], int]]) -> Callable[[Impl, Callable[..., Any]], Trace]:
    def observe(impl: Impl, call: Callable[..., Any]) -> Trace:
        steps = [
            (
                f"split_blocks(offsets={_offsets(sizes).tolist()}, block_size={block_size})",
                lambda sizes=sizes, block_size=block_size: blocks_words(
                    call(impl["split_blocks"], _offsets(sizes), block_size)
                ),
            )
            for sizes, block_size in problems
        ]
        trace = Trace()
        for label, thunk in steps:  # every problem, even after one raised
            trace.observations += observe_calls([(label, thunk)], call).observations
        return trace

    return observe


def split_cases(seeds: Sequence[int]) -> list[ObserveScenario]:
    return [
        ObserveScenario(
            title="the course's split_blocks",
            observe=_observe_split(_split_problems(seed)),
            torch_impl={"split_blocks": reference.split_blocks},
            words=f"parameter sizes and block sizes: {_split_problems(seed)}",
            expected_by="the course's split_blocks",
        )
        for seed in seeds
    ]


# -- packing ------------------------------------------------------------------------------------------


def _pack_problem(seed: int) -> tuple[list[np.ndarray], list[np.ndarray | None]]:
    """Values of mixed dtypes and shapes (a 0-dim and an empty one among them), and grads, some None."""
    rng = np.random.default_rng([seed, 70])
    if is_visible(seed):
        shapes: list[tuple[int, ...]] = [(3,), (2, 3), (), (0,), (2, 2)]
        dtypes = [np.float64, np.float64, np.float32, np.float64, np.float32]
    else:
        n = int(rng.integers(3, 8))
        shapes = [tuple(int(k) for k in rng.integers(1, 5, size=rng.integers(0, 3))) for _ in range(n)]
        shapes[int(rng.integers(n))], shapes[int(rng.integers(n))] = (), (int(rng.integers(1, 3)), 0)
        dtypes = [np.float32 if rng.random() < 0.4 else np.float64 for _ in range(n)]
    values = [rng.normal(size=s).astype(d) for s, d in zip(shapes, dtypes)]
    grads = [None if i % 3 == 1 else rng.normal(size=v.shape).astype(v.dtype) for i, v in enumerate(values)]
    return values, grads


def _make_params(impl: Impl, values: Sequence[np.ndarray]) -> list[Any]:
    params = [impl["Parameter"](v.copy()) for v in values]
    for p, v in zip(params, values):
        p.data = v.copy()  # Parameter stores float64; the float32 ones get their own dtype back
    return params


_PACK_ARRAYS = ("data", "scratch", "zero", "steps", "has_grad")
PACK_BLOCK, PACK_WORKERS = 4, 2  # what the packing check asks for


def _aliases(pack: Any) -> str:
    """Which of a pack's arrays share memory ("none" when each has its own)."""
    arrays = [(name, getattr(pack, name)) for name in _PACK_ARRAYS]
    arrays += [(f"buffers[{name!r}]", b) for name, b in pack.buffers.items()]
    for name, x in arrays:
        if not isinstance(x, np.ndarray):
            raise TypeError(f"pack.{name} is a {type(x).__name__}, not a NumPy array")
    pairs = measured("overlapping", [x for _, x in arrays])
    return "; ".join(f"{arrays[i][0]} and {arrays[j][0]}" for i, j in pairs) or "none"


def _observe_pack(values: Sequence[np.ndarray], names: tuple[str, ...]) -> Callable[[Impl, Callable[..., Any]], Trace]:
    def observe(impl: Impl, call: Callable[..., Any]) -> Trace:
        params = _make_params(impl, values)
        steps: list[tuple[str, Callable[..., Any]]] = []
        packs: list[Any] = []

        def build() -> str:
            packs.extend(call(impl["pack_by_dtype"], params, names, PACK_BLOCK, PACK_WORKERS))
            return f"{len(packs)} pack(s)"

        steps.append((f"pack_by_dtype(params, {names}, block_size={PACK_BLOCK}, workers={PACK_WORKERS})", build))
        for i, p in enumerate(params):
            steps += [
                (f"parameter {i}: values after packing", lambda p=p: np.array(p.data)),
                (f"parameter {i}: dtype", lambda p=p: str(p.data.dtype)),
                (f"parameter {i}: shape", lambda p=p: str(p.data.shape)),
            ]

        def per_pack(k: int) -> list[tuple[str, Callable[..., Any]]]:
            def pack() -> Any:
                return packs[k]

            def owners() -> str:
                return "parameters " + ", ".join(
                    str(next(i for i, q in enumerate(params) if q is p)) for p in pack().params
                )

            def views() -> str:
                mine = [i for i, p in enumerate(params) if any(p is q for q in pack().params) and p.data.size]
                inside = {
                    j - 1 for i, j in measured("overlapping", [pack().data] + [params[i].data for i in mine]) if i == 0
                }
                outside = [i for k, i in enumerate(mine) if k not in inside]
                return (
                    "every parameter's data is a view into pack.data"
                    if not outside
                    else (f"parameter(s) {outside} are not views into pack.data")
                )

            def write_through() -> np.ndarray:
                # a step writes into pack.data; every parameter must see it
                pack().data[...] = np.arange(pack().data.size)
                return np.concatenate([np.ravel(p.data) for p in pack().params] or [np.zeros(0)])

            return [
                (f"pack {k}: its parameters, in order", owners),
                (f"pack {k}: dtype of data", lambda: str(pack().data.dtype)),
                (f"pack {k}: offsets", lambda: np.array(pack().offsets)),
                (f"pack {k}: data (all values end to end)", lambda: np.array(pack().data)),
                (f"pack {k}: blocks", lambda: blocks_words(pack().blocks)),
                (f"pack {k}: shape of scratch (workers, 2, block)", lambda: str(tuple(pack().scratch.shape))),
                (f"pack {k}: zero", lambda: np.array(pack().zero)),
                (f"pack {k}: state buffers", lambda: ", ".join(pack().buffers)),
                *[
                    (f"pack {k}: buffers[{n!r}] starts as zeros", lambda n=n: np.array(pack().buffers[n]))
                    for n in names
                ],
                (f"pack {k}: steps starts as zeros", lambda: np.array(pack().steps)),
                (f"pack {k}: arrays that share memory", lambda: _aliases(pack())),
                (f"pack {k}: parameters are views", views),
                (f"pack {k}: writing into pack.data shows in the parameters", write_through),
            ]

        trace = observe_calls(steps, call)
        for k in range(len(packs)):
            trace.observations += observe_calls(per_pack(k), call).observations
        return trace

    return observe


def _reference_impl() -> Impl:
    return {
        "Parameter": Parameter,
        "FlatPack": reference.FlatPack,
        "pack_by_dtype": reference.pack_by_dtype,
        "gather_block": reference.gather_block,
    }


def pack_cases(seeds: Sequence[int]) -> list[ObserveScenario]:
    out = []
    for seed in seeds:
        values, _ = _pack_problem(seed)
        for names in (("exp_avg", "exp_avg_sq"), ("momentum_buffer",)):
            words = (
                f"{len(values)} parameters: "
                + ", ".join(f"{v.shape} {v.dtype}" for v in values)
                + f"; state_names={names}"
            )
            out.append(
                ObserveScenario(
                    title="the course's FlatPack",
                    observe=_observe_pack(values, names),
                    torch_impl=_reference_impl(),
                    words=words,
                    expected_by="the course's FlatPack",
                )
            )
    return out


GATHER_BLOCK = 3  # cuts the parameters of the gathering check apart


def _observe_gather(values: Sequence[np.ndarray], grads: Sequence[np.ndarray | None]) -> Callable[..., Trace]:
    def observe(impl: Impl, call: Callable[..., Any]) -> Trace:
        params = _make_params(impl, values)
        same_dtype = [p for p in params if p.data.dtype == params[0].data.dtype]
        picked = [i for i, p in enumerate(params) if any(p is q for q in same_dtype)]
        state: dict[str, Any] = {}

        def build() -> str:
            state["pack"] = call(impl["FlatPack"], same_dtype, ("exp_avg",), GATHER_BLOCK, 1)
            return "built"

        def gather(rows: Sequence[np.ndarray | None]) -> Callable[[], str]:
            def run() -> str:
                grads = [None if (row := rows[i]) is None else row.copy() for i in picked]
                set_attrs([(p, "grad", g) for p, g in zip(same_dtype, grads)])
                state["grads"] = grads
                call(state["pack"].gather_grads)
                return "returned"

            return run

        def list_blocks() -> str:
            state["blocks"] = list(materialize(state["pack"].blocks))
            return f"{len(state['blocks'])} block(s)"

        def blocks() -> list[tuple[str, Callable[..., Any]]]:
            out = []
            for k, block in enumerate(state["blocks"]):

                def one(block: Any = block) -> np.ndarray:
                    row = np.full(GATHER_BLOCK, np.nan, params[0].data.dtype)  # what another block left
                    return np.array(call(impl["gather_block"], state["pack"], block, row))

                out.append((f"  gather_block(pack, block {k}, out=a row full of NaN)", one))
            return out

        def untouched() -> str:
            changed = [
                i
                for i, p, g in zip(picked, same_dtype, state["grads"])
                if g is not None and not np.array_equal(p.grad, g)
            ]
            return f"the grads of parameter(s) {changed} changed" if changed else "every grad as it was"

        all_grads = [np.ones_like(v) if g is None else g for v, g in zip(values, grads)]
        missing = [i for i in picked if grads[i] is None]
        head: list[tuple[str, Callable[..., Any]]] = [
            (f"FlatPack(parameters {picked}, ('exp_avg',), block_size={GATHER_BLOCK}, workers=1)", build),
            ("gather_grads() with every grad set", gather(all_grads)),
            ("  then pack.has_grad", lambda: np.array(state["pack"].has_grad)),
        ]
        head.append(("pack.blocks", list_blocks))
        trace = observe_calls(head, call)
        if "blocks" not in state:
            return trace
        trace.observations += observe_calls(blocks(), call).observations
        tail = [
            (f"gather_grads() with grad None for parameter(s) {missing}", gather(grads)),
            ("  then pack.has_grad", lambda: np.array(state["pack"].has_grad)),
            *blocks(),
            ("the caller's grads afterwards", untouched),
        ]
        trace.observations += observe_calls(tail, call).observations
        return trace

    return observe


def gather_cases(seeds: Sequence[int]) -> list[ObserveScenario]:
    out = []
    for seed in seeds:
        values, grads = _pack_problem(seed)
        if not any(g is None for g, v in zip(grads, values) if v.dtype == values[0].dtype):
            grads = [None if v.dtype == values[0].dtype and v.size else g for v, g in zip(values, grads)]
        words = "the parameters of the first dtype of: " + ", ".join(f"{v.shape} {v.dtype}" for v in values)
        out.append(
            ObserveScenario(
                title="the course's gather_block",
                observe=_observe_gather(values, grads),
                torch_impl=_reference_impl(),
                words=words,
                expected_by="the course's FlatPack and gather_block",
            )
        )
    return out


# -- the numbers ------------------------------------------------------------------------------------------


def _require_packed(opt: Any, params: Sequence[Any]) -> None:
    """foreach=True must pack: every (non-empty) parameter is a view into one of optimizer.packs."""
    packs = list(getattr(opt, "packs", None) or ())
    if not packs:
        raise AssertionError("with foreach=True the optimizer must pack its parameters (optimizer.packs is empty)")
    datas = [pack.data for pack in packs]
    inside = {
        j - len(datas) for i, j in measured("overlapping", datas + [p.data for p in params]) if i < len(datas) <= j
    }
    for i, p in enumerate(params):
        if p.data.size and i not in inside:
            raise AssertionError(f"with foreach=True, parameter {i}'s data must be a view into its pack's data")


def _quirk(name: str, route: str, config: Config) -> str | None:
    """Why torch's route cannot stand for the truth on this configuration (None: it can).

    Both are torch behaviours, not the algorithm's (the book's chapter 7 shows them): foreach SGD with
    Nesterov, no weight decay and no maximize writes into p.grad; fused SGD with momentum fails when a
    parameter gets its first grad after the others have buffers (the late parameter is dropped there).
    """
    nesterov_quirk = (
        name == "SGD"
        and route == "foreach"
        and config.get("nesterov")
        and not config.get("weight_decay")
        and not config.get("maximize")
    )
    return "foreach SGD writes the Nesterov step into p.grad" if nesterov_quirk else None


def scenario(
    name: str, config: Config, seed: int, route: str, *, lr_change: bool = False, note: str = ""
) -> OptimizerScenario:
    """``name(params, foreach=True, **config)`` against torch's ``route`` on chapter 4's trajectory."""
    init, grads = ch4.trajectory(seed)
    if name == "SGD" and route == "fused" and config.get("momentum"):
        init, grads = init[:-1], [row[:-1] for row in grads]  # see _quirk: no late parameter here
    actions: list[Any] = [Step(tuple(g)) for g in grads]
    if lr_change:
        actions.insert(ch4.STEPS // 2, ch4._set_lr(config.get("lr", ch4.DEFAULT_LR[name]) / 2))
    torch_class, flags = getattr(torch.optim, name), dict(ROUTES)[route]

    blocking = BLOCKING[route]

    def build(impl: Impl, params: Any) -> Any:
        params = list(params)
        opt = impl[name](params, foreach=True, **config, **blocking)
        _require_packed(opt, params)
        return opt

    flag_words = ", ".join(f"{k}={v}" for k, v in flags.items())
    blocking_words = ", ".join(f"{k}={v}" for k, v in blocking.items())
    return OptimizerScenario(
        title=f"torch.optim.{name}(params, {ch4._words(config) + ', ' if config else ''}{flag_words}); "
        f"yours with foreach=True, {blocking_words}",
        init=init,
        actions=tuple(actions),
        state_names=SGD_STATE if name == "SGD" else ADAM_STATE,
        notes=(note,) if note else (),
        build=build,
        build_torch=lambda params: torch_class(params, **config, **flags),
    )


VISIBLE: dict[str, tuple[tuple[Config, bool], ...]] = {
    "Adam": ch4.VISIBLE["Adam"] + ch4.VISIBLE["Adam-amsgrad"],
    "SGD": ch4.VISIBLE["SGD"] + (({"lr": 0.05, "momentum": 0.9, "nesterov": True}, False),),
}


def cases(name: str, seeds: Sequence[int]) -> list[OptimizerScenario]:
    """Every configuration against each of torch's three routes (where torch's route has no quirk)."""
    return [
        scenario(name, c, seed, route, lr_change=change, note=note)
        for seed in seeds
        for c, change, note in _configs_for(name, seed)
        for route, _ in ROUTES
        if not _quirk(name, route, c)
    ]


def _configs_for(name: str, seed: int) -> list[tuple[Config, bool, str]]:
    if is_visible(seed):
        return [(c, change, "") for c, change in VISIBLE[name]]
    configs = [
        (c, False, f"the configuration {d!r} of PyTorch's own optimizer tests")
        for d, c in ch4._torch_configs(name, None)
    ]
    rng = np.random.default_rng([seed, 71])
    for _ in range(2):
        c = ch4.random_sgd_config(rng) if name == "SGD" else ch4.random_adam_config(rng, bool(rng.random() < 0.5))
        configs.append((c, bool(rng.random() < 0.5), ""))
    return configs


# -- the blocked rules ---------------------------------------------------------------------------------------

ALLOWED_LOOPS = ("gather_grads", "gather_block")  # the grads arrive as separate arrays


def count_lines(fn: Callable[..., Any]) -> int:
    """Python lines run by ``fn``, leaving out the gathering of grads (the loops allowed) and NumPy's own."""
    return measure.count_lines(fn, ALLOWED_LOOPS)


def _rule_problem(n: int, size: int, seed: int) -> tuple[list[np.ndarray], list[list[np.ndarray | None]]]:
    """n parameters of ``size`` elements; 4 steps, the last with one grad None (a block updated per segment)."""
    rng = np.random.default_rng([seed, 72, n])
    values = [rng.normal(size=size) for _ in range(n)]
    grads: list[list[np.ndarray | None]] = [[rng.normal(size=size) for _ in range(n)] for _ in range(4)]
    grads[-1][n // 2] = None
    return values, grads


SMALL, LARGE = 6, 24  # parameter counts whose line counts must agree
LINE_STEPS = 3  # the steps counted: every parameter has a grad and the same step count
ALLOC_PARAMS, ALLOC_SIZE = 64, 512  # one float64 buffer: 256 KiB
ALLOC_BLOCK, ALLOC_WORKERS = 2048, 2  # a block of one array: 16 KiB
SCRATCH_ROWS = 3  # rows of a block per worker a pack may keep (the course's two, and the zero row)
PER_PARAM_BYTES = 64  # offsets, step counts, flags: a few numbers per parameter
KEPT_SLACK = 4096


def kept_limit(params: int, block: int, workers: int, itemsize: int) -> int:
    """The most a pack may keep besides parameters and state (the course's rule): a few rows of a block
    per worker, and a few numbers per parameter."""
    return SCRATCH_ROWS * workers * block * itemsize + PER_PARAM_BYTES * params + KEPT_SLACK


def _observe_rules(name: str, config: Config) -> Callable[[Impl, Callable[..., Any]], Trace]:
    def observe(impl: Impl, call: Callable[..., Any]) -> Trace:
        def lines_per_step(n: int) -> list[int]:
            values, grads = _rule_problem(n, 3, 0)
            params = _make_params(impl, values)
            opt = call(impl[name], params, foreach=True, **config, workers=1)
            counts = []
            for row in grads[:LINE_STEPS]:
                set_attrs([(p, "grad", g) for p, g in zip(params, row)])
                counts.append(call(measured, "count_lines", opt.step, ALLOWED_LOOPS))
            return counts

        def lines() -> str:
            small, large = lines_per_step(SMALL), lines_per_step(LARGE)
            if small == large:
                return "the same for 6 and 24 parameters"
            return (
                f"step() ran {small} Python lines (steps 1-{LINE_STEPS}) for {SMALL} parameters and {large} for "
                f"{LARGE}, all in one block with a grad each: it loops over the parameters outside the gathering "
                "of grads, where one update for the whole block would do"
            )

        def built(workers: int) -> tuple[Any, list[Any], list[list[np.ndarray | None]]]:
            values, grads = _rule_problem(ALLOC_PARAMS, ALLOC_SIZE, 1)
            params = _make_params(impl, values)
            opt = call(impl[name], params, foreach=True, **config, block_size=ALLOC_BLOCK, workers=workers)
            return opt, params, grads

        def kept() -> str:
            opt, params, grads = built(ALLOC_WORKERS)
            for row in grads:
                set_attrs([(p, "grad", g) for p, g in zip(params, row)])
                call(opt.step)
            packs = list(materialize(opt.packs))
            theirs = [p.data for p in params] + [p.grad for p in params]
            theirs += [pack.data for pack in packs] + [b for pack in packs for b in materialize(pack.buffers).values()]
            got = call(measured, "kept_bytes", [opt, *packs], theirs)
            limit = kept_limit(ALLOC_PARAMS, ALLOC_BLOCK, ALLOC_WORKERS, 8)
            if got <= limit:
                return "at most a few rows of a block per worker"
            return (
                f"the optimizer and its packs keep {got:,} bytes of arrays besides the parameters, their grads and "
                f"the state; the course allows {limit:,}: {SCRATCH_ROWS} rows of a block ({ALLOC_BLOCK} elements) "
                f"for each of {ALLOC_WORKERS} workers, and {PER_PARAM_BYTES} bytes per parameter. One flat buffer "
                f"is {ALLOC_PARAMS * ALLOC_SIZE * 8:,} bytes: scratch must be a block, not a buffer"
            )

        def allocations() -> str:
            opt, params, grads = built(1)  # one thread: the same peak every time
            worst = 0
            for row in grads:
                set_attrs([(p, "grad", g) for p, g in zip(params, row)])
                worst = max(worst, call(measured, "peak_allocation", opt.step))
            block_bytes = ALLOC_BLOCK * 8
            if worst < block_bytes // 2:
                return "nothing as large as half a block"
            # in whole blocks: the exact count of bytes changes from run to run
            size = f"{worst // block_bytes} block(s)" if worst >= block_bytes else "half a block"
            return (
                f"one step allocated at least {size} of new arrays at once (a block of one array: {block_bytes:,} "
                "bytes): some operation makes a new array (write into scratch with out=, +=, *=)"
            )

        return observe_calls(
            [
                ("Python lines per step()", lines),
                ("memory a pack keeps", kept),
                ("memory a step allocates", allocations),
            ],
            call,
        )

    return observe


def _rule_trace() -> Trace:
    trace = Trace()
    trace.add("Python lines per step()", "the same for 6 and 24 parameters")
    trace.add("memory a pack keeps", "at most a few rows of a block per worker")
    trace.add("memory a step allocates", "nothing as large as half a block")
    return trace


RULE_CONFIGS: dict[str, tuple[Config, ...]] = {
    "Adam": ({"lr": 0.01, "weight_decay": 0.1}, {"lr": 0.01, "amsgrad": True, "maximize": True}),
    "SGD": (
        {"lr": 0.01, "momentum": 0.9, "dampening": 0.1, "weight_decay": 0.1},
        {"lr": 0.01, "momentum": 0.9, "nesterov": True},
    ),
}


def rule_cases(name: str, seeds: Sequence[int]) -> list[RuleScenario]:
    configs = RULE_CONFIGS[name][:1] if all(is_visible(s) for s in seeds) else RULE_CONFIGS[name]
    return [
        RuleScenario(
            title="the blocked rules (the course's)",
            observe=_observe_rules(name, c),
            rule=_rule_trace,
            words=f"{name}(params, foreach=True, {ch4._words(c)}); {SMALL} vs {LARGE} parameters of 3 elements "
            f"on one thread for the lines ({LINE_STEPS} steps); {ALLOC_PARAMS} of {ALLOC_SIZE} float64 elements, "
            f"block_size={ALLOC_BLOCK}, 4 steps (the last with one grad None) for the memory (workers={ALLOC_WORKERS} "
            "for what a pack keeps, 1 for what a step allocates)",
        )
        for c in configs
    ]


# -- what the notebook's test cells call ---------------------------------------------------------------------


def check_split_blocks(split_blocks: Any, *, seeds: Sequence[int] = VISIBLE_SEEDS) -> None:
    __tracebackhide__ = True
    verify("split_blocks", split_cases(seeds), {"split_blocks": split_blocks}, MUTANTS)


def check_flat_pack(FlatPack: Any, pack_by_dtype: Any, *, seeds: Sequence[int] = VISIBLE_SEEDS) -> None:
    __tracebackhide__ = True
    verify(
        "pack_by_dtype / FlatPack",
        pack_cases(seeds),
        {"Parameter": Parameter, "FlatPack": FlatPack, "pack_by_dtype": pack_by_dtype},
        MUTANTS,
    )


def check_gather_block(FlatPack: Any, gather_block: Any, *, seeds: Sequence[int] = VISIBLE_SEEDS) -> None:
    __tracebackhide__ = True
    verify(
        "FlatPack.gather_grads / gather_block",
        gather_cases(seeds),
        {"Parameter": Parameter, "FlatPack": FlatPack, "gather_block": gather_block},
        MUTANTS,
    )


def check_adam(Adam: Any, *, seeds: Sequence[int] = VISIBLE_SEEDS) -> None:
    __tracebackhide__ = True
    verify(
        "Adam(foreach=True)",
        cases("Adam", seeds),
        {"Parameter": Parameter, "Adam": Adam},
        MUTANTS,
        "torch.optim.Adam (for-loop, foreach and fused)",
    )


def check_adam_blocked(Adam: Any, *, seeds: Sequence[int] = VISIBLE_SEEDS) -> None:
    __tracebackhide__ = True
    verify("Adam(foreach=True).step", rule_cases("Adam", seeds), {"Parameter": Parameter, "Adam": Adam}, MUTANTS)


def check_sgd(SGD: Any, *, seeds: Sequence[int] = VISIBLE_SEEDS) -> None:
    __tracebackhide__ = True
    verify(
        "SGD(foreach=True)",
        cases("SGD", seeds),
        {"Parameter": Parameter, "SGD": SGD},
        MUTANTS,
        "torch.optim.SGD (for-loop, foreach and fused)",
    )


def check_sgd_blocked(SGD: Any, *, seeds: Sequence[int] = VISIBLE_SEEDS) -> None:
    __tracebackhide__ = True
    verify("SGD(foreach=True).step", rule_cases("SGD", seeds), {"Parameter": Parameter, "SGD": SGD}, MUTANTS)
