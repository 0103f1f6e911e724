"""Finding a piece of code in a source whatever its indentation, and replacing it re-indented.

A mutant's edit is written dedented, as a reader would quote it. A find without a line break is found
anywhere, as plain text. A find of several lines is found as consecutive lines of the source, each
with the same indentation relative to the others: its first line starts a source line (after the
indentation), its last line may end mid-line, and its indentation levels map onto the source's, in
order (4 spaces in the find may be 8, or 2, in the source). The replacement is indented by the same
map; a depth the find does not have is counted in 4-space block levels from the nearest one it has,
each level the source's own (4 spaces, 2, a tab). So re-indenting a solution, or wrapping it in a
block, leaves every mutant applicable.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

__all__ = ["Match", "find", "replace"]


@dataclass(frozen=True)
class Match:
    start: int  # offset of the match in the source
    end: int
    indents: tuple[tuple[int, str], ...]  # (width in the find, indentation in the source), narrowest first
    unit: str = "    "  # one block level of the source (4 spaces, 2, a tab)
    mid_line: bool = False  # a find of one line: the replacement's first line goes in as it is


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip(" \t"))]


def find(source: str, block: str) -> list[Match]:
    """Every place where ``block`` occurs in ``source`` (see the module's docstring)."""
    if "\n" not in block:
        unit = _unit(source.split("\n"))
        return (
            [_substring_match(source, offset, len(block), unit) for offset in _offsets(source, block)] if block else []
        )
    wanted = block.split("\n")  # with a final "" where the block ends with a line break
    lines = source.split("\n")
    unit = _unit(lines)
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line) + 1)
    found = []
    for first in range(len(lines) - len(wanted) + 1):
        indents = _match_lines(lines[first : first + len(wanted)], wanted)
        if indents is None:
            continue
        last = first + len(wanted) - 1
        tail = wanted[-1]
        end = starts[last] + (len(dict(indents).get(_width(tail), "")) + len(tail.lstrip(" \t")) if tail else 0)
        found.append(Match(starts[first], end, indents, unit))
    return found


def replace(source: str, match: Match, text: str) -> str:
    """``source`` with ``match`` replaced by ``text``, indented as the match was."""
    return source[: match.start] + _reindent(text, match) + source[match.end :]


def _offsets(source: str, text: str) -> list[int]:
    offsets, at = [], source.find(text)
    while at != -1:
        offsets.append(at)
        at = source.find(text, at + len(text))
    return offsets


def _unit(lines: list[str]) -> str:
    """The source's block level: the commonest step in from a line that opens a block (ends with ':')."""
    steps: dict[str, int] = {}
    for line, following in itertools.pairwise(lines):
        opened, inner = _indent(line), _indent(following)
        if line.rstrip().endswith(":") and following.strip() and len(inner) > len(opened) and inner.startswith(opened):
            steps[inner[len(opened) :]] = steps.get(inner[len(opened) :], 0) + 1
    return max(steps, key=steps.__getitem__) if steps else "    "


def _substring_match(source: str, offset: int, length: int, unit: str) -> Match:
    line_start = source.rfind("\n", 0, offset) + 1
    # the replacement's first line continues the source line; its later lines are relative to it
    return Match(offset, offset + length, ((0, _indent(source[line_start : offset + length])),), unit, mid_line=True)


def _width(line: str) -> int:
    return len(_indent(line))


def _match_lines(lines: list[str], wanted: list[str]) -> tuple[tuple[int, str], ...] | None:
    """The indentation map under which ``lines`` read as ``wanted``, or None where they do not."""
    indents: dict[int, str] = {}
    for k, (line, want) in enumerate(zip(lines, wanted)):
        last = k == len(wanted) - 1
        body = want.lstrip(" \t")
        if not body:
            if last or not line.strip():
                continue
            return None
        have = _indent(line)
        if not (line[len(have) :].startswith(body) if last else line[len(have) :] == body):
            return None
        width = _width(want)
        if indents.setdefault(width, have) != have:
            return None
    ordered = sorted(indents.items())
    for (_, narrow), (_, wide) in itertools.pairwise(ordered):
        if not (len(narrow) < len(wide) and wide.startswith(narrow)):
            return None
    return tuple(ordered)


def _reindent(text: str, match: Match) -> str:
    lines = text.split("\n")
    out = [lines[0]] if match.mid_line else []
    for line in lines[len(out) :]:
        body = line.lstrip(" \t")
        out.append(_indentation(_width(line), match) + body if body else "")
    return "\n".join(out)


def _indentation(width: int, match: Match) -> str:
    """The source's indentation for a line ``width`` deep in the find: mapped where the find has that
    width; otherwise from the nearest width it has, a source level for each 4 columns of difference,
    or as many spaces where the difference is not whole levels (a continuation line's alignment)."""
    mapped = dict(match.indents)
    if width in mapped:
        return mapped[width]
    w0, s0 = min(match.indents, key=lambda pair: (abs(pair[0] - width), pair[0]))
    levels, rest = divmod(abs(width - w0), 4)
    step, count = (match.unit, levels) if not rest else (" ", abs(width - w0))
    return s0 + step * count if width > w0 else s0[: max(len(s0) - len(step) * count, 0)]
