"""The book's figures carry the size of their smallest text, which the site's browser test checks as
shown; every figure of the book is made that way."""

from __future__ import annotations

import re

import matplotlib.pyplot as plt
import pytest
from matplotlib import ticker

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


def test_a_superscript_is_measured_at_the_size_it_is_drawn(fig):
    ax = fig.axes[0]
    ax.set_yscale("log")
    ax.set_ylim(1e-12, 1e3)  # labelled 10 with an exponent: the exponent at 70% of the labels' 10 pt
    assert figures.smallest_text_px(figures.figure_png(fig)) == pytest.approx(7 * figures.DPI / 72, abs=0.01)
    ax.tick_params(labelsize=30)
    ax.text(1, 1, r"$x_{a^{b}}$", fontsize=20)  # a script in a script: 49% of 20 pt
    assert figures.smallest_text_px(figures.figure_png(fig)) == pytest.approx(9.8 * figures.DPI / 72, abs=0.01)


def test_plain_log_labels_writes_the_decades_at_the_labels_own_size(fig):
    ax = fig.axes[0]
    ax.set_yscale("log")
    ax.set_ylim(1e-12, 1e5)
    before = figures.smallest_text_px(figures.figure_png(fig))
    figures.plain_log_labels(ax)
    assert figures.smallest_text_px(figures.figure_png(fig)) == pytest.approx(10 * figures.DPI / 72, abs=0.01)
    assert before == pytest.approx(7 * figures.DPI / 72, abs=0.01)
    low, high = ax.get_ylim()
    shown = [t.get_text().replace("\u2212", "-") for t in ax.get_yticklabels() if low <= t.get_position()[1] <= high]
    assert {"1e-12", "1e-6", "0.001", "1", "1000"} <= set(shown), shown
    assert not any("$" in label for label in shown), shown
    own = ticker.FuncFormatter(lambda v, _: "mine")
    ax.yaxis.set_major_formatter(own)
    figures.plain_log_labels(ax)
    assert ax.yaxis.get_major_formatter() is own  # a page's own labels are kept


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
