"""The layout of the site's pages beyond the theme's: on a phone or a tablet, sidebar buttons that open
and pages no wider than the screen; folded code as wide as open code; figures that open full size.

- pydata-sphinx-theme 0.17 (which the pinned sphinx-book-theme 1.3.0 requires, exactly) binds its
  mobile handlers to its own hidden navbar buttons, so the visible ☰ and contents buttons of the book
  theme did nothing below 992 px (pydata-sphinx-theme issue #2451): ``static/page_layout.js`` passes
  their clicks on.
- ``static/page_layout.css`` lets long inline code break and long formulas scroll, and takes the
  fold's padding off an opened hide-input cell, whose lines are laid out for the full column.
- The same script makes every figure of an article a link to its image file.

The browser tests press both buttons at 390 and 768 px, measure every page's width and every code
block, and click a figure.
"""

from __future__ import annotations

from pathlib import Path

STATIC = Path(__file__).parent / "static"


def _config_inited(app, config) -> None:
    config.html_static_path = [*config.html_static_path, str(STATIC)]


def setup(app):
    app.connect("config-inited", _config_inited)
    app.add_js_file("page_layout.js")
    app.add_css_file("page_layout.css")
    return {"parallel_read_safe": True, "parallel_write_safe": True}
