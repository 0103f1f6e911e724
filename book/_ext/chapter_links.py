"""Every mention of a chapter by number in the prose ("chapter 4", "chapters 7 and 8") becomes a link
to that chapter's page.

The chapters are the pages ``book/NN-*``; their number is NN. A mention inside code, a link, a title
or the chapter's own page stays as written. The site's browser test fails on any "chapter N" left as
plain text in an article.
"""

from __future__ import annotations

import re

from docutils import nodes
from sphinx.transforms.post_transforms import SphinxPostTransform

CHAPTER_PAGE = re.compile(r"^book/(\d\d)-[\w-]+$")
# "chapter 4", "Chapters 7 and 8", "chapters 1, 2 or 3": the word, then numbers joined by , and or to
MENTION = re.compile(r"\b([Cc]hapters?)(\s+)(\d{1,2})\b((?:(?:,\s*|\s+(?:and|or|to)\s+|\s*[\u2013-]\s*)\d{1,2}\b)*)")
NUMBER = re.compile(r"\d{1,2}")
SKIP = (nodes.literal, nodes.literal_block, nodes.reference, nodes.title, nodes.raw, nodes.comment, nodes.target)


def chapters(env) -> dict[int, str]:
    """Chapter number -> docname."""
    found = {}
    for docname in env.found_docs:
        m = CHAPTER_PAGE.match(docname)
        if m:
            found[int(m.group(1))] = docname
    return found


class ChapterLinks(SphinxPostTransform):
    default_priority = 900  # after references are resolved: the new ones are final
    formats = ("html",)

    def run(self, **kwargs) -> None:
        pages = chapters(self.env)
        here = self.env.docname
        for text in list(self.document.findall(nodes.Text)):
            if any(isinstance(a, SKIP) for a in _ancestors(text)) or not MENTION.search(text):
                continue
            text.parent.replace(text, self._linked(str(text), pages, here))

    def _linked(self, source: str, pages: dict[int, str], here: str) -> list[nodes.Node]:
        out: list[nodes.Node] = []
        at = 0
        for m in MENTION.finditer(source):
            numbers = [int(n) for n in NUMBER.findall(m.group(3) + m.group(4))]
            if not all(n in pages for n in numbers) or pages.get(numbers[0]) == here:
                continue
            out.append(nodes.Text(source[at : m.start()]))
            out.append(self._link(m.group(1) + m.group(2) + m.group(3), pages[numbers[0]]))
            rest, offset = m.group(4), m.start(4)
            for k in NUMBER.finditer(rest):
                out.append(nodes.Text(source[offset : m.start(4) + k.start()]))
                out.append(self._link(k.group(), pages[int(k.group())]))
                offset = m.start(4) + k.end()
            at = offset if rest else m.end(3)
        out.append(nodes.Text(source[at:]))
        return [n for n in out if not (isinstance(n, nodes.Text) and not str(n))]

    def _link(self, label: str, docname: str) -> nodes.reference:
        uri = self.app.builder.get_relative_uri(self.env.docname, docname)
        return nodes.reference("", label, internal=True, refuri=uri, classes=["chapter-link"])


def _ancestors(node: nodes.Node):
    node = node.parent
    while node is not None:
        yield node
        node = node.parent


def setup(app):
    app.add_post_transform(ChapterLinks)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
