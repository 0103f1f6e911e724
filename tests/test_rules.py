"""The rules for submitted code (optimcourse/grading/rules.py): every known way of reaching the checks
is refused, by name; every reference, exercise, warning solution and mutant (real student mistakes,
which must be graded, not refused) keeps the rules."""
from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import ALL_MUTANTS, ASSIGNMENT_PARAMS

import notebook_runner as nr
from optimcourse import notebooks
from optimcourse.course import ASSIGNMENTS
from optimcourse.grading import rules

CH1 = ASSIGNMENTS[0]


def course_cells(assignment=CH1) -> list[str]:
    return rules.trusted_sources(nr.read(assignment.exercise_path()))


def broken(source: str, assignment=CH1) -> list[str]:
    return [f.rule for f in rules.check_cells([("cell", source)], course_cells(assignment))]


# (code a student could put in a solution cell, what the rule it breaks says)
CHEATS = {
    "reassigns the checker": ("checks.check_sgd_step = lambda *a, **k: None", "assigns into checks"),
    "setattr on the checker": ("setattr(checks, 'check_sgd_step', print)", "setattr() on checks"),
    "aliases the checks": ("c = checks\nc.check_sgd_step = print", "uses the module checks as a value"),
    "rebinds the checks": ("checks = None", "rebinds checks"),
    "imports over the checks": ("import numpy as checks", "rebinds checks"),
    "declares them global": ("def f():\n    global checks\n    checks = 1", "declares checks global"),
    "patches allclose": ("np.allclose = lambda *a, **k: True", "assigns into np"),
    "patches through an import": ("import numpy\nnumpy.isclose = len", "assigns into numpy"),
    "hands a submodule round": ("m = np.random\nm.default_rng = None", "uses the module np.random as a value"),
    "takes the checker": ("f = checks.check_sgd_step", "uses checks.check_sgd_step as a value"),
    "mutates course data": ("checks.HIDDEN_SEEDS.count(3)", "reads into checks.HIDDEN_SEEDS"),
    "reads a private name": ("x = np._core", "private name np._core"),
    "imports a private name": ("from numpy import _core", "private name _core"),
    "imports sys": ("import sys\nsys.modules.clear()", "imports sys"),
    "imports torch": ("import torch", "imports torch"),
    "imports the course": ("from optimcourse import trace", "imports optimcourse"),
    "walks up the frames": ("def f():\n    g = (i for i in [1])\n    return g.gi_frame.f_back", "gi_frame"),
    "finds every class": ("x = ().__class__.__bases__[0].__subclasses__()", "uses __class__"),
    "uses __builtins__": ("__builtins__.print = 1", "uses __builtins__"),
    "uses globals()": ("globals()['checks'] = 1", "uses globals()"),
    "execs a string": ("exec('checks.x = 1')", "uses exec()"),
    "spells a name out": ("f = getattr(np, 'all' + 'close')", "getattr() with a name that is not written out"),
    "hands setattr round": ("f = functools.partial(setattr)", "uses setattr as a value"),
    "names a dunder in a string": ("ns = {'__eq__': lambda s, o: True}", "a string naming a dunder"),
    "lies in __eq__": ("class P:\n    def __eq__(self, other):\n        return True", "defines __eq__"),
    "lies in a ufunc": ("class L(np.ndarray):\n    def __array_ufunc__(self, *a, **k):\n        return True",
                        "defines __array_ufunc__"),
    "a metaclass": ("class P(metaclass=type):\n    pass", "a metaclass"),
    "a class from type()": ("C = type('C', (), {})", "type(name, bases, namespace)"),
    "patches a class": ("type(x).step = None", "assigns into the result of a call"),
    "a line magic": ("%time x = 1", "uses get_ipython()"),
    "a shell escape": ("!cat /etc/passwd", "uses get_ipython()"),
    "unpickles": ("np.load('x.npy', allow_pickle=True)", "allow_pickle"),
    "raw memory": ("np.lib.stride_tricks.as_strided(np.zeros(1), shape=(10**6,))", "stride_tricks"),
    "imports raw memory": ("from numpy.lib.stride_tricks import as_strided", "numpy.lib.stride_tricks"),
    "imports it by name": ("from numpy import ctypeslib", "uses ctypeslib"),
    "a string annotation": ("def f(x: 'setattr(checks, \"a\", 1)'):\n    pass", "a string annotation"),
    "evaluates annotations": ("from typing import get_type_hints", "uses get_type_hints"),
    "unpickles by position": ("np.load('x.npy', None, True)", "allow_pickle given by position"),
}

HONEST = {
    "an update": "def sgd_update_(params, lr):\n    for p in params:\n        if p.grad is None:\n"
                 "            continue\n        p.data -= lr * p.grad",
    "a class": "class SGD:\n    '''Plain SGD; see __init__.'''\n\n    def __init__(self, params, lr=1e-3):\n"
               "        super().__init__()\n        self.params = list(params)\n\n    def __repr__(self):\n"
               "        return f'{type(self).__name__}(lr={self.lr})'",
    "numpy": "x = np.random.default_rng(0).normal(size=3)\ny = np.linalg.norm(x) * np.pi\n"
             "ok = isinstance(x, (np.ndarray, float))\nd = np.float64(1.0)\nnp.random.default_rng(1)",
    "imports": "import math\nimport numpy as np\nfrom collections import defaultdict\nfrom dataclasses import dataclass",
    "getattr with a name": "lr = getattr(x, 'lr', 0.1)",
    "shadowing locally": "def f(np, checks):\n    checks = [np]\n    return checks",
    "calling a check": "checks.check_sgd_step(SGD, Parameter)",
    "__main__": "if __name__ == '__main__':\n    pass",
    "a syntax error": "def f(:\n    pass",  # it fails in the kernel on its own
}


@pytest.mark.parametrize("source, rule", CHEATS.values(), ids=CHEATS.keys())
def test_every_known_way_to_reach_the_checks_breaks_a_named_rule(source, rule):
    found = broken(source)
    assert found, f"not caught: {source!r}"
    assert any(rule in f for f in found), found


@pytest.mark.parametrize("source", HONEST.values(), ids=HONEST.keys())
def test_honest_code_keeps_the_rules(source):
    assert broken(source) == []


def test_what_the_course_cells_define_is_not_rebound_or_changed():
    ch7 = next(a for a in ASSIGNMENTS if a.id.startswith("07"))
    assert "class PackedState" in "".join(course_cells(ch7))
    assert any("rebinds PackedState" in f for f in broken("class PackedState:\n    pass", ch7))
    assert any("assigns into PackedState" in f for f in broken("PackedState.pack = None", ch7))
    assert broken("state = PackedState.__name__", ch7) == []


def test_a_finding_names_the_cell_and_the_line():
    found = rules.check_cells([("'sgd-update'", "x = 1\nnp.allclose = len")], course_cells())
    assert [str(f) for f in found] == ["'sgd-update', line 2: assigns into np (np.allclose)"]


def test_the_course_cells_are_trusted_by_their_source_not_their_metadata():
    nb = nr.read(CH1.exercise_path())
    test_cell = next(c for c in nb.cells if notebooks.is_test(c))
    assert rules.check_notebook(nb, course_cells()) == []
    test_cell.source += "\nchecks.check_sgd_step = None"  # an edited test cell, still marked locked
    assert [f.rule for f in rules.check_notebook(nb, course_cells())] == ["assigns into checks (checks.check_sgd_step)"]


@pytest.mark.parametrize("assignment", ASSIGNMENT_PARAMS)
def test_references_exercises_and_warning_solutions_keep_the_rules(assignment):
    trusted = course_cells(assignment)
    for nb in (nr.read(assignment.solution_path()), nr.read(assignment.exercise_path()),
               nr.with_solution_code(nr.read(assignment.exercise_path()), nr.warning_solution_code(assignment))):
        assert rules.check_notebook(nb, trusted) == []


# a mistake that is also a way in: unpickling a file the notebook wrote runs whatever the file says, so
# the rules refuse it by name (exercise 5 teaches exactly this); it loses every point, and says why
REFUSED_MUTANTS = {"checkpoint-allows-pickle": "allow_pickle: unpickling runs code from the file"}


@pytest.mark.parametrize("assignment, mutant", ALL_MUTANTS)
def test_every_mutant_keeps_the_rules(assignment, mutant):
    """A mutant is a mistake, not a cheat: it must be graded (and lose points), not refused."""
    found = [f.rule for f in rules.check_cells(list(nr.solution_code(assignment, mutant).items()),
                                               course_cells(assignment))]
    assert found == ([REFUSED_MUTANTS[mutant.name]] if mutant.name in REFUSED_MUTANTS else [])


def test_the_command_checks_a_notebook_before_it_is_handed_in(tmp_path):
    good, bad = tmp_path / f"{CH1.notebook}.ipynb", tmp_path / "bad" / f"{CH1.notebook}.ipynb"
    bad.parent.mkdir()
    code = nr.solution_code(CH1)
    notebooks.write(nr.with_solution_code(nr.read(CH1.exercise_path()), code), good)
    code["sgd-class"] = "checks.check_sgd_step = print\n" + code["sgd-class"]
    notebooks.write(nr.with_solution_code(nr.read(CH1.exercise_path()), code), bad)
    run = [sys.executable, "-m", "optimcourse.grading.rules"]
    ok = subprocess.run([*run, str(good)], capture_output=True, text=True)
    assert ok.returncode == 0 and "keeps the rules" in ok.stdout
    refused = subprocess.run([*run, str(good), str(bad)], capture_output=True, text=True)
    assert refused.returncode == 1
    assert f"{bad}: 'sgd-class', line 1: assigns into checks (checks.check_sgd_step)" in refused.stdout
