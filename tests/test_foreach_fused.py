"""Chapter 7's multi-tensor optimizers: the same numbers as the course's for-loop on any layout of
parameters and missing grads, any block size and any number of workers, the caller's grads left alone;
blocks that cover the buffer exactly; one pack per dtype, state that reads and writes the packs, groups
added mid-run; and the blocked rules seen to fail on code that breaks them."""

from __future__ import annotations

import gc
import warnings
import weakref

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from optimcourse.chapters import foreach_fused as ch7
from optimcourse.chapters import momentum_adam_adamw as ch4
from test_harness import reference

REF = reference("foreach_fused")
Parameter = REF["Parameter"]

SHAPES = st.lists(st.lists(st.integers(0, 4), max_size=2).map(tuple), min_size=1, max_size=6)


def make_params(values, dtypes=None):
    params = [Parameter(v.copy()) for v in values]
    for p, v, d in zip(params, values, dtypes or [np.float64] * len(values)):
        p.data = v.astype(d)
    return params


def run(name, config, values, grads, *, foreach, dtypes=None, **blocking):
    params = make_params(values, dtypes)
    opt = REF[name](params, foreach=foreach, **config, **blocking)
    history = []
    for row in grads:
        for p, g in zip(params, row):
            p.grad = None if g is None else g.astype(p.data.dtype)
        given = [None if p.grad is None else p.grad.copy() for p in params]
        opt.step()
        for p, g in zip(params, given):
            assert (p.grad is None) == (g is None) and (g is None or np.array_equal(p.grad, g)), "a grad changed"
        state = [
            {k: np.array(v, np.float64) for k, v in opt.state[p].items()} if p in opt.state else {} for p in params
        ]
        history.append(([np.array(p.data, np.float64) for p in params], state))
    return history, params, opt


def assert_same(a, b, rtol=1e-12, atol=1e-12):
    for (values_a, state_a), (values_b, state_b) in zip(a, b, strict=True):
        for x, y in zip(values_a, values_b, strict=True):
            np.testing.assert_allclose(x, y, rtol=rtol, atol=atol)
        for sa, sb in zip(state_a, state_b, strict=True):
            assert sa.keys() == sb.keys()
            for k in sa:
                np.testing.assert_allclose(sa[k], sb[k], rtol=rtol, atol=atol)


@st.composite
def problems(draw):
    shapes = draw(SHAPES)
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    values = [rng.normal(size=s) for s in shapes]
    steps = draw(st.integers(1, 6))
    # any pattern of missing grads, including a parameter that never gets one
    missing = draw(
        st.lists(st.lists(st.booleans(), min_size=len(shapes), max_size=len(shapes)), min_size=steps, max_size=steps)
    )
    grads = [[None if gone else rng.normal(scale=2.0, size=s) for gone, s in zip(row, shapes)] for row in missing]
    blocking = {"block_size": draw(st.none() | st.integers(1, 9)), "workers": draw(st.integers(1, 3))}
    return values, grads, rng, blocking


@settings(max_examples=80, deadline=None)
@given(problems())
def test_multi_tensor_adam_equals_the_for_loop(problem):
    values, grads, rng, blocking = problem
    config = ch4.random_adam_config(rng, bool(rng.random() < 0.5))
    loop, _, _ = run("Adam", config, values, grads, foreach=False)
    multi, _, _ = run("Adam", config, values, grads, foreach=True, **blocking)
    assert_same(multi, loop)


@settings(max_examples=80, deadline=None)
@given(problems())
def test_multi_tensor_sgd_equals_the_for_loop(problem):
    values, grads, rng, blocking = problem
    config = ch4.random_sgd_config(rng)
    loop, _, _ = run("SGD", config, values, grads, foreach=False)
    multi, _, _ = run("SGD", config, values, grads, foreach=True, **blocking)
    assert_same(multi, loop)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 12), min_size=1, max_size=8), st.integers(1, 10))
def test_blocks_cover_the_buffer_once_in_order(sizes, block_size):
    offsets = np.concatenate([[0], np.cumsum(sizes, dtype=np.int64)])
    blocks = REF["split_blocks"](offsets, block_size)
    assert [b[0] for b in blocks] == list(range(0, int(offsets[-1]), block_size))
    covered = []
    for start, stop, segments in blocks:
        assert 0 < stop - start <= block_size and (stop - start == block_size or stop == offsets[-1])
        at = start
        for i, lo, hi in segments:
            assert sizes[i] > 0 and 0 <= lo < hi <= sizes[i] and offsets[i] + lo == at
            covered += [(i, k) for k in range(lo, hi)]
            at = offsets[i] + hi
        assert at == stop
    assert covered == [(i, k) for i, n in enumerate(sizes) for k in range(n)]


def test_the_gathered_block_leaves_nothing_of_what_the_scratch_held():
    params = make_params([np.arange(3.0), np.arange(5.0), np.arange(2.0)])
    pack = REF["FlatPack"](params, ("exp_avg",), 4, 1)
    params[0].grad, params[1].grad, params[2].grad = np.ones(3), None, np.full(2, 2.0)
    pack.gather_grads()
    out = np.full(4, np.nan)
    got = [REF["gather_block"](pack, block, out).tolist() for block in pack.blocks]
    assert got == [[1, 1, 1, 0], [0, 0, 0, 0], [2, 2]]


def test_a_step_keeps_a_block_of_scratch_per_worker_not_a_buffer():
    values = [np.ones(1000) for _ in range(8)]
    params = make_params(values)
    opt = REF["Adam"](params, foreach=True, block_size=256, workers=2)
    for p in params:
        p.grad = np.ones(1000)
    opt.step()
    pack = opt.packs[0]
    theirs = [p.data for p in params] + [p.grad for p in params] + [pack.data, *pack.buffers.values()]
    kept = ch7.measure.kept_bytes([opt, pack], theirs)
    assert 0 < kept <= ch7.kept_limit(8, 256, 2, 8)
    pack.extra = np.zeros(8000)[:10]  # a view of a buffer-sized array counts as all of it
    assert ch7.measure.kept_bytes([opt, pack], theirs) == kept + 64000


def test_one_pack_per_dtype_and_float32_matches_the_float32_for_loop():
    rng = np.random.default_rng(7)
    values = [rng.normal(size=s) for s in [(3,), (2, 2), (), (4,)]]
    dtypes = [np.float32, np.float64, np.float32, np.float64]
    grads = [[rng.normal(size=v.shape) for v in values] for _ in range(5)]
    loop, _, _ = run("Adam", {"lr": 0.01}, values, grads, foreach=False, dtypes=dtypes)
    multi, params, opt = run("Adam", {"lr": 0.01}, values, grads, foreach=True, dtypes=dtypes)
    assert [str(pack.data.dtype) for pack in opt.packs] == ["float32", "float64"]
    assert [p.data.dtype for p in params] == dtypes
    assert_same(multi, loop, rtol=1e-6, atol=1e-6)


def test_state_entries_are_views_into_the_packs():
    params = make_params([np.ones(3), np.ones(2)])
    opt = REF["Adam"](params, foreach=True)
    for p in params:
        p.grad = np.ones_like(p.data)
    opt.step()
    assert len(opt.state) == 2 and opt.state[params[0]]["step"] == 1.0
    opt.state[params[1]]["exp_avg"][...] = 5.0  # a checkpoint load writes here
    assert np.all(opt.packs[0].buffers["exp_avg"][3:] == 5.0)
    with pytest.raises(KeyError):
        opt.state[Parameter(np.zeros(1))]


def test_a_group_added_mid_run_is_packed_and_matches_torch():
    rng = np.random.default_rng(3)
    values = [rng.normal(size=s) for s in [(3,), (2,), (2, 2)]]
    grads = [[rng.normal(size=v.shape) for v in values] for _ in range(6)]
    params = make_params(values)
    tensors = [torch.tensor(v, requires_grad=True) for v in values]
    mine = REF["Adam"](params[:2], lr=0.05, foreach=True)
    theirs = torch.optim.Adam(tensors[:2], lr=0.05, foreach=True)
    for t, row in enumerate(grads):
        if t == 3:  # unfreezing a layer
            mine.add_param_group({"params": [params[2]], "lr": 0.01})
            theirs.add_param_group({"params": [tensors[2]], "lr": 0.01})
        for p, q, g in zip(params, tensors, row):
            p.grad, q.grad = g.copy(), torch.tensor(g)
        mine.step()
        theirs.step()
    assert len(mine.packs) == 2
    for p, q in zip(params, tensors):
        np.testing.assert_allclose(p.data, q.detach().numpy(), rtol=1e-12, atol=1e-12)


def test_the_line_count_sees_a_loop_over_parameters():
    def step_loop(n):
        return lambda: [None for _ in range(n)]

    assert ch7.count_lines(step_loop(3)) != ch7.count_lines(step_loop(6))

    class Pack:
        def gather_grads(self, n):
            for _ in range(n):  # a loop allowed: left out of the count
                pass

    def gather_block(n):
        for _ in range(n):  # the other one
            pass

    assert ch7.count_lines(lambda: Pack().gather_grads(3)) == ch7.count_lines(lambda: Pack().gather_grads(30))
    assert ch7.count_lines(lambda: gather_block(3)) == ch7.count_lines(lambda: gather_block(30))


def test_the_line_count_leaves_out_the_lines_that_show_a_warning():
    """A NaN from np.sqrt warns once, through the warnings module's Python code; that is not the step's."""

    def step(x):
        return lambda: np.sqrt(x)

    with warnings.catch_warnings():
        warnings.simplefilter("always")
        assert ch7.count_lines(step(np.array([-1.0]))) == ch7.count_lines(step(np.array([1.0])))


def test_the_line_count_leaves_out_a_garbage_collection_that_happens_during_the_step():
    """A cyclic collection can start at any allocation and run Python callbacks (a weak set dropping a dead
    entry, in a kernel full of them): those lines are not the step's, and counting them made a verdict
    depend on when the collector last ran."""
    watchers = []

    class Node:
        pass

    def step():
        ring = Node()
        ring.self = ring  # only the cyclic collector frees it
        watchers.append(weakref.ref(ring, lambda _: [None for _ in range(50)]))  # Python lines when freed
        del ring
        return [[] for _ in range(20)]  # allocations that may start a collection

    was_enabled, threshold = gc.isenabled(), gc.get_threshold()
    try:
        gc.disable()
        quiet = ch7.count_lines(step)
        gc.enable()
        gc.set_threshold(1)  # a collection at almost every allocation
        busy = {ch7.count_lines(step) for _ in range(3)}
    finally:
        gc.set_threshold(*threshold)
        (gc.enable if was_enabled else gc.disable)()
        gc.collect()
    assert busy == {quiet}


def test_torch_quirks_that_the_cases_leave_out_are_still_there():
    """If a torch release fixes these, the cases can compare against every route again."""
    p = torch.tensor([1.0, 2.0], requires_grad=True)
    opt = torch.optim.SGD([p], lr=0.1, momentum=0.9, nesterov=True, foreach=True)
    for _ in range(2):
        p.grad = torch.tensor([1.0, 1.0])
        opt.step()
    assert not torch.equal(p.grad, torch.tensor([1.0, 1.0]))  # the Nesterov step was written into p.grad

    a, b = torch.zeros(2, requires_grad=True), torch.zeros(2, requires_grad=True)
    opt = torch.optim.SGD([a, b], lr=0.1, momentum=0.9, fused=True)
    a.grad = torch.ones(2)
    opt.step()
    b.grad = torch.ones(2)
    with pytest.raises((TypeError, RuntimeError)):
        opt.step()


def test_hidden_cases_cover_every_route_and_torch_configuration():
    adam = ch7.cases("Adam", ch7.HIDDEN_SEEDS[:1])
    sgd = ch7.cases("SGD", ch7.HIDDEN_SEEDS[:1])
    for found, name in ((adam, "Adam"), (sgd, "SGD")):
        for route in ("foreach=False", "foreach=True", "fused=True"):
            assert any(route in s.title for s in found), (name, route)
        assert len(found) >= 3 * len(ch4._torch_configs(name, None)) - 1
    assert all(len([a for a in s.actions]) >= 12 for s in adam + sgd)
