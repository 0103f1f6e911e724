"""The course's rules for a submission's code, checked on its source, outside the kernel, before any of it runs.

A kernel runs the student's cells and the course's checks in one interpreter, so a solution cell could
change the checks (``checks.check_sgd_step = lambda *a, **k: None``), NumPy, or the interpreter, and
pass every test. Nothing inside the kernel can stop that (the student's code runs first and can change
whatever would stop it), so course-grade reads every cell that is not the course's own and does not
run a notebook that breaks a rule: each graded cell scores zero with a note naming the cell, the line
and the rule. The rules allow what the exercises need and nothing that reaches into code that is not
the student's own:

1. imports come from ALLOWED_IMPORTS only (NumPy and a few standard modules);
2. a module (imported, or given by the course's cells, such as ``np`` and ``checks``) is only read
   through its public names (``np.zeros(...)``): nothing is assigned into it, it is not rebound,
   passed around or aliased;
3. no dunder names except a few harmless reads (``__init__``, ``__name__``), no frame, code, traceback
   or generator internals (``f_back``, ``gi_frame``), no raw memory (``ctypes``, ``as_strided``), no
   pickle (``allow_pickle=``);
4. none of exec, eval, compile, globals, locals, vars, __import__, breakpoint, get_ipython (so no magics
   or shell escapes); getattr, setattr, delattr and hasattr only with a literal name, read as 2 and 3;
5. a class defines only the ordinary dunder methods of DUNDER_METHODS: none that decide how it
   compares or converts (``__eq__``, ``__array_ufunc__``), how its attributes are found, or its metaclass.

These are the routes known to reach the checks from Python; the sandbox (:mod:`.sandbox`) still holds
whatever the code does. Run it yourself: ``python -m optimcourse.grading.rules notebook.ipynb``.
"""
from __future__ import annotations

import ast
import importlib
import re
import sys
import types
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

ALLOWED_IMPORTS = frozenset({
    "numpy", "math", "cmath", "copy", "collections", "itertools", "functools", "typing", "dataclasses",
    "numbers", "enum", "warnings", "statistics", "fractions", "json", "zipfile", "io", "time",
})
FORBIDDEN_CALLS = frozenset({"exec", "eval", "compile", "globals", "locals", "vars", "__import__", "breakpoint",
                             "get_ipython", "input"})
BY_NAME = frozenset({"getattr", "setattr", "delattr", "hasattr"})
DUNDERS_READ = frozenset({"__init__", "__name__", "__qualname__", "__doc__", "__version__"})
DUNDER_STRINGS = DUNDERS_READ | {"__main__"}  # if __name__ == "__main__":
DUNDER_METHODS = frozenset({
    "__init__", "__repr__", "__str__", "__len__", "__iter__", "__next__", "__getitem__", "__setitem__",
    "__delitem__", "__contains__", "__call__", "__post_init__", "__enter__", "__exit__",
})
INTERNALS = frozenset({
    "f_back", "f_globals", "f_locals", "f_builtins", "f_code", "f_trace", "f_lineno", "f_lasti", "gi_frame",
    "gi_code", "gi_yieldfrom", "cr_frame", "cr_code", "cr_await", "ag_frame", "ag_code", "tb_frame", "tb_next",
    "co_code", "co_consts", "co_names", "ctypes", "ctypeslib", "as_strided", "stride_tricks", "f2py", "extbuild",
    "get_type_hints", "ForwardRef",  # evaluate strings as code
})
DUNDER = re.compile(r"__\w+__")


@dataclass(frozen=True)
class Finding:
    cell: str  # the cell's grade_id, or "cell <n>" for a cell without one
    line: int
    rule: str

    def __str__(self) -> str:
        return f"{self.cell}, line {self.line}: {self.rule}"


def _root(node: ast.AST) -> ast.AST:
    """The name an attribute or subscript chain starts from (``np`` in ``np.random.x[0]``)."""
    while isinstance(node, (ast.Attribute, ast.Subscript)):
        node = node.value
    return node


def _is_module(value: object) -> bool:
    return isinstance(value, types.ModuleType)


class _Reader(ast.NodeVisitor):
    """One cell's rules. ``protected`` maps names to what they hold: every module in sight, and the
    classes and functions the course's cells import (``Parameter``, ``given.Adam``)."""

    def __init__(self, cell: str, protected: dict[str, object]) -> None:
        self.cell, self.protected = cell, protected
        self.found: list[Finding] = []
        self.parents: list[ast.AST] = []
        self.depth = 0  # function nesting: 0 is the notebook's own namespace

    def flag(self, node: ast.AST, rule: str) -> None:
        self.found.append(Finding(self.cell, getattr(node, "lineno", 0), rule))

    def visit(self, node: ast.AST) -> None:
        self.parents.append(node)
        try:
            super().visit(node)
        finally:
            self.parents.pop()

    def above(self, node: ast.AST) -> ast.AST | None:
        """The node that holds ``node`` (which must be on the stack)."""
        i = next(k for k in range(len(self.parents) - 1, -1, -1) if self.parents[k] is node)
        return self.parents[i - 1] if i > 0 else None

    # 1. imports
    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if self._allowed(node, alias.name):
                self._bind(node, *_imported(alias))

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level or not node.module:
            self.flag(node, "a relative import")
            return
        if not self._allowed(node, node.module):
            return
        for alias in node.names:
            if alias.name == "*":
                self.flag(node, f"'from {node.module} import *'")
                continue
            if alias.name.startswith("_"):
                self.flag(node, f"imports the private name {alias.name} from {node.module}")
                continue
            self._name_rules(node, alias.name)
            value = _lookup(node.module, alias.name)
            self._bind(node, alias.asname or alias.name, value if _is_module(value) else None)

    def _allowed(self, node: ast.AST, module: str) -> bool:
        if any(part.startswith("_") for part in module.split(".")):
            self.flag(node, f"imports the private module {module}")
            return False
        if any(part in INTERNALS for part in module.split(".")):
            self.flag(node, f"imports {module}, which reaches the interpreter's internals or raw memory")
            return False
        if module.split(".")[0] in ALLOWED_IMPORTS:
            return True
        self.flag(node, f"imports {module} (a submission may import {', '.join(sorted(ALLOWED_IMPORTS))})")
        return False

    def _bind(self, node: ast.AST, name: str, module: object) -> None:
        if self.depth == 0 and name in self.protected and self.protected[name] is not module:
            self.flag(node, f"rebinds {name}, which the course's cells set")
        if module is not None:
            self.protected[name] = module

    # 2. what the course and the libraries hold is read, never changed, rebound or handed around
    def visit_Name(self, node: ast.Name) -> None:
        if DUNDER.fullmatch(node.id) and not (isinstance(node.ctx, ast.Load) and node.id == "__name__"):
            self.flag(node, f"uses {node.id}")
        elif node.id in self.protected:
            if not isinstance(node.ctx, ast.Load):
                if self.depth == 0:
                    self.flag(node, f"rebinds {node.id}, which the course's cells set")
            else:
                self._used(node, self.protected[node.id])
        elif node.id in FORBIDDEN_CALLS and isinstance(node.ctx, ast.Load):
            self.flag(node, f"uses {node.id}()")
        elif node.id in BY_NAME and isinstance(node.ctx, ast.Load):
            holder = self.above(node)
            if not (isinstance(holder, ast.Call) and holder.func is node):
                self.flag(node, f"uses {node.id} as a value (it may only be called, with a name written out)")

    def _used(self, node: ast.expr, value: object) -> None:
        """``node`` (a protected name, or a chain read from one) holds ``value``: is this use a read?"""
        holder = self.above(node)
        if value is COURSE_DEFINED:  # not known here: read as the student likes, but not changed or rebound
            return
        if isinstance(holder, ast.Attribute) and holder.value is node:
            if not (_is_module(value) or isinstance(value, type)):
                self.flag(holder, f"reads into {ast.unparse(node)}, which the course or a library holds")
            return
        if _is_module(value):
            self.flag(node, f"uses the module {ast.unparse(node)} as a value (only its names may be read)")
        elif isinstance(value, (list, dict, set, bytearray)) or type(value).__name__ == "ndarray":
            self.flag(node, f"uses {ast.unparse(node)}, data the course or a library holds")
        elif isinstance(value, (type, types.FunctionType)) and _is_course(value) and \
                not self._called_or_based(node, holder):
            self.flag(node, f"uses {ast.unparse(node)} as a value (the course's code may be called, "
                            "subclassed or used in isinstance, not handed around)")

    def _called_or_based(self, node: ast.expr, holder: ast.AST | None) -> bool:
        if isinstance(holder, ast.Call) and holder.func is node:
            return True
        if isinstance(holder, ast.ClassDef) and node in holder.bases:
            return True
        if isinstance(holder, ast.Tuple):  # isinstance(x, (A, B))
            holder = self.above(holder)
        return isinstance(holder, ast.Call) and isinstance(holder.func, ast.Name) and \
            holder.func.id in ("isinstance", "issubclass")

    def visit_Global(self, node: ast.Global | ast.Nonlocal) -> None:
        for name in node.names:
            if name in self.protected:
                self.flag(node, f"declares {name} global (to rebind it)")

    visit_Nonlocal = visit_Global

    def visit_Attribute(self, node: ast.Attribute) -> None:
        store = not isinstance(node.ctx, ast.Load)
        self._name_rules(node, node.attr, store=store)
        root = _root(node)
        if store and isinstance(root, ast.Name) and root.id in self.protected:
            self.flag(node, f"assigns into {root.id} ({ast.unparse(node)})")
        elif store and isinstance(node.value, ast.Call):
            self.flag(node, f"assigns into the result of a call ({ast.unparse(node)})")
        elif not store and isinstance(node.value, ast.Name) and node.value.id in self.protected:
            self._chain(node)
        self.generic_visit(node)

    def _chain(self, node: ast.Attribute) -> None:
        """``mod.a.b...`` read from a protected name: no private names, and each link is a read."""
        assert isinstance(node.value, ast.Name)
        value: object = self.protected[node.value.id]
        link: ast.AST = node
        while isinstance(link, ast.Attribute) and isinstance(link.ctx, ast.Load):
            if link.attr.startswith("_") and link.attr not in DUNDERS_READ:
                self.flag(link, f"reads the private name {ast.unparse(link)}")
                return
            value = getattr(value, link.attr, None)
            if value is None:
                return  # not there: the kernel raises AttributeError
            holder = self.above(link)
            if not (isinstance(holder, ast.Attribute) and holder.value is link):
                self._used(link, value)
                return
            if not (_is_module(value) or isinstance(value, type)):
                self.flag(holder, f"reads into {ast.unparse(link)}, which the course or a library holds")
                return
            link = holder

    def visit_Subscript(self, node: ast.Subscript) -> None:
        root = _root(node)
        if not isinstance(node.ctx, ast.Load) and isinstance(root, ast.Name) and root.id in self.protected:
            self.flag(node, f"assigns into {root.id} ({ast.unparse(node)})")
        self.generic_visit(node)

    # 3. names that reach past the student's own code
    def _name_rules(self, node: ast.AST, name: str, store: bool = False) -> None:
        if DUNDER.fullmatch(name) and (store or name not in DUNDERS_READ):
            self.flag(node, f"{'sets' if store else 'uses'} {name}")
        elif name in INTERNALS:
            self.flag(node, f"uses {name}, which reaches the interpreter's internals or raw memory")

    def visit_Constant(self, node: ast.Constant) -> None:
        if isinstance(node.value, str) and not self._is_docstring(node):
            if DUNDER.search(node.value) and node.value not in DUNDER_STRINGS:
                self.flag(node, f"a string naming a dunder ({node.value[:40]!r})")
            elif node.value in INTERNALS:
                self.flag(node, f"a string naming {node.value}, which reaches the interpreter's internals")

    def _annotations(self, *annotations: ast.expr | None) -> None:
        for annotation in annotations:
            for node in ast.walk(annotation) if annotation is not None else ():
                if isinstance(node, ast.Constant) and isinstance(node.value, str):
                    self.flag(node, f"a string annotation ({node.value[:40]!r}): typing can evaluate it as code")

    def visit_arg(self, node: ast.arg) -> None:
        self._annotations(node.annotation)
        self.generic_visit(node)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        self._annotations(node.annotation)
        self.generic_visit(node)

    def _is_docstring(self, node: ast.Constant) -> bool:
        expr = self.above(node)
        owner = self.above(expr) if isinstance(expr, ast.Expr) else None
        return isinstance(owner, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and \
            owner.body[0] is expr

    # 4. builtins that run code or reach into namespaces
    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        if isinstance(func, ast.Name) and func.id in BY_NAME:
            name = node.args[1] if len(node.args) >= 2 else None
            if not (isinstance(name, ast.Constant) and isinstance(name.value, str)):
                self.flag(node, f"{func.id}() with a name that is not written out")
            else:
                store = func.id in ("setattr", "delattr")
                self._name_rules(node, name.value, store=store)
                root = _root(node.args[0])
                if isinstance(root, ast.Name) and root.id in self.protected and (store or name.value.startswith("_")):
                    self.flag(node, f"{func.id}() on {root.id}")
        called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
        if (called == "load" and len(node.args) >= 3) or (called == "read_array" and len(node.args) >= 2):
            self.flag(node, f"{called}() with allow_pickle given by position: unpickling runs code from the file")
        if isinstance(func, ast.Name) and func.id == "type" and len(node.args) == 3:
            self.flag(node, "makes a class with type(name, bases, namespace)")
        for keyword in node.keywords:
            if keyword.arg == "allow_pickle" and not (isinstance(keyword.value, ast.Constant) and keyword.value.value is False):
                self.flag(node, "allow_pickle: unpickling runs code from the file")
            elif keyword.arg is not None and DUNDER.fullmatch(keyword.arg):
                self.flag(node, f"a keyword naming a dunder ({keyword.arg})")
        self.generic_visit(node)

    # 5. classes: ordinary methods only
    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self._defines(node)
        for keyword in node.keywords:
            self.flag(node, f"class {node.name}({keyword.arg}=...): a metaclass or class keyword")
        for item in node.body:
            if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and DUNDER.fullmatch(item.name) \
                    and item.name not in DUNDER_METHODS:
                self.flag(item, f"class {node.name} defines {item.name} (a class may define "
                                f"{', '.join(sorted(DUNDER_METHODS))})")
        self.generic_visit(node)

    def _defines(self, node: ast.AST) -> None:
        name = getattr(node, "name", None)
        if self.depth == 0 and name in self.protected:
            self.flag(node, f"rebinds {name}, which the course's cells set")

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> None:
        self._annotations(getattr(node, "returns", None))
        self._defines(node)
        decorators = getattr(node, "decorator_list", [])
        for decorator in decorators:
            self.visit(decorator)
        outer = self.protected
        self.protected = {k: v for k, v in outer.items() if k not in _locals(node)}  # shadowed in here
        self.depth += 1
        try:
            for child in ast.iter_child_nodes(node):
                if child not in decorators:
                    self.visit(child)
        finally:
            self.depth -= 1
            self.protected = outer

    visit_AsyncFunctionDef = visit_FunctionDef
    visit_Lambda = visit_FunctionDef


def _locals(function: ast.AST) -> set[str]:
    """The names a function binds for itself: its arguments and what its own body assigns."""
    args = function.args  # type: ignore[attr-defined]
    names = {a.arg for a in args.posonlyargs + args.args + args.kwonlyargs} | \
        {a.arg for a in (args.vararg, args.kwarg) if a is not None}
    declared: set[str] = set()
    todo = list(function.body) if isinstance(function.body, list) else [function.body]  # type: ignore[attr-defined]
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.Global, ast.Nonlocal)):
            declared |= set(node.names)
        elif isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            names.add(node.id)
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            todo.extend(ast.iter_child_nodes(node))
        elif not isinstance(node, ast.Lambda):
            names.add(node.name)  # type: ignore[union-attr]
    return names - declared


COURSE_DEFINED = object()  # a name a course cell defines (a class, a value): not to be rebound or changed


def _is_course(value: object) -> bool:
    """A class or function of the course's package (the checks, the given classes)."""
    name = value.__name__ if _is_module(value) else getattr(value, "__module__", None)
    return isinstance(name, str) and name.split(".")[0] == "optimcourse"


def _load(module: str) -> types.ModuleType | None:
    try:
        return importlib.import_module(module)
    except Exception:  # noqa: BLE001 (a module missing here is only not resolved)
        return None


def _imported(alias: ast.alias) -> tuple[str, types.ModuleType | None]:
    """The name ``import a.b [as c]`` binds, and the module it binds it to."""
    top = alias.name.split(".")[0]
    return alias.asname or top, _load(alias.name if alias.asname else top)


def _parse(source: str) -> ast.Module | None:
    """A cell as Python (IPython's magics and shell escapes become get_ipython() calls), or None if it
    is not Python at all: then the kernel cannot run it either, and it fails on its own."""
    from IPython.core.inputtransformer2 import TransformerManager

    try:
        return ast.parse(TransformerManager().transform_cell(source))
    except SyntaxError:
        return None


def _lookup(module: str, name: str) -> object:
    loaded = _load(module)
    value = getattr(loaded, name, None) if loaded is not None else None
    return value if value is not None else _load(f"{module}.{name}")


def protected_names(sources: Iterable[str]) -> dict[str, object]:
    """What the course's own cells bind and the rules protect: every module (``np``, ``checks``,
    ``given``), and the course's classes and functions (``Parameter``)."""
    protected: dict[str, object] = {}
    for tree in filter(None, map(_parse, sources)):
        for node in tree.body:
            if isinstance(node, ast.Import):
                protected.update(_imported(alias) for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                for alias in node.names:
                    value = _lookup(node.module, alias.name)
                    if _is_module(value) or _is_course(value):
                        protected[alias.asname or alias.name] = value
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                protected[node.name] = COURSE_DEFINED
            elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
                for target in node.targets if isinstance(node, ast.Assign) else [node.target]:
                    for name in ast.walk(target):
                        if isinstance(name, ast.Name):
                            protected[name.id] = COURSE_DEFINED
    return protected


def check_cells(cells: Iterable[tuple[str, str]], trusted: Iterable[str]) -> list[Finding]:
    """The rules broken by ``cells`` ((label, source) pairs, in notebook order), given the sources of the
    course's own cells (run as they are, and not read)."""
    trusted = list(trusted)
    protected = protected_names(trusted)
    trusted_set = set(trusted)
    found: list[Finding] = []
    for label, source in cells:
        tree = None if source in trusted_set else _parse(source)
        if tree is None:
            continue
        reader = _Reader(label, protected)
        reader.visit(tree)
        found += reader.found
    return found


def cell_label(index: int, cell) -> str:
    """How a finding names a cell: its grade_id, or its place in the notebook."""
    grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
    return repr(grade_id) if grade_id else f"cell {index + 1}"


def check_notebook(nb, trusted: Iterable[str]) -> list[Finding]:
    return check_cells([(cell_label(i, c), c.source) for i, c in enumerate(nb.cells) if c.cell_type == "code"], trusted)


def trusted_sources(nb) -> list[str]:
    """The course's own cells of a notebook as released: the locked ones."""
    return [c.source for c in nb.cells if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("locked")]


def main(argv: list[str] | None = None) -> int:
    """Check a notebook against the rules, the course's cells taken from the exercise it is from."""
    import nbformat

    from ..course import ASSIGNMENTS

    paths = [Path(p) for p in (sys.argv[1:] if argv is None else argv)]
    if not paths:
        print("usage: python -m optimcourse.grading.rules NOTEBOOK.ipynb ...", file=sys.stderr)
        return 2
    broken = 0
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        exercise = next((a for a in ASSIGNMENTS if a.notebook == path.stem), None)
        trusted = trusted_sources(nbformat.read(exercise.exercise_path(), as_version=4)) if exercise else []
        found = check_notebook(nb, trusted)
        for finding in found:
            print(f"{path}: {finding}")
        if not found:
            print(f"{path}: keeps the rules")
        broken += bool(found)
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
