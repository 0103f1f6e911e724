"""The book's figures, each saved with the size of its smallest text.

A chapter's figure cell ends with ``glue_figure("fig_paths", fig)`` where it would call myst-nb's
``glue``. The figure is drawn once, every piece of text the drawing puts down (tick labels, legends,
titles, notes) is measured, and the PNG is glued with the smallest size, in the image's own pixels,
written into it as a text chunk. The site's browser test reads that chunk back and multiplies it by
the scale at which the page shows the image: that is the size a reader sees, and the course wants no
text in a figure below ``MIN_SHOWN_PX`` on a 1366 px screen.
"""

from __future__ import annotations

import io
import math
import struct
import zlib

__all__ = [
    "DPI",
    "MIN_SHOWN_PX",
    "SMALLEST_TEXT_KEY",
    "figure_png",
    "glue_figure",
    "plain_log_labels",
    "smallest_text_px",
]

# The resolution of every figure: the one Jupyter's inline backend gives matplotlib's default figures.
DPI = 100
# The smallest text a reader should meet in a figure as the page shows it, in CSS pixels.
MIN_SHOWN_PX = 9.0
# The PNG text chunk that carries the measure (its value: pixels, as a decimal number).
SMALLEST_TEXT_KEY = "Smallest text px"


def _text_sizes_pt(fig) -> list[float]:
    """The size in points of every non-blank string that drawing ``fig`` puts on the canvas.

    Drawn, not listed: a tick label outside the axis' limits, or a hidden one, exists as an artist
    but never reaches the image, so the renderer is asked what it is given to write.
    """
    if not hasattr(fig.canvas, "get_renderer"):  # a closed figure keeps only a base canvas
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        FigureCanvasAgg(fig)
    renderer = fig.canvas.get_renderer()
    sizes: list[float] = []
    draw_text = renderer.draw_text

    def record(gc, x, y, s, prop, angle, ismath=False, mtext=None):
        if s.strip():
            sizes.append(_smallest_glyph_pt(s, prop) if ismath is True else prop.get_size_in_points())
        return draw_text(gc, x, y, s, prop, angle, ismath=ismath, mtext=mtext)

    renderer.draw_text = record
    try:
        fig.draw(renderer)
    finally:
        del renderer.draw_text
    return sizes


def _smallest_glyph_pt(s: str, prop) -> float:
    """The size in points of the smallest glyph of mathtext ``s``: a superscript or a subscript (the
    exponent of a logarithmic axis' ``10^-6``) is drawn at 70% of the text's size, 49% for one inside
    another."""
    from matplotlib.mathtext import MathTextParser

    glyphs = MathTextParser("path").parse(s, 72, prop).glyphs
    return min((size for _font, size, *_ in glyphs), default=prop.get_size_in_points())


def plain_log_labels(*axes) -> None:
    """Label every logarithmic axis of ``axes`` in plain text at the labels' own size (0.001, 1, 1000,
    1e-06 as 1e-6, 2 and 0.3 between decades) where it has matplotlib's labels, a 10 with a superscript
    exponent drawn at 70% of their size. An axis whose page chose its own labels keeps them."""
    from matplotlib import ticker

    class PlainLog(ticker.LogFormatter):
        """matplotlib's choice of which ticks to label, in plain text."""

        def _num_to_string(self, x, vmin, vmax):
            exponent = math.log10(x)
            if abs(exponent - round(exponent)) > 1e-9 or 1e-3 <= x < 1e4:
                return f"{x:.4g}"
            return f"1e{round(exponent)}"

    for ax in axes:
        for axis in (ax.xaxis, ax.yaxis):
            if axis.get_scale() != "log":
                continue
            base = axis.get_transform().base
            if isinstance(axis.get_major_formatter(), ticker.LogFormatterMathtext):
                axis.set_major_formatter(PlainLog(base, labelOnlyBase=False))
            if isinstance(axis.get_minor_formatter(), ticker.LogFormatterMathtext):
                axis.set_minor_formatter(PlainLog(base, labelOnlyBase=False))


def figure_png(fig) -> bytes:
    """``fig`` as a PNG at ``DPI``, cropped to what it draws, with its smallest text's size inside."""
    sizes = _text_sizes_pt(fig)
    metadata = {SMALLEST_TEXT_KEY: f"{min(sizes) * DPI / 72:.2f}"} if sizes else {}
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight", metadata=metadata)
    return buffer.getvalue()


def glue_figure(name: str, fig) -> None:
    """Glue ``fig`` under ``name`` for a ``{glue:figure}``, its logarithmic axes labelled in plain text
    (``plain_log_labels``), measured, and close it."""
    import matplotlib.pyplot as plt
    from IPython.display import Image
    from myst_nb import glue

    plain_log_labels(*fig.axes)
    png = figure_png(fig)
    plt.close(fig)
    glue(name, Image(data=png), display=False)


def smallest_text_px(png: bytes) -> float | None:
    """The size of the smallest text in a PNG that ``figure_png`` wrote, in the image's pixels; None
    for a PNG without the measure (a figure made some other way, or one without text)."""
    if png[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG file")
    at = 8
    while at + 8 <= len(png):
        length, kind = struct.unpack(">I4s", png[at : at + 8])
        data = png[at + 8 : at + 8 + length]
        if kind == b"tEXt":
            key, _, value = data.partition(b"\0")
            if key.decode("latin-1") == SMALLEST_TEXT_KEY:
                return float(value.decode("latin-1"))
        elif kind == b"zTXt":
            key, _, rest = data.partition(b"\0")
            if key.decode("latin-1") == SMALLEST_TEXT_KEY:
                return float(zlib.decompress(rest[1:]).decode("latin-1"))
        elif kind == b"IEND":
            break
        at += 12 + length
    return None
