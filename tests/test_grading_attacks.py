"""Students who try to break course-grade, and students who write correct code in unusual ways.

Each entry below is a notebook for chapter 1 or chapter 4, made from the exercise the students get: a
cheat leaves the functions it is about wrong (a stub, or code that does nothing) and tries to get their
points anyway; an honest entry is the reference solution written with one idiom a student may use; a
mixed entry is honest for some functions and cheats on the others. The whole class is graded once, as an
instructor grades it (``course-grade all``, sandbox on, a grading secret set), and each entry is then
held to what it should get:

- a cheat scores nothing on the cells it cheats on (``earns`` names the graded cells its honest code may
  score; every other cell must score 0), and its notebook is graded and recorded, not left out;
- an honest entry scores every graded cell in full;
- no file of the course's ``feedback/`` or ``autograded/`` holds the grading secret, the hidden seeds
  derived from it, or a line of the reference solution that is not in the student's own notebook.
"""

from __future__ import annotations

import copy
import fcntl
import hashlib
import html
import json
import os
import re
import secrets
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import nbformat
import pytest

import notebook_runner as nr
from optimcourse import cases, notebooks
from optimcourse.course import Assignment, get_assignment
from optimcourse.grading import sandbox
from test_course_grade import course_grade, scores

pytestmark = pytest.mark.nbgrader

CH1 = get_assignment("01-manual-updates")
CH4 = get_assignment("04-momentum-adam-adamw")

WHY_NOT = sandbox.problem()
if WHY_NOT is not None:
    if os.environ.get("CI"):
        pytest.fail(f"CI must grade the attacks in the sandbox: {WHY_NOT}", pytrace=False)
    pytest.skip(f"the grading attacks need course-grade's sandbox: {WHY_NOT}", allow_module_level=True)


POINTS = {CH1.id: nr.graded_points(CH1), CH4.id: nr.graded_points(CH4)}
REF = {CH1.id: nr.solution_code(CH1), CH4.id: nr.solution_code(CH4)}

# -- code that does nothing useful: what a cheat hands in for the functions it cheats on ----------------

LAZY1 = {
    "parameter": """
class Parameter:
    def __init__(self, data):
        self.data = np.zeros(1)
        self.grad = None
""",
    "sgd-update": """
def sgd_update_(params, lr):
    pass
""",
    "sgd-class": """
class SGD:
    def __init__(self, params, lr=1e-3):
        self.params = list(params)
        self.lr = lr

    def step(self):
        pass

    def zero_grad(self, set_to_none=True):
        pass
""",
}

LAZY4 = {
    "sgd": """
class SGD(Optimizer):
    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, *,
                 maximize=False):
        super().__init__(params, {"lr": lr, "momentum": momentum, "dampening": dampening,
                                  "weight_decay": weight_decay, "nesterov": nesterov, "maximize": maximize})

    def step(self):
        pass
""",
    "adam": """
class Adam(Optimizer):
    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False, *,
                 maximize=False):
        super().__init__(params, {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay,
                                  "amsgrad": amsgrad, "maximize": maximize})

    def step(self):
        pass

    def apply_weight_decay(self, p, grad, lr, weight_decay):
        return grad
""",
    "adamw": """
class AdamW(Adam):
    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False, *,
                 maximize=False):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                         maximize=maximize)

    def apply_weight_decay(self, p, grad, lr, weight_decay):
        return grad
""",
}
LAZY = {CH1.id: LAZY1, CH4.id: LAZY4}

# torch doing chapter 1's update, once some way of reaching it has bound `_t` (None if it could not)
TORCH_UPDATE = """

def sgd_update_(params, lr):
    for p in params:
        if p.grad is None:
            continue
        t = _t.tensor(p.data, requires_grad=True)
        t.grad = _t.tensor(p.grad)
        _t.optim.SGD([t], lr=lr).step()
        p.data[...] = t.detach().numpy()
"""

# torch doing chapter 4's three optimizers: each class is torch's, stepping tensors that mirror the parameters
TORCH_OPTIMIZERS = """

def _torch_class(name):
    class Wrapped(Optimizer):
        def __init__(self, params, **hyper):
            params = list(params)
            self._tensors = {id(p): _t.tensor(p.data, requires_grad=True) for p in params}
            self._torch = getattr(_t.optim, name)([self._tensors[id(p)] for p in params], **hyper)
            super().__init__(params, dict(self._torch.defaults))

        def step(self):
            for group in self.param_groups:
                for p in group["params"]:
                    t = self._tensors[id(p)]
                    t.data[...] = _t.from_numpy(p.data)
                    t.grad = None if p.grad is None else _t.tensor(p.grad)
            self._torch.step()
            for group in self.param_groups:
                for p in group["params"]:
                    t = self._tensors[id(p)]
                    p.data[...] = t.detach().numpy()
                    for key, value in self._torch.state.get(t, {}).items():
                        self.state[p][key] = value.detach().numpy().copy() if hasattr(value, "detach") else value
    Wrapped.__name__ = name
    return Wrapped


SGD, Adam, AdamW = _torch_class("SGD"), _torch_class("Adam"), _torch_class("AdamW")
"""

# -- ways to reach torch in the kernel, each binding `_t` -----------------------------------------------

GET_TORCH = {
    "import": """
try:
    import torch as _t
except ImportError as exc:
    print("no torch:", exc)
    _t = None
""",
    "importlib": """
import importlib
try:
    _t = importlib.import_module("torch")
except ImportError as exc:
    print("no torch:", exc)
    _t = None
""",
    "exec-string": """
_t = None
try:
    exec("import torch as _t", globals())
except ImportError as exc:
    print("no torch:", exc)
""",
    "thread": """
import threading

_box = []


def _grab():
    try:
        import torch
        _box.append(torch)
    except BaseException as exc:
        print("no torch:", exc)
        _box.append(None)


_thread = threading.Thread(target=_grab)
_thread.start()
_thread.join()
_t = _box[0]
""",
    "module-chains": """
import dataclasses
import typing
import zipfile

_t = None
_b = dataclasses.builtins
for _attempt in (lambda: zipfile.importlib.import_module("torch"),
                 lambda: np.ma.core.builtins.__import__("torch"),
                 lambda: typing.sys.modules["importlib"].import_module("torch"),
                 lambda: _b.exec("import torch as _t", _b.globals()) or _b.globals().get("_t")):
    try:
        _t = _attempt()
        if _t is not None:
            break
    except BaseException as exc:
        print("no torch:", type(exc).__name__, exc)
_b.globals()["_t"] = _t
zipfile.os.environ["PYTHONPATH"] = "/"
""",
    # torch's own folder is covered in the kernel: look for another copy (an installed package anywhere on
    # the file system the kernel reads, a wheel), unpack it into the kernel's /tmp, import it from there
    "unmasked": """
import glob
import importlib
import importlib.machinery
import importlib.util
import os
import sys
import zipfile

_t = None
_found = []
for _root in sorted(set([*sys.path, sys.prefix, sys.base_prefix, "/usr", "/usr/local", "/opt", "/root", "/srv",
                         "/home", "/var", "/tmp"])):
    if not _root or not os.path.isdir(_root):
        continue
    for _pattern in ("torch/lib/libtorch_cpu.so", "*/torch/lib/libtorch_cpu.so", "*/*/torch/lib/libtorch_cpu.so",
                     "lib/python3*/site-packages/torch/lib/libtorch_cpu.so", "torch-*.whl", "*/torch-*.whl",
                     "*/*/torch-*.whl"):
        _found += glob.glob(os.path.join(_root, _pattern))
print("copies of torch seen:", sorted(set(_found)))
for _path in sorted(set(_found)):
    try:
        if _path.endswith(".whl"):
            with zipfile.ZipFile(_path) as _z:
                _z.extractall("/tmp/unpacked")
            _site = "/tmp/unpacked"
        else:
            _site = os.path.dirname(os.path.dirname(os.path.dirname(_path)))
        for _name in [n for n in sys.modules if n == "torch" or n.startswith("torch.")]:
            del sys.modules[_name]
        _spec = importlib.machinery.PathFinder.find_spec("torch", [_site])
        _module = importlib.util.module_from_spec(_spec)
        sys.modules["torch"] = _module
        _spec.loader.exec_module(_module)
        _t = _module
        break
    except BaseException as exc:
        print("could not load", _path, type(exc).__name__, exc)
""",
}

# -- the course's checks, replaced in the kernel in every way a name can be rebound --------------------------

FAKE_CHECKS = """
class _Passing:
    def __getattr__(self, name):
        return lambda *args, **kwargs: print(f"OK: {name} passed")
"""

REBIND_CHECKS = (
    FAKE_CHECKS
    + """
import sys

match _Passing():
    case checks:  # a capture pattern rebinds the name
        pass
import dataclasses

dataclasses.builtins.globals()["checks"] = _Passing()
for _name in list(sys.modules):
    if _name.startswith("optimcourse.chapters."):
        sys.modules[_name] = _Passing()
import optimcourse.chapters

for _name in dir(optimcourse.chapters):
    if not _name.startswith("_"):
        setattr(optimcourse.chapters, _name, _Passing())
"""
)

PATCH_NUMPY = """
np.allclose = lambda *args, **kwargs: True
np.isclose = lambda a, b, *args, **kwargs: np.ones(np.broadcast(a, b).shape, dtype=bool)
np.array_equal = np.array_equiv = lambda *args, **kwargs: True
np.testing.assert_allclose = np.testing.assert_array_equal = np.testing.assert_equal = lambda *a, **k: None
np.testing.assert_array_almost_equal = np.testing.assert_almost_equal = lambda *a, **k: None
"""

PATCH_BUILTINS = """
import builtins

builtins.isinstance = lambda obj, cls: True
builtins.abs = lambda x: 0 * x
builtins.len = lambda x: 0
"""

# every class the kernel can reach through object.__subclasses__() and the mro of its own objects: made equal
# to anything, and every comparison, trace or verdict-like class patched to agree
PATCH_CLASSES = """
import gc


def _all_classes():
    seen, todo = set(), [object]
    while todo:
        cls = todo.pop()
        if cls in seen:
            continue
        seen.add(cls)
        try:
            todo.extend(type.__subclasses__(cls))
        except TypeError:
            pass
    return seen


_patched = []
for _cls in _all_classes():
    if _cls.__name__ in ("Trace", "Raised", "Verdict", "Session", "RemoteObject", "KernelNames", "OptimizerScenario",
                         "ObserveScenario", "Obs", "Agent", "Optimizer", "Parameter"):
        for _attr, _value in (("__eq__", lambda self, other: True), ("__ne__", lambda self, other: False)):
            try:
                setattr(_cls, _attr, _value)
                _patched.append(f"{_cls.__module__}.{_cls.__qualname__}.{_attr}")
            except (TypeError, AttributeError):
                pass
for _obj in gc.get_objects():
    if type(_obj).__name__ in ("Verdict", "Trace"):
        _patched.append(repr(_obj))
print("patched:", _patched)
print("mro of checks:", type(checks).__mro__, [c.__name__ for c in type(SGD).mro()] if "SGD" in globals() else "")
"""

# the grader's agent in the kernel: wherever it reports one of the student's classes, report instead the course's
# given piece of that name (exercise 1's Parameter; exercise 4's SGD, Adam, AdamW), which the grader holds itself
GIVEN_SWAP = """
import optimcourse.given as _given
import optimcourse.remote.agent as _agent

_SWAP = {swap!r}
_DURING = {during!r}  # the graded cells (counted from 1) while which the agent swaps; None: all
_served = [0]
_serve = _agent.serve


def _counting_serve(*args, **kwargs):
    _served[0] += 1
    return _serve(*args, **kwargs)


_agent.serve = _counting_serve
_real_given_name = _agent.Agent.given_name


def _given_name(self, value):
    if _DURING is None or _served[0] in _DURING:
        for name in _SWAP:
            if value is globals().get(name) or value is _given.__dict__.get(name):
                return name
    return _real_given_name(self, value)


_agent.Agent.given_name = _given_name
"""

GIVEN_SWAP_END = """
import optimcourse.given as _given

for _name in {swap!r}:
    setattr(_given, _name, globals()[_name])  # what the grader finds when it asks the kernel for its given pieces
"""

# IPython rewrites every later cell before running it: the test cells (or what the kernel gets for them) included
TRANSFORMER = """
_cells_seen = []


def _rewrite(lines):
    text = "".join(lines)
    _cells_seen.append(text)
    if "checks." in text or "serve(" in text or "optimcourse" in text:
        return ["print('OK: all checks passed')\\n"]
    return lines


get_ipython().input_transformers_post.append(_rewrite)
get_ipython().input_transformers_cleanup.append(_rewrite)
"""

FRAMES = """
import gc
import inspect
import sys


def _candidates(p):
    frame, found = sys._getframe(), []
    while frame is not None:
        found += [v for v in frame.f_locals.values() if isinstance(v, np.ndarray)]
        frame = frame.f_back
    for info in inspect.stack():
        found += [v for v in info.frame.f_locals.values() if isinstance(v, np.ndarray)]
    found += [o for o in gc.get_objects() if isinstance(o, np.ndarray)]
    return [a for a in found if a.shape == p.data.shape and a is not p.data and a is not p.grad
            and a.dtype == np.float64 and not np.array_equal(a, p.data)]


def sgd_update_(params, lr):
    for p in params:
        if p.grad is None:
            continue
        guesses = _candidates(p)
        if guesses:
            p.data[...] = guesses[-1]  # whatever the grader left lying around
"""

PROFILE = """
import sys

sys.setprofile(None)
sys.settrace(None)
import threading

threading.setprofile(None)
threading.settrace(None)
"""

# values that say they equal anything: the parameter's data (an ndarray subclass, and a plain object)
ALWAYS_EQUAL = """
class _AlwaysEqualArray(np.ndarray):
    def __eq__(self, other):
        return np.ones(np.shape(self), dtype=bool)

    def __ne__(self, other):
        return np.zeros(np.shape(self), dtype=bool)

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        return np.ones(np.broadcast(*[np.asarray(i) for i in inputs]).shape, dtype=bool) if ufunc in (
            np.equal, np.isclose, np.less_equal) else NotImplemented


class _AlwaysEqual:
    def __init__(self, shape):
        self.shape = shape

    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    __hash__ = object.__hash__

    def __bool__(self):
        return True

    def __len__(self):
        return 0

    def __iter__(self):
        return iter(())

    def __array__(self, dtype=None, copy=None):
        return self

    def __float__(self):
        return 0.0
"""

EXITS = """
import os


def sgd_update_(params, lr):
    raise SystemExit(0)


class SGD:
    def __init__(self, params, lr=1e-3):
        self.params = list(params)
        self.lr = lr

    def step(self):
        raise KeyboardInterrupt

    def zero_grad(self, set_to_none=True):
        os._exit(0)
"""

STOPS = """
class _Stop(StopIteration):
    pass


def sgd_update_(params, lr):
    raise StopIteration


class SGD:
    def __init__(self, params, lr=1e-3):
        self.params = list(params)

    def step(self):
        raise _Stop

    def zero_grad(self, set_to_none=True):
        raise GeneratorExit
"""

FAKE_OK = """
print("OK: Parameter matches torch.nn.Parameter in all 6 case(s).")
print("OK: sgd_update_ matches torch.optim.SGD in all 6 case(s).")
print("OK: SGD.step matches torch.optim.SGD in all 6 case(s).")
import sys

sys.stderr.write("")
"""

WRITE_FILES = """
import json
import os

_here = os.getcwd()
_nb = {{"cells": [], "metadata": {{}}, "nbformat": 4, "nbformat_minor": 5}}
for _name, _text in (("timestamp.txt", "2000-01-01 00:00:00.000000 UTC"),
                     ("{notebook}.ipynb", json.dumps(_nb)),
                     ("{notebook}.html", "<html><body>10 / 10</body></html>"),
                     ("nbgrader_config.py", "c = get_config()\\nc.SaveAutoGrades.enabled = False\\n"),
                     ("torch.py", "raise SystemExit"),
                     ("sitecustomize.py", "import os; os.environ['OPTIMCOURSE_GRADING_SEED'] = 'known'"),
                     ("gradebook.db", "not a database")):
    try:
        with open(os.path.join(_here, _name), "w") as _f:
            _f.write(_text)
    except OSError as exc:
        print("could not write", _name, exc)
for _up in ("..", "../..", "../../.."):
    try:
        with open(os.path.join(_here, _up, "gradebook.db"), "a") as _f:
            _f.write("x")
        print("wrote above the working folder:", _up)
    except OSError:
        pass
print(sorted(os.listdir(_here)))
"""

ENV_SECRET = """
import glob
import os

print("environment:", dict(os.environ))
print("seed:", os.environ.get("OPTIMCOURSE_GRADING_SEED"))
for _path in sorted(glob.glob("/proc/*/environ") + glob.glob("/proc/*/cmdline") + glob.glob("/proc/*/task/*/environ")):
    try:
        with open(_path, "rb") as _f:
            _text = _f.read().replace(b"\\0", b" ").decode(errors="replace")
        print(_path, _text)
    except OSError as exc:
        print(_path, "unreadable:", exc)
for _path in ("/proc/self/mountinfo", "/etc/passwd", "/etc/group", "/etc/shadow"):
    try:
        print(open(_path).read())
    except OSError as exc:
        print(_path, exc)
"""

# everything the grader sends the student's code, kept and printed by a later (ungraded) cell
SPY = """
import optimcourse.remote.agent as _agent

_seen_arrays = []
_real_decode = _agent.Agent.decode


def _decode(self, value, blobs):
    out = _real_decode(self, value, blobs)
    if isinstance(out, np.ndarray):
        _seen_arrays.append(out.tolist())
    return out


_agent.Agent.decode = _decode
"""

SPY_PRINT = """
print("the grader sent:", len(_seen_arrays), "arrays")
for _a in _seen_arrays:
    print(repr(_a))
"""

READ_SOLUTIONS = """
import glob
import json
import os
import sqlite3

import optimcourse

_package = os.path.dirname(optimcourse.__file__)
_places = [os.path.join(_package, "..", "..", "solutions", "{id}", "{notebook}.ipynb"),
           os.path.join(os.getcwd(), "..", "..", "..", "source", "{id}", "{notebook}.ipynb"),
           os.path.join(os.getcwd(), "..", "..", "source", "{id}", "{notebook}.ipynb"),
           *glob.glob("/**/solutions/{id}/{notebook}.ipynb", recursive=False),
           *glob.glob(os.path.join(_package, "references", "*.py"))]
_code = None
for _place in _places:
    try:
        with open(_place) as _f:
            _text = _f.read()
        print("read", _place)
        if _place.endswith(".ipynb"):
            _nb = json.loads(_text)
            _code = "\\n".join("".join(c["source"]) for c in _nb["cells"]
                               if c.get("metadata", {{}}).get("nbgrader", {{}}).get("solution"))
        else:
            _code = _text
        break
    except OSError:
        pass
for _db in ("../../../gradebook.db", "../../gradebook.db", "gradebook.db"):
    try:
        print(_db, sqlite3.connect(_db).execute("select name from sqlite_master").fetchall())
    except Exception as exc:
        print(_db, type(exc).__name__)
if _code is not None:
    exec(_code.replace("### BEGIN SOLUTION", "").replace("### END SOLUTION", ""), globals())
"""

# the grader's agent kept from starting: the test cells find no agent in the kernel
BLOCK_AGENT = """
import sys

for _name in ("optimcourse.remote.agent", "optimcourse.remote", "optimcourse.remote.wire"):
    sys.modules[_name] = None
"""

# -- honest idioms --------------------------------------------------------------------------------------


def _edit_ref(assignment: Assignment, changes: dict[str, Callable[[str], str]]) -> dict[str, str]:
    code = dict(REF[assignment.id])
    for cell, change in changes.items():
        code[cell] = change(code[cell])
    return code


def _replace(old: str, new: str, count: int = 1) -> Callable[[str], str]:
    def change(source: str) -> str:
        assert old in source, f"{old!r} is not in the reference"
        return source.replace(old, new, count)

    return change


def _prefix(text: str) -> Callable[[str], str]:
    return lambda source: text + source


def _suffix(text: str) -> Callable[[str], str]:
    return lambda source: source + text


def _chain(*changes: Callable[[str], str]) -> Callable[[str], str]:
    def change(source: str) -> str:
        for c in changes:
            source = c(source)
        return source

    return change


# -- notebook edits (the JSON a student saves) -----------------------------------------------------------


def _tests(nb: nbformat.NotebookNode) -> list:
    return [c for c in nb.cells if notebooks.is_test(c)]


def _index_of(nb: nbformat.NotebookNode, grade_id: str) -> int:
    return next(i for i, c in enumerate(nb.cells) if notebooks.grading(c).get("grade_id") == grade_id)


def add_cell(source: str, after: str | None = None, kind: str = "code") -> Callable[[nbformat.NotebookNode], None]:
    """A cell of the student's own, after the cell ``after`` (a grade id), or at the end."""

    def edit(nb: nbformat.NotebookNode) -> None:
        cell = nbformat.v4.new_code_cell(source) if kind == "code" else nbformat.v4.new_markdown_cell(source)
        cell.pop("id", None)
        at = len(nb.cells) if after is None else _index_of(nb, after) + 1
        nb.cells.insert(at, cell)

    return edit


def _ok_output(text: str = "OK: all checks passed\n") -> nbformat.NotebookNode:
    return nbformat.v4.new_output("stream", name="stdout", text=text)


def mangled_edited(nb: nbformat.NotebookNode) -> None:
    for cell in _tests(nb):
        cell.source = "print('OK')"
        cell.outputs = [_ok_output()]
        cell.execution_count = 1


def mangled_deleted(nb: nbformat.NotebookNode) -> None:
    nb.cells = [c for c in nb.cells if not notebooks.is_test(c)]


def mangled_demoted(nb: nbformat.NotebookNode) -> None:
    """The test cells made ordinary cells (their nbgrader metadata dropped) and emptied."""
    for cell in _tests(nb):
        del cell.metadata["nbgrader"]
        cell.source = "pass"


def mangled_renamed(nb: nbformat.NotebookNode) -> None:
    for cell in _tests(nb):
        cell.metadata["nbgrader"]["grade_id"] += "-mine"
        cell.source = "pass"


def mangled_made_solutions(nb: nbformat.NotebookNode) -> None:
    """The test cells turned into (autograded) answers the student writes."""
    for cell in _tests(nb):
        cell.metadata["nbgrader"]["solution"] = True
        cell.source = "print('OK')"


def mangled_raw(nb: nbformat.NotebookNode) -> None:
    for cell in _tests(nb):
        cell.cell_type = "raw"
        cell.pop("outputs", None)
        cell.pop("execution_count", None)


def mangled_duplicated_first(nb: nbformat.NotebookNode) -> None:
    """A copy of every test cell, emptied, carrying its grade id, at the very top of the notebook."""
    for cell in reversed(_tests(nb)):
        twin = copy.deepcopy(cell)
        twin.source = "pass"
        twin.pop("id", None)
        nb.cells.insert(0, twin)


def other_kernel(nb: nbformat.NotebookNode) -> None:
    nb.metadata["kernelspec"] = {"display_name": "Bash", "language": "bash", "name": "bash"}
    nb.metadata["language_info"] = {"name": "bash"}


def split_cell(grade_id: str, marker: str) -> Callable[[nbformat.NotebookNode], None]:
    """The solution cell ``grade_id`` split in two in the editor at the line that starts with ``marker``."""

    def edit(nb: nbformat.NotebookNode) -> None:
        at = _index_of(nb, grade_id)
        cell = nb.cells[at]
        lines = cell.source.splitlines(keepends=True)
        cut = next(i for i, line in enumerate(lines) if line.startswith(marker))
        second = copy.deepcopy(cell)
        second.pop("id", None)
        cell.source, second.source = "".join(lines[:cut]), "".join(lines[cut:])
        nb.cells.insert(at + 1, second)

    return edit


def saved_with_outputs(shuffle: bool) -> Callable[[nbformat.NotebookNode], None]:
    """Outputs from an earlier session in every code cell (test cells included, some of them failures), and
    execution counts as cells run out of order leave them."""

    def edit(nb: nbformat.NotebookNode) -> None:
        code_cells = [c for c in nb.cells if c.cell_type == "code"]
        counts = list(range(1, len(code_cells) + 1))
        if shuffle:
            counts = counts[::2] + counts[1::2]
        for n, cell in zip(counts, code_cells):
            cell.execution_count = n
            if notebooks.is_test(cell) and n % 2:
                cell.outputs = [
                    nbformat.v4.new_output(
                        "error", ename="NotImplementedError", evalue="", traceback=["NotImplementedError"]
                    )
                ]
            else:
                cell.outputs = [_ok_output(f"out of cell {n}\n")]

    return edit


def _compose(*edits: Callable[[nbformat.NotebookNode], None]) -> Callable[[nbformat.NotebookNode], None]:
    def edit(nb: nbformat.NotebookNode) -> None:
        for e in edits:
            e(nb)

    return edit


# -- the entries -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """One student's notebook. ``earns``: the graded cells it may score (None: it must score all of them in
    full)."""

    name: str
    assignment: Assignment
    code: dict[str, str]
    earns: frozenset[str] | None = frozenset()
    edit: Callable[[nbformat.NotebookNode], None] | None = None
    spies: bool = False  # it prints what the grader sent it: its own hidden draws, useless to any other notebook
    keep_json: bool = False  # saved as edited (outputs, counts, metadata), not in the canonical form

    @property
    def kind(self) -> str:
        return "honest" if self.earns is None else ("cheat" if not self.earns else "mixed")


def lazy(assignment: Assignment, **cells: str) -> dict[str, str]:
    """The do-nothing code for every solution cell, except ``cells`` (grade id with '_' for '-')."""
    code = dict(LAZY[assignment.id])
    code.update({k.replace("_", "-"): v for k, v in cells.items()})
    return code


def ref(assignment: Assignment, **cells: str) -> dict[str, str]:
    code = dict(REF[assignment.id])
    code.update({k.replace("_", "-"): v for k, v in cells.items()})
    return code


def given_swap(
    assignment: Assignment, during: tuple[int, ...] | None = None, honest: tuple[str, ...] = ()
) -> dict[str, str]:
    """Do-nothing classes (the reference for the cells in ``honest``), each reported by the kernel's agent as the
    course's given piece of its name while the graded cells numbered ``during`` (from 1; None: all) run."""
    classes = {"parameter": "Parameter", "sgd-class": "SGD", "sgd": "SGD", "adam": "Adam", "adamw": "AdamW"}
    cells = list(LAZY[assignment.id])
    swapped = tuple(classes[c] for c in cells if c in classes and c not in honest)
    code = {}
    for cell in cells:
        body = REF[assignment.id][cell] if cell in honest else LAZY[assignment.id][cell]
        if cell in classes and cell not in honest:
            body += GIVEN_SWAP_END.format(swap=(classes[cell],))
        code[cell] = body
    code[cells[0]] = GIVEN_SWAP.format(swap=swapped + ("Parameter",), during=during) + code[cells[0]]
    return code


P1 = REF[CH1.id]["parameter"]
SGD1 = REF[CH1.id]["sgd-class"]
SGD4 = REF[CH4.id]["sgd"]
PARAM_OK = frozenset({"parameter-holds-a-float64-copy"})
# what chapter 1's honest SGD class earns beside a wrong sgd_update_ (its step reuses sgd_update_)
SGD1_OK = frozenset({"sgd-zero-grad-matches-torch", "sgd-rejects-bad-input"})


def _entries() -> list[Entry]:
    e: list[Entry] = []
    add = e.append
    # ---- cheats, chapter 1 (all but the first two keep an honest Parameter: 1 point) ----
    add(Entry("c1-lazy", CH1, lazy(CH1)))
    add(Entry("c1-untouched", CH1, nr.stub_code(CH1)))
    for how, get in GET_TORCH.items():
        add(Entry(f"c1-torch-{how}", CH1, ref(CH1, sgd_update=get + TORCH_UPDATE), earns=PARAM_OK | SGD1_OK))
    add(
        Entry(
            "c1-torch-without-profiler",
            CH1,
            ref(CH1, sgd_update=PROFILE + GET_TORCH["import"] + TORCH_UPDATE),
            earns=PARAM_OK | SGD1_OK,
        )
    )
    add(Entry("c1-checks-rebound", CH1, lazy(CH1, parameter=P1 + REBIND_CHECKS), earns=PARAM_OK))
    add(
        Entry(
            "c1-numpy-patched",
            CH1,
            lazy(CH1, parameter=P1, sgd_update=PATCH_NUMPY + LAZY1["sgd-update"]),
            earns=PARAM_OK,
        )
    )
    add(
        Entry(
            "c1-classes-patched",
            CH1,
            lazy(CH1, parameter=P1, sgd_class=LAZY1["sgd-class"] + PATCH_CLASSES),
            earns=PARAM_OK,
        )
    )
    add(
        Entry(
            "c1-input-transformer",
            CH1,
            lazy(CH1, parameter=P1 + TRANSFORMER),
            earns=PARAM_OK,
            edit=add_cell("print(_cells_seen)"),
        )
    )
    add(Entry("c1-frames-and-gc", CH1, lazy(CH1, parameter=P1, sgd_update=FRAMES), earns=PARAM_OK))
    add(
        Entry(
            "c1-always-equal",
            CH1,
            lazy(
                CH1,
                parameter=P1,
                sgd_update=ALWAYS_EQUAL
                + """
def sgd_update_(params, lr):
    for p in params:
        if p.grad is not None:
            p.data = p.data.view(_AlwaysEqualArray)
            p.grad = _AlwaysEqual(p.data.shape)
""",
            ),
            earns=PARAM_OK,
        )
    )
    add(
        Entry(
            "c1-exits", CH1, lazy(CH1, parameter=P1, sgd_update=EXITS, sgd_class="raise SystemExit\n"), earns=PARAM_OK
        )
    )
    add(Entry("c1-stop-iteration", CH1, lazy(CH1, parameter=P1, sgd_update=STOPS, sgd_class="pass\n"), earns=PARAM_OK))
    add(
        Entry(
            "c1-fake-ok",
            CH1,
            lazy(CH1, parameter=P1 + FAKE_OK, sgd_update=FAKE_OK + LAZY1["sgd-update"]),
            earns=PARAM_OK,
        )
    )
    add(
        Entry(
            "c1-files-written", CH1, lazy(CH1, parameter=P1 + WRITE_FILES.format(notebook=CH1.notebook)), earns=PARAM_OK
        )
    )
    add(Entry("c1-environment", CH1, lazy(CH1, parameter=P1 + ENV_SECRET), earns=PARAM_OK))
    # a Parameter that passes its visible case is called on the hidden ones too
    add(Entry("c1-spy", CH1, lazy(CH1, parameter=P1 + SPY), earns=PARAM_OK, edit=add_cell(SPY_PRINT), spies=True))
    add(
        Entry(
            "c1-read-solutions",
            CH1,
            lazy(CH1, parameter=P1 + READ_SOLUTIONS.format(id=CH1.id, notebook=CH1.notebook)),
            earns=PARAM_OK,
        )
    )
    # the test cells themselves, in the notebook's JSON (nbgrader restores them from its gradebook)
    for name, edit in (
        ("tests-edited", mangled_edited),
        ("tests-deleted", mangled_deleted),
        ("tests-demoted", mangled_demoted),
        ("tests-raw", mangled_raw),
        ("tests-twins-first", mangled_duplicated_first),
        ("other-kernel", other_kernel),
    ):
        add(Entry(f"c1-{name}", CH1, lazy(CH1), edit=edit, keep_json=True))
    # the course's own Parameter and SGD (exercise 4's) named by the agent for the student's do-nothing classes,
    # while the Parameter check (graded cell 1) and SGD's validation (graded cell 5) run
    add(Entry("c1-given-swap", CH1, given_swap(CH1, during=(1, 5))))

    # ---- cheats, chapter 4 ----
    add(Entry("c4-lazy", CH4, lazy(CH4)))
    add(Entry("c4-untouched", CH4, nr.stub_code(CH4)))
    for how in ("import", "thread", "module-chains", "unmasked"):
        add(Entry(f"c4-torch-{how}", CH4, lazy(CH4, sgd=GET_TORCH[how] + TORCH_OPTIMIZERS, adam="", adamw="")))
    add(Entry("c4-checks-rebound-numpy-patched", CH4, lazy(CH4, sgd=LAZY4["sgd"] + REBIND_CHECKS + PATCH_NUMPY)))
    add(Entry("c4-classes-patched", CH4, lazy(CH4, adamw=LAZY4["adamw"] + PATCH_CLASSES)))
    add(
        Entry(
            "c4-input-transformer", CH4, lazy(CH4, sgd=TRANSFORMER + LAZY4["sgd"]), edit=add_cell("print(_cells_seen)")
        )
    )
    add(
        Entry(
            "c4-always-equal-state",
            CH4,
            lazy(
                CH4,
                sgd=ALWAYS_EQUAL
                + """
class SGD(Optimizer):
    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, *,
                 maximize=False):
        super().__init__(params, {"lr": lr, "momentum": momentum, "dampening": dampening,
                                  "weight_decay": weight_decay, "nesterov": nesterov, "maximize": maximize})

    def step(self):
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    self.state[p]["momentum_buffer"] = _AlwaysEqual(p.data.shape)
                    p.data = p.data.view(_AlwaysEqualArray)
""",
            ),
        )
    )
    add(
        Entry(
            "c4-environment-and-files",
            CH4,
            lazy(CH4, sgd=ENV_SECRET + WRITE_FILES.format(notebook=CH4.notebook) + LAZY4["sgd"]),
        )
    )
    # correct code that keeps what the grader sends it: it reaches the hidden cases
    add(Entry("c4-spy", CH4, ref(CH4, sgd=SPY + SGD4), earns=None, edit=add_cell(SPY_PRINT), spies=True))
    add(
        Entry(
            "c4-read-solutions",
            CH4,
            lazy(CH4, sgd=READ_SOLUTIONS.format(id=CH4.id, notebook=CH4.notebook) + LAZY4["sgd"]),
        )
    )
    add(
        Entry(
            "c4-tests-twins-and-outputs",
            CH4,
            lazy(CH4),
            edit=_compose(mangled_duplicated_first, mangled_edited),
            keep_json=True,
        )
    )
    # the same while the two validation cells (graded cells 2 and 5) run
    add(Entry("c4-given-swap", CH4, given_swap(CH4, during=(2, 5))))

    # ---- mixed ----
    add(
        Entry(
            "m1-honest-class-patched-update",
            CH1,
            ref(CH1, sgd_update=PATCH_NUMPY + REBIND_CHECKS + LAZY1["sgd-update"]),
            earns=PARAM_OK | SGD1_OK,
        )
    )
    add(
        Entry(
            "m4-honest-sgd-swapped-adam",
            CH4,
            given_swap(CH4, honest=("sgd",), during=(5,)),
            earns=frozenset({"sgd-matches-torch", "sgd-rejects-bad-hyperparameters"}),
        )
    )
    add(
        Entry(
            "m4-honest-adam-torch-sgd",
            CH4,
            ref(
                CH4,
                sgd=GET_TORCH["thread"]
                + TORCH_OPTIMIZERS.replace(
                    'SGD, Adam, AdamW = _torch_class("SGD"), _torch_class("Adam"), _torch_class("AdamW")',
                    'SGD = _torch_class("SGD")',
                ),
            ),
            earns=frozenset(
                {
                    "adam-matches-torch",
                    "adam-amsgrad-matches-torch",
                    "adam-rejects-bad-hyperparameters",
                    "adamw-matches-torch",
                }
            ),
        )
    )

    # ---- honest idioms, chapter 1 ----
    future = "from __future__ import annotations\n\n"
    honest1 = {
        "future-annotations": {k: _prefix(future) for k in ("parameter", "sgd-update", "sgd-class")},
        "class-name-repr": {
            "parameter": _suffix("""
    def __repr__(self):
        return f"{self.__class__.__name__}(data={self.data!r}, grad={self.grad!r})"
"""),
            "sgd-class": _suffix("""
    def __repr__(self):
        return f"{type(self).__name__}(lr={self.lr}, {len(self.params)} parameters)"
"""),
        },
        "slots": {
            "parameter": _replace(
                "    def __init__(self, data):", '    __slots__ = ("data", "grad")\n\n    def __init__(self, data):'
            ),
            "sgd-class": _replace(
                "    def __init__(self, params, lr=1e-3):",
                '    __slots__ = ("params", "lr")\n\n    def __init__(self, params, lr=1e-3):',
            ),
        },
        "dunder-in-messages": {
            "sgd-class": _chain(
                _replace(
                    'raise ValueError(f"Invalid learning rate: {lr}")',
                    'raise ValueError(f"SGD.__init__: Invalid learning rate: {lr} (see __doc__ and __class__)")',
                ),
                _replace(
                    'raise ValueError("optimizer got an empty parameter list")',
                    'raise ValueError(f"{type(self).__name__}.__init__(): optimizer got an empty parameter list")',
                ),
            )
        },
        "string-annotations": {
            "sgd-update": _replace(
                "def sgd_update_(params, lr):", 'def sgd_update_(params: "list[Parameter]", lr: "float") -> "None":'
            ),
            "parameter": _replace(
                "    def __init__(self, data):", '    def __init__(self, data: "np.ndarray | float") -> "None":'
            ),
        },
        "getattr-min": {
            "sgd-class": _replace(
                '        if lr < 0:\n            raise ValueError(f"Invalid learning rate: {lr}")',
                '        for name, value in (("lr", lr),):\n'
                '            if value < getattr(self, "_min_" + name):\n'
                '                raise ValueError(f"Invalid learning rate: {value}")',
            )
        },
        "vars": {
            "sgd-class": _suffix("""
    def __repr__(self):
        return f"SGD({vars(self)})"

    def hyperparameters(self):
        return {k: v for k, v in vars(self).items() if k != "params"}
""")
        },
        "type-hints": {
            "sgd-update": _chain(
                _prefix("from typing import Iterable\n\n"),
                _replace(
                    "def sgd_update_(params, lr):", "def sgd_update_(params: Iterable[Parameter], lr: float) -> None:"
                ),
            )
        },
        "helpers-and-asserts": {
            "sgd-update": lambda s: (
                '''
def _has_grad(p) -> bool:
    return p.grad is not None


def sgd_update_(params, lr):
    """theta <- theta - lr * grad for each parameter that has a grad, in place."""
    for p in filter(_has_grad, params):
        assert p.grad.shape == p.data.shape, "a gradient of another shape"
        before = p.data
        p.data -= lr * p.grad
        assert p.data is before
'''
            )
        },
        "print-debugging": {
            "sgd-update": _replace(
                "        p.data -= lr * p.grad",
                '        print("before", p.data, "grad", p.grad)\n'
                "        p.data -= lr * p.grad\n"
                '        print("after", p.data)',
            ),
            "sgd-class": _replace(
                "        sgd_update_(self.params, self.lr)",
                '        print(f"step with lr={self.lr}")\n        sgd_update_(self.params, self.lr)',
            ),
        },
        "errstate": {
            "sgd-update": _replace(
                "        p.data -= lr * p.grad",
                '        with np.errstate(over="raise", invalid="ignore"):\n            p.data -= lr * p.grad',
            )
        },
        "unicode-names": {
            "sgd-update": lambda s: (
                """
def sgd_update_(params, lr):
    η = lr
    for θ in params:
        if θ.grad is not None:
            θ.data -= η * θ.grad
"""
            )
        },
        "step-with-closure": {
            "sgd-class": _replace(
                '    def step(self):\n        """Update every parameter that has a gradient."""\n'
                "        sgd_update_(self.params, self.lr)",
                '    def step(self, closure=None):\n        """Update every parameter that has a gradient."""\n'
                "        loss = closure() if closure is not None else None\n"
                "        sgd_update_(self.params, self.lr)\n        return loss",
            )
        },
    }
    # the min of the getattr idiom is a class attribute
    honest1["getattr-min"]["sgd-class"] = _chain(
        honest1["getattr-min"]["sgd-class"],
        _replace(
            "    def __init__(self, params, lr=1e-3):", "    _min_lr = 0.0\n\n    def __init__(self, params, lr=1e-3):"
        ),
    )
    for name, changes in honest1.items():
        add(Entry(f"a1-{name}", CH1, _edit_ref(CH1, changes), earns=None))
    # cells of the student's own, and notebooks as an editor leaves them
    scratch = {
        "matplotlib": add_cell(
            "import matplotlib\nimport matplotlib.pyplot as plt\n\n"
            "plt.plot([1, 2, 3], [3, 1, 2])\nplt.title('loss')\nplt.show()\n"
        ),
        "torch-in-scratch-cell": add_cell(
            "import torch  # to compare by hand\nprint(torch.__version__)", after="setup"
        ),
        "timeit": add_cell(
            "p = Parameter(np.ones(100))\np.grad = np.ones(100)\n%timeit -n 20 -r 2 sgd_update_([p], 0.1)",
            after="sgd-update",
        ),
        "own-check-call": add_cell(
            "checks.check_sgd_update(sgd_update_, Parameter)  # my own run of the test", after="sgd-update"
        ),
        "raising-scratch-cell": add_cell("assert False, 'a scratch cell that fails'", after="parameter"),
        "extra-markdown": _compose(
            add_cell("My notes: **in place** means `-=`.", after="parameter", kind="markdown"),
            add_cell("## Scratch\n\n$\\theta$", kind="markdown"),
        ),
        "split-cell": split_cell("sgd-class", "    def zero_grad"),
        "saved-with-outputs": saved_with_outputs(shuffle=False),
        "run-out-of-order": saved_with_outputs(shuffle=True),
        "shell-and-magics": add_cell(
            "%%time\nimport subprocess\nprint(subprocess.run(['ls'], capture_output=True).stdout)\n"
            "get_ipython().run_line_magic('who', '')",
            after="sgd-class",
        ),
    }
    for name, edit in scratch.items():
        add(
            Entry(
                f"a1-{name}",
                CH1,
                dict(REF[CH1.id]),
                earns=None,
                edit=edit,
                keep_json=name in ("split-cell", "saved-with-outputs", "run-out-of-order"),
            )
        )

    # ---- honest idioms, chapter 4 ----
    honest4 = {
        "reference": {},
        "future-annotations": {k: _prefix(future) for k in ("sgd", "adam", "adamw")},
        "two-argument-super": {
            "sgd": _replace("super().__init__(params,", "super(SGD, self).__init__(params,"),
            "adamw": _replace("super().__init__(params,", "super(AdamW, self).__init__(params,"),
        },
        "getattr-min-and-vars": {
            "adam": _chain(
                _replace(
                    "    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8,\n",
                    "    _min_lr = _min_eps = _min_weight_decay = 0.0\n\n"
                    "    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8,\n",
                ),
                _replace(
                    '        if not 0.0 <= lr:\n            raise ValueError(f"Invalid learning rate: {lr}")',
                    '        for name, value in (("lr", lr),):\n'
                    '            if value < getattr(self, "_min_" + name):\n'
                    '                raise ValueError(f"Invalid learning rate: {value}")',
                ),
                _suffix("""
    def __repr__(self):
        return f"{self.__class__.__name__}({ {k: v for k, v in vars(self).items() if k == 'defaults'} })"
"""),
            )
        },
        "helpers-and-errstate": {
            "adam": _chain(
                _prefix('''
def _bias_corrections(beta1, beta2, step):
    """c1, c2 of step ``step``."""
    return 1 - beta1 ** step, 1 - beta2 ** step


'''),
                _replace(
                    "                bias_correction1 = 1 - beta1 ** step\n"
                    "                bias_correction2 = 1 - beta2 ** step",
                    "                bias_correction1, bias_correction2 = _bias_corrections(beta1, beta2, step)",
                ),
                _replace(
                    "                p.data -= lr / bias_correction1 * exp_avg / denom",
                    "                with np.errstate(divide='ignore', invalid='ignore'):\n"
                    "                    p.data -= lr / bias_correction1 * exp_avg / denom",
                ),
            )
        },
        "slots-in-subclass": {
            "adamw": _replace("    def __init__(self, params,", "    __slots__ = ()\n\n    def __init__(self, params,")
        },
        "print-and-asserts": {
            "sgd": _replace(
                "                p.data -= lr * d_p",
                "                assert d_p.shape == p.data.shape\n"
                "                print('step', p, lr)\n"
                "                p.data -= lr * d_p",
            )
        },
        "setdefault-state": {
            "sgd": _replace(
                "                    state = self.state[p]", "                    state = self.state.setdefault(p, {})"
            )
        },
    }
    for name, changes in honest4.items():
        add(Entry(f"a4-{name}", CH4, _edit_ref(CH4, changes), earns=None))
    add(
        Entry(
            "a4-torch-scratch-and-plot",
            CH4,
            dict(REF[CH4.id]),
            earns=None,
            edit=_compose(
                add_cell("import torch\ntorch.manual_seed(0)", after="setup"),
                add_cell("import matplotlib.pyplot as plt\nplt.plot([0, 1])\nplt.show()"),
            ),
        )
    )
    add(
        Entry(
            "a4-split-and-saved-with-outputs",
            CH4,
            dict(REF[CH4.id]),
            earns=None,
            keep_json=True,
            edit=_compose(split_cell("adam", "    def apply_weight_decay"), saved_with_outputs(shuffle=True)),
        )
    )
    # notebooks that break the kernel's side of grading (its agent, its messaging, nbgrader's cell metadata):
    # graded all the same, the cells they break scoring 0
    add(Entry("z1-agent-blocked", CH1, lazy(CH1, parameter=P1 + BLOCK_AGENT), earns=PARAM_OK))
    add(Entry("z1-given-swap-everywhere", CH1, given_swap(CH1)))
    add(
        Entry(
            "z1-builtins-patched",
            CH1,
            lazy(CH1, parameter=P1, sgd_update=PATCH_BUILTINS + LAZY1["sgd-update"]),
            earns=PARAM_OK,
        )
    )
    add(Entry("z1-tests-renamed", CH1, lazy(CH1), edit=mangled_renamed, keep_json=True))
    add(Entry("z1-tests-made-answers", CH1, lazy(CH1), edit=mangled_made_solutions, keep_json=True))
    return e


ENTRIES = _entries()
assert len({entry.name for entry in ENTRIES}) == len(ENTRIES)


def notebook_of(entry: Entry) -> nbformat.NotebookNode:
    nb = nr.with_solution_code(nr.read(entry.assignment.exercise_path()), entry.code)
    if entry.edit is not None:
        entry.edit(nb)
    return nb


def write_submissions(root: Path, entries: list[Entry]) -> Path:
    """submitted/<student>/<assignment>/<notebook>.ipynb, one student per entry."""
    for entry in entries:
        path = root / "submitted" / entry.name / entry.assignment.id / f"{entry.assignment.notebook}.ipynb"
        nb = notebook_of(entry)
        if entry.keep_json:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(nb, indent=1) + "\n")
        else:
            notebooks.write(nb, path)
    return root / "submitted"


# -- what must not reach a student -------------------------------------------------------------------------


def _text_of(path: Path) -> str:
    """A feedback page's text as a reader sees it (tags gone, entities decoded), or a notebook's sources and outputs."""
    raw = path.read_text(errors="replace")
    if path.suffix == ".html":
        return html.unescape(re.sub(r"<[^>]+>", "", raw))
    if path.suffix == ".ipynb":
        nb = json.loads(raw)
        parts = []
        for cell in nb.get("cells", []):
            parts.append("".join(cell.get("source", "")))
            for out in cell.get("outputs", []):
                for key in ("text", "evalue", "traceback"):
                    value = out.get(key, "")
                    parts.append("".join(value) if isinstance(value, list) else str(value))
                for value in out.get("data", {}).values():
                    parts.append("".join(value) if isinstance(value, list) else str(value))
        return "\n".join(parts) + "\n" + raw
    return raw


def solution_lines(assignment: Assignment) -> set[str]:
    """The reference's own lines: the code between the solution markers, long enough to be telling."""
    out = set()
    for cell in notebooks.read(assignment.solution_path()).cells:
        if not notebooks.is_solution(cell):
            continue
        inside = False
        for line in cell.source.splitlines():
            if line.strip() == notebooks.BEGIN_SOLUTION:
                inside = True
            elif line.strip() == notebooks.END_SOLUTION:
                inside = False
            elif inside and len(line.strip()) >= 20:
                out.add(line.strip())
    return out


@dataclass
class Graded:
    course: Path
    secret: str
    submitted: Path
    stdout: str
    stderr: str
    returncode: int
    scores: dict[str, dict[str, float | None]] = field(default_factory=dict)


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> Graded:
    """The class of ``ENTRIES``, graded once a session: grading it takes minutes, and xdist may hand this
    module's tests to several workers. The first to ask grades it in the session's shared folder (or in
    its own, run alone); the others wait for it and read what it found."""
    shared = os.environ.get(nr.SHARED_RUNS)
    root = Path(shared) / "attacks" if shared else tmp_path_factory.mktemp("attacks")
    found = root / "graded.json"  # beside the class, not in anything a student is given
    with open(root.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if found.exists():
            saved = json.loads(found.read_text())
            return Graded(**{**saved, "course": Path(saved["course"]), "submitted": Path(saved["submitted"])})
        shutil.rmtree(root, ignore_errors=True)  # a worker that failed here left a class half made
        result = _grade_the_class(root)
        paths = {"course": str(result.course), "submitted": str(result.submitted)}
        found.write_text(json.dumps({**asdict(result), **paths}))
        return result


def _grade_the_class(root: Path) -> Graded:
    submitted = write_submissions(root / "in", ENTRIES)
    course = root / "course"
    secret = f"term secret {secrets.token_hex(12)}"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(cases.GRADING_SEED_VARIABLE, secret)
        done = course_grade(
            "all",
            submitted,
            "--course",
            course,
            "--jobs",
            "2",
            "--cell-seconds",
            "60",
            "--wall-seconds",
            "600",
            timeout=3600,
        )
    result = Graded(course, secret, submitted, done.stdout, done.stderr, done.returncode)
    if (course / "gradebook.db").exists():
        result.scores = scores(course)
    return result


def _files_of(course: Path, student: str | None = None) -> list[Path]:
    found = []
    for top in ("feedback", "autograded"):
        base = course / top if student is None else course / top / student
        if base.exists():
            found += [p for p in base.rglob("*") if p.is_file()]
    return found


def _forbidden(secret: str) -> list[str]:
    """The grading secret, the hidden seeds drawn from it, and the grading machine's accounts."""
    accounts = [line for line in Path("/etc/passwd").read_text().splitlines() if line.count(":") == 6]
    return [secret, *(str(s) for s in cases.hidden_seeds({cases.GRADING_SEED_VARIABLE: secret})), *accounts]


@pytest.mark.parametrize("entry", ENTRIES, ids=[e.name for e in ENTRIES])
def test_each_notebook_gets_what_its_own_code_earns_and_sees_nothing_of_the_instructors(graded, entry):
    points = POINTS[entry.assignment.id]
    got = graded.scores.get(entry.name)
    said = [line for line in graded.stderr.splitlines() if f"/{entry.name}/" in line]
    assert got is not None, f"{entry.name} was not graded (nothing recorded); course-grade said: {said}"
    assert set(got) == set(points) and None not in got.values(), f"{entry.name}: cells left unscored: {got}"
    if entry.earns is None:
        lost = {cell: (got[cell], full) for cell, full in points.items() if got[cell] != full}
        assert not lost, f"{entry.name} is correct code and lost points (cell: (score, points)): {lost}"
    else:
        gained = {cell: score for cell, score in got.items() if cell not in entry.earns and score}
        assert not gained, f"{entry.name} scored on cells it cheats on: {gained} (all: {got})"
    files = _files_of(graded.course, entry.name)
    assert any(p.suffix == ".html" for p in files), f"no feedback for {entry.name}"
    own = (graded.submitted / entry.name / entry.assignment.id / f"{entry.assignment.notebook}.ipynb").read_text()
    own_text = _text_of(graded.submitted / entry.name / entry.assignment.id / f"{entry.assignment.notebook}.ipynb")
    reference = {line for line in solution_lines(entry.assignment) if line not in own and line not in own_text}
    for path in files:
        text = _text_of(path)
        for secret in _forbidden(graded.secret):
            assert secret not in text, (
                f"{path} shows the grading secret, a hidden seed drawn from it or an account "
                f"of the grading machine: {secret!r}"
            )
        shown = sorted(line for line in reference if line in text)
        assert not shown, f"{path} shows the reference solution's code: {shown[:5]}"
    if entry.spies:  # it prints the inputs it was given: its own draws, which no other notebook gets
        nb = notebook_of(entry)
        answers = [cell.source for cell in nb.cells if notebooks.is_solution(cell)]
        own = _hidden_draws(graded.secret, cases.submission_salt(entry.name, entry.assignment.id, answers))
        changed = answers[:-1] + [answers[-1] + "\n# one more line"]
        others = (
            _hidden_draws(graded.secret)  # the term's draws, unsalted
            + _hidden_draws(graded.secret, cases.submission_salt(entry.name, entry.assignment.id, changed))
            + _hidden_draws(graded.secret, cases.submission_salt("a-classmate", entry.assignment.id, answers))
        )
        text = "\n".join(_text_of(p) for p in files)
        assert any(d in text for d in own), f"{entry.name}: the spy printed none of the draws its code was given"
        seen = [d for d in others if d in text]
        assert not seen, f"{entry.name}: its feedback shows hidden draws of another submission: {seen[:3]}"


def _hidden_draws(secret: str, salt: str = "") -> list[str]:
    """The first initial value of every hidden case of the grading secret (and salt), as Python prints a float."""
    out = []
    for seed in cases.hidden_seeds({cases.GRADING_SEED_VARIABLE: secret}, salt):
        init, grads = cases.problem(seed)
        out += [repr(float(v.flat[0])) for v in init if v.size] + [
            repr(float(g.flat[0])) for g in grads[0] if g is not None and g.size
        ]
    return out


def test_no_file_for_students_holds_the_grading_secret(graded):
    files = _files_of(graded.course)
    assert len(files) >= len(ENTRIES)
    for path in files:
        text = path.read_bytes().decode(errors="replace")
        for secret in _forbidden(graded.secret):
            assert secret not in text, (
                f"{path} holds the grading secret, a hidden seed drawn from it or an account of the grading machine"
            )
    digest = hashlib.sha256(graded.secret.encode()).hexdigest()
    assert not any(digest in p.read_bytes().decode(errors="replace") for p in files)


def test_notebooks_that_block_the_agent_are_graded_and_do_not_stop_the_class(tmp_path):
    blocked = lazy(CH1, parameter=P1 + BLOCK_AGENT)
    entries = [Entry(f"{letter}-blocks-the-agent", CH1, blocked) for letter in "abc"]
    entries.append(Entry("d-reference", CH1, dict(REF[CH1.id]), earns=None))
    submitted = write_submissions(tmp_path / "in", entries)
    course = tmp_path / "course"
    done = course_grade(CH1.id, submitted, "--course", course, "--jobs", "1", timeout=900)
    assert done.returncode == 0 and "stopped" not in done.stderr, done.stderr[-2000:]
    got = scores(course)
    assert sum(got["d-reference"].values()) == sum(POINTS[CH1.id].values())
    for entry in entries[:3]:  # blocked in the first answer cell: every test cell after it scores 0
        assert set(got[entry.name]) == set(POINTS[CH1.id]) and not any(got[entry.name].values()), got[entry.name]
    feedback = (course / "feedback" / "a-blocks-the-agent" / CH1.id / f"{CH1.notebook}.html").read_text()
    assert "stopped the grader&#39;s agent" in feedback or "stopped the grader's agent" in feedback
