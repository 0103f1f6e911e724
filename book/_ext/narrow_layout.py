"""The site on a phone or a tablet: sidebar buttons that open, and pages no wider than the screen.

pydata-sphinx-theme 0.17 (which the pinned sphinx-book-theme 1.3.0 requires, exactly) binds its
mobile handlers to its own hidden navbar buttons, so the visible ☰ and contents buttons of the book
theme did nothing below 992 px (pydata-sphinx-theme issue #2451). ``static/narrow_layout.js`` passes
their clicks on; ``static/narrow_layout.css`` lets long inline code break and long formulas scroll.
The browser tests press both buttons at 390 and 768 px and measure every page's width.
"""

from __future__ import annotations

from pathlib import Path

STATIC = Path(__file__).parent / "static"


def _config_inited(app, config) -> None:
    if str(STATIC) not in config.html_static_path:
        config.html_static_path = [*config.html_static_path, str(STATIC)]


def setup(app):
    app.connect("config-inited", _config_inited)
    app.add_js_file("narrow_layout.js")
    app.add_css_file("narrow_layout.css")
    return {"parallel_read_safe": True, "parallel_write_safe": True}
