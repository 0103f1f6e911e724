"""Send a chapter's readers to its exercise notebook: on Binder, on Colab, as a download, and as a page.

Sphinx-book-theme's launch button opens the page it sits on. On a chapter page that is the page's
own Markdown, which Binder opens as plain text; what a student wants there is the chapter's exercise
notebook. So this extension:

- points the Binder and Colab buttons of each chapter page at ``exercises/<id>/<notebook>.ipynb``
  (Binder in JupyterLab; the repository and branch of ``_config.yml``), and drops them from pages that
  have no exercise;
- adds "student notebook" to the page's download menu;
- provides ``{exercise-links}`` ``<notebook>``, a box in the page's text with the same links: Binder,
  Colab, the download, and the exercise's own page on the site (shown unexecuted).

Which chapter has which notebook comes from the course's one list, ``optimcourse.course.ASSIGNMENTS``.
"""

from __future__ import annotations

from urllib.parse import quote

from docutils import nodes
from sphinx import addnodes
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

from optimcourse.course import ASSIGNMENTS

logger = logging.getLogger(__name__)
BY_NOTEBOOK = {a.notebook: a for a in ASSIGNMENTS}
BY_CHAPTER = {a.chapter_page: a for a in ASSIGNMENTS}


def binder_url(config, path: str) -> str:
    """The mybinder URL that opens ``path`` of the configured repository and branch in JupyterLab."""
    options = config.html_theme_options
    repo = options["repository_url"].rstrip("/").removesuffix(".git")
    org_repo = repo.split("github.com/", 1)[1]
    hub = options["launch_buttons"]["binderhub_url"].rstrip("/")
    branch = options.get("repository_branch") or "main"
    return f"{hub}/v2/gh/{org_repo}/{quote(branch)}?urlpath=lab/tree/{quote(path)}"


def colab_url(config, path: str) -> str:
    """The Colab URL that opens ``path`` of the configured repository and branch."""
    options = config.html_theme_options
    repo = options["repository_url"].rstrip("/").removesuffix(".git")
    org_repo = repo.split("github.com/", 1)[1]
    hub = options["launch_buttons"].get("colab_url", "https://colab.research.google.com").rstrip("/")
    branch = options.get("repository_branch") or "main"
    return f"{hub}/github/{org_repo}/blob/{quote(branch)}/{quote(path)}"


class ExerciseLinks(SphinxDirective):
    """``{exercise-links} manual_updates``: the box that opens, downloads or shows the exercise."""

    required_arguments = 1

    def run(self):
        name = self.arguments[0]
        if name not in BY_NOTEBOOK:
            raise self.error(
                f"exercise-links: no exercise notebook {name!r}; the course has {', '.join(sorted(BY_NOTEBOOK))}"
            )
        assignment = BY_NOTEBOOK[name]
        path = assignment.exercise_file
        box = nodes.container(classes=["exercise-links", "admonition", "tip"])
        box += nodes.paragraph("", "", nodes.strong(text=f"The exercise notebook, {name}.ipynb:"))
        items = nodes.bullet_list()

        def item(*children):
            items.append(nodes.list_item("", nodes.paragraph("", "", *children)))

        item(
            nodes.reference(
                "", "open it in JupyterLab on Binder", refuri=binder_url(self.config, path), classes=["exercise-binder"]
            ),
            nodes.Text(" (nothing to install; the first start can take a few minutes)"),
        )
        item(
            nodes.reference(
                "", "open it in Google Colab", refuri=colab_url(self.config, path), classes=["exercise-colab"]
            ),
            nodes.Text(" (a Google account; its first cell installs the course's package)"),
        )
        item(
            addnodes.download_reference(
                "",
                "",
                nodes.literal(text=f"download {name}.ipynb"),
                reftarget=f"/{path}",
                refdoc=self.env.docname,
                refexplicit=True,
                classes=["exercise-download"],
            ),
            nodes.Text(" to work locally (see the README for the set-up)"),
        )
        page = addnodes.pending_xref(
            "",
            nodes.inline(text="read it on this site"),
            refdomain="std",
            reftype="doc",
            reftarget=f"/{path.removesuffix('.ipynb')}",
            refdoc=self.env.docname,
            refexplicit=True,
            refwarn=True,
        )
        item(page, nodes.Text(" (as handed out, not run)"))
        box += items
        return [box]


def _downloaded(app, path: str) -> str | None:
    """Where Sphinx copied ``path`` for a download (``_downloads/<digest>/<name>``), if it did."""
    entry = app.env.dlfiles.get(path)
    return f"_downloads/{entry[1]}" if entry else None


def _header_buttons(app, pagename, templatename, context, doctree) -> None:
    buttons = context.get("header_buttons")
    if buttons is None:
        return
    assignment = BY_CHAPTER.get(pagename)
    launch = next((b for b in buttons if b.get("label") == "launch-buttons"), None)
    if assignment is None:
        on_exercise_page = pagename.startswith("exercises/")
        if launch is not None and not on_exercise_page:
            buttons.remove(launch)  # a Markdown page opens as plain text on Binder: no button
        return
    path = assignment.exercise_file
    if launch is not None:
        for button in launch["buttons"]:
            if button.get("text") == "Binder":
                button["url"] = binder_url(app.config, path)
                button["tooltip"] = "Open this chapter's exercise notebook on Binder"
            elif button.get("text") == "Colab":
                button["url"] = colab_url(app.config, path)
                button["tooltip"] = "Open this chapter's exercise notebook in Google Colab"
    copy = _downloaded(app, path)
    download = next((b for b in buttons if b.get("label") == "download-buttons"), None)
    if copy and download is not None:
        download["buttons"].insert(
            0,
            {
                "type": "link",
                "url": context["pathto"](copy, 1),
                "text": "exercise .ipynb",
                "tooltip": "Download this chapter's student notebook",
                "icon": "fas fa-graduation-cap",
                "label": "download-exercise-button",
            },
        )


def _every_chapter_links_its_exercise(app, env) -> None:
    for docname, assignment in BY_CHAPTER.items():
        linked_from = env.dlfiles.get(assignment.exercise_file, (set(), None))[0]
        if docname in env.found_docs and docname not in linked_from:  # the chapter itself, not another page
            logger.warning(f"{docname}: no {{exercise-links}} {assignment.notebook} box", location=docname)


def setup(app):
    app.add_directive("exercise-links", ExerciseLinks)
    app.connect("html-page-context", _header_buttons, priority=502)  # after the theme's buttons (501)
    app.connect("env-check-consistency", _every_chapter_links_its_exercise)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
