"""Reference solution of 05-state-checkpointing: generated from solutions/05-state-checkpointing/state_checkpointing.ipynb by `python -m optimcourse.sync`.

Do not edit: edit the notebook and run the sync. Mutants are text edits of this file.
"""
import copy
import json
import os
import tempfile
import zipfile
from collections import defaultdict

import numpy as np

# given.SGD, given.Adam, given.AdamW: exercise 4's optimizers
from optimcourse import given
from optimcourse.given import Parameter


class StateDict:
    """state_dict() and load_state_dict() in torch's format, for any
    optimizer of the course."""

    def state_dict(self):
        """A snapshot: {'state': {id: {...}},
        'param_groups': [{..., 'params': [id, ...]}]}."""
        ids = {}
        param_groups = []
        for group in self.param_groups:
            packed = {key: copy.deepcopy(value) for key, value in group.items() if key != "params"}
            packed["params"] = []
            for p in group["params"]:
                ids.setdefault(id(p), len(ids))
                packed["params"].append(ids[id(p)])
            param_groups.append(packed)
        state = {}
        for group in self.param_groups:
            for p in group["params"]:
                if p in self.state and self.state[p]:
                    state[ids[id(p)]] = copy.deepcopy(self.state[p])
        return {"state": state, "param_groups": param_groups}

    def load_state_dict(self, state_dict):
        """Take state and hyperparameters from state_dict, after checking
        that it fits this optimizer."""
        for key in ("state", "param_groups"):
            if key not in state_dict:
                raise ValueError(f"the state dict has no {key!r} entry")
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(f"the state dict has {len(saved_groups)} parameter groups, the optimizer "
                             f"{len(self.param_groups)}")
        params_by_id = {}
        for g, (group, saved) in enumerate(zip(self.param_groups, saved_groups)):
            if "params" not in saved:
                raise ValueError(f"parameter group {g} of the state dict has no 'params' entry")
            if len(saved["params"]) != len(group["params"]):
                raise ValueError(f"parameter group {g} of the state dict has {len(saved['params'])} "
                                 f"parameters, the optimizer's {len(group['params'])}")
            params_by_id.update(zip(saved["params"], group["params"]))
        for key, entry in state_dict["state"].items():
            if key not in params_by_id:
                raise ValueError(f"the state dict has state for parameter id {key!r}, which no group lists")
            shape = params_by_id[key].data.shape
            for name, value in entry.items():
                if isinstance(value, np.ndarray) and value.shape != shape:
                    raise ValueError(f"state[{key}][{name!r}] has shape {value.shape}, but its parameter "
                                     f"has shape {shape}")
        # everything checked: replace state and hyperparameters, with copies of the caller's values
        self.state = defaultdict(dict)
        for key, entry in state_dict["state"].items():
            self.state[params_by_id[key]] = copy.deepcopy(entry)
        self.param_groups = [
            {**{key: copy.deepcopy(value) for key, value in saved.items() if key != "params"},
             "params": group["params"]}
            for group, saved in zip(self.param_groups, saved_groups)]


def save_checkpoint(path, params, optimizer, **extra):
    """Write params, the optimizer's state dict and extra to one .npz file
    at path."""
    state_dict = optimizer.state_dict()
    arrays = {f"param/{i}": p.data for i, p in enumerate(params)}
    scalars = {}
    for key, entry in state_dict["state"].items():
        scalars[str(key)] = {}
        for name, value in entry.items():
            if isinstance(value, np.ndarray):
                arrays[f"state/{key}/{name}"] = value
            else:
                scalars[str(key)][name] = value
    meta = {"n_params": len(params), "param_groups": state_dict["param_groups"], "state": scalars, "extra": extra}
    arrays["meta"] = np.array(json.dumps(meta))
    with open(path, "wb") as f:
        np.savez(f, **arrays)


def load_checkpoint(path, params, optimizer):
    """Restore params in place and the optimizer's state from path; return
    the extra values."""
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {name: f[name] for name in f.files}
        meta = json.loads(str(arrays.pop("meta")))
        saved = [arrays[f"param/{i}"] for i in range(meta["n_params"])]
        state = {int(key): dict(values) for key, values in meta["state"].items()}
        for name, value in arrays.items():
            if name.startswith("state/"):
                _, key, entry = name.split("/", 2)
                state[int(key)][entry] = value
        param_groups = [{key: tuple(value) if isinstance(value, list) and key != "params" else value
                         for key, value in group.items()} for group in meta["param_groups"]]
        extra = meta["extra"]
    except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile) as exc:
        raise ValueError(f"{path} is not a checkpoint this function can read: {exc}") from None
    if len(saved) != len(params):
        raise ValueError(f"the checkpoint holds {len(saved)} parameters, but {len(params)} were given")
    for i, (p, value) in enumerate(zip(params, saved)):
        if value.shape != p.data.shape:
            raise ValueError(f"parameter {i} has shape {p.data.shape}, the checkpoint's {value.shape}")
    optimizer.load_state_dict({"state": state, "param_groups": param_groups})  # checks before it changes
    for p, value in zip(params, saved):
        p.data[...] = value
    return extra
