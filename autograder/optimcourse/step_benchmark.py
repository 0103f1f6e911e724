"""How fast one optimizer step runs by each route, on this machine: ``python -m optimcourse.step_benchmark``.

What is measured. One ``step()`` of Adam (default hyperparameters) and of SGD with momentum 0.9,
five ways: the course's NumPy optimizers of exercise 7 as a for-loop over the parameters
(``foreach=False``) and as blocked operations on packed parameters (``foreach=True``: every operation of
the update on one cache-sized block before the next, the blocks shared out between threads), and
``torch.optim`` as its for-loop (``foreach=False``), its foreach route (``foreach=True``) and its
fused kernel (``fused=True``); on three parameter lists: (a) 1,000 tensors of 1,000 elements,
(b) 10 tensors of 1,000,000 elements, (c) the parameter shapes of one GPT-2-small transformer block.
When torch sees a GPU, its three routes also run there.

How. Every route starts from the same parameters and the same gradients, drawn once from a fixed
seed and set once (the gradients stay put between steps, so every step does the same work). Each
route takes ``warmup`` steps, which also create the lazily built state, then ``repeats`` timed steps;
the figure is the median. Then one more step, not timed, measures memory: for the NumPy routes with
``tracemalloc`` (NumPy reports its buffers to it), for torch on the CPU with ``torch.profiler``'s
record of every allocation and free (their running sum peaks where the step needs most), on a GPU
with ``torch.cuda.max_memory_allocated``. So every route takes exactly ``warmup + repeats + 1`` steps,
and all routes end with the same parameters up to rounding.

The two speed targets are timed again, the two routes compared in turns: each round runs one route for
a few steps and then the other (the order alternating), one untimed step after each switch, and takes
the ratio of the two medians; the target's figure is the median ratio over the rounds, printed with
its middle half. A moment when the machine is busy then slows both sides of a ratio, not one route's
whole run.

What the figures mean. ``x fused``: the time divided by torch fused's on the same case and device.
``GB/s``: the bytes a step cannot avoid moving (Adam reads the parameter, gradient, ``exp_avg`` and
``exp_avg_sq`` and writes three of them back, 7 arrays; SGD with momentum reads three and writes two,
5 arrays) divided by the time. The limit to hold it against is the memory bandwidth, measured here
on arrays far larger than the caches, counting bytes read plus bytes written: a copy with
``np.copyto``, and an in-place update (``x *= 1``) by NumPy on one thread and by torch on all of its
threads. The copy is the slowest of the three, because the destination's old contents are fetched
into the cache before they are overwritten; an optimizer updates its parameters and state in place,
so the in-place figure with torch's threads is the yardstick of a step.
Memory: ``state`` is what ``optimizer.state`` holds; ``kept`` what the route keeps besides that
between steps (the NumPy packs' scratch rows, a block per worker, and per-parameter counters); ``step peak`` how far
memory rises above its level before the step, while the step runs.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import math
import os
import platform
import re
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import torch
from torch.autograd import DeviceType
from torch.profiler import ProfilerActivity, profile

from .given import Parameter
from .references import foreach_fused
from .remote.measure import kept_bytes

__all__ = [
    "CASES",
    "CPU_ROUTES",
    "OPTIMIZERS",
    "PAIRS",
    "Paired",
    "find",
    "format_machine",
    "machine",
    "main",
    "megabytes",
    "ratio",
    "run",
    "sweep_blocks",
    "targets",
    "time_pairs",
    "without_profiler_chatter",
]


@dataclass(frozen=True)
class Case:
    """A list of parameter shapes to step."""

    name: str
    label: str
    shapes: tuple[tuple[int, ...], ...]

    @property
    def elements(self) -> int:
        return sum(math.prod(s) for s in self.shapes)


D_MODEL = 768
GPT2_BLOCK = (
    (D_MODEL,),
    (D_MODEL,),  # LayerNorm 1: weight, bias
    (3 * D_MODEL, D_MODEL),
    (3 * D_MODEL,),  # attention: q, k and v projections together
    (D_MODEL, D_MODEL),
    (D_MODEL,),  # attention output projection
    (D_MODEL,),
    (D_MODEL,),  # LayerNorm 2
    (4 * D_MODEL, D_MODEL),
    (4 * D_MODEL,),  # MLP up
    (D_MODEL, 4 * D_MODEL),
    (D_MODEL,),  # MLP down
)
CASES = {
    "a": Case("a", "1,000 tensors of 1,000 elements", ((1000,),) * 1000),
    "b": Case("b", "10 tensors of 1,000,000 elements", ((1_000_000,),) * 10),
    "c": Case("c", "a GPT-2-small block (12 tensors)", GPT2_BLOCK),
}


@dataclass(frozen=True)
class OptimizerSpec:
    """One optimizer as both libraries spell it: the class name and the keyword arguments."""

    name: str
    label: str
    hyper: tuple[tuple[str, float], ...]
    arrays_moved: int  # param-sized arrays one step must read plus write, at the least


OPTIMIZERS = {
    # reads param, grad, exp_avg, exp_avg_sq; writes param, exp_avg, exp_avg_sq
    "Adam": OptimizerSpec("Adam", "Adam", (), 7),
    # reads param, grad, momentum_buffer; writes param, momentum_buffer
    "SGD": OptimizerSpec("SGD", "SGD, momentum 0.9", (("momentum", 0.9),), 5),
}


@dataclass(frozen=True)
class Route:
    """One way to run a step: the library, the flag that picks the implementation, the device."""

    key: str
    label: str
    library: str  # "numpy" or "torch"
    flag: str  # "foreach" or "fused"
    value: bool
    device: str = "cpu"


CPU_ROUTES = (
    Route("numpy-loop", "NumPy for-loop", "numpy", "foreach", False),
    Route("numpy-multi", "NumPy multi-tensor", "numpy", "foreach", True),
    Route("torch-loop", "torch for-loop", "torch", "foreach", False),
    Route("torch-foreach", "torch foreach", "torch", "foreach", True),
    Route("torch-fused", "torch fused", "torch", "fused", True),
)
CUDA_ROUTES = tuple(replace(r, key=r.key + "-cuda", device="cuda") for r in CPU_ROUTES if r.library == "torch")


def default_routes() -> tuple[Route, ...]:
    """The five CPU routes, and torch's three on the GPU when torch sees one."""
    return CPU_ROUTES + (CUDA_ROUTES if torch.cuda.is_available() else ())


def traffic_bytes(optimizer: str, elements: int, itemsize: int) -> int:
    """The bytes one step must move at the least: each param-sized array read or written once."""
    return OPTIMIZERS[optimizer].arrays_moved * elements * itemsize


@dataclass
class Stepper:
    """A route ready to step, built on its own copies of the parameters and gradients."""

    step: Callable[[], None]
    sync: Callable[[], None]  # waits for the device; nothing to wait for on the CPU
    params: Callable[[], list[np.ndarray]]
    state_bytes: Callable[[], int]
    kept_bytes: Callable[[], int]
    peak: Callable[[Callable[[], None]], int]  # runs one step; the bytes it added at its highest
    peak_method: str


@dataclass
class Row:
    """The figures of one route on one case."""

    optimizer: str
    case: str
    route: str
    route_label: str
    device: str
    tensors: int
    elements: int
    dtype: str
    ms: float  # median time of one step
    times_ms: list[float]
    traffic_bytes: int
    gb_per_s: float
    state_bytes: int
    kept_bytes: int
    peak_extra_bytes: int
    peak_method: str
    x_fused: float | None = None  # ms divided by torch fused's ms on the same case and device


@dataclass(frozen=True)
class Target:
    """A goal the exercise sets, with what was measured: a ratio, or (for memory) a text of its own."""

    text: str
    ratio: float | None
    met: bool | None
    measured: str | None = None

    def line(self) -> str:
        if self.ratio is None and self.measured is None:
            return f"{self.text}: not measured (its case was not run)"
        figure = self.measured or f"{self.ratio:.2f}x"
        return f"{self.text}: {'met' if self.met else 'not met'} (measured {figure})"


@dataclass(frozen=True)
class Paired:
    """Two routes timed in turns on one case, step for step: a moment when the machine is busy slows
    both, so the ratio of each round's two times holds still where the times do not."""

    optimizer: str
    case: str
    first: str  # route keys; each ratio is first's time over second's
    second: str
    ratios: list[float]

    def quartiles(self) -> tuple[float, float, float]:
        q1, median, q3 = np.percentile(self.ratios, [25, 50, 75])
        return float(q1), float(median), float(q3)

    def text(self) -> str:
        q1, median, q3 = self.quartiles()
        return f"{median:.2f}x, middle half {q1:.2f}x to {q3:.2f}x over {len(self.ratios)} rounds in turns"


# the targets' two speed comparisons: (optimizer, case, first route, second route)
PAIRS = (("Adam", "a", "numpy-loop", "numpy-multi"), ("Adam", "b", "numpy-multi", "torch-fused"))


# ---------------------------------------------------------------- the machine


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo, or what the platform module knows."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        found = re.search(r"^model name\s*:\s*(.+)$", cpuinfo.read_text(), re.M)
        if found:
            return found.group(1).strip()
    return platform.processor() or platform.machine()


def largest_cache() -> int | None:
    """Bytes of the CPU's largest cache (the last level, shared by the cores), where Linux says."""
    sizes = []
    for index in Path("/sys/devices/system/cpu/cpu0/cache").glob("index*"):
        size = (index / "size").read_text().strip() if (index / "size").exists() else ""
        if size[-1:] in ("K", "M") and size[:-1].isdigit():
            sizes.append(int(size[:-1]) * (1024 if size[-1] == "K" else 1024**2))
    return max(sizes, default=None)


BANDWIDTH_MB = 256  # far larger than any cache: these arrays stream from memory


def median_gb_per_s(operation: Callable[..., Any], nbytes: int, repeats: int = 5) -> float:
    """`nbytes` over the median time of `operation`, after one untimed call that also maps every page."""
    operation()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        operation()
        times.append(time.perf_counter() - start)
    return nbytes / float(np.median(times)) / 1e9


def copy_bandwidth() -> float:
    """GB/s of ``np.copyto`` from one large array into another, bytes read plus bytes written."""
    src = np.ones(BANDWIDTH_MB * 2**20 // 4, np.float32)
    dst = np.ones_like(src)
    return median_gb_per_s(lambda: np.copyto(dst, src), 2 * src.nbytes)


def numpy_update_bandwidth() -> float:
    """GB/s of an in-place update of one large array by NumPy (one thread), bytes read plus written.
    Unlike a copy, it writes only where it has just read, as an optimizer's state updates do."""
    x = np.ones(BANDWIDTH_MB * 2**20 // 4, np.float32)
    return median_gb_per_s(lambda: np.multiply(x, 1.0, out=x), 2 * x.nbytes)


def torch_update_bandwidth() -> float:
    """The same in-place update by torch, on all of its intra-op threads: the yardstick of a step."""
    x = torch.ones(BANDWIDTH_MB * 2**20 // 4)
    return median_gb_per_s(lambda: x.mul_(1.0), 2 * x.nbytes)


CACHED_ELEMENTS = 2**15  # an Adam step's arrays of this length fit in a core's own cache


def numpy_adam_ns_per_element(repeats: int = 50) -> float:
    """Nanoseconds per element of the course's blocked Adam on one thread, on a parameter small enough
    that its arrays (parameter, gradient, two state buffers, two rows of scratch: 768 kB in float32)
    stay in a core's cache: the price of NumPy's arithmetic, a dozen ufunc loops, with memory out of
    the way."""
    p = Parameter(0.0)
    p.data = np.ones(CACHED_ELEMENTS, np.float32)
    p.grad = np.full(CACHED_ELEMENTS, 0.5, np.float32)
    optimizer = foreach_fused.Adam([p], foreach=True, block_size=CACHED_ELEMENTS, workers=1)
    optimizer.step()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        optimizer.step()
        times.append(time.perf_counter() - start)
    return float(np.median(times)) / CACHED_ELEMENTS * 1e9


def machine() -> dict[str, Any]:
    """What the figures were measured on, with the memory bandwidth measured now."""
    return {
        "cpu": cpu_model(),
        "logical_cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "numpy_workers": foreach_fused.WORKERS,
        "numpy_block_bytes": foreach_fused.BLOCK_BYTES,
        "numpy": np.__version__,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "largest_cache_bytes": largest_cache(),
        "copy_gb_per_s": copy_bandwidth(),
        "numpy_update_gb_per_s": numpy_update_bandwidth(),
        "torch_update_gb_per_s": torch_update_bandwidth(),
        "numpy_adam_ns_per_element": numpy_adam_ns_per_element(),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }


def format_machine(m: dict[str, Any]) -> str:
    cache = m["largest_cache_bytes"]
    lines = [
        f"CPU:            {m['cpu']}, {m['logical_cores']} logical cores; torch uses {m['torch_threads']} "
        f"intra-op threads, the course's blocked NumPy step {m['numpy_workers']}",
        f"largest cache:  {megabytes(cache) + ' MB' if cache else 'unknown'}",
        f"versions:       NumPy {m['numpy']}, torch {m['torch']}, Python {m['python']}",
        f"memory, {BANDWIDTH_MB} MB arrays, GB/s read + written:",
        f"  copy (np.copyto, 1 thread)               {m['copy_gb_per_s']:6.1f}",
        f"  in-place update (NumPy, 1 thread)        {m['numpy_update_gb_per_s']:6.1f}",
        f"  in-place update (torch, {m['torch_threads']} threads)       "
        f"{m['torch_update_gb_per_s']:6.1f}   <- the yardstick",
        f"arithmetic:     the blocked NumPy Adam on {CACHED_ELEMENTS:,} elements, in the cache, 1 thread: "
        f"{m['numpy_adam_ns_per_element']:.2f} ns per element",
        f"GPU:            {m['gpu']}" if m["gpu"] else "GPU:            none available: CPU figures only",
    ]
    return "\n".join(lines)


# ---------------------------------------------------------------- memory during a step


def numpy_step_peak(step: Callable[[], None]) -> int:
    """Bytes the step adds at its highest, from tracemalloc (NumPy reports its buffers to it)."""
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        step()
        return tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()


@contextlib.contextmanager
def without_profiler_chatter() -> Iterator[None]:
    """The profiler's C++ side writes progress lines (USDT:, STAGE:) straight to file descriptor 2:
    keep those out of the output, and pass anything else through."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            kept = [
                line
                for line in sink.read().decode(errors="replace").splitlines(keepends=True)
                if not re.match(r"(USDT|STAGE):", line)
            ]
            sys.stderr.write("".join(kept))


def torch_cpu_step_peak(step: Callable[[], None]) -> int:
    """Bytes the step adds at its highest on the CPU: torch.profiler records every CPU allocation
    (positive bytes) and free (negative) in order, so the running sum peaks where the step peaks."""
    with without_profiler_chatter(), profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        step()
    events = [
        e for e in prof.profiler.kineto_results.events() if e.name() == "[memory]" and e.device_type() == DeviceType.CPU
    ]
    running = peak = 0
    for e in sorted(events, key=lambda e: e.start_ns()):
        running += e.nbytes()
        peak = max(peak, running)
    return peak


def cuda_step_peak(step: Callable[[], None]) -> int:
    """Bytes the step adds at its highest on the GPU, from the caching allocator's own count."""
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    before = torch.cuda.memory_allocated()
    step()
    torch.cuda.synchronize()
    return torch.cuda.max_memory_allocated() - before


# ---------------------------------------------------------------- the routes


def numpy_stepper(spec: OptimizerSpec, route: Route, init: list[np.ndarray], grads: list[np.ndarray]) -> Stepper:
    params = []
    for x, g in zip(init, grads):
        p = Parameter(0.0)
        p.data, p.grad = x.copy(), g.copy()  # in the dtype of the case, before the optimizer packs them
        params.append(p)
    optimizer = getattr(foreach_fused, spec.name)(params, **dict(spec.hyper), **{route.flag: route.value})
    return Stepper(
        optimizer.step,
        lambda: None,
        lambda: [np.array(p.data) for p in params],
        lambda: numpy_state_bytes(optimizer),
        lambda: numpy_kept_bytes(optimizer),
        numpy_step_peak,
        "tracemalloc",
    )


def numpy_state_bytes(optimizer: Any) -> int:
    return sum(a.nbytes for entry in optimizer.state.values() for a in entry.values() if isinstance(a, np.ndarray))


def numpy_kept_bytes(optimizer: Any) -> int:
    """What the packs keep besides parameters and state: scratch rows, per-parameter counters and flags,
    offsets; counted as chapter 7's rule counts them (:func:`optimcourse.remote.measure.kept_bytes`), so a
    view of a larger array counts as all of it. The gradients the packs point to are the caller's, not
    kept. Zero for the for-loop, which keeps nothing between steps."""
    packs = list(getattr(optimizer, "packs", []))
    theirs = [a for pack in packs for a in [pack.data, *pack.buffers.values()]]
    theirs += [p.grad for pack in packs for p in pack.params]
    return kept_bytes(packs, theirs)


def torch_stepper(spec: OptimizerSpec, route: Route, init: list[np.ndarray], grads: list[np.ndarray]) -> Stepper:
    device = torch.device(route.device)
    params = [torch.tensor(x, device=device).requires_grad_() for x in init]
    for p, g in zip(params, grads):
        p.grad = torch.tensor(g, device=device)
    optimizer = getattr(torch.optim, spec.name)(params, **dict(spec.hyper), **{route.flag: route.value})
    on_gpu = device.type == "cuda"
    return Stepper(
        optimizer.step,
        torch.cuda.synchronize if on_gpu else (lambda: None),
        lambda: [p.detach().cpu().numpy().copy() for p in params],
        lambda: torch_state_bytes(optimizer),
        lambda: 0,
        cuda_step_peak if on_gpu else torch_cpu_step_peak,
        "torch.cuda.max_memory_allocated" if on_gpu else "torch.profiler",
    )


def torch_state_bytes(optimizer: torch.optim.Optimizer) -> int:
    return sum(t.nbytes for entry in optimizer.state.values() for t in entry.values() if torch.is_tensor(t))


def make_stepper(spec: OptimizerSpec, route: Route, init: list[np.ndarray], grads: list[np.ndarray]) -> Stepper:
    build = numpy_stepper if route.library == "numpy" else torch_stepper
    return build(spec, route, init, grads)


# ---------------------------------------------------------------- measuring


def inputs(case: Case, dtype: str, seed: int = 0) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Parameters and gradients, standard normal, the same for every route."""
    rng = np.random.default_rng(seed)
    init = [np.asarray(rng.standard_normal(s, dtype=np.dtype(dtype))) for s in case.shapes]
    grads = [np.asarray(rng.standard_normal(s, dtype=np.dtype(dtype))) for s in case.shapes]
    return init, grads


def time_steps(stepper: Stepper, warmup: int, repeats: int) -> list[float]:
    """Seconds of each of `repeats` steps, after `warmup` steps that are not timed."""
    for _ in range(warmup):
        stepper.step()
    stepper.sync()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        stepper.step()
        stepper.sync()
        times.append(time.perf_counter() - start)
    return times


def paired_ratios(first: Stepper, second: Stepper, warmup: int, rounds: int, steps: int = 5) -> list[float]:
    """Each round times a run of `steps` steps of each route, after one untimed step (it absorbs the
    switch: torch's threads still spinning, a core waking up), and gives the ratio of the two medians,
    first's over second's. The order alternates between rounds."""
    for stepper in (first, second):
        for _ in range(warmup):
            stepper.step()
        stepper.sync()
    ratios = []
    for k in range(rounds):
        medians = {}
        for name, stepper in (("first", first), ("second", second))[:: 1 if k % 2 == 0 else -1]:
            stepper.step()
            stepper.sync()
            medians[name] = float(np.median(time_steps(stepper, 0, steps)))
        ratios.append(medians["first"] / medians["second"])
    return ratios


def time_pairs(
    cases: Sequence[str] = ("a", "b"), rounds: int = 20, warmup: int = 2, dtype: str = "float32", seed: int = 0
) -> list[Paired]:
    """The targets' speed comparisons (:data:`PAIRS`) on those of `cases` they need, timed in turns."""
    routes = {r.key: r for r in CPU_ROUTES}
    out = []
    for name, case, first, second in PAIRS:
        if case not in cases:
            continue
        spec, (init, grads) = OPTIMIZERS[name], inputs(CASES[case], dtype, seed)
        a, b = (make_stepper(spec, routes[key], init, grads) for key in (first, second))
        out.append(Paired(name, case, first, second, paired_ratios(a, b, warmup, rounds)))
        del a, b
        gc.collect()
    return out


def device_name(route: Route) -> str:
    return torch.cuda.get_device_name(0) if route.device == "cuda" else "cpu"


def measure(
    spec: OptimizerSpec, case: Case, route: Route, stepper: Stepper, dtype: str, warmup: int, repeats: int
) -> Row:
    times = time_steps(stepper, warmup, repeats)
    peak = stepper.peak(stepper.step)  # one more step, so every route takes the same number
    ms = 1e3 * float(np.median(times))
    traffic = traffic_bytes(spec.name, case.elements, np.dtype(dtype).itemsize)
    return Row(
        spec.name,
        case.name,
        route.key,
        route.label,
        device_name(route),
        len(case.shapes),
        case.elements,
        dtype,
        ms,
        [1e3 * t for t in times],
        traffic,
        traffic / (ms / 1e3) / 1e9,
        stepper.state_bytes(),
        stepper.kept_bytes(),
        peak,
        stepper.peak_method,
    )


def with_fused_ratios(rows: list[Row]) -> list[Row]:
    """Each row's time over torch fused's on the same optimizer, case and device."""
    fused = {(r.optimizer, r.case, r.device): r.ms for r in rows if r.route.startswith("torch-fused")}
    return [
        replace(r, x_fused=r.ms / fused[r.optimizer, r.case, r.device])
        if (r.optimizer, r.case, r.device) in fused
        else r
        for r in rows
    ]


def run(
    cases: Sequence[str | Case] = ("a", "b", "c"),
    optimizers: Sequence[str] = ("Adam", "SGD"),
    routes: Sequence[Route] | None = None,
    repeats: int = 10,
    warmup: int = 2,
    dtype: str = "float32",
    seed: int = 0,
    progress: TextIO | None = None,
    inspect: Callable[[Row, Stepper], None] | None = None,
) -> list[Row]:
    """Measure every route on every case for every optimizer. `progress`, if given, gets a line per
    route as it finishes; `inspect`, if given, sees each route's stepper after its last step (the tests
    read the parameters there)."""
    rows = []
    for name in optimizers:
        spec = OPTIMIZERS[name]
        for case in cases:
            case = CASES[case] if isinstance(case, str) else case
            init, grads = inputs(case, dtype, seed)
            for route in routes or default_routes():
                stepper = make_stepper(spec, route, init, grads)
                row = measure(spec, case, route, stepper, dtype, warmup, repeats)
                if inspect is not None:
                    inspect(row, stepper)
                if progress is not None:
                    print(
                        f"  {spec.label:18} ({case.name}) {route.label:22} {row.ms:9.3f} ms", file=progress, flush=True
                    )
                rows.append(row)
                del stepper
                gc.collect()  # free this route's arrays before the next one is built
    return with_fused_ratios(rows)


def find(rows: Sequence[Row], optimizer: str, case: str, route: str) -> Row | None:
    return next((r for r in rows if (r.optimizer, r.case, r.route) == (optimizer, case, route)), None)


BLOCK_ROWS = 3  # scratch a pack may keep per worker, in blocks: the two scratch rows and the zero row
PER_PARAM_KEPT, PER_PARAM_PEAK = 64, 1024  # bytes per parameter: offsets and counters; the step's lists


def memory_limit(row: Row, workers: int, block_bytes: int) -> int:
    """The most extra memory the blocked route may use on a row's case: what it keeps (a few blocks of
    scratch per worker and a few numbers per parameter) plus what a step allocates (a block at most, and
    the lists of a step, about a kilobyte per parameter)."""
    kept = BLOCK_ROWS * workers * block_bytes + PER_PARAM_KEPT * row.tensors
    return kept + block_bytes + PER_PARAM_PEAK * row.tensors


def targets(
    rows: Sequence[Row],
    workers: int | None = None,
    block_bytes: int | None = None,
    pairs: Sequence[Paired] = (),
) -> list[Target]:
    """The exercise's three goals for the NumPy multi-tensor Adam, with what was measured: its speed against
    the NumPy for-loop on (a) and against torch's fused step on (b), and its extra memory on every case run
    (`workers` and `block_bytes` are the route's, the course's defaults unless given). A speed is the
    median ratio of `pairs` (:func:`time_pairs`) where they hold its comparison, else the ratio of the
    rows' medians."""
    workers = workers or foreach_fused.WORKERS
    block_bytes = block_bytes or foreach_fused.BLOCK_BYTES

    def compare(case: str, first: str, second: str) -> tuple[float | None, str | None]:
        pair = next(
            (p for p in pairs if (p.optimizer, p.case, p.first, p.second) == ("Adam", case, first, second)), None
        )
        if pair is not None:
            return pair.quartiles()[1], pair.text()
        a, b = find(rows, "Adam", case, first), find(rows, "Adam", case, second)
        return (a.ms / b.ms, None) if a and b else (None, None)

    speedup, speedup_text = compare("a", "numpy-loop", "numpy-multi")
    behind, behind_text = compare("b", "numpy-multi", "torch-fused")
    multi = [r for r in rows if r.optimizer == "Adam" and r.route == "numpy-multi"]
    memory = None
    if multi:
        worst = max(multi, key=lambda r: (r.kept_bytes + r.peak_extra_bytes) / memory_limit(r, workers, block_bytes))
        memory = (
            f"({worst.case}) {megabytes(worst.kept_bytes)} MB kept + {megabytes(worst.peak_extra_bytes)} MB at "
            f"the step's peak, limit {megabytes(memory_limit(worst, workers, block_bytes))} MB"
        )
    return [
        Target(
            "NumPy multi-tensor Adam at least 5x faster than the NumPy for-loop on (a)",
            speedup,
            None if speedup is None else speedup >= 5,
            speedup_text,
        ),
        Target(
            "NumPy multi-tensor Adam within 2x of torch fused on (b)",
            behind,
            None if behind is None else behind <= 2,
            behind_text,
        ),
        Target(
            f"NumPy multi-tensor Adam's extra memory at most {BLOCK_ROWS} blocks per worker kept, one block "
            "allocated, and O(parameters)",
            None,
            None
            if memory is None
            else all(r.kept_bytes + r.peak_extra_bytes <= memory_limit(r, workers, block_bytes) for r in multi),
            memory,
        ),
    ]


SWEEP_BYTES = tuple(2**k for k in range(14, 25))  # 16 kB to 16 MB of one array


def sweep_blocks(
    case: Case,
    block_bytes: Sequence[int],
    workers: Sequence[int] = (1,),
    repeats: int = 5,
    warmup: int = 1,
    dtype: str = "float32",
) -> list[tuple[int, int, float]]:
    """The blocked NumPy Adam on `case` for each block size (in bytes of one array) and number of workers:
    ``(block_bytes, workers, median ms)`` rows."""
    init, grads = inputs(case, dtype)
    itemsize = np.dtype(dtype).itemsize
    out = []
    for size in block_bytes:
        for n in workers:
            params = []
            for x, g in zip(init, grads):
                p = Parameter(0.0)
                p.data, p.grad = x.copy(), g.copy()
                params.append(p)
            optimizer = foreach_fused.Adam(params, foreach=True, block_size=max(1, size // itemsize), workers=n)
            stepper = Stepper(optimizer.step, lambda: None, list, lambda: 0, lambda: 0, numpy_step_peak, "")
            out.append((size, n, 1e3 * float(np.median(time_steps(stepper, warmup, repeats)))))
            del optimizer, params, stepper
            gc.collect()
    return out


# ---------------------------------------------------------------- printing


def ratio(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.2f}"


def megabytes(n: int) -> str:
    """MB (10^6 bytes): one decimal, or three below 1 MB so that kilobytes still show."""
    return f"{n / 1e6:.1f}" if n >= 1e6 else f"{n / 1e6:.3f}"


def format_table(rows: Sequence[Row]) -> str:
    """One line per route and case; memory in MB (10^6 bytes)."""
    head = (
        f"{'optimizer':18} {'case':4} {'route':22} {'ms/step':>9} {'x fused':>8} {'GB/s':>6} "
        f"{'state MB':>9} {'kept MB':>8} {'step peak MB':>13}  peak measured by"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        route = r.route_label if r.device == "cpu" else f"{r.route_label} (GPU)"
        lines.append(
            f"{OPTIMIZERS[r.optimizer].label:18} {r.case:4} {route:22} {r.ms:9.3f} {ratio(r.x_fused):>8} "
            f"{r.gb_per_s:6.1f} {megabytes(r.state_bytes):>9} {megabytes(r.kept_bytes):>8} "
            f"{megabytes(r.peak_extra_bytes):>13}  {r.peak_method}"
        )
    return "\n".join(lines)


def format_report(
    m: dict[str, Any], rows: Sequence[Row], settings: dict[str, Any], pairs: Sequence[Paired] = ()
) -> str:
    """The machine, the table and the targets, as the command prints them."""
    sizes = {r.case: (r.tensors, r.elements) for r in rows}
    parts = [
        format_machine(m),
        "",
        f"median of {settings['repeats']} steps after {settings['warmup']} warm-up steps, {settings['dtype']}, "
        f"gradients fixed; GB/s = (7 arrays for Adam, 5 for SGD) x elements x itemsize / time",
        *[
            f"case ({c}): {CASES[c].label if c in CASES else f'{tensors:,} tensors'}, {elements:,} elements in all"
            for c, (tensors, elements) in sizes.items()
        ],
        "",
        format_table(rows),
        "",
    ]
    if pairs:
        parts.append(
            "the speed targets are timed again with the two routes in turns, a few steps of one and then of the "
            "other; each round gives the ratio of the two medians, and the figure is the median over the rounds"
        )
    parts += [t.line() for t in targets(rows, pairs=pairs)]
    fused_b = find(rows, "Adam", "b", "torch-fused")
    if fused_b is not None and m.get("numpy_adam_ns_per_element"):
        one = m["numpy_adam_ns_per_element"] * fused_b.elements / 1e6
        parts.append(
            f"(b) at the blocked NumPy Adam's in-cache rate, before any memory traffic: {one:.1f} ms on 1 thread, "
            f"{one / m['numpy_workers']:.1f} ms on {m['numpy_workers']} if the threads shared it perfectly; "
            f"torch fused took {fused_b.ms:.1f} ms"
        )
    if m["gpu"]:
        parts.append(f"rows marked (GPU) ran on {m['gpu']}, timed between torch.cuda.synchronize() calls")
    else:
        parts.append("no GPU was available: torch's routes ran on the CPU only")
    return "\n".join(parts)


# ---------------------------------------------------------------- command line


def parse_cases(text: str) -> tuple[str, ...]:
    names = tuple(name.strip() for name in text.split(",") if name.strip())
    unknown = [name for name in names if name not in CASES]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown case {', '.join(map(repr, unknown)) or '(none given)'}: choose from "
            f"{', '.join(CASES)}, separated by commas (for example a,c)"
        )
    return names


def positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def not_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m optimcourse.step_benchmark", description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--repeats",
        type=positive,
        default=10,
        help="timed steps per route (default 10); the speed targets take twice as many in turns",
    )
    p.add_argument("--warmup", type=not_negative, default=2, help="untimed steps first (default 2)")
    p.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    p.add_argument("--cases", type=parse_cases, default=tuple(CASES), help="which cases, e.g. a,c (default a,b,c)")
    p.add_argument("--json", type=Path, metavar="PATH", help="also write every figure and the machine here")
    p.add_argument(
        "--sweep",
        action="store_true",
        help="also time the blocked NumPy Adam on case (b) for block sizes from 16 kB to 16 MB, on 1 thread and all",
    )
    return p


def main(argv: Sequence[str] | None = None) -> None:
    args = parser().parse_args(argv)
    print("measuring the memory bandwidth ...", file=sys.stderr, flush=True)
    m = machine()
    rows = run(args.cases, repeats=args.repeats, warmup=args.warmup, dtype=args.dtype, progress=sys.stderr)
    settings = {"repeats": args.repeats, "warmup": args.warmup, "dtype": args.dtype, "cases": list(args.cases)}
    pairs = time_pairs(args.cases, rounds=2 * args.repeats, warmup=args.warmup, dtype=args.dtype)
    print(format_report(m, rows, settings, pairs))
    if args.sweep:
        print("\nblocked NumPy Adam on (b), median ms per step, by the size of a block of one array:")
        workers = tuple(dict.fromkeys((1, foreach_fused.WORKERS)))
        print(f"{'block':>10} " + " ".join(f"{f'{n} thread(s)':>12}" for n in workers))
        swept = sweep_blocks(CASES["b"], SWEEP_BYTES, workers, repeats=args.repeats, warmup=args.warmup)
        for size in SWEEP_BYTES:
            cells = " ".join(f"{ms:12.2f}" for b, _, ms in swept if b == size)
            print(f"{megabytes(size) + ' MB':>10} {cells}")
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "machine": m,
                    "settings": settings,
                    "rows": [asdict(r) for r in rows],
                    "pairs": [asdict(p) for p in pairs],
                    "targets": [asdict(t) for t in targets(rows, pairs=pairs)],
                },
                indent=1,
            )
        )


if __name__ == "__main__":
    main()
