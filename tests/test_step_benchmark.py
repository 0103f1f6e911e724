"""The benchmark command measures what it says: every route, the same computation, honest output.

Only correctness here: no test depends on how fast anything runs.
"""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from optimcourse import step_benchmark as bench

TINY = bench.Case("t", "three small tensors", ((7,), (3, 4), (5,)))
ROUTE_KEYS = {r.key for r in bench.CPU_ROUTES}


@pytest.fixture(scope="module")
def measured():
    """Rows of a tiny run and, per optimizer and route, the parameters after the last step."""
    finals: dict[tuple[str, str], list[np.ndarray]] = {}

    def keep(row, stepper):
        finals[row.optimizer, row.route] = stepper.params()

    rows = bench.run([TINY], routes=bench.CPU_ROUTES, repeats=3, warmup=2, progress=None, inspect=keep)
    return rows, finals


def test_run_returns_every_route_for_both_optimizers_with_positive_times(measured):
    rows, _ = measured
    for optimizer in bench.OPTIMIZERS:
        mine = [r for r in rows if r.optimizer == optimizer]
        assert {r.route for r in mine} == ROUTE_KEYS
        assert all(r.ms > 0 and len(r.times_ms) == 3 and r.gb_per_s > 0 for r in mine)
        assert all(r.elements == TINY.elements and r.tensors == 3 for r in mine)
        fused = next(r for r in mine if r.route == "torch-fused")
        assert fused.x_fused == 1.0


def test_the_traffic_model_counts_7_arrays_for_adam_and_5_for_sgd_with_momentum():
    assert bench.traffic_bytes("Adam", 1000, 4) == 7 * 1000 * 4
    assert bench.traffic_bytes("SGD", 1000, 8) == 5 * 1000 * 8
    assert dict(bench.OPTIMIZERS["SGD"].hyper)["momentum"] == 0.9


def test_every_route_ends_with_the_same_parameters_so_the_bench_times_one_computation(measured):
    _, finals = measured
    for optimizer in bench.OPTIMIZERS:
        loop = finals[optimizer, "numpy-loop"]
        start, _ = bench.inputs(TINY, "float32")
        assert not all(np.array_equal(a, b) for a, b in zip(loop, start)), "the parameters did not move"
        for route in ROUTE_KEYS - {"numpy-loop"}:
            other = finals[optimizer, route]
            assert all(a.dtype == np.float32 and a.shape == b.shape for a, b in zip(other, loop))
            assert all(np.allclose(a, b, rtol=1e-5) for a, b in zip(other, loop)), f"{optimizer} {route}"


def test_state_and_memory_columns_are_filled(measured):
    rows, _ = measured
    for r in rows:
        per_param = {"Adam": 2, "SGD": 1}[r.optimizer] * r.elements * 4  # exp_avg + exp_avg_sq, or the buffer
        assert per_param <= r.state_bytes <= per_param + 8 * r.tensors  # + torch's step counters
        assert r.peak_extra_bytes is not None and r.peak_extra_bytes >= 0
    assert {r.peak_method for r in rows} == {"tracemalloc", "torch.profiler"}


def test_the_profiler_sees_foreach_allocate_one_copy_of_the_parameters_and_fused_none():
    case = bench.Case("m", "medium", ((3000,), (2000, 2), (500,)))
    torch_routes = [r for r in bench.CPU_ROUTES if r.library == "torch"]
    rows = bench.run([case], optimizers=["Adam"], routes=torch_routes, repeats=1, warmup=1)
    peak = {r.route: r.peak_extra_bytes for r in rows}
    param_bytes, largest = case.elements * 4, 4000 * 4
    assert param_bytes <= peak["torch-foreach"] <= 1.1 * param_bytes  # the list torch._foreach_sqrt returns
    assert peak["torch-fused"] < 0.01 * param_bytes
    assert largest <= peak["torch-loop"] <= 3 * largest  # temporaries of one parameter at a time


def test_targets_report_measured_ratios_and_say_when_a_case_was_not_run(measured):
    rows, _ = measured
    assert [t.ratio for t in bench.targets(rows)[:2]] == [None, None]
    assert "not measured" in bench.targets(rows)[0].line()
    a = replace(rows[0], case="a")
    fast = replace(rows[1], case="a", ms=a.ms / 6)
    speedup = bench.targets([a, fast])[0]
    assert speedup.met and speedup.line().endswith("met (measured 6.00x)")


class FakeClock:
    """time.perf_counter for the benchmark: a step of a route advances it by that route's cost."""

    def __init__(self):
        self.now = 0.0

    def perf_counter(self):
        return self.now


def test_paired_timing_alternates_the_routes_and_takes_one_ratio_of_medians_per_round(monkeypatch):
    clock, calls = FakeClock(), []

    def stepper(name, cost):
        def step():
            calls.append(name)
            clock.now += cost

        return bench.Stepper(step, lambda: None, list, lambda: 0, lambda: 0, lambda step: 0, "")

    monkeypatch.setattr(bench, "time", clock)
    ratios = bench.paired_ratios(stepper("slow", 3.0), stepper("fast", 0.5), warmup=2, rounds=3, steps=4)
    assert ratios == [6.0, 6.0, 6.0]
    runs = [calls[0:2], calls[2:4]] + [calls[k : k + 5] for k in range(4, len(calls), 5)]
    assert runs[:2] == [["slow"] * 2, ["fast"] * 2]  # warm-up
    assert [run[0] for run in runs[2:]] == ["slow", "fast", "fast", "slow", "slow", "fast"]
    assert all(len(set(run)) == 1 and len(run) == 5 for run in runs[2:])  # one untimed step, then 4


def test_targets_take_the_median_of_the_paired_ratios_over_the_rows(measured):
    rows, _ = measured
    a = replace(rows[0], case="a", route="numpy-loop")
    multi = replace(rows[1], case="a", route="numpy-multi", ms=a.ms / 6)
    pair = bench.Paired("Adam", "a", "numpy-loop", "numpy-multi", [4.0, 4.5, 9.0, 4.2, 4.4])
    speedup = bench.targets([a, multi], pairs=[pair])[0]
    assert speedup.ratio == 4.4 and speedup.met is False
    assert speedup.line().endswith("not met (measured 4.40x, middle half 4.20x to 4.50x over 5 rounds in turns)")
    behind = bench.Paired("Adam", "b", "numpy-multi", "torch-fused", [1.5, 1.9, 2.5])
    assert bench.targets(rows, pairs=[pair, behind])[1].met is True


def test_the_memory_target_holds_the_blocked_route_to_its_scratch_and_fails_beyond_it(measured):
    rows, _ = measured
    memory = bench.targets(rows)[2]
    assert memory.met and "limit" in memory.line() and memory.line().startswith(memory.text + ": met")
    multi = next(r for r in rows if r.optimizer == "Adam" and r.route == "numpy-multi")
    limit = bench.memory_limit(multi, bench.foreach_fused.WORKERS, bench.foreach_fused.BLOCK_BYTES)
    swollen = [replace(r, kept_bytes=limit) if r is multi else r for r in rows]  # a buffer-sized copy, say
    assert bench.targets(swollen)[2].met is False
    assert (
        bench.targets([r for r in rows if r.route != "numpy-multi"])[2]
        .line()
        .endswith("not measured (its case was not run)")
    )


def test_the_block_sweep_times_every_size_and_worker_count():
    swept = bench.sweep_blocks(TINY, [8, 64], workers=(1, 2), repeats=2, warmup=1)
    assert [(b, n) for b, n, _ in swept] == [(8, 1), (8, 2), (64, 1), (64, 2)]
    assert all(ms > 0 for _, _, ms in swept)


def test_the_table_has_one_line_per_row(measured):
    rows, _ = measured
    table = bench.format_table(rows).splitlines()
    assert len(table) == 2 + len(rows)
    assert "NumPy multi-tensor" in table[3] and "x fused" in table[0]


def test_json_writes_every_figure_and_the_machine(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(bench.CASES, "a", bench.Case("a", "tiny", ((10,), (4,))))
    for slow in ("copy_bandwidth", "numpy_update_bandwidth", "torch_update_bandwidth", "numpy_adam_ns_per_element"):
        monkeypatch.setattr(bench, slow, lambda: 1.0)
    out = tmp_path / "bench.json"
    bench.main(["--cases", "a", "--repeats", "1", "--warmup", "1", "--json", str(out)])
    data = json.loads(out.read_text())
    assert set(data) == {"machine", "settings", "rows", "pairs", "targets"}
    assert [(p["case"], len(p["ratios"])) for p in data["pairs"]] == [("a", 2)]  # twice --repeats, in turns
    assert data["machine"]["logical_cores"] and data["machine"]["copy_gb_per_s"] == 1.0
    assert len(data["rows"]) == len(bench.OPTIMIZERS) * len(bench.default_routes())
    assert "torch fused" in capsys.readouterr().out


@pytest.mark.parametrize("bad", ["a,x", "d", ","])
def test_a_bad_cases_value_is_refused_with_a_clear_message(bad, capsys):
    with pytest.raises(SystemExit) as exit_:
        bench.main(["--cases", bad])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "--cases" in err and "choose from a, b, c" in err
