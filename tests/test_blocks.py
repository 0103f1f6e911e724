"""optimcourse.blocks: a mutant's edit is found at any indentation and replaced re-indented."""

from __future__ import annotations

import io
import re
import tokenize

import pytest
from hypothesis import given
from hypothesis import strategies as st

from optimcourse import blocks
from optimcourse.course import ASSIGNMENTS
from optimcourse.mutants import Mutant, load_mutants

SOURCE = """class SGD:
    def step(self):
        for p in self.params:
            if p.grad is None:
                continue
            p.data -= self.lr * p.grad
"""


def edit(source: str, find: str, replace: str) -> str:
    (match,) = blocks.find(source, find)
    return blocks.replace(source, match, replace)


def test_a_block_of_lines_is_found_at_any_depth_and_replaced_at_that_depth():
    got = edit(SOURCE, "if p.grad is None:\n    continue\n", "")
    assert got == SOURCE.replace("            if p.grad is None:\n                continue\n", "")
    got = edit(SOURCE, "for p in self.params:\n    if p.grad is None:\n", "for p in self.params:\n    if False:\n")
    assert "        for p in self.params:\n            if False:\n                continue\n" in got


def test_a_line_without_a_break_is_plain_text_anywhere():
    assert edit(SOURCE, "self.lr * p.grad", "p.grad") == SOURCE.replace("self.lr * p.grad", "p.grad")
    # its replacement's later lines are indented from the line it lands in
    got = edit(SOURCE, "p.data -= self.lr * p.grad", "p.data -= p.grad\nprint(p)")
    assert got.endswith("            p.data -= p.grad\n            print(p)\n")


def test_the_last_line_of_a_block_may_end_mid_line():
    got = edit(SOURCE, "    continue\np.data -=", "    continue\np.data +=")
    assert got == SOURCE.replace("-=", "+=")


def test_new_depths_in_the_replacement_follow_the_sources_step():
    two_spaces = re.sub(r"(?m)^( +)", lambda m: " " * (len(m[1]) // 2), SOURCE)
    got = edit(two_spaces, "if p.grad is None:\n    continue\n", "if p.grad is None:\n    if True:\n        continue\n")
    assert "      if p.grad is None:\n        if True:\n          continue\n" in got


def test_lines_must_keep_their_relative_depths():
    assert blocks.find(SOURCE, "for p in self.params:\nif p.grad is None:\n") == []  # same depth in the find
    assert blocks.find(SOURCE, "if p.grad is None:\ncontinue\n") == []
    assert len(blocks.find(SOURCE + SOURCE, "if p.grad is None:\n    continue\n")) == 2


def test_an_edit_that_occurs_twice_is_refused_with_its_name():
    with pytest.raises(ValueError, match="'twice'.*occurs 2 times"):
        Mutant("twice", "", (("if p.grad is None:\n    continue\n", ""),)).apply(SOURCE + SOURCE)


def _halve(source: str) -> str:
    """The source with 2-space blocks, as an editor re-indents it: each statement's indentation halved,
    its continuation lines (and a docstring's lines) moved with it."""
    statements = {token.start[0] for token in _statement_starts(source)}
    shift, out = 0, []
    for number, line in enumerate(source.splitlines(keepends=True), 1):
        width = len(line) - len(line.lstrip(" "))
        if number in statements:
            shift = width - width // 2
        out.append(line[min(shift, width) :] if line.strip() else line)
    return "".join(out)


def _statement_starts(source: str):
    """The first token of every statement (after a NEWLINE, INDENT or DEDENT, or at the start)."""
    expect = True
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type in (tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT):
            expect = True
        elif token.type in (tokenize.NL, tokenize.COMMENT):
            if token.type == tokenize.COMMENT and expect:
                yield token
        elif expect:
            expect = False
            yield token


def _wrap(source: str) -> str:
    return re.sub(r"(?m)^(?=.)", "    ", source)


@pytest.mark.parametrize("reindent", [_halve, _wrap], ids=["two-space-indents", "wrapped-in-a-block"])
@pytest.mark.parametrize("assignment", ASSIGNMENTS, ids=lambda a: a.id)
def test_a_reindented_reference_keeps_every_mutant(assignment, reindent):
    reference = assignment.reference_path().read_text()
    for mutant in assignment.mutant_library().mutants:
        assert mutant.apply(reindent(reference)) == reindent(mutant.apply(reference)), mutant.name


@given(st.integers(0, 12), st.sampled_from([1, 2, 3, 4, 8]), st.booleans())
def test_any_uniform_indentation_finds_the_block(base, unit, tabs):
    indent = (lambda n: "\t" * n) if tabs else (lambda n: " " * (n * unit))
    source = f"{' ' * base}for p in ps:\n{' ' * base}{indent(1)}x = p\n{' ' * base}{indent(1)}y = x\n"
    got = edit(source, "for p in ps:\n    x = p\n", "for p in ps:\n    if p:\n        x = p\n")
    assert got == (
        f"{' ' * base}for p in ps:\n{' ' * base}{indent(1)}if p:\n"
        f"{' ' * base}{indent(2)}x = p\n{' ' * base}{indent(1)}y = x\n"
    )


def test_a_mutants_file_that_is_not_mutants_is_refused_by_name(tmp_path):
    bad = tmp_path / "bad.mutants.toml"
    bad.write_text('[[mutant]]\nname = "x"\nmistake = "y"\n')
    with pytest.raises(ValueError, match="bad.mutants.toml: not a list of mutants.*KeyError"):
        load_mutants("bad", bad)
    bad.write_text('[[mutant]]\nname = "x"\nmistake = "y"\n[[mutant.edit]]\nfind = "    x = 1"\nreplace = ""\n')
    with pytest.raises(ValueError, match="'x': a find of one line starts with its code"):
        load_mutants("bad", bad)
