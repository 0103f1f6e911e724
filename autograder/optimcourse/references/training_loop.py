"""Reference solution of 12-training-loop: generated from solutions/12-training-loop/training_loop.ipynb by `python -m optimcourse.sync`.

Do not edit: edit the notebook and run the sync. Mutants are text edits of this file.
"""
import numpy as np

# exercise 1's Parameter, exercise 3's split into two parameter groups,
# exercise 4's AdamW, exercise 5's state_dict() and checkpoint files,
# exercise 6's clipping by the global norm, and exercise 11's schedulers
from optimcourse.given import (
    AdamW, CosineAnnealingLR, LinearLR, Parameter, SequentialLR, StateDict,
    clip_grad_norm_, load_checkpoint, save_checkpoint,
    split_weight_decay_params)


class CheckpointedAdamW(StateDict, AdamW):
    """Exercise 4's AdamW with exercise 5's state_dict() and
    load_state_dict(), which save_checkpoint and load_checkpoint use."""


def make_optimizer(named_params, lr, weight_decay, betas, eps):
    """AdamW over two groups: weight decay on the weight matrices, none
    on biases and norms."""
    groups = split_weight_decay_params(named_params, weight_decay)
    return CheckpointedAdamW(groups, lr=lr, betas=betas, eps=eps)


def make_scheduler(optimizer, warmup_steps, total_steps, start_factor,
                   eta_min):
    """A linear warmup over warmup_steps, then a cosine decay to eta_min
    at total_steps."""
    warmup = LinearLR(optimizer, start_factor=start_factor,
                      total_iters=warmup_steps)
    decay = CosineAnnealingLR(optimizer, T_max=total_steps - warmup_steps,
                              eta_min=eta_min)
    return SequentialLR(optimizer, [warmup, decay],
                        milestones=[warmup_steps])


def train_step(params, optimizer, scheduler, loss_and_grads, micro_batches,
               max_norm):
    """One step on a batch of unequal micro-batches; returns its loss."""
    optimizer.zero_grad()
    total = sum(len(x) for x, _ in micro_batches)
    batch_loss = 0.0
    for x, y in micro_batches:
        weight = len(x) / total
        loss, grads = loss_and_grads([p.data for p in params], x, y)
        for p, g in zip(params, grads):
            if p.grad is None:
                p.grad = weight * g
            else:
                p.grad += weight * g
        batch_loss += weight * loss
    clip_grad_norm_(params, max_norm)
    optimizer.step()
    scheduler.step()
    return batch_loss


def save_run(path, params, optimizer, scheduler, step):
    """Write everything a resumed run needs to path."""
    save_checkpoint(path, params, optimizer,
                    scheduler=scheduler.state_dict(), step=step)


def resume_run(path, params, optimizer, scheduler):
    """Load path into new objects; return the number of steps done."""
    extra = load_checkpoint(path, params, optimizer)
    scheduler.load_state_dict(extra["scheduler"])
    return extra["step"]


def train(named_params, loss_and_grads, batches, config, path):
    """Train on batches, restarting from a checkpoint half-way; return
    the losses and the (name, Parameter) pairs the run ends with."""
    def build(named):
        optimizer = make_optimizer(named, config["lr"],
                                   config["weight_decay"], config["betas"],
                                   config["eps"])
        scheduler = make_scheduler(optimizer, config["warmup_steps"],
                                   len(batches), config["start_factor"],
                                   config["eta_min"])
        return [p for _, p in named], optimizer, scheduler

    params, optimizer, scheduler = build(named_params)
    half = len(batches) // 2
    losses = []
    for batch in batches[:half]:
        losses.append(train_step(params, optimizer, scheduler,
                                 loss_and_grads, batch, config["max_norm"]))
    save_run(path, params, optimizer, scheduler, half)
    # the process ends here; a new one builds everything again, then reads
    named_params = [(name, Parameter(np.zeros_like(p.data)))
                    for name, p in named_params]
    params, optimizer, scheduler = build(named_params)
    start = resume_run(path, params, optimizer, scheduler)
    for batch in batches[start:]:
        losses.append(train_step(params, optimizer, scheduler,
                                 loss_and_grads, batch, config["max_norm"]))
    return losses, named_params
