"""The book's figures carry the size of their smallest text, which the site's browser test checks as
shown; every figure of the book is made that way."""

from __future__ import annotations

import re

import matplotlib.pyplot as plt
import pytest

from optimcourse import figures
from optimcourse.course import REPO_ROOT


@pytest.fixture
def fig():
    fig, ax = plt.subplots(figsize=(5, 3))
    ax.plot([0, 1, 2], label="a line")
    yield fig
    plt.close(fig)


def test_the_png_says_how_large_its_smallest_text_is_in_its_own_pixels(fig):
    ax = fig.axes[0]
    ax.legend(fontsize=6)
    ax.set_title("a title", fontsize=14)
    png = figures.figure_png(fig)
    assert figures.smallest_text_px(png) == pytest.approx(6 * figures.DPI / 72, abs=0.01)


def test_a_closed_figure_is_measured_too(fig):
    fig.axes[0].legend(fontsize=8)
    plt.close(fig)
    assert figures.smallest_text_px(figures.figure_png(fig)) == pytest.approx(8 * figures.DPI / 72, abs=0.01)


def test_text_that_is_never_drawn_is_not_measured(fig):
    ax = fig.axes[0]
    ax.text(0.5, 0.5, "   ", fontsize=2)  # blank
    ax.text(0.5, 0.5, "hidden", fontsize=3).set_visible(False)
    ax.tick_params(labelsize=7)
    assert figures.smallest_text_px(figures.figure_png(fig)) == pytest.approx(7 * figures.DPI / 72, abs=0.01)


def test_a_png_made_otherwise_has_no_measure(fig, tmp_path):
    fig.savefig(tmp_path / "plain.png")
    assert figures.smallest_text_px((tmp_path / "plain.png").read_bytes()) is None
    empty, _ = plt.subplots()
    empty.axes[0].set_axis_off()
    assert figures.smallest_text_px(figures.figure_png(empty)) is None  # no text at all
    plt.close(empty)
    with pytest.raises(ValueError, match="not a PNG"):
        figures.smallest_text_px(b"GIF89a")


def test_every_figure_of_the_book_is_glued_with_its_measure():
    for page in sorted((REPO_ROOT / "book").rglob("*.md")):
        text = page.read_text()
        shown = set(re.findall(r"^```\{glue:figure\} (\w+)", text, re.M))
        measured = set(re.findall(r'glue_figure\("(\w+)", ', text))
        assert shown <= measured, f"{page.name}: {sorted(shown - measured)} glued without figures.glue_figure"
        assert not re.search(r"\bglue\([^)]*\bfig\b", text), f"{page.name}: a figure glued with myst_nb's glue"
