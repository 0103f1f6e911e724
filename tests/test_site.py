"""The website in a real browser: every page of `_toc.yml`, served on localhost, in Debian's chromium.

Each page must load without a console error or a failed request, with every formula typeset by
MathJax, every diagram drawn by mermaid, every image loaded and described, no placeholder or
traceback left, every link inside the site resolving (to a page and, with a #fragment, to an anchor
on it), every code block (a cell, its printed output, a plain fence; a hidden cell's too, opened)
fitting its column at a 1280 px window, and every Binder button naming a notebook the repository
has. In the same tab, at 1366 x 900, 768 x 1024 and 390 x 844: the page is no wider than the screen;
every figure opens full size, and its smallest text (measured when the figure was made) is shown at
9 px or more on the desktop and the tablet; the chapter list shows beside the page on the desktop,
and the visible menu (☰) and contents buttons open it and the page outline on the tablet and the
phone; a chapter's box starts on the first screen (and ends on it at 1366 x 900). Whatever the width:
each chapter's box gives its minutes, it has 1 to 7 key takeaways and links the first use of each
glossary term, chapter 5 has its resume checklist, and no open code cell of the book runs over 25
lines (an exercise page shows its notebook as handed out). A full-page screenshot of each page is
saved under `_build/screenshots/`. The site's search must find "AdamW", the sidebar must list the
pages of `_toc.yml` in its order, and Sphinx's linkcheck must find no broken link.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import importlib.util
import json
import re
import subprocess
import threading
from pathlib import Path
from typing import ClassVar
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
import yaml
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from optimcourse import figures
from optimcourse.course import ASSIGNMENTS, REPO_ROOT
from site_pages import HTML, RAW, build_at_root, jupyter_book, toc_pages
from test_chapter_anatomy import LONGEST_OPEN_CELL

pytestmark = pytest.mark.site
SCREENSHOTS = REPO_ROOT / "_build" / "screenshots"
CONFIG = yaml.safe_load((REPO_ROOT / "_config.yml").read_text())


class _Handler(http.server.SimpleHTTPRequestHandler):
    # ES modules (mermaid) must come as JavaScript; Python 3.11 does not know .mjs
    extensions_map: ClassVar = {**http.server.SimpleHTTPRequestHandler.extensions_map, ".mjs": "text/javascript"}

    def log_message(self, *args):
        pass


@contextlib.contextmanager
def serving(folder: Path):
    """The root URL of ``folder`` served on a free localhost port, while the block runs."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Handler, directory=str(folder)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/"
    finally:
        server.shutdown()


@pytest.fixture(scope="session")
def site() -> str:
    """The root URL of the freshly built site, served from `_build/html`."""
    done = build_at_root()
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    with serving(HTML) as url:
        yield url


class Visit:
    """One page opened in a fresh tab, with everything the browser complained about on the way."""

    def __init__(self, browser, url: str, width: int = 1280, height: int = 900, before=None):
        self.problems: list[str] = []
        self.page = browser.new_page(viewport={"width": width, "height": height})
        if before is not None:
            before(self.page)
        self.page.on("console", lambda m: m.type == "error" and self.problems.append(f"console: {m.text} {m.location}"))
        self.page.on("pageerror", lambda e: self.problems.append(f"script error: {e}"))
        self.page.on("requestfailed", lambda r: self.problems.append(f"request failed: {r.url} {r.failure}"))
        self.page.on("response", lambda r: r.status >= 400 and self.problems.append(f"HTTP {r.status}: {r.url}"))
        self.page.goto(url, wait_until="networkidle")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.page.close()


def typeset(page) -> list[str]:
    """Wait until MathJax has typeset the page and mermaid has drawn every diagram; what never came."""
    waits = [
        ("MathJax never started", ".math", "window.MathJax && MathJax.startup && MathJax.startup.promise"),
        (
            "a mermaid diagram was never drawn",
            ".mermaid",
            "[...document.querySelectorAll('.mermaid')].every(d => d.querySelector('svg'))",
        ),
    ]
    missing = []
    for problem, selector, ready in waits:
        if page.locator(selector).count():
            try:
                page.wait_for_function(ready, timeout=20_000)
            except PlaywrightTimeout:
                missing.append(problem)
    if "MathJax never started" not in missing and page.locator(".math").count():
        page.evaluate("MathJax.startup.promise")
    return missing


# Every code block of the article: a cell's input and its printed output (both `div.highlight pre`)
# and a plain ``` fence, with the collapsed ones (a hide-input cell) opened for the measure and closed
# again. For each block wider than its column: its width, the characters the column holds, and the
# lines that do not fit (measured in the block's own monospace font).
WIDE_CODE = """(() => {
  const closed = [...document.querySelectorAll('article.bd-article details:not([open])')];
  closed.forEach(d => d.open = true);
  const pen = document.createElement('canvas').getContext('2d');
  const wide = [];
  for (const pre of document.querySelectorAll('article.bd-article pre:not(.mermaid)')) {
    if (pre.scrollWidth <= pre.clientWidth) continue;
    const style = getComputedStyle(pre);
    pen.font = `${style.fontStyle} ${style.fontWeight} ${style.fontSize} ${style.fontFamily}`;
    const room = pre.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
    const lines = pre.textContent.replace(/\\n$/, '').split('\\n');
    wide.push({scroll: pre.scrollWidth, client: pre.clientWidth,
               holds: Math.floor(room / pen.measureText('0').width),
               lines: lines.filter(line => pen.measureText(line).width > room)});
  }
  closed.forEach(d => d.open = false);
  return wide;
})()"""


def wide_code(page) -> list[str]:
    """A line for each code block on ``page`` that is wider than its column, naming its first long lines."""
    problems = []
    for block in page.evaluate(WIDE_CODE):
        lines = block["lines"] or ["(no single line: the block itself is wider)"]
        shown = "\n".join(f"    {len(line)} chars: {line}" for line in lines[:3])
        more = f"\n    ... and {len(lines) - 3} more" if len(lines) > 3 else ""
        problems.append(
            f"a code block wider than its column ({block['scroll']} px in {block['client']} px, "
            f"which holds {block['holds']} characters):\n{shown}{more}"
        )
    return problems


def local_target(url: str, base: str, root: Path) -> tuple[Path, str] | None:
    """The file under ``root`` a same-site link points at, and its #fragment; None if external."""
    if not url.startswith(base):
        return None
    parts = urlsplit(url)
    path = root / unquote(parts.path).lstrip("/")
    if path.is_dir():
        path = path / "index.html"
    return path, unquote(parts.fragment)


# "chapter 4" in the prose of an article and not inside a link (or code): the reader cannot follow it.
# The page of chapter N may name itself ("chapter 7 measures ...") without a link to itself.
PLAIN_CHAPTERS = r"""(() => {
  const own = (location.pathname.match(/\/book\/(\d\d)-/) || [])[1];
  const walker = document.createTreeWalker(document.querySelector('article.bd-article'), NodeFilter.SHOW_TEXT);
  const found = [];
  for (let t = walker.nextNode(); t; t = walker.nextNode()) {
    if (t.parentElement.closest('a, pre, code, .highlight, script, style, mjx-container, h1, h2, h3')) continue;
    for (const m of t.textContent.matchAll(/\b[Cc]hapters? (\d{1,2})\b/g)) {
      if (own === undefined || parseInt(m[1]) !== parseInt(own)) found.push(m[0]);
    }
  }
  return found;
})()"""


def page_problems(visit: Visit, base: str, root: Path) -> list[str]:
    """Everything wrong with the page in ``visit`` (served from ``root`` at ``base``) that a reader would see."""
    page = visit.page
    problems = typeset(page)
    problems += visit.problems
    text = page.locator("article.bd-article").inner_text()
    if (
        "Traceback (most recent call last)" in text
        or page.locator("article .output.traceback, article .output.error").count()
    ):
        problems.append("a traceback or an error in an output")
    prose = page.evaluate(
        "(() => { const a = document.querySelector('article.bd-article').cloneNode(true);"
        " a.querySelectorAll('pre, code, .highlight').forEach(c => c.remove());"
        " return a.textContent; })()"
    )  # code may well contain `\\(` or `{`
    if RAW.search(prose):
        problems.append(f"raw text {RAW.search(prose).group(0)!r}")
    unlinked = page.evaluate(PLAIN_CHAPTERS)
    if unlinked:
        problems.append(f"a chapter named as plain text, not a link: {unlinked[:3]}")
    untypeset = page.evaluate(
        "[...document.querySelectorAll('.math')].filter(m => !m.querySelector('mjx-container')).map(m => m.textContent)"
    )
    if untypeset or re.search(r"\$\$|\\\(|\\\[", prose):
        problems.append(f"formulas left as TeX: {untypeset[:3]}")
    diagrams = page.evaluate(
        "[...document.querySelectorAll('.mermaid')].map(d => "
        "[!!d.querySelector('svg'), (d.querySelector('svg title') || {}).textContent || ''])"
    )
    problems += [
        "a mermaid diagram not drawn, or without accTitle" for drawn, title in diagrams if not (drawn and title)
    ]
    problems += wide_code(page)
    images = page.evaluate(
        "[...document.images].map(i => [i.getAttribute('src'), i.complete && i.naturalWidth, i.alt])"
    )
    problems += [f"image {src} did not load" for src, width, _ in images if not width]
    problems += [
        f"image {src} has no alt text"
        for src, _, alt in images
        if not alt.strip() or re.search(r"\.(png|svg|jpe?g)$", alt)
    ]
    for url in page.evaluate("[...document.querySelectorAll('a[href]')].map(a => a.href)"):
        target = local_target(url, base, root)
        if target is None:
            continue
        path, fragment = target
        if not path.is_file():
            problems.append(f"link to {url}, which the site lacks")
        elif fragment and path.suffix == ".html" and f'id="{fragment}"' not in path.read_text():
            problems.append(f"link to #{fragment}, no such anchor in {path.name}")
    return problems


def binder_notebook(url: str) -> tuple[str, str, str]:
    """(repository, branch, path) that a mybinder launch URL opens."""
    parts = urlsplit(url)
    _, _, provider, org, repo, branch = parts.path.split("/", 5)
    assert provider == "gh", url
    urlpath = parse_qs(parts.query)["urlpath"][0]
    assert urlpath.startswith("lab/tree/"), f"{url}: does not open JupyterLab"
    return f"{org}/{repo}", branch, urlpath.removeprefix("lab/tree/")


def colab_notebook(url: str) -> tuple[str, str, str]:
    """(repository, branch, path) that a Colab URL opens."""
    _, provider, org, repo, blob, branch, path = urlsplit(url).path.split("/", 6)
    assert provider == "github" and blob == "blob", url
    return f"{org}/{repo}", branch, path


TRACKED = set(subprocess.run(["git", "ls-files"], cwd=REPO_ROOT, capture_output=True, text=True).stdout.split())
CHAPTER_NOTEBOOK = {a.chapter_page: a.exercise_file for a in ASSIGNMENTS}


@pytest.mark.parametrize("page_name", toc_pages())
def test_page_in_a_browser(site, browser, page_name):
    with Visit(browser, f"{site}{page_name}.html") as visit:
        page = visit.page
        problems = page_problems(visit, site, HTML)
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{page_name.replace('/', '__')}.png"), full_page=True)
        assert not problems, f"{page_name}: " + "\n".join(problems)

        links = page.evaluate("[...document.querySelectorAll('a[href]')].map(a => a.href)")
        binder = [
            url
            for url in links
            if urlsplit(url).netloc == urlsplit(CONFIG["launch_buttons"]["binderhub_url"]).netloc and "/v2/" in url
        ]
        for url in binder:
            repo, branch, path = binder_notebook(url)
            assert f"https://github.com/{repo}" == CONFIG["repository"]["url"].rstrip("/"), url
            assert branch == CONFIG["repository"]["branch"] == "main", url
            opens_notebooks = (
                (path in TRACKED and path.endswith(".ipynb"))  # a notebook, or a folder of them
                or any(t.startswith(f"{path}/") and t.endswith(".ipynb") for t in TRACKED)
            )
            assert opens_notebooks, f"{page_name}: Binder opens {path}, not a notebook in the repository"
        colab = [url for url in links if urlsplit(url).netloc == urlsplit(CONFIG["launch_buttons"]["colab_url"]).netloc]
        for url in colab:
            repo, branch, path = colab_notebook(url)
            assert f"https://github.com/{repo}" == CONFIG["repository"]["url"].rstrip("/"), url
            assert branch == CONFIG["repository"]["branch"] and path in TRACKED and path.endswith(".ipynb"), url
        if page_name in CHAPTER_NOTEBOOK:  # the rocket and the box both open the chapter's own exercise
            assert binder and {binder_notebook(u)[2] for u in binder} == {CHAPTER_NOTEBOOK[page_name]}, page_name
            assert len(colab) >= 2 and {colab_notebook(u)[2] for u in colab} == {CHAPTER_NOTEBOOK[page_name]}, page_name
            download = page.locator("a.exercise-download, a.reference.download").first.get_attribute("href")
            copy = local_target(page.evaluate(f"new URL({json.dumps(download)}, location.href).href"), site, HTML)[0]
            assert copy.read_bytes() == (REPO_ROOT / CHAPTER_NOTEBOOK[page_name]).read_bytes(), page_name

        # the same page at the other widths, in the same tab (a load per width would double the test)
        problems = screen_problems(page, page_name, site, HTML)
        assert not problems and not visit.problems, f"{page_name}: " + "\n".join(problems + visit.problems)


def screen_problems(page, page_name: str, base: str, root: Path) -> list[str]:
    """The page at each of ``SCREENS``: no wider than the screen; every figure a link to its image
    file, with no text under ``MIN_SHOWN_PX`` as shown (on the desktop and the tablet: a phone's reader
    opens the figure full size); the chapter list shown on the desktop, and on the tablet and the phone
    the menu and contents buttons opening their panels; a chapter's box on its first screen (whole at
    1366 x 900). Then what the width does not change: a chapter's box, takeaways and glossary links,
    and no open code cell over ``LONGEST_OPEN_CELL`` lines on a page of the book."""
    problems = []
    chapter = page_name in CHAPTER_PAGES
    for screen, (width, height) in SCREENS.items():
        page.set_viewport_size({"width": width, "height": height})
        page.evaluate("window.scrollTo(0, 0)")
        found = figure_problems(page, base, root, legible=screen != "phone")
        if screen == "desktop":
            found += wider_than_screen(page)
            if not page.locator(".bd-sidebar-primary .bd-sidenav a:visible").count():
                found.append("the chapter list is not shown beside the page")
        else:
            found += narrow_problems(page)
        if chapter and page.locator(".chapter-intro").count() == 1:
            top, bottom = page.evaluate(
                "(() => { const r = document.querySelector('.chapter-intro').getBoundingClientRect();"
                " return [r.top, r.bottom]; })()"
            )
            if screen == "desktop" and bottom > height:
                found.append(f"the chapter box ends {bottom:.0f} px down, below the first screen")
            elif top > height * 0.75:
                found.append(f"the chapter box starts {top:.0f} px down, off the first screen")
        problems += [f"at {width} px ({screen}): {p}" for p in found]
    if chapter:
        problems += chapter_problems(page, page_name)
    if page_name.startswith("book/"):  # an exercise page shows the notebook itself: its code is the work
        problems += open_code_problems(page)
    return problems


SCREENS = {"desktop": (1366, 900), "tablet": (768, 1024), "phone": (390, 844)}
NARROW = {name: SCREENS[name] for name in ("phone", "tablet")}


def chapter_problems(page, page_name: str) -> list[str]:
    """A chapter's own parts, as the reader sees them: one box with the minutes, 1 to 7 key takeaways,
    the first use of each glossary term a link, and chapter 5's resume checklist."""
    problems = []
    box = page.locator(".chapter-intro")
    if box.count() != 1:
        problems.append(f"{box.count()} chapter boxes")
    elif not re.search(r"About \d+ minutes to read", box.inner_text()):
        problems.append(f"the chapter box gives no minutes: {box.inner_text()[-200:]!r}")
    takeaways = page.locator("section#key-takeaways > ul > li").count()
    if not 1 <= takeaways <= 7:
        problems.append(f"{takeaways} key takeaways, not 1 to 7")
    missing = page.evaluate(UNLINKED_TERMS, list(_glossary_terms()))
    if missing:
        problems.append(f"the first use of these glossary terms is not a link: {missing}")
    if page_name == "book/05-state-checkpointing":
        checklist = page.locator("section#resuming-a-run-a-checklist")
        text = checklist.inner_text() if checklist.count() else ""
        absent = [f for f in ("load_state_dict", "deepcopy", "weights_only", "scheduler") if f not in text]
        if absent:
            problems.append(f"the resume checklist lacks {absent}")
    return problems


# The input of every code cell a reader sees open (not folded in a hide-input's <details>).
OPEN_CELLS = """[...document.querySelectorAll('article.bd-article .cell_input pre')]
  .filter(pre => !pre.closest('details'))
  .map(pre => pre.textContent.replace(/\\n$/, '').split('\\n'))
  .map(lines => [lines.length, lines[0]])"""


def open_code_problems(page) -> list[str]:
    """A line for each open code cell longer than ``LONGEST_OPEN_CELL`` lines (the course's rule)."""
    return [
        f"an open code cell of {count} lines (fold it: over {LONGEST_OPEN_CELL}), starting {first!r}"
        for count, first in page.evaluate(OPEN_CELLS)
        if count > LONGEST_OPEN_CELL
    ]


# Each image of the article: where it comes from, its width in the file and as shown, and the link
# around it.
IMAGES = """[...document.querySelectorAll('article.bd-article img')].map(i =>
  [i.getAttribute('src'), i.currentSrc, i.naturalWidth, i.getBoundingClientRect().width,
   i.closest('a[href]') ? i.closest('a[href]').href : null])"""


def figure_problems(page, base: str, root: Path, legible: bool = True) -> list[str]:
    """A line for each figure (a PNG of the site) that is not a link to its own file or, if
    ``legible``, whose smallest text is shown under ``figures.MIN_SHOWN_PX`` (the figure's PNG says
    how large that text is in the file; the page's scale does the rest)."""
    problems = []
    for src, url, natural, shown, link in page.evaluate(IMAGES):
        target = local_target(url, base, root)
        if target is None or target[0].suffix != ".png" or not natural:
            continue
        if link != url:
            problems.append(f"figure {src} does not open full size (its link: {link})")
        if not legible or not shown:
            continue
        px = figures.smallest_text_px(target[0].read_bytes())
        if px is None:
            problems.append(f"figure {src} says nothing of its text's size: make it with figures.glue_figure")
        elif px * shown / natural < figures.MIN_SHOWN_PX:
            problems.append(
                f"figure {src}: its smallest text is {px * shown / natural:.1f} px as shown "
                f"({px:.1f} px in the file, shown at {shown / natural:.0%}), under {figures.MIN_SHOWN_PX:g} px"
            )
    return problems


def wider_than_screen(page) -> list[str]:
    width, inner = page.evaluate("[document.documentElement.scrollWidth, innerWidth]")
    if width <= inner:
        return []
    return [f"the page is {width} px wide on a {inner} px screen ({'; '.join(page.evaluate(STICKING_OUT))})"]


# Elements that stick out of the screen, outside any box that scrolls or clips them: what widens it.
STICKING_OUT = """(() => {
  const clipped = e => { for (let a = e.parentElement; a && a !== document.body; a = a.parentElement) {
    if (getComputedStyle(a).overflowX !== 'visible') return true; } return false; };
  return [...document.querySelectorAll('body *')]
    .filter(e => e.getBoundingClientRect().right > innerWidth + 1 && !clipped(e))
    .filter(e => ![...e.children].some(c => c.getBoundingClientRect().right > innerWidth + 1))
    .slice(0, 3).map(e => `<${e.tagName.toLowerCase()} class="${e.className}">: ` +
                         `${Math.round(e.getBoundingClientRect().right)} px, ${e.textContent.trim().slice(0, 60)}`);
})()"""
OPEN = (
    "(id) => { const d = document.getElementById(id); return !!(d && d.open && d.getBoundingClientRect().width > 0); }"
)


def narrow_problems(page) -> list[str]:
    """What a reader on a narrow screen meets: a page wider than the screen (and what widens it), and a
    menu or contents button that opens nothing."""
    problems = wider_than_screen(page)
    for label, button, dialog in (
        ("menu (☰)", ".primary-toggle", "pst-primary-sidebar-modal"),
        ("contents", ".secondary-toggle", "pst-secondary-sidebar-modal"),
    ):
        visible = page.locator(f"{button}:visible")
        if not visible.count():
            if label.startswith("menu"):
                problems.append("no visible menu (☰) button")
            continue
        visible.first.click()
        try:
            page.wait_for_function(OPEN, arg=dialog, timeout=3_000)
        except PlaywrightTimeout:
            problems.append(f"the {label} button opens nothing")
            continue
        links = page.locator(f"#{dialog} a:visible")
        if not links.count():
            problems.append(f"the {label} button opens an empty panel")
        page.keyboard.press("Escape")
        page.wait_for_function(f"!({OPEN})({json.dumps(dialog)})", timeout=3_000)
    return problems


CHAPTER_PAGES = [p for p in toc_pages() if re.fullmatch(r"book/\d\d-[\w-]+", p)]


def test_a_click_on_a_figure_opens_it_full_size(site, browser):
    with Visit(browser, f"{site}book/04-momentum-adam-adamw.html", 1366, 900) as visit:
        figure = visit.page.locator("article.bd-article figure img").first
        src = figure.evaluate("img => img.currentSrc")
        natural, shown = figure.evaluate("img => [img.naturalWidth, img.getBoundingClientRect().width]")
        with visit.page.expect_navigation():
            figure.click()
        assert visit.page.url == src and natural >= shown, (visit.page.url, src, natural, shown)


def _glossary_terms() -> tuple[list[str], list[str]]:
    spec = importlib.util.spec_from_file_location("glossary_links", REPO_ROOT / "book" / "_ext" / "glossary_links.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.glossary_terms((REPO_ROOT / "book" / "glossary.md").read_text())


# The first use of each glossary term in the article, in reading order: in prose for a prose term, as
# inline code of exactly its text for a name from torch. Each must sit in a link to the glossary.
UNLINKED_TERMS = r"""([prose, code]) => {
  const skip = 'pre, h1, h2, h3, h4, h5, h6, .admonition-title, figcaption, .caption, .math, mjx-container';
  const seen = new Set(), missing = [];
  const glossary = e => { const a = e.closest('a'); return a && /glossary\.html#/.test(a.getAttribute('href')); };
  const esc = t => t.split('').map(c => /[\w\s-]/.test(c) ? c : '\\' + c).join('');
  const words = t => new RegExp('(?<![\\w-])' + esc(t) + '(?![\\w-])', /[A-Z]/.test(t) ? '' : 'i');
  const walker = document.createTreeWalker(document.querySelector('article.bd-article'), NodeFilter.SHOW_TEXT);
  for (let t = walker.nextNode(); t; t = walker.nextNode()) {
    const el = t.parentElement;
    if (el.closest(skip)) continue;
    const link = el.closest('a');
    if (link && !glossary(el)) continue;
    const inCode = el.closest('code');
    const terms = inCode ? code.filter(term => inCode.textContent === term)
                         : prose.filter(term => words(term).test(t.textContent));
    for (const term of terms) {
      if (seen.has(term)) continue;
      seen.add(term);
      if (!glossary(el)) missing.push(term);
    }
  }
  return missing;
}"""


def test_the_glossary_check_fails_on_a_chapter_without_its_links(site, browser):
    with Visit(browser, f"{site}book/04-momentum-adam-adamw.html") as visit:
        linked = visit.page.evaluate("[...document.querySelectorAll('a.glossary-link')].map(a => a.textContent)")
        visit.page.evaluate("document.querySelectorAll('a.glossary-link').forEach(a => a.replaceWith(...a.childNodes))")
        missing = visit.page.evaluate(UNLINKED_TERMS, list(_glossary_terms()))
    assert len(linked) >= 10 and {"exp_avg", "weight decay"} <= set(missing), (linked, missing)
    assert len(missing) == len(linked), (sorted(linked), sorted(missing))


def test_the_narrow_checks_fail_without_the_course_fixes(site, browser):
    """Without the site's page_layout script and style (pydata-sphinx-theme as it comes), the checks
    must see what a phone's reader saw: buttons that open nothing, and a page wider than the screen."""

    def unfixed(page):
        page.route("**/page_layout.*", lambda route: route.abort())

    page_name = "book/07-foreach-fused"
    with Visit(browser, f"{site}{page_name}.html", *NARROW["phone"], before=unfixed) as visit:
        typeset(visit.page)
        found = "\n".join(narrow_problems(visit.page))
    for fault in ("the menu (☰) button opens nothing", "the contents button opens nothing", "px wide on a 390 px"):
        assert fault in found, f"{fault!r} not reported; found:\n{found}"


def test_the_search_page_finds_adamw(site, browser):
    with Visit(browser, f"{site}search.html?q=AdamW") as visit:
        visit.page.wait_for_function(
            "document.querySelectorAll('#search-results ul.search li').length > 0", timeout=20_000
        )
        hits = visit.page.evaluate("[...document.querySelectorAll('#search-results ul.search li a')].map(a => a.href)")
        assert any("04-momentum-adam-adamw.html" in hit for hit in hits), hits
        assert not visit.problems, "\n".join(visit.problems)


def test_the_sidebar_lists_the_pages_of_the_toc_in_order(site, browser):
    with Visit(browser, f"{site}{toc_pages()[0]}.html") as visit:
        hrefs = visit.page.evaluate(
            "[...document.querySelectorAll('.bd-sidenav a.reference.internal')]"
            ".map(a => new URL(a.getAttribute('href'), location.href).pathname)"
        )
    listed = [href.lstrip("/").removesuffix(".html") for href in hrefs]
    assert listed == toc_pages(), "the sidebar and _toc.yml disagree"
    built = {
        p.relative_to(HTML).with_suffix("").as_posix()
        for p in HTML.glob("**/*.html")
        if not p.relative_to(HTML).parts[0].startswith(("_", "."))
    }
    assert built - {"index", "genindex", "search"} == set(toc_pages()), (
        "pages built that _toc.yml does not list, or the reverse"
    )


def test_linkcheck_finds_no_broken_link_and_marks_external_ones_unchecked():
    done = build_at_root("--builder", "linkcheck")
    output = HTML / "output.json"  # Jupyter Book writes the linkcheck report there
    entries = [json.loads(line) for line in output.read_text().splitlines() if line.strip()]
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    broken = [e for e in entries if e["status"] == "broken"]
    assert not broken, broken
    external = [e for e in entries if e["uri"].startswith(("http://", "https://"))]
    assert external and all(e["status"] == "ignored" for e in external)


BROKEN = """<!DOCTYPE html><html><head><title>broken</title>
<script>window.noSuchFunction();</script></head><body><article class="bd-article">
<h1 id="top">A page with every fault</h1>
<p>The loss is {glue:text}`loss` after training, as chapter 4 explains.</p>
<p>Inline maths nobody typeset: <span class="math">\\(x^2\\)</span></p>
<div class="mermaid">flowchart LR; A --> B</div>
<img src="missing.png" alt="a picture that is not there">
<img src="dot.svg">
<a href="nowhere.html">a page the site lacks</a> <a href="#no-such-anchor">an anchor the page lacks</a>
<div class="output traceback"><pre>Traceback (most recent call last): ValueError</pre></div>
<details><summary>a hidden cell</summary><div class="highlight"><pre>fine = 1
overlong = [ONES]
</pre></div></details>
</article></body></html>""".replace("ONES", ", ".join(["1.0"] * 80))  # 400 characters: wider than any column


def test_the_page_checks_catch_every_fault_of_a_broken_page(browser, tmp_path):
    (tmp_path / "broken.html").write_text(BROKEN)
    (tmp_path / "dot.svg").write_text(
        '<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"><rect width="4" height="4"/></svg>'
    )
    with serving(tmp_path) as base, Visit(browser, f"{base}broken.html") as visit:
        found = "\n".join(page_problems(visit, base, tmp_path))
    for fault in (
        "MathJax never started",
        "a mermaid diagram was never drawn",
        "script error",
        "HTTP 404",
        "a traceback",
        "raw text '{glue:text}'",
        "formulas left as TeX",
        "image missing.png did not load",
        "image dot.svg has no alt text",
        "nowhere.html, which the site lacks",
        "#no-such-anchor",
        "a code block wider than its column",
        "chars: overlong = [1.0, 1.0",
        "a chapter named as plain text, not a link: ['chapter 4']",
    ):
        assert fault in found, f"{fault!r} not reported; found:\n{found}"


BROKEN_SCREENS = """<!DOCTYPE html><html><head><title>broken</title></head><body>
<div class="bd-sidebar-primary" style="display: none"><nav class="bd-sidenav"><a href="#">hidden</a></nav></div>
<article class="bd-article"><h1>A chapter with every fault a screen shows</h1>
<p>A paragraph about weight decay, with no link to the glossary.</p>
<figure><img src="tiny.png" alt="a figure whose labels are 5 points"></figure>
<figure><a href="elsewhere.html"><img src="plain.png" alt="a figure made without its measure"></a></figure>
<div class="cell_input"><pre>LINES</pre></div>
<div style="width: 1600px">a table wider than any screen</div>
</article></body></html>""".replace("LINES", "\n".join(f"x{i} = {i}" for i in range(30)))


def test_the_screen_checks_catch_every_fault_of_a_broken_page(browser, tmp_path):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(11, 3))
    ax.plot([0, 1], label="five points")
    ax.legend(fontsize=5)
    (tmp_path / "tiny.png").write_bytes(figures.figure_png(fig))
    fig.savefig(tmp_path / "plain.png")
    plt.close(fig)
    (tmp_path / "broken.html").write_text(BROKEN_SCREENS)
    with serving(tmp_path) as base, Visit(browser, f"{base}broken.html") as visit:
        found = "\n".join(screen_problems(visit.page, "book/05-state-checkpointing", base, tmp_path))
    for fault in (
        "at 1366 px (desktop): figure tiny.png: its smallest text is 6.",  # 5 pt at 100 dpi, shown at 1090 px
        "at 768 px (tablet): figure tiny.png: its smallest text is",
        "figure plain.png says nothing of its text's size",
        "at 390 px (phone): figure tiny.png does not open full size",
        "figure plain.png does not open full size (its link: http",
        "at 1366 px (desktop): the page is",
        "at 390 px (phone): the page is",
        "the chapter list is not shown beside the page",
        "no visible menu (☰) button",
        "0 chapter boxes",
        "0 key takeaways, not 1 to 7",
        "the first use of these glossary terms is not a link: ['weight decay']",
        "the resume checklist lacks ['load_state_dict', 'deepcopy', 'weights_only', 'scheduler']",
        "an open code cell of 30 lines (fold it: over 25), starting 'x0 = 0'",
    ):
        assert fault in found, f"{fault!r} not reported; found:\n{found}"
    assert "at 390 px (phone): figure tiny.png: its smallest" not in found  # a phone's reader opens it


def test_linkcheck_fails_on_a_broken_internal_link_and_lists_external_ones_as_ignored(tmp_path):
    # MyST resolves internal links as cross-references, so a broken one is a warning of the linkcheck
    # build itself (an error, with -W); Sphinx's link report lists only the external ones
    (tmp_path / "_config.yml").write_text(
        'title: t\nexecute:\n  execute_notebooks: "off"\nsphinx:\n  config:\n'
        f"    linkcheck_ignore: {json.dumps(CONFIG['sphinx']['config']['linkcheck_ignore'])}\n"
    )
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: intro\n")
    (tmp_path / "intro.md").write_text("# Intro\n\nSee [the next page](no-such-page.md) and <https://example.com>.\n")
    done = jupyter_book("build", ".", "-W", "--keep-going", "--builder", "linkcheck", cwd=tmp_path)
    assert done.returncode != 0 and "no-such-page.md" in done.stdout + done.stderr
    report = [json.loads(line) for line in (tmp_path / "_build" / "html" / "output.json").read_text().splitlines()]
    assert report == [{**report[0], "uri": "https://example.com", "status": "ignored"}]
