"""Chapter 5 (05-state-checkpointing): state_dict, load_state_dict, and checkpoint files without pickle.

The student writes a mix-in ``StateDict`` (``state_dict``, ``load_state_dict``); the checks build
``type(name, (StateDict, given.<name>), {})`` for SGD with momentum, Adam and AdamW with AMSGrad, over two
parameter groups, with a frozen and a late-starting parameter. What is compared with torch:

- the state dict after some steps (structure, ids, hyperparameters, every state value), and that it is
  a snapshot (torch's own is live; the torch side deep-copies, as the course promises);
- a run resumed from it (into an optimizer built with other hyperparameters, whose lr is then changed
  as a scheduler would) against torch resuming the same way, step by step; loading a torch state dict
  into the student's optimizer, and the student's into torch's, then stepping on;
- a checkpoint file round trip against ``torch.save``/``torch.load``.

Checks torch does not make (missing keys, unknown ids, state shapes, unreadable files) take the
course's reference as the rule: ValueError, and nothing changed.
"""

from __future__ import annotations

import contextlib
import copy
import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .. import given
from ..cases import HIDDEN_SEEDS, VISIBLE_SEEDS, is_visible
from ..course import REFERENCES_DIR
from ..guard import DelegationError
from ..interop import from_torch_state_dict, to_torch_state_dict
from ..mutants import load_mutants
from ..scenarios import ObserveScenario
from ..side import (
    copy_folder,
    gather,
    given_piece,
    is_torch,
    list_folder,
    make_class,
    materialize,
    read,
    set_attrs,
    student_folder,
    torch_side,
)
from ..trace import Raised, Trace
from ..verify import RULE_MARK, verify
from .momentum_adam_adamw import trajectory

__all__ = [
    "HIDDEN_SEEDS",
    "MUTANTS",
    "VISIBLE_SEEDS",
    "check_checkpoint_bad_files",
    "check_checkpoint_files",
    "check_load_state_dict",
    "check_load_state_dict_validation",
    "check_state_dict",
]


_PACK_IDS = "                ids.setdefault(id(p), len(ids))\n"

MUTANTS = load_mutants("state_checkpointing")  # state_checkpointing.mutants.toml

NAMES = ("SGD", "Adam", "AdamW")
#: the hyperparameters the course's optimizers keep, in their order (torch's groups have a few more flags)
COURSE_KEYS = {
    "SGD": ("lr", "momentum", "dampening", "weight_decay", "nesterov", "maximize"),
    "Adam": ("lr", "betas", "eps", "weight_decay", "amsgrad", "maximize"),
    "AdamW": ("lr", "betas", "eps", "weight_decay", "amsgrad", "maximize"),
}


def _call(fn: Callable[..., Any], *args: Any) -> Any:
    return fn(*args)


# -- both sides: the student's mix-in on the course's optimizers, and torch ------------------------------


class Side:
    """Parameters, optimizers and state dicts the same way on the student's side and on torch's."""

    def __init__(self, impl: Any) -> None:
        self.impl = impl
        self.torch = is_torch(impl)

    def params(self, init: Sequence[np.ndarray]) -> list[Any]:
        if self.torch:
            return [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in init]
        return [given_piece("Parameter")(v.copy()) for v in init]

    def optimizer(
        self, name: str, params: Sequence[Any], hyper: dict[str, Any], group_lr: float, one_group: bool = False
    ) -> Any:
        groups = [{"params": list(params[:2])}, {"params": list(params[2:]), "lr": group_lr}]
        if one_group:
            groups = [{"params": list(params)}]
        if self.torch:
            return getattr(torch.optim, name)(groups, **hyper)
        cls = make_class(name, (self.impl["StateDict"], getattr(given, name)))
        return cls(groups, **hyper)

    def trained(
        self,
        name: str,
        init: Sequence[np.ndarray],
        grads: Sequence[Sequence[np.ndarray | None]],
        hyper: dict[str, Any],
        k: int,
    ) -> tuple[list[Any], Any]:
        """Parameters from ``init`` and the two-group optimizer, after ``k`` steps."""
        params = self.params(init)
        opt = self.optimizer(name, params, hyper, hyper["lr"] / 2)
        for t in range(k):
            self.step(opt, params, grads[t])
        return params, opt

    def step_on(
        self,
        trace: Trace,
        name: str,
        opt: Any,
        params: Sequence[Any],
        grads: Sequence[Sequence[np.ndarray | None]],
        start: int,
    ) -> None:
        """Steps ``start + 1`` to the end of ``grads`` on a resumed optimizer, observed after each."""
        for t in range(start, len(grads)):
            seen = self.step(opt, params, grads[t], then_read=True)
            observe_optimizer(trace, f"resumed step {t + 1}", self, opt, params, name, seen)

    def step(self, opt: Any, params: Sequence[Any], grads: Sequence[np.ndarray | None], then_read: bool = False) -> Any:
        """Set the gradients and step; then, if asked, :meth:`read` (from a kernel, all in one request)."""
        if self.torch:
            self.set_grads(params, grads)
            opt.step()
            return self.read(opt, params) if then_read else None
        items = [(p, "set", "grad", None if g is None else g.copy()) for p, g in zip(params, grads)]
        got = gather([*items, (opt, "call", "step"), *(self._reads(opt, params) if then_read else ())], _call)
        return self._read_from(got.result()[len(items) + 1 :]) if then_read else None

    def read(self, opt: Any, params: Sequence[Any]) -> tuple[Any, Any, list[np.ndarray]]:
        """The optimizer's groups and state, and the parameters' values (from a kernel, in one request)."""
        if self.torch:
            return opt.param_groups, opt.state, self.values(params)
        return self._read_from(gather(self._reads(opt, params), _call).result())

    @staticmethod
    def _reads(opt: Any, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        return [(opt, "attr", "param_groups"), (opt, "attr", "state"), *((p, "attr", "data") for p in params)]

    @staticmethod
    def _read_from(values: Sequence[Any]) -> tuple[Any, Any, list[np.ndarray]]:
        groups, state, *data = values
        return groups, state, [np.array(d, dtype=np.float64) for d in data]

    def set_grads(self, params: Sequence[Any], grads: Sequence[np.ndarray | None]) -> None:
        if self.torch:
            for p, g in zip(params, grads):
                p.grad = None if g is None else torch.tensor(g, dtype=torch.float64)
        else:
            set_attrs([(p, "grad", None if g is None else g.copy()) for p, g in zip(params, grads)])

    def values(self, params: Sequence[Any]) -> list[np.ndarray]:
        if self.torch:
            return [np.array(p.detach().numpy(), dtype=np.float64) for p in params]
        return [np.array(row[0][0], dtype=np.float64) for row in read(params, ("data",))]

    def state_dict(self, opt: Any, call: Callable[..., Any]) -> Any:
        """The course's rule is a snapshot; torch's is live, so its side is deep-copied (as torch's tests do)."""
        return (
            from_torch_state_dict(copy.deepcopy(opt.state_dict())) if self.torch else materialize(call(opt.state_dict))
        )

    def load(self, opt: Any, state_dict: Any, call: Callable[..., Any]) -> None:
        """Load a state dict in the course's form (NumPy arrays, int step)."""
        if self.torch:
            opt.load_state_dict(to_torch_state_dict(state_dict))
        else:
            call(opt.load_state_dict, state_dict)


def _plain(value: Any) -> Any:
    """A state or group value as both sides can compare it."""
    if isinstance(value, torch.Tensor):
        value = value.detach().numpy()
    if isinstance(value, (np.ndarray, np.floating, np.integer, int, float)) and not isinstance(value, bool):
        return np.array(value, dtype=np.float64)
    return value


def observe_state_dict(trace: Trace, label: str, sd: Any, name: str) -> None:
    if not isinstance(sd, dict) or set(sd) != {"state", "param_groups"}:
        trace.add(f"{label}: its keys", sorted(sd) if isinstance(sd, dict) else type(sd).__name__)
        return
    for g, group in enumerate(sd["param_groups"]):
        keys = [k for k in group if k in COURSE_KEYS[name] or k == "params" or k not in _TORCH_ONLY_KEYS]
        trace.add(f"{label}: param_groups[{g}] keys, in order", tuple(keys))
        for key in keys:
            trace.add(
                f"{label}: param_groups[{g}][{key!r}]", _plain(group[key]) if key != "params" else tuple(group[key])
            )
    trace.add(f"{label}: ids with state", tuple(sorted(sd["state"])))
    for key in sorted(sd["state"]):
        entry = sd["state"][key]
        trace.add(f"{label}: state[{key}] names", tuple(sorted(entry)))
        for entry_name in sorted(entry):
            trace.add(f"{label}: state[{key}][{entry_name!r}]", _plain(entry[entry_name]))


_TORCH_ONLY_KEYS = ("foreach", "capturable", "differentiable", "fused", "decoupled_weight_decay")


def observe_optimizer(
    trace: Trace, label: str, side: Side, opt: Any, params: Sequence[Any], name: str, seen: Any = None
) -> None:
    """``seen``: what :meth:`Side.read` read of them, if it has (else it is read here)."""
    groups, state, values = side.read(opt, params) if seen is None else seen
    for g, group in enumerate(groups):
        for key in COURSE_KEYS[name]:
            trace.add(f"{label}: param_groups[{g}][{key!r}]", _plain(group.get(key)))
    for i, (p, value) in enumerate(zip(params, values)):
        trace.add(f"{label}: parameter {i}", value)
        entry = state.get(p, {}) if p in state else {}
        for key in sorted(entry):
            trace.add(f"{label}: state[{key!r}] of parameter {i}", _plain(entry[key]))
        if not entry:
            trace.add(f"{label}: parameter {i} has no state", True)


# -- the runs ---------------------------------------------------------------------------------------------


def _setup(seed: int, name: str) -> tuple[tuple[np.ndarray, ...], list[list[np.ndarray | None]], dict[str, Any], int]:
    init, grads = trajectory(seed)
    rng = np.random.default_rng([seed, 5, NAMES.index(name)])
    if name == "SGD":
        hyper: dict[str, Any] = {"lr": 0.05, "momentum": 0.9, "dampening": 0.1, "weight_decay": 0.01}
    else:
        hyper = {"lr": 0.05, "betas": (0.8, 0.99), "weight_decay": 0.01, "amsgrad": True}
    if not is_visible(seed):
        hyper["lr"] = float(10 ** rng.uniform(-3, -1))
        if name != "SGD":
            hyper["amsgrad"] = bool(rng.random() < 0.7)
    k = 5 if is_visible(seed) else int(rng.integers(2, 8))  # checkpoint after step k
    return init, grads, hyper, k


def _observe_resume(seed: int, name: str, source: str) -> Callable[[Any, Callable[..., Any]], Trace]:
    """source: "own" (the side's own state dict), "torch" (a torch state dict into the student's
    optimizer) or "to-torch" (the side's state dict into a torch optimizer)."""
    init, grads, hyper, k = _setup(seed, name)

    def observe(impl: Any, call: Callable[..., Any]) -> Trace:
        trace, side = Trace(), Side(impl)
        writer = Side(torch_side()) if source == "torch" else side
        reader = Side(torch_side()) if source == "to-torch" else side
        try:
            params, opt = writer.trained(name, init, grads, hyper, k)
            sd = writer.state_dict(opt, call)
            observe_state_dict(trace, f"state_dict() after {k} steps", sd, name)
            writer.set_grads(params, grads[k])
            opt.step()  # a snapshot stays as it was
            observe_state_dict(trace, "the same state dict after one more step", sd, name)

            params2 = reader.params(init)
            for p2, v in zip(params2, writer.values(params)):
                (p2.data.copy_(torch.tensor(v)) if reader.torch else p2.data.__setitem__(Ellipsis, v))
            # built with other hyperparameters: loading must bring back the checkpoint's
            opt2 = reader.optimizer(name, params2, {**hyper, "lr": hyper["lr"] * 3, "weight_decay": 0.5}, 0.3)
            reader.load(opt2, sd, call)
            observe_optimizer(trace, "after load_state_dict", reader, opt2, params2, name)
            for entry in sd["state"].values():  # the loaded optimizer must not share arrays with the dict
                for value in entry.values():
                    if isinstance(value, np.ndarray):
                        value += 1000.0
            opt2.param_groups[0]["lr"] = hyper["lr"] / 4  # a scheduler's change after resuming
            reader.step_on(trace, name, opt2, params2, grads, k + 1)
        except DelegationError:
            raise
        except Exception as exc:
            trace.add("the run", Raised.from_exception(exc))
        return trace

    return observe


def _title(name: str, source: str) -> str:
    return {
        "own": f"torch.optim.{name}: state_dict(), then load_state_dict() into a new optimizer and step on",
        "torch": f"a torch.optim.{name} state dict loaded into your {name}, then stepping on",
        "to-torch": f"your {name}'s state dict loaded into torch.optim.{name}, then stepping on",
    }[source]


def _words(seed: int, name: str) -> str:
    init, _grads, hyper, k = _setup(seed, name)
    shapes = ", ".join(str(v.shape) for v in init)
    return (
        f"{name}({', '.join(f'{a}={b}' for a, b in hyper.items())}) over two groups (parameters 0-1, and "
        f"2-{len(init) - 1} with half the lr), parameters of shape {shapes}, some without a gradient at "
        f"first; state dict after step {k}; the new optimizer is built with other lr and weight_decay; "
        f"lr of group 0 changed after loading"
    )


def _torch_names() -> dict[str, Any]:
    return torch_side()


def resume_cases(seeds: Sequence[int], sources: Sequence[str]) -> list[ObserveScenario]:
    return [
        ObserveScenario(
            title=_title(name, source),
            observe=_observe_resume(seed, name, source),
            torch_impl=_torch_names(),
            words=_words(seed, name),
        )
        for seed in seeds
        for name in NAMES
        for source in sources
    ]


# -- refusals: the course's rule, taken from its reference ------------------------------------------------


def _reference() -> dict[str, Any]:
    namespace: dict[str, Any] = {"__name__": "state_checkpointing_reference"}
    exec(compile((REFERENCES_DIR / "state_checkpointing.py").read_text(), "<the course's rule>", "exec"), namespace)
    return namespace


def _bad_state_dicts(sd: dict[str, Any], rng: np.random.Generator) -> list[tuple[str, dict[str, Any]]]:
    def edited(fn: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
        bad = copy.deepcopy(sd)
        for group in bad["param_groups"]:  # other hyperparameters, so that loading them too early shows
            group["lr"] = 3 * group["lr"]
        fn(bad)
        return bad

    first = min(sd["state"])
    array_name = next(n for n, v in sd["state"][first].items() if isinstance(v, np.ndarray))
    return [
        ("without its 'state' entry", edited(lambda d: d.pop("state"))),
        ("without its 'param_groups' entry", edited(lambda d: d.pop("param_groups"))),
        ("with one parameter group fewer", edited(lambda d: d["param_groups"].pop())),
        (
            "with an extra parameter group",
            edited(lambda d: d["param_groups"].append({**d["param_groups"][-1], "params": [97, 98]})),
        ),
        ("with an extra parameter in group 0", edited(lambda d: d["param_groups"][0]["params"].append(99))),
        ("with a group that has no 'params'", edited(lambda d: d["param_groups"][1].pop("params"))),
        ("with state for id 99, which no group lists", edited(lambda d: d["state"].__setitem__(99, d["state"][first]))),
        (
            f"with state[{first}][{array_name!r}] of the wrong shape",
            edited(
                lambda d: d["state"][first].__setitem__(
                    array_name, np.zeros(np.shape(d["state"][first][array_name]) + (2,))
                )
            ),
        ),
    ]


def _observe_refusals(seed: int, name: str) -> Callable[[Any, Callable[..., Any]], Trace]:
    init, grads, hyper, k = _setup(seed, name)

    def observe(impl: Any, call: Callable[..., Any]) -> Trace:
        trace, side = Trace(), Side(impl)
        params, opt = side.trained(name, init, grads, hyper, k)
        good = _reference_state_dict(opt)
        for words, bad in _bad_state_dicts(good, np.random.default_rng(seed)):
            label = f"load_state_dict(a state dict {words})"
            try:
                call(opt.load_state_dict, bad)
                trace.add(label, "returned")
            except DelegationError:
                raise
            except Exception as exc:
                trace.add(label, Raised.from_exception(exc))
            observe_optimizer(trace, f"after {label}", side, opt, params, name)
        return trace

    return observe


def _reference_state_dict(opt: Any) -> dict[str, Any]:
    """A correct state dict of ``opt`` (made by the reference, whatever the student's state_dict does)."""
    return _reference()["StateDict"].state_dict(opt)


def refusal_cases(seeds: Sequence[int]) -> list[ObserveScenario]:
    return [
        ObserveScenario(
            title="the course's load_state_dict (ValueError, and the optimizer left as it was)",
            observe=_observe_refusals(seed, name),
            torch_impl=_reference(),
            expected_by="the course's rule",
            words=_words(seed, name).split("; state dict")[0] + "; each state dict is broken in one way",
        )
        for seed in seeds
        for name in NAMES
    ]


# -- checkpoint files ---------------------------------------------------------------------------------


def _torch_save(path: str, params: Sequence[torch.Tensor], optimizer: Any, **extra: Any) -> None:
    torch.save(
        {"params": [p.detach().clone() for p in params], "optimizer": optimizer.state_dict(), "extra": extra}, path
    )


def _torch_load(path: str, params: Sequence[torch.Tensor], optimizer: Any) -> dict[str, Any]:
    checkpoint = torch.load(path, weights_only=True)
    optimizer.load_state_dict(checkpoint["optimizer"])
    with torch.no_grad():
        for p, value in zip(params, checkpoint["params"]):
            p.copy_(value)
    return checkpoint["extra"]


def _observe_files(seed: int, name: str) -> Callable[[Any, Callable[..., Any]], Trace]:
    init, grads, hyper, k = _setup(seed, name)
    extra = {"epoch": k, "loss": 0.25 * (seed + 1), "note": "after warm-up"}

    def observe(impl: Any, call: Callable[..., Any]) -> Trace:
        trace, side = Trace(), Side(impl)
        save = _torch_save if side.torch else impl["save_checkpoint"]
        load = _torch_load if side.torch else impl["load_checkpoint"]
        # the student's files are written where their code runs: under course-grade, the kernel's sandbox
        with tempfile.TemporaryDirectory() if side.torch else student_folder() as folder:
            path = os.path.join(folder, "run-7.ckpt")
            try:
                params, opt = side.trained(name, init, grads, hyper, k)
                call(save, path, params, opt, **extra)
                written = sorted(os.listdir(folder)) if side.torch else list_folder(folder)
                trace.add(f"save_checkpoint wrote exactly the path it was given {RULE_MARK}", written == ["run-7.ckpt"])
                params2 = side.params([np.zeros_like(v) for v in init])
                held = side.values(params2) if side.torch else [p.data for p in params2]
                opt2 = side.optimizer(name, params2, {**hyper, "lr": 0.5}, 0.5)
                got = call(load, path, params2, opt2)
                trace.add(
                    "load_checkpoint returned the extra values",
                    {key: got.get(key) for key in extra} if isinstance(got, dict) else got,
                )
                if not side.torch:
                    trace.add(
                        f"parameters restored in place {RULE_MARK}", all(p.data is a for p, a in zip(params2, held))
                    )
                else:
                    trace.add(f"parameters restored in place {RULE_MARK}", True)
                observe_optimizer(trace, "after load_checkpoint", side, opt2, params2, name)
                side.step_on(trace, name, opt2, params2, grads, k)
            except DelegationError:
                raise
            except Exception as exc:
                trace.add("the run", Raised.from_exception(exc))
        return trace

    return observe


def file_cases(seeds: Sequence[int]) -> list[ObserveScenario]:
    return [
        ObserveScenario(
            title=f"torch.save / torch.load of {'an' if name[0] in 'AEIOU' else 'a'} {name} checkpoint, "
            "then stepping on",
            observe=_observe_files(seed, name),
            torch_impl=_torch_names(),
            words=_words(seed, name).split("; state dict")[0] + "; checkpoint saved after "
            f"step {_setup(seed, name)[3]} with epoch, loss and a note, loaded into zeroed "
            "parameters and an optimizer built with lr=0.5",
        )
        for seed in seeds
        for name in NAMES
    ]


def _bad_files(folder: str, good: str, rng: np.random.Generator) -> list[tuple[str, str]]:
    data = Path(good).read_bytes()
    out: list[tuple[str, str]] = []

    def write(label: str, content: bytes) -> None:
        path = os.path.join(folder, f"bad-{len(out)}.ckpt")
        with open(path, "wb") as f:
            f.write(content)
        out.append((label, path))

    write("a truncated checkpoint", data[: len(data) // 2])
    write("random bytes", rng.bytes(256))
    with open(os.path.join(folder, "objects.ckpt"), "wb") as f:
        np.savez(f, meta=np.array([{"not": "arrays"}], dtype=object))
    out.append(("a file whose array needs pickle to load", os.path.join(folder, "objects.ckpt")))
    with open(os.path.join(folder, "plain.ckpt"), "wb") as f:
        np.savez(f, weights=np.zeros(3))
    out.append(("an .npz file that is not a checkpoint", os.path.join(folder, "plain.ckpt")))
    out.append(("a path where no file is", os.path.join(folder, "missing.ckpt")))
    return out


def _observe_bad_files(seed: int, name: str) -> Callable[[Any, Callable[..., Any]], Trace]:
    init, grads, hyper, k = _setup(seed, name)
    reference = _reference()

    def observe(impl: Any, call: Callable[..., Any]) -> Trace:
        trace, side = Trace(), Side(impl)
        with (
            tempfile.TemporaryDirectory() as made,
            contextlib.nullcontext(made) if side.torch else student_folder() as folder,
        ):
            good = os.path.join(made, "good.ckpt")  # written here, then copied where the student's code reads
            params, opt = side.trained(name, init, grads, hyper, k)
            reference["save_checkpoint"](good, params, _as_reference(opt, reference))
            wrong_count = [*init, np.zeros(2)]
            wrong_shape = [v if i else np.zeros(np.shape(v) + (1,)) for i, v in enumerate(init)]
            files = _bad_files(made, good, np.random.default_rng(seed))
            if folder != made:
                copy_folder(made, folder)
                files = [(label, os.path.join(folder, os.path.basename(path))) for label, path in files]
                good = os.path.join(folder, "good.ckpt")
            cases: list[tuple[str, str, Sequence[np.ndarray], bool]] = [
                (label, path, init, False) for label, path in files
            ]
            cases += [
                ("a checkpoint of one parameter fewer than given", good, wrong_count, False),
                ("a checkpoint whose parameter 0 has another shape", good, wrong_shape, False),
                ("a checkpoint of two parameter groups, into an optimizer with one", good, init, True),
            ]
            for label, path, values, one_group in cases:
                targets = side.params([np.full(np.shape(v), 7.0) for v in values])
                target_opt = side.optimizer(name, targets, hyper, hyper["lr"] / 2, one_group)
                text = f"load_checkpoint({label})"
                try:
                    call(impl["load_checkpoint"], path, targets, target_opt)
                    trace.add(text, "returned")
                except DelegationError:
                    raise
                except Exception as exc:
                    trace.add(text, Raised.from_exception(exc))
                observe_optimizer(trace, f"after {text}", side, target_opt, targets, name)
        return trace

    return observe


def _as_reference(opt: Any, reference: dict[str, Any]) -> Any:
    """``opt`` with the reference's state_dict, so that the good file does not depend on the student."""

    class Wrapped:
        def state_dict(self) -> Any:
            return reference["StateDict"].state_dict(opt)

    return Wrapped()


def bad_file_cases(seeds: Sequence[int]) -> list[ObserveScenario]:
    return [
        ObserveScenario(
            title="the course's load_checkpoint (ValueError, and nothing changed)",
            observe=_observe_bad_files(seed, name),
            torch_impl=_reference(),
            expected_by="the course's rule",
            words=f"a good {name} checkpoint, then broken files and files that do not fit (each loaded into "
            "parameters set to 7 and a fresh optimizer)",
        )
        for seed in seeds
        for name in NAMES[1:2]
    ]


# -- what the notebook's test cells call ---------------------------------------------------------------


def check_state_dict(StateDict: Any, *, seeds: Sequence[int] = VISIBLE_SEEDS) -> None:
    __tracebackhide__ = True
    cases = [_only_state_dict(s) for s in resume_cases(seeds, ("own",))]
    verify("state_dict", cases, {"StateDict": StateDict}, MUTANTS, "torch.optim's state_dict()")


def _only_state_dict(scenario: ObserveScenario) -> ObserveScenario:
    """The resume scenario, compared only up to the loading (what state_dict alone decides)."""

    def observe(impl: Any, call: Callable[..., Any]) -> Trace:
        full = scenario.observe(impl, call)
        kept = Trace()
        for obs in full.observations:
            if obs.label.startswith("after load_state_dict") or obs.label.startswith("resumed"):
                break
            kept.add(obs.label, obs.value)
        return kept

    return ObserveScenario(
        title=scenario.title.split(":")[0] + ": state_dict()",
        observe=observe,
        torch_impl=scenario.torch_impl,
        words=scenario.words,
    )


def check_load_state_dict(StateDict: Any, *, seeds: Sequence[int] = VISIBLE_SEEDS) -> None:
    __tracebackhide__ = True
    verify(
        "load_state_dict",
        resume_cases(seeds, ("own", "torch", "to-torch")),
        {"StateDict": StateDict},
        MUTANTS,
        "torch.optim's load_state_dict() and a run resumed from it",
    )


def check_load_state_dict_validation(StateDict: Any, *, seeds: Sequence[int] = VISIBLE_SEEDS) -> None:
    __tracebackhide__ = True
    verify(
        "load_state_dict",
        refusal_cases(seeds),
        {"StateDict": StateDict},
        MUTANTS,
        "the course's checks of a state dict",
    )


def check_checkpoint_files(
    StateDict: Any, save_checkpoint: Any, load_checkpoint: Any, *, seeds: Sequence[int] = VISIBLE_SEEDS
) -> None:
    __tracebackhide__ = True
    verify(
        "save_checkpoint / load_checkpoint",
        file_cases(seeds),
        {"StateDict": StateDict, "save_checkpoint": save_checkpoint, "load_checkpoint": load_checkpoint},
        MUTANTS,
        "torch.save / torch.load and a run resumed from the file",
    )


def check_checkpoint_bad_files(
    StateDict: Any, save_checkpoint: Any, load_checkpoint: Any, *, seeds: Sequence[int] = VISIBLE_SEEDS
) -> None:
    __tracebackhide__ = True
    verify(
        "load_checkpoint",
        bad_file_cases(seeds),
        {"StateDict": StateDict, "save_checkpoint": save_checkpoint, "load_checkpoint": load_checkpoint},
        MUTANTS,
        "the course's checks of a checkpoint file",
    )
