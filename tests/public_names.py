"""Which names of the course's package the book's pages and the notebooks use, read from their code."""

from __future__ import annotations

import ast
import importlib
import json
import re
from collections import defaultdict
from pathlib import Path

from optimcourse.course import REPO_ROOT

PACKAGE = "optimcourse"
CELL = re.compile(r"^```\{code-cell\}[^\n]*\n(.*?)^```", re.S | re.M)


def page_sources(root: Path = REPO_ROOT) -> dict[str, str]:
    """The code cells of every book page and every solution notebook, by file."""
    sources = {}
    for page in sorted((root / "book").rglob("*.md")):
        cells = [re.sub(r"(?m)^(---|:\w+:.*|[%!].*)$", "", c) for c in CELL.findall(page.read_text())]
        sources[str(page.relative_to(root))] = "\n".join(cells)
    for nb in sorted((root / "solutions").rglob("*.ipynb")):
        cells = json.loads(nb.read_text())["cells"]
        code = ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]
        sources[str(nb.relative_to(root))] = "\n".join(re.sub(r"(?m)^\s*[%!].*$", "", c) for c in code)
    return sources


def _is_module(name: str) -> bool:
    try:
        importlib.import_module(name)
        return True
    except ImportError:
        return False


def used_names(source: str) -> dict[str, set[str]]:
    """Module -> the names ``source`` takes from it (``from m import x``, ``alias.x`` for ``import m as alias``)."""
    used: dict[str, set[str]] = defaultdict(set)
    aliases: dict[str, str] = {}
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith(PACKAGE + ".") and a.asname:
                    aliases[a.asname] = a.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == PACKAGE:
            for a in node.names:
                full = f"{node.module}.{a.name}"
                if _is_module(full):
                    aliases[a.asname or a.name] = full
                else:
                    used[node.module].add(a.name)
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases:
            used[aliases[node.value.id]].add(node.attr)
    return used
