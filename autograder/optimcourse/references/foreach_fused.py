"""Reference solution of 07-foreach-fused: generated from solutions/07-foreach-fused/foreach_fused.ipynb by `python -m optimcourse.sync`.

Do not edit: edit the notebook and run the sync. Mutants are text edits of this file.
"""
import math
import time
from collections.abc import Mapping

import numpy as np

# exercise 4's for-loop versions
from optimcourse.given import Adam as LoopAdam, SGD as LoopSGD, Parameter


class FlatPack:
    """The parameters of one param group that share a dtype.

    They are packed end to end into flat buffers.
    """

    def __init__(self, params, state_names):
        self.params = list(params)
        sizes = [p.data.size for p in self.params]
        self.offsets = np.concatenate([[0], np.cumsum(sizes, dtype=np.int64)])
        total, dtype = int(self.offsets[-1]), self.params[0].data.dtype
        self.data = np.zeros(total, dtype)
        for p, start, stop in zip(self.params, self.offsets[:-1], self.offsets[1:]):
            self.data[start:stop] = p.data.ravel()
            p.data = self.data[start:stop].reshape(p.data.shape)  # from now on p.data is a view
        # one allocation for every state buffer and both scratch rows:
        # rows never overlap
        block = np.zeros((len(state_names) + 2, total), dtype)
        self.buffers = {name: block[k] for k, name in enumerate(state_names)}
        self.scratch, self.scratch2 = block[-2], block[-1]
        self.grad = np.zeros(total, dtype)
        # element -> number of its parameter
        self.owner = np.repeat(np.arange(len(self.params)), sizes)
        self.steps = np.zeros(len(self.params))
        self.per_param = np.zeros(len(self.params))
        self.has_grad = np.zeros(len(self.params), bool)
        self.first = np.zeros(len(self.params), bool)
        self.mask = np.zeros(total, bool)
        self.mask2 = np.zeros(total, bool)
        # stand-ins for a None grad
        self.zeros = [np.zeros(p.data.shape, dtype) for p in self.params]

    def gather_grads(self):
        """Copy every grad into self.grad (zeros for None).

        Sets has_grad, and where: True if every parameter has a grad, else
        the per-element mask.
        """
        grads = [z if p.grad is None else p.grad
                 for p, z in zip(self.params, self.zeros)]
        np.concatenate([g.reshape(-1) for g in grads], out=self.grad)
        for i, p in enumerate(self.params):
            self.has_grad[i] = p.grad is not None
        if self.has_grad.all():
            # an unmasked ufunc is several times faster than a masked one
            self.where = True
        else:
            # mode="raise" would buffer a copy
            np.take(self.has_grad, self.owner, out=self.mask, mode="clip")
            self.where = self.mask

    def view(self, name, i):
        """Parameter i's part of buffer `name`, in the parameter's shape.

        A view, not a copy.
        """
        start, stop = self.offsets[i], self.offsets[i + 1]
        shape = self.params[i].data.shape
        return self.buffers[name][start:stop].reshape(shape)


def pack_by_dtype(params, state_names):
    """One FlatPack per dtype, in the order the dtypes first appear.

    This is how torch groups its tensors.
    """
    by_dtype = {}
    for p in params:
        by_dtype.setdefault(p.data.dtype, []).append(p)
    return [FlatPack(ps, state_names) for ps in by_dtype.values()]


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

    Every step is a few whole-buffer operations per pack.
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8,
                 weight_decay=0, amsgrad=False, *, foreach=None,
                 maximize=False):
        # None means the for-loop, torch's default on the CPU
        self.foreach = bool(foreach)
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
            group["packs"] = pack_by_dtype(group["params"], names)
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
            lr, (beta1, beta2) = group["lr"], group["betas"]
            eps, weight_decay = group["eps"], group["weight_decay"]
            for pack in group["packs"]:
                pack.gather_grads()
                g, data, mask = pack.grad, pack.data, pack.where
                s, s2 = pack.scratch, pack.scratch2
                exp_avg = pack.buffers["exp_avg"]
                exp_avg_sq = pack.buffers["exp_avg_sq"]
                if group["maximize"]:
                    np.negative(g, out=g)
                # each parameter counts its own steps
                pack.steps += pack.has_grad
                if weight_decay != 0:
                    np.multiply(data, weight_decay, out=s)
                    g += s
                # m = beta1 m + (1 - beta1) g and v = beta2 v + (1 - beta2) g^2,
                # where there is a grad
                np.multiply(exp_avg, beta1, out=exp_avg, where=mask)
                np.multiply(g, 1 - beta1, out=s)
                np.add(exp_avg, s, out=exp_avg, where=mask)
                np.multiply(exp_avg_sq, beta2, out=exp_avg_sq, where=mask)
                np.multiply(g, g, out=s)
                s *= 1 - beta2
                np.add(exp_avg_sq, s, out=exp_avg_sq, where=mask)
                if group["amsgrad"]:
                    max_exp_avg_sq = pack.buffers["max_exp_avg_sq"]
                    np.maximum(max_exp_avg_sq, exp_avg_sq, out=max_exp_avg_sq, where=mask)
                    np.sqrt(max_exp_avg_sq, out=s2)
                else:
                    np.sqrt(exp_avg_sq, out=s2)
                # one step count: scalars do
                if mask is True and pack.steps.min() == pack.steps.max():
                    t = pack.steps[0]
                    bias_correction1, bias_correction2 = 1 - beta1 ** t, 1 - beta2 ** t
                    s2 *= 1 / math.sqrt(bias_correction2)
                    s2 += eps
                    np.multiply(exp_avg, lr / bias_correction1, out=s)
                else:
                    # bias corrections from each parameter's own step count,
                    # spread over its elements
                    np.power(beta2, pack.steps, out=pack.per_param)
                    np.subtract(1, pack.per_param, out=pack.per_param)
                    np.sqrt(pack.per_param, out=pack.per_param)
                    np.take(pack.per_param, pack.owner, out=s, mode="clip")
                    np.divide(s2, s, out=s2, where=mask)
                    s2 += eps  # denom = sqrt(v) / sqrt(1 - beta2^t) + eps
                    np.power(beta1, pack.steps, out=pack.per_param)
                    np.subtract(1, pack.per_param, out=pack.per_param)
                    np.divide(lr, pack.per_param, out=pack.per_param, where=pack.has_grad)
                    # step size lr / (1 - beta1^t)
                    np.take(pack.per_param, pack.owner, out=s, mode="clip")
                    s *= exp_avg
                np.divide(s, s2, out=s, where=mask)
                np.subtract(data, s, out=data, where=mask)


class SGD(LoopSGD):
    """torch.optim.SGD with foreach=True.

    With momentum, dampening, Nesterov, weight decay and maximize.
    """

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0,
                 weight_decay=0, nesterov=False, *, foreach=None,
                 maximize=False):
        self.foreach = bool(foreach)
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
            group["packs"] = pack_by_dtype(group["params"], names)
            self.packs += group["packs"]

    def state_entry(self, pack, i):
        if pack.steps[i] > 0:
            return {"momentum_buffer": pack.view("momentum_buffer", i)}
        return {}

    def step(self):
        if not self.foreach:
            return super().step()
        for group in self.param_groups:
            lr, momentum, dampening = (group["lr"], group["momentum"],
                                       group["dampening"])
            for pack in group["packs"]:
                pack.gather_grads()
                g, data, mask, s = pack.grad, pack.data, pack.where, pack.scratch
                buf = pack.buffers["momentum_buffer"]
                if group["maximize"]:
                    np.negative(g, out=g)
                if group["weight_decay"] != 0:
                    np.multiply(data, group["weight_decay"], out=s)
                    g += s
                if momentum != 0:
                    # a parameter's first step copies g into its buffer;
                    # later ones average into it
                    np.equal(pack.steps, 0, out=pack.first)
                    pack.first &= pack.has_grad
                    pack.steps += pack.has_grad
                    np.multiply(buf, momentum, out=buf, where=mask)
                    np.multiply(g, 1 - dampening, out=s)
                    np.add(buf, s, out=buf, where=mask)
                    if pack.first.any():
                        np.take(pack.first, pack.owner, out=pack.mask2, mode="clip")
                        np.copyto(buf, g, where=pack.mask2)
                    if group["nesterov"]:
                        np.multiply(buf, momentum, out=s)
                        g += s
                    else:
                        np.copyto(g, buf)
                np.multiply(g, lr, out=s)
                np.subtract(data, s, out=data, where=mask)
