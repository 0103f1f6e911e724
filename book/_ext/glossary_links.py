"""The first use of each glossary term in a chapter links to its entry on the glossary page.

The terms are read from the glossary's own source (``book/glossary.md``, its ``{glossary}`` block):
a term written in backticks (`` `exp_avg` ``) is a name from torch and is matched as inline code with
exactly that text; any other (bias correction, AMSGrad) is matched in the prose, as a whole word or
phrase, ignoring case unless the term has capitals. In each chapter page (``book/NN-*``), the first
match of each term becomes a link; matches inside links, code blocks and titles are left alone.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

from docutils import nodes
from sphinx.transforms.post_transforms import SphinxPostTransform

GLOSSARY = "book/glossary"
CHAPTER_PAGE = re.compile(r"^book/\d\d-[\w-]+$")
SKIP = (
    nodes.reference,
    nodes.title,
    nodes.literal_block,
    nodes.raw,
    nodes.comment,
    nodes.target,
    nodes.caption,
    nodes.math,
    nodes.math_block,
)


def glossary_terms(source: str) -> tuple[list[str], list[str]]:
    """(prose terms, code terms) of the ``{glossary}`` block of ``source``, in order."""
    block = source.split("```{glossary}", 1)[1].split("\n```", 1)[0]
    prose, code = [], []
    for line in block.splitlines():
        if not line.strip() or line.startswith((" ", "\t", ":")):
            continue
        term = line.strip()
        if term.startswith("`") and term.endswith("`"):
            code.append(term.strip("`"))
        else:
            prose.append(term)
    return prose, code


@functools.cache
def _pattern(term: str) -> re.Pattern[str]:
    flags = 0 if any(c.isupper() for c in term) else re.IGNORECASE
    return re.compile(rf"(?<![\w-]){re.escape(term)}(?![\w-])", flags)


class GlossaryLinks(SphinxPostTransform):
    default_priority = 910
    formats = ("html",)

    def run(self, **kwargs) -> None:
        here = self.env.docname
        std = self.env.get_domain("std")
        if not CHAPTER_PAGE.match(here) or GLOSSARY not in self.env.found_docs:
            return
        prose, code = glossary_terms((Path(self.env.srcdir) / f"{GLOSSARY}.md").read_text())
        anchors = {name: label for (kind, name), (doc, label) in std.objects.items() if kind == "term"}
        uri = self.app.builder.get_relative_uri(here, GLOSSARY)

        def link(label: str, child: nodes.Node) -> nodes.reference:
            ref = nodes.reference("", "", internal=True, refuri=f"{uri}#{label}", classes=["glossary-link"])
            ref += child
            return ref

        linked: set[str] = set()
        for node in list(self.document.findall(lambda n: isinstance(n, (nodes.Text, nodes.literal)))):
            if node.parent is None or any(isinstance(a, SKIP) for a in _ancestors(node)):
                continue
            if isinstance(node, nodes.literal):
                term = node.astext()
                if term in code and term not in linked and term in anchors:
                    linked.add(term)
                    node.parent.replace(node, link(anchors[term], node.deepcopy()))
                continue
            if any(isinstance(a, nodes.literal) for a in _ancestors(node)):
                continue
            self._link_in_text(node, prose, anchors, linked, link)

    def _link_in_text(self, node, prose, anchors, linked, link) -> None:
        """Link the earliest unlinked prose term in this text, then look again in the rest of it."""
        text = str(node)
        first = None
        for term in prose:
            if term in linked or term not in anchors:
                continue
            m = _pattern(term).search(text)
            if m and (first is None or m.start() < first[1].start()):
                first = (term, m)
        if first is None:
            return
        term, m = first
        linked.add(term)
        tail = nodes.Text(text[m.end() :])
        parts = [nodes.Text(text[: m.start()]), link(anchors[term], nodes.Text(m.group())), tail]
        node.parent.replace(node, [p for p in parts if not (isinstance(p, nodes.Text) and not str(p))])
        if str(tail):
            self._link_in_text(tail, prose, anchors, linked, link)


def _ancestors(node: nodes.Node):
    node = node.parent
    while node is not None:
        yield node
        node = node.parent


def setup(app):
    app.add_post_transform(GlossaryLinks)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
