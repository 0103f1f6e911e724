"""The hyperparameter configurations PyTorch's own optimizer tests run, read from torch itself.

``torch/testing/_internal/common_optimizers.py`` lists, per optimizer, the configurations its test
suite runs (``optim_inputs_func_sgd`` and so on). The hidden tests run every CPU one of them, so
they are read from the installed torch (by parsing, not importing: importing needs torch's test
dependencies) instead of being copied here, where they could drift from the pinned version.
Configurations that only exist for CUDA or MPS (held in their own lists, such as
``cuda_supported_configs``) are left out; a tensor learning rate ``torch.tensor(0.001)`` becomes the
float 0.001, the only form a NumPy exercise has.
"""

from __future__ import annotations

import ast
import os
from functools import cache

import torch

__all__ = ["parse_scheduler_inputs", "torch_scheduler_inputs", "torch_test_configs"]


SOURCE = os.path.join(os.path.dirname(torch.__file__), "testing", "_internal", "common_optimizers.py")


def _value(node: ast.expr) -> object:
    """A literal, or ``torch.tensor(<number>)`` read as that number."""
    if (
        isinstance(node, ast.Call)
        and ast.unparse(node.func) == "torch.tensor"
        and len(node.args) == 1
        and not node.keywords
    ):
        return float(ast.literal_eval(node.args[0]))  # a number, by the test above
    if isinstance(node, ast.Dict):
        return {ast.literal_eval(k): _value(v) for k, v in zip(node.keys, node.values) if k is not None}
    return ast.literal_eval(node)


def _functions(source: str) -> dict[str, ast.FunctionDef]:
    return {f.name: f for f in ast.parse(source).body if isinstance(f, ast.FunctionDef)}


def parse_configs(source: str, optimizer: str) -> list[tuple[str, dict[str, object]]]:
    """(description, kwargs) of each configuration ``optim_inputs_func_<optimizer>`` runs on CPU.

    Raises ValueError when a configuration is not a literal this module can read, so that a change
    in torch's test file shows up as an error here rather than as configurations silently missing.
    """
    functions = _functions(source)
    name = f"optim_inputs_func_{optimizer.lower()}"
    if name not in functions:
        raise ValueError(f"{name} is not defined in torch's optimizer tests")
    fn = functions[name]
    body = fn.body
    # AdamW's list is Adam's: `return optim_inputs_func_adam(device, dtype)`
    if (
        len(body) == 1
        and isinstance(body[0], ast.Return)
        and isinstance(body[0].value, ast.Call)
        and ast.unparse(body[0].value.func).startswith("optim_inputs_func_")
    ):
        return parse_configs(source, ast.unparse(body[0].value.func).removeprefix("optim_inputs_func_"))
    device_only: set[int] = set()
    for node in ast.walk(fn):
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id.endswith("_configs") for t in node.targets
        ):
            device_only.update(id(sub) for sub in ast.walk(node.value))
    configs = []
    for node in ast.walk(fn):
        if isinstance(node, ast.Call) and ast.unparse(node.func) == "OptimizerInput" and id(node) not in device_only:
            keywords = {k.arg: k.value for k in node.keywords}
            desc = ast.literal_eval(keywords["desc"]) if "desc" in keywords else ""
            try:
                kwargs = _value(keywords["kwargs"])
            except (ValueError, KeyError) as exc:
                raise ValueError(f"{name}: cannot read the configuration {desc!r}: {exc}") from None
            if not isinstance(kwargs, dict):
                raise ValueError(f"{name}: the configuration {desc!r} has kwargs that are not a dict")
            configs.append((str(desc), kwargs))
    if not configs:
        raise ValueError(f"{name}: no configurations found")
    return configs


@cache
def torch_test_configs(optimizer: str) -> tuple[tuple[str, dict[str, object]], ...]:
    """The CPU configurations of torch's own tests for ``optimizer`` ("SGD", "Adam", "AdamW")."""
    with open(SOURCE, encoding="utf-8") as f:
        return tuple(parse_configs(f.read(), optimizer))


#: one scheduler of torch's tests: its class's name, the positional arguments after the optimizer, the keywords
SchedulerCall = tuple[str, tuple[object, ...], dict[str, object]]


def parse_scheduler_inputs(source: str) -> list[tuple[str, tuple[SchedulerCall, ...]]]:
    """(optimizer, schedulers) for each entry of an ``OptimizerInfo``'s ``scheduler_inputs``: a list of
    ``lambda opt: Scheduler(opt, ...)`` that torch's tests build on one optimizer and step together.

    Raises ValueError on an entry this module cannot read, as :func:`parse_configs` does."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not (isinstance(node, ast.Call) and ast.unparse(node.func) == "OptimizerInfo"):
            continue
        keywords = {k.arg: k.value for k in node.keywords}
        if "scheduler_inputs" not in keywords:
            continue
        optimizer = ast.unparse(node.args[0] if node.args else keywords["optim_cls"])
        entries = keywords["scheduler_inputs"]
        if not isinstance(entries, (ast.Tuple, ast.List)):
            raise ValueError(f"{optimizer}: scheduler_inputs is not a literal tuple")
        for entry in entries.elts:
            if not isinstance(entry, (ast.List, ast.Tuple)):
                raise ValueError(f"{optimizer}: a scheduler_inputs entry is not a list: {ast.unparse(entry)}")
            calls = []
            for fn in entry.elts:
                body = fn.body if isinstance(fn, ast.Lambda) else None
                if (
                    not isinstance(fn, ast.Lambda)
                    or len(fn.args.args) != 1
                    or not isinstance(body, ast.Call)
                    or not body.args
                    or ast.unparse(body.args[0]) != fn.args.args[0].arg
                ):
                    raise ValueError(f"{optimizer}: cannot read the scheduler {ast.unparse(fn)}")
                try:
                    args = tuple(_value(a) for a in body.args[1:])
                    kwargs = {str(k.arg): _value(k.value) for k in body.keywords}
                except ValueError as exc:
                    raise ValueError(f"{optimizer}: cannot read the scheduler {ast.unparse(fn)}: {exc}") from None
                calls.append((ast.unparse(body.func), args, kwargs))
            found.append((optimizer, tuple(calls)))
    if not found:
        raise ValueError("no scheduler_inputs found in torch's optimizer tests")
    return found


@cache
def torch_scheduler_inputs() -> tuple[tuple[str, tuple[SchedulerCall, ...]], ...]:
    """The scheduler combinations torch's optimizer tests run, read from the installed torch."""
    with open(SOURCE, encoding="utf-8") as f:
        return tuple(parse_scheduler_inputs(f.read()))
