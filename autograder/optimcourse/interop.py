"""State dicts across the NumPy/torch border: the course's optimizers and ``torch.optim`` read each other's.

Both use torch's layout, ``{"state": {id: {name: value}}, "param_groups": [{..., "params": [id, ...]}]}``;
only the values differ: NumPy arrays and a Python ``int`` step on the course's side, tensors on torch's
(``step`` a 0-dim float tensor). Everything is copied, so neither side shares memory with the other.
Group keys pass through unchanged: torch fills in the flags it needs (``foreach``, ``fused``, ...) when it
loads a dict that lacks them, and the course's optimizers ignore the ones they do not use.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import torch

__all__ = ["from_torch_state_dict", "to_torch_state_dict"]


StateDict = dict[str, Any]


def to_torch_state_dict(state_dict: StateDict) -> StateDict:
    """A course optimizer's state dict, as ``torch.optim.Optimizer.load_state_dict`` takes it."""
    state = {}
    for key, entry in state_dict["state"].items():
        state[key] = {
            name: (torch.tensor(float(value)) if name == "step" else torch.tensor(np.array(value)))
            for name, value in entry.items()
        }
    return {"state": state, "param_groups": copy.deepcopy(state_dict["param_groups"])}


def from_torch_state_dict(state_dict: StateDict) -> StateDict:
    """A torch optimizer's state dict, as the course's ``load_state_dict`` takes it."""
    state = {}
    for key, entry in state_dict["state"].items():
        state[key] = {
            name: (round(float(value)) if name == "step" else np.array(value.detach().cpu().numpy(), dtype=np.float64))
            for name, value in entry.items()
        }
    return {"state": state, "param_groups": copy.deepcopy(state_dict["param_groups"])}
