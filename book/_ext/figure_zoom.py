"""Every figure of an article is a link to its own image file, so a click shows it full size
(``static/figure_zoom.js``); the browser tests click one."""

from __future__ import annotations

from pathlib import Path

STATIC = Path(__file__).parent / "static"


def _config_inited(app, config) -> None:
    if str(STATIC) not in config.html_static_path:
        config.html_static_path = [*config.html_static_path, str(STATIC)]


def setup(app):
    app.connect("config-inited", _config_inited)
    app.add_js_file("figure_zoom.js")
    return {"parallel_read_safe": True, "parallel_write_safe": True}
