"""Reference solution of 07-foreach-fused: generated from solutions/07-foreach-fused/foreach_fused.ipynb by `python -m optimcourse.sync`.

Do not edit: edit the notebook and run the sync. Mutants are text edits of this file.
"""
import math
import os
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from functools import partial

import numpy as np

# exercise 4's for-loop versions
from optimcourse.given import Adam as LoopAdam, SGD as LoopSGD, Parameter

# One block of one array. A block's update touches about six such arrays
# (parameter, gradient, state, scratch), which then stay in the CPU's caches
# from one operation to the next; chapter 7 sweeps the size.
BLOCK_BYTES = 2**20
# threads a step may use: one per core this process may run on, at most 8
if hasattr(os, "sched_getaffinity"):
    WORKERS = min(8, len(os.sched_getaffinity(0)))
else:
    WORKERS = min(8, os.cpu_count() or 1)


def split_blocks(offsets, block_size):
    """The flat buffer, positions 0 to offsets[-1], cut into blocks.

    Every block but the last has block_size elements. A block is
    (start, stop, segments), a segment (i, lo, hi): elements lo:hi of
    parameter i's values, which lie in the block, in order.
    """
    offsets = [int(x) for x in offsets]
    blocks, i = [], 0
    for start in range(0, offsets[-1], block_size):
        stop = min(start + block_size, offsets[-1])
        segments = []
        while offsets[i + 1] <= start:  # parameters that end before the block
            i += 1
        j = i
        while j + 1 < len(offsets) and offsets[j] < stop:
            lo, hi = max(start, offsets[j]), min(stop, offsets[j + 1])
            if lo < hi:  # an empty parameter has no segment
                segments.append((j, lo - offsets[j], hi - offsets[j]))
            j += 1
        blocks.append((start, stop, segments))
    return blocks


class FlatPack:
    """The parameters of one param group that share a dtype.

    They are packed end to end into flat buffers, updated a block at a time.
    """

    def __init__(self, params, state_names, block_size, workers):
        self.params = list(params)
        sizes = [p.data.size for p in self.params]
        self.offsets = np.concatenate([[0], np.cumsum(sizes, dtype=np.int64)])
        total, dtype = int(self.offsets[-1]), self.params[0].data.dtype
        self.data = np.zeros(total, dtype)
        for p, start, stop in zip(self.params, self.offsets[:-1], self.offsets[1:]):
            self.data[start:stop] = p.data.ravel()
            p.data = self.data[start:stop].reshape(p.data.shape)  # from now on p.data is a view
        # one allocation for every state buffer: rows never overlap
        state = np.zeros((len(state_names), total), dtype)
        self.buffers = {name: state[k] for k, name in enumerate(state_names)}
        self.blocks = split_blocks(self.offsets, block_size)
        block = min(block_size, total)
        # each worker's two rows of scratch: a block each, never a buffer
        self.scratch = np.zeros((workers, 2, block), dtype)
        self.zero = np.zeros(block, dtype)  # stands in for a None grad
        self.steps = np.zeros(len(self.params))
        self.has_grad = np.zeros(len(self.params), bool)
        self.grads = [None] * len(self.params)

    def gather_grads(self):
        """Each parameter's grad (None if it has none), and has_grad.

        The one loop over parameters a step makes: the grads arrive as
        separate arrays.
        """
        self.grads = [p.grad for p in self.params]
        self.has_grad[:] = [g is not None for g in self.grads]

    def view(self, name, i):
        """Parameter i's part of buffer `name`, in the parameter's shape.

        A view, not a copy.
        """
        start, stop = self.offsets[i], self.offsets[i + 1]
        shape = self.params[i].data.shape
        return self.buffers[name][start:stop].reshape(shape)


def pack_by_dtype(params, state_names, block_size=None, workers=None):
    """One FlatPack per dtype, in the order the dtypes first appear.

    This is how torch groups its tensors. block_size defaults to
    BLOCK_BYTES of the dtype, workers to WORKERS.
    """
    by_dtype = {}
    for p in params:
        by_dtype.setdefault(p.data.dtype, []).append(p)
    return [FlatPack(ps, state_names,
                     block_size or BLOCK_BYTES // dtype.itemsize,
                     workers or WORKERS)
            for dtype, ps in by_dtype.items()]


def gather_block(pack, block, out):
    """The block's gradients, as one flat array of stop - start elements.

    A block inside one parameter gets a view of its grad, with no copy;
    otherwise the grads are copied into out[:stop - start], with zeros
    where a parameter has none. Either way: read it, never write into it.
    """
    start, stop, segments = block
    if len(segments) == 1 and pack.grads[segments[0][0]] is not None:
        i, lo, hi = segments[0]
        return pack.grads[i].reshape(-1)[lo:hi]
    pieces = []
    for i, lo, hi in segments:
        grad = pack.grads[i]
        if grad is None:
            pieces.append(pack.zero[: hi - lo])
        elif hi - lo == grad.size:
            pieces.append(grad)  # all of it: concatenate flattens it
        else:
            pieces.append(grad.reshape(-1)[lo:hi])
    return np.concatenate(pieces, axis=None, out=out[: stop - start])


_pool = None


def run_blocks(pack, work):
    """Calls work(block, scratch) for every block of the pack.

    The blocks are dealt out in runs to len(pack.scratch) workers, each with
    its own scratch rows: this thread is worker 0, a pool of threads runs
    the others. NumPy lets go of the GIL inside its ufuncs, so the workers
    compute at the same time.
    """
    global _pool
    n, workers = len(pack.blocks), min(len(pack.scratch), len(pack.blocks))

    def worker(w):
        for block in pack.blocks[w * n // workers:(w + 1) * n // workers]:
            work(block, pack.scratch[w])

    if workers <= 1:
        for block in pack.blocks:
            work(block, pack.scratch[0])
        return
    if _pool is None:
        _pool = ThreadPoolExecutor(max(WORKERS, 2) - 1, "optimizer-block")
    futures = [_pool.submit(worker, w) for w in range(1, workers)]
    try:
        worker(0)
    finally:
        for f in futures:  # every worker is done before the step goes on
            f.exception()
    for f in futures:
        f.result()


class PackedState(Mapping):
    """optimizer.state as torch shows it, read from the packs.

    A parameter appears once it has state, and its buffers are views into
    the packs (so changing one changes the pack).
    """

    def __init__(self, optimizer):
        self.optimizer = optimizer

    def _entries(self):
        for pack in self.optimizer.packs:
            for i, p in enumerate(pack.params):
                entry = self.optimizer.state_entry(pack, i)
                if entry:
                    yield p, entry

    def __getitem__(self, p):
        for q, entry in self._entries():
            if q is p:
                return entry
        raise KeyError(p)

    def __iter__(self):
        return (p for p, _ in self._entries())

    def __len__(self):
        return sum(1 for _ in self._entries())


class Adam(LoopAdam):
    """torch.optim.Adam with foreach=True.

    A step updates each pack a block at a time: every operation of the
    update on one block, then the next block.
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8,
                 weight_decay=0, amsgrad=False, *, foreach=None,
                 maximize=False, block_size=None, workers=None):
        # None means the for-loop, torch's default on the CPU
        self.foreach = bool(foreach)
        self.block_size, self.workers = block_size, workers
        self.packs = []
        super().__init__(params, lr=lr, betas=betas, eps=eps,
                         weight_decay=weight_decay, amsgrad=amsgrad,
                         maximize=maximize)
        if self.foreach:
            self.state = PackedState(self)

    def add_param_group(self, param_group):
        super().add_param_group(param_group)
        if self.foreach:
            group = self.param_groups[-1]
            names = ("exp_avg", "exp_avg_sq")
            if group["amsgrad"]:
                names += ("max_exp_avg_sq",)
            group["packs"] = pack_by_dtype(group["params"], names,
                                           self.block_size, self.workers)
            self.packs += group["packs"]

    def state_entry(self, pack, i):
        if pack.steps[i] == 0:
            return {}
        buffers = {name: pack.view(name, i) for name in pack.buffers}
        return {"step": float(pack.steps[i]), **buffers}

    def step(self):
        if not self.foreach:
            return super().step()
        for group in self.param_groups:
            for pack in group["packs"]:
                pack.gather_grads()
                pack.steps += pack.has_grad  # each parameter counts its own
                run_blocks(pack, partial(self.step_block, group, pack))

    def step_block(self, group, pack, block, scratch):
        """The whole update of one block, in this worker's scratch rows."""
        start, stop, segments = block
        # g may be the caller's grad: changes go into this worker's own row
        g = gather_block(pack, block, scratch[0])
        own, s = scratch[0][: stop - start], scratch[1][: stop - start]
        if group["maximize"]:
            g = np.negative(g, out=own)
        if group["weight_decay"] != 0:
            # Adam's L2 penalty: g + weight_decay * param
            np.multiply(pack.data[start:stop], group["weight_decay"], out=s)
            g = np.add(g, s, out=own)
        first, last = segments[0][0], segments[-1][0] + 1
        steps = pack.steps[first:last]
        same = pack.has_grad[first] if last - first == 1 else (
            pack.has_grad[first:last].all() and steps.min() == steps.max())
        if same:
            # one step count: the whole block at once
            self.update(group, pack, start, stop, g, s, float(steps[0]))
        else:
            # each parameter with its own step count; none without a grad
            for i, lo, hi in segments:
                if pack.has_grad[i]:
                    begin, end = pack.offsets[i] + lo, pack.offsets[i] + hi
                    part = slice(begin - start, end - start)
                    self.update(group, pack, begin, end, g[part], s[part],
                                float(pack.steps[i]))

    def update(self, group, pack, begin, end, g, s, t):
        """Adam's update of pack elements begin:end, at step count t.

        g holds their gradients, s is scratch of the same length.
        """
        lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
        param = pack.data[begin:end]
        exp_avg = pack.buffers["exp_avg"][begin:end]
        exp_avg_sq = pack.buffers["exp_avg_sq"][begin:end]
        bias_correction1 = 1 - beta1 ** t
        bias_correction2_sqrt = math.sqrt(1 - beta2 ** t)
        # m = beta1 m + (1 - beta1) g and v = beta2 v + (1 - beta2) g^2
        exp_avg *= beta1
        np.multiply(g, 1 - beta1, out=s)
        exp_avg += s
        exp_avg_sq *= beta2
        np.multiply(g, 1 - beta2, out=s)
        s *= g
        exp_avg_sq += s
        if group["amsgrad"]:
            max_exp_avg_sq = pack.buffers["max_exp_avg_sq"][begin:end]
            np.maximum(max_exp_avg_sq, exp_avg_sq, out=max_exp_avg_sq)
            exp_avg_sq = max_exp_avg_sq
        # lr / bc1 * m / (sqrt(v) / sqrt(bc2) + eps), the scalars folded
        # into two: sqrt(bc2) cancels out of the elementwise work
        np.sqrt(exp_avg_sq, out=s)
        s += eps * bias_correction2_sqrt
        np.divide(exp_avg, s, out=s)
        s *= lr * bias_correction2_sqrt / bias_correction1
        param -= s


class SGD(LoopSGD):
    """torch.optim.SGD with foreach=True.

    With momentum, dampening, Nesterov, weight decay and maximize.
    """

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0,
                 weight_decay=0, nesterov=False, *, foreach=None,
                 maximize=False, block_size=None, workers=None):
        self.foreach = bool(foreach)
        self.block_size, self.workers = block_size, workers
        self.packs = []
        super().__init__(params, lr=lr, momentum=momentum,
                         dampening=dampening, weight_decay=weight_decay,
                         nesterov=nesterov, maximize=maximize)
        if self.foreach:
            self.state = PackedState(self)

    def add_param_group(self, param_group):
        super().add_param_group(param_group)
        if self.foreach:
            group = self.param_groups[-1]
            names = ("momentum_buffer",)
            group["packs"] = pack_by_dtype(group["params"], names,
                                           self.block_size, self.workers)
            self.packs += group["packs"]

    def state_entry(self, pack, i):
        if pack.steps[i] > 0:
            return {"momentum_buffer": pack.view("momentum_buffer", i)}
        return {}

    def step(self):
        if not self.foreach:
            return super().step()
        for group in self.param_groups:
            for pack in group["packs"]:
                pack.gather_grads()
                if group["momentum"] != 0:
                    # steps taken with momentum; 1 is a parameter's first
                    pack.steps += pack.has_grad
                run_blocks(pack, partial(self.step_block, group, pack))

    def step_block(self, group, pack, block, scratch):
        """The whole update of one block, in this worker's scratch rows."""
        start, stop, segments = block
        # g may be the caller's grad: changes go into this worker's own row
        g = gather_block(pack, block, scratch[0])
        own, s = scratch[0][: stop - start], scratch[1][: stop - start]
        if group["maximize"]:
            g = np.negative(g, out=own)
        if group["weight_decay"] != 0:
            # weight decay: g + weight_decay * param
            np.multiply(pack.data[start:stop], group["weight_decay"], out=s)
            g = np.add(g, s, out=own)
        first, last = segments[0][0], segments[-1][0] + 1
        steps = pack.steps[first:last]
        same = pack.has_grad[first] if last - first == 1 else (
            pack.has_grad[first:last].all() and steps.min() == steps.max())
        if same:
            # one first step or none: the whole block at once
            self.update(group, pack, start, stop, g, s, steps[0] == 1)
        else:
            for i, lo, hi in segments:
                if pack.has_grad[i]:
                    begin, end = pack.offsets[i] + lo, pack.offsets[i] + hi
                    part = slice(begin - start, end - start)
                    self.update(group, pack, begin, end, g[part], s[part],
                                pack.steps[i] == 1)

    def update(self, group, pack, begin, end, g, s, first):
        """SGD's update of pack elements begin:end.

        first: whether this is their first step with momentum. g holds
        their gradients (read it, never write into it), s is scratch of the
        same length.
        """
        momentum, dampening = group["momentum"], group["dampening"]
        param = pack.data[begin:end]
        if momentum != 0:
            buf = pack.buffers["momentum_buffer"][begin:end]
            if first:
                np.copyto(buf, g)
            else:
                # b = momentum b + (1 - dampening) g
                buf *= momentum
                np.multiply(g, 1 - dampening, out=s)
                buf += s
            if group["nesterov"]:
                np.multiply(buf, momentum, out=s)
                g = np.add(g, s, out=s)  # g + momentum b
            else:
                g = buf
        np.multiply(g, group["lr"], out=s)
        param -= s
