"""The website in a real browser: every page of `_toc.yml`, served on localhost, in Debian's chromium.

Each page must load without a console error or a failed request, with every formula typeset by
MathJax, every diagram drawn by mermaid, every image loaded and described, no placeholder or
traceback left, every link inside the site resolving (to a page and, with a #fragment, to an anchor
on it), and every Binder button naming a notebook the repository has. A full-page screenshot of
each page is saved under `_build/screenshots/`. The site's search must find "AdamW", the sidebar
must list the pages of `_toc.yml` in its order, and Sphinx's linkcheck must find no broken link.
"""
from __future__ import annotations

import functools
import http.server
import json
import re
import subprocess
import threading
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
import yaml

from optimcourse.course import ASSIGNMENTS, REPO_ROOT
from site_pages import HTML, build_at_root, toc_pages

pytestmark = pytest.mark.site
SCREENSHOTS = REPO_ROOT / "_build" / "screenshots"
CONFIG = yaml.safe_load((REPO_ROOT / "_config.yml").read_text())
RAW = re.compile(r"\{glue(:\w+)?\}|\{python\}|\{eval\}|`\{|\bTODO\b|\bplaceholder\b|\bNotImplemented\b(?!Error)")


class _Handler(http.server.SimpleHTTPRequestHandler):
    # ES modules (mermaid) must come as JavaScript; Python 3.11 does not know .mjs
    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map, ".mjs": "text/javascript"}

    def log_message(self, *args):
        pass


@pytest.fixture(scope="session")
def site() -> str:
    """The root URL of the freshly built site, served from `_build/html` on a free localhost port."""
    done = build_at_root()
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Handler, directory=str(HTML)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/"
    server.shutdown()


class Visit:
    """One page opened in a fresh tab, with everything the browser complained about on the way."""

    def __init__(self, browser, url: str):
        self.problems: list[str] = []
        self.page = browser.new_page(viewport={"width": 1280, "height": 900})
        self.page.on("console", lambda m: m.type == "error" and self.problems.append(f"console: {m.text} {m.location}"))
        self.page.on("pageerror", lambda e: self.problems.append(f"script error: {e}"))
        self.page.on("requestfailed", lambda r: self.problems.append(f"request failed: {r.url} {r.failure}"))
        self.page.on("response", lambda r: r.status >= 400 and self.problems.append(f"HTTP {r.status}: {r.url}"))
        self.page.goto(url, wait_until="networkidle")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.page.close()


def typeset(page) -> None:
    """Wait until MathJax has typeset the page and mermaid has drawn every diagram."""
    if page.locator(".math").count():
        page.wait_for_function("window.MathJax && MathJax.startup && MathJax.startup.promise", timeout=20_000)
        page.evaluate("MathJax.startup.promise")
    if page.locator(".mermaid").count():
        page.wait_for_function("[...document.querySelectorAll('.mermaid')].every(d => d.querySelector('svg'))",
                               timeout=20_000)


def local_target(url: str, base: str) -> tuple[Path, str] | None:
    """The file under `_build/html` a same-site link points at, and its #fragment; None if external."""
    if not url.startswith(base):
        return None
    parts = urlsplit(url)
    path = HTML / unquote(parts.path).lstrip("/")
    if path.is_dir():
        path = path / "index.html"
    return path, unquote(parts.fragment)


def binder_notebook(url: str) -> tuple[str, str, str]:
    """(repository, branch, path) that a mybinder launch URL opens."""
    parts = urlsplit(url)
    _, _, provider, org, repo, branch = parts.path.split("/", 5)
    assert provider == "gh", url
    urlpath = parse_qs(parts.query)["urlpath"][0]
    assert urlpath.startswith("lab/tree/"), f"{url}: does not open JupyterLab"
    return f"{org}/{repo}", branch, urlpath.removeprefix("lab/tree/")


TRACKED = set(subprocess.run(["git", "ls-files"], cwd=REPO_ROOT, capture_output=True, text=True).stdout.split())
CHAPTER_NOTEBOOK = {f"book/{a.id}": f"exercises/{a.id}/{a.notebook}.ipynb" for a in ASSIGNMENTS}


@pytest.mark.parametrize("page_name", toc_pages())
def test_page_in_a_browser(site, browser, page_name):
    with Visit(browser, f"{site}{page_name}.html") as visit:
        page = visit.page
        typeset(page)
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{page_name.replace('/', '__')}.png"), full_page=True)
        assert not visit.problems, f"{page_name}: " + "\n".join(visit.problems)

        text = page.locator("article.bd-article").inner_text()
        assert "Traceback (most recent call last)" not in text, f"{page_name}: a traceback in an output"
        prose = page.evaluate("(() => { const a = document.querySelector('article.bd-article').cloneNode(true);"
                              " a.querySelectorAll('pre, code, .highlight').forEach(c => c.remove());"
                              " return a.textContent; })()")  # code may well contain `\\(` or `{`
        assert not RAW.search(prose), f"{page_name}: raw text {RAW.search(prose).group(0)!r} on the page"
        assert not page.locator("article .output.traceback, article .output.error").count(), page_name

        untypeset = page.evaluate("[...document.querySelectorAll('.math')]"
                                  ".filter(m => !m.querySelector('mjx-container')).map(m => m.textContent)")
        assert not untypeset, f"{page_name}: formulas MathJax left as text: {untypeset[:3]}"
        assert not re.search(r"\$\$|\\\(|\\\[", prose), f"{page_name}: raw TeX delimiters left on the page"

        diagrams = page.evaluate("[...document.querySelectorAll('.mermaid')].map(d => "
                                 "[!!d.querySelector('svg'), (d.querySelector('svg title') || {}).textContent || ''])")
        for drawn, title in diagrams:
            assert drawn and title, f"{page_name}: a mermaid diagram not drawn, or without accTitle"

        images = page.evaluate("[...document.images].map(i => [i.getAttribute('src'), i.complete && i.naturalWidth, i.alt])")
        for src, width, alt in images:
            assert width, f"{page_name}: image {src} did not load"
            assert alt.strip() and not re.search(r"\.(png|svg|jpe?g)$", alt), f"{page_name}: image {src} has no alt text"

        links = page.evaluate("[...document.querySelectorAll('a[href]')].map(a => a.href)")
        for url in links:
            target = local_target(url, site)
            if target is None:
                continue
            path, fragment = target
            assert path.is_file(), f"{page_name}: link to {url}, which the site lacks"
            if fragment and path.suffix == ".html":
                assert f'id="{fragment}"' in path.read_text(), f"{page_name}: link to #{fragment}, no such anchor in {path.name}"

        binder = [url for url in links if urlsplit(url).netloc == urlsplit(CONFIG["launch_buttons"]["binderhub_url"]).netloc
                  and "/v2/" in url]
        for url in binder:
            repo, branch, path = binder_notebook(url)
            assert f"https://github.com/{repo}" == CONFIG["repository"]["url"].rstrip("/"), url
            assert branch == CONFIG["repository"]["branch"] == "main", url
            opens_notebooks = (path in TRACKED and path.endswith(".ipynb")  # a notebook, or a folder of them
                               or any(t.startswith(f"{path}/") and t.endswith(".ipynb") for t in TRACKED))
            assert opens_notebooks, f"{page_name}: Binder opens {path}, not a notebook in the repository"
        if page_name in CHAPTER_NOTEBOOK:  # the rocket and the box both open the chapter's own exercise
            assert binder and {binder_notebook(u)[2] for u in binder} == {CHAPTER_NOTEBOOK[page_name]}, page_name
            download = page.locator("a.exercise-download, a.reference.download").first.get_attribute("href")
            copy = local_target(page.evaluate(f"new URL({json.dumps(download)}, location.href).href"), site)[0]
            assert copy.read_bytes() == (REPO_ROOT / CHAPTER_NOTEBOOK[page_name]).read_bytes(), page_name


def test_the_search_page_finds_adamw(site, browser):
    with Visit(browser, f"{site}search.html?q=AdamW") as visit:
        visit.page.wait_for_function("document.querySelectorAll('#search-results ul.search li').length > 0",
                                     timeout=20_000)
        hits = visit.page.evaluate("[...document.querySelectorAll('#search-results ul.search li a')].map(a => a.href)")
        assert any("04-momentum-adam-adamw.html" in hit for hit in hits), hits
        assert not visit.problems, "\n".join(visit.problems)


def test_the_sidebar_lists_the_pages_of_the_toc_in_order(site, browser):
    with Visit(browser, f"{site}{toc_pages()[0]}.html") as visit:
        hrefs = visit.page.evaluate("[...document.querySelectorAll('.bd-sidenav a.reference.internal')]"
                                    ".map(a => new URL(a.getAttribute('href'), location.href).pathname)")
    listed = [href.lstrip("/").removesuffix(".html") for href in hrefs]
    assert listed == toc_pages(), "the sidebar and _toc.yml disagree"
    built = {p.relative_to(HTML).with_suffix("").as_posix() for p in HTML.glob("**/*.html")
             if not p.relative_to(HTML).parts[0].startswith(("_", "."))}
    assert built - {"index", "genindex", "search"} == set(toc_pages()), "pages built that _toc.yml does not list, or the reverse"


def test_linkcheck_finds_no_broken_link_and_marks_external_ones_unchecked():
    done = build_at_root("--builder", "linkcheck")
    output = HTML / "output.json"  # Jupyter Book writes the linkcheck report there
    entries = [json.loads(line) for line in output.read_text().splitlines() if line.strip()]
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    broken = [e for e in entries if e["status"] == "broken"]
    assert not broken, broken
    external = [e for e in entries if e["uri"].startswith(("http://", "https://"))]
    assert external and all(e["status"] == "ignored" for e in external)
