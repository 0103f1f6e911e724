"""Mend a submitted notebook before nbgrader sees it.

Some edits a student can make in Jupyter make nbgrader's autograde fail outright, so the whole
submission is left ungraded instead of scoring what it earns: a cell split in the editor (two cells
with one ``grade_id``), a test cell's ``grade_id`` renamed (KeyError: 'grade_id'), a test cell marked
as an answer ("Inconsistent checksums for cell ..."), or any other change to a cell's nbgrader
metadata. The released notebook says what each graded cell's metadata is, so a submission's is
taken from there; nbgrader itself restores test and locked cells' sources and types from its
gradebook, and puts back graded cells that are missing (``OverwriteCells.add_missing_cells``).
"""

from __future__ import annotations

import copy
import json
from typing import Any

__all__ = ["mend", "mend_metadata", "mend_split_cells"]


def _dumps(nb: Any) -> bytes:
    return (json.dumps(nb, indent=1, ensure_ascii=False) + "\n").encode()


def _cells(content: bytes) -> tuple[dict, list] | None:
    """The notebook and its list of cells, or None if ``content`` is not a notebook nbgrader could read."""
    try:
        nb = json.loads(content)
    except (ValueError, RecursionError):  # not UTF-8, not JSON, or nested deeper than the parser goes
        return None
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        return None
    return nb, nb["cells"]


def mend_split_cells(content: bytes) -> bytes:
    """A cell split in the editor leaves two cells with one nbgrader ``grade_id``, on which nbgrader's
    autograde fails outright. Join the pieces of a solution cell back into one cell, in order, and drop
    later copies of any other cell (nbgrader restores test and locked cells from its gradebook anyway).
    Anything else is returned as it is."""
    try:
        nb = json.loads(content)
        cells = nb["cells"]
        ids = [c.get("metadata", {}).get("nbgrader", {}).get("grade_id") for c in cells]
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
        return content
    if len({i for i in ids if i is not None}) == len([i for i in ids if i is not None]):
        return content
    kept: list[dict] = []
    first: dict[str, dict] = {}
    for cell, grade_id in zip(cells, ids):
        if grade_id is None or grade_id not in first:
            kept.append(cell)
            if grade_id is not None:
                first[grade_id] = cell
            continue
        head = first[grade_id]
        if head.get("metadata", {}).get("nbgrader", {}).get("solution") and cell.get("cell_type") == head.get(
            "cell_type"
        ):

            def text(c):
                return "".join(c.get("source", "")) if isinstance(c.get("source"), list) else c.get("source", "")

            head["source"] = text(head).rstrip("\n") + "\n\n" + text(cell)
    nb["cells"] = kept
    return _dumps(nb)


def _released_metadata(release: bytes) -> dict[str, dict]:
    """Each graded cell's nbgrader metadata in the released notebook, by grade id. ValueError if the
    release cannot be read: without it every graded cell of every submission would be lost."""
    found = _cells(release)
    if found is None:
        raise ValueError("the released notebook is not a notebook")
    by_id: dict[str, dict] = {}
    for cell in found[1]:
        meta = cell.get("metadata") if isinstance(cell, dict) else None
        nbgrader = meta.get("nbgrader") if isinstance(meta, dict) else None
        if isinstance(nbgrader, dict) and isinstance(nbgrader.get("grade_id"), str):
            by_id.setdefault(nbgrader["grade_id"], nbgrader)
    return by_id


def _mended(nbgrader: Any, released: dict[str, dict]) -> dict | None:
    """The nbgrader metadata a cell should carry: the release's for its grade id, or None (none at all)."""
    grade_id = nbgrader.get("grade_id") if isinstance(nbgrader, dict) else None
    if not isinstance(grade_id, str) or grade_id not in released:
        return None
    return copy.deepcopy(released[grade_id])


def mend_metadata(content: bytes, release: bytes) -> bytes:
    """Give every cell of the submission that has nbgrader metadata the release's metadata for its grade
    id, or make it an ordinary cell if its grade id is no graded cell's (renamed, not a string, or the
    metadata is no dict). Sources, types and outputs are left to nbgrader. ``content`` is returned as it
    is when nothing needed mending, or when it is not a notebook (nbgrader then says why)."""
    found = _cells(content)
    if found is None:
        return content
    nb, cells = found
    released = _released_metadata(release)
    changed = False
    for cell in cells:
        meta = cell.get("metadata") if isinstance(cell, dict) else None
        if not isinstance(meta, dict) or "nbgrader" not in meta:
            continue
        mended = _mended(meta["nbgrader"], released)
        if mended is None:
            del meta["nbgrader"]
        elif mended != meta["nbgrader"]:
            meta["nbgrader"] = mended
        else:
            continue
        changed = True
    return _dumps(nb) if changed else content


def mend(content: bytes, release: bytes) -> bytes:
    """The submission as nbgrader can grade it: nbgrader metadata restored, then split cells joined. In
    this order, which pieces of a split cell are joined as an answer is decided by the release's
    metadata, not the student's, and metadata the split mending cannot read (not a dict) is gone first."""
    return mend_split_cells(mend_metadata(content, release))
