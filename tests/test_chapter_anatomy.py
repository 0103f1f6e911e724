"""Every chapter has the same anatomy: a box under its title (what it is for, what the reader will be
able to do, the minutes it takes), its key takeaways before the exercise, and no long code cell left
open. Checked on the pages' sources; the browser tests check that the box is on the first screen."""

from __future__ import annotations

import re

import pytest
import yaml

from optimcourse import pages
from optimcourse.course import REPO_ROOT

TOC = yaml.safe_load((REPO_ROOT / "_toc.yml").read_text())
CHAPTERS = [c["file"] for part in TOC["parts"] if part["caption"] == "Chapters" for c in part["chapters"]]
CELL = re.compile(r"^```\{code-cell\}[^\n]*\n(.*?)^```$", re.M | re.S)
FOLDED = ("hide-input", "remove-input", "remove-cell", "hide-cell")
LONGEST_OPEN_CELL = 25


def cells(text: str) -> list[tuple[list[str], list[str]]]:
    """(tags, source lines) of each code cell."""
    out = []
    for body in CELL.findall(text):
        lines = body.splitlines()
        tags = next((re.findall(r"[\w-]+", line.split(":", 2)[2]) for line in lines if line.startswith(":tags:")), [])
        source = [line for line in lines if not line.startswith(":")]
        out.append((tags, source))
    return out


def anatomy_problems(text: str, page: str) -> list[str]:
    """What the page's source lacks of a chapter's anatomy, each as a sentence."""
    problems = []
    body = text.split("---", 2)[2] if text.startswith("---") else text
    after_title = re.split(r"^# .*$", body, maxsplit=1, flags=re.M)[-1].lstrip("\n")
    box = re.match(r":::\{admonition\} This chapter\n:class: chapter-intro\n(.*?)\n:::\n", after_title, re.S)
    if box is None:
        return ["no box 'This chapter' (class chapter-intro) right under the title"]
    inside = box.group(1)
    purpose = re.search(r"\*\*What it is for\.\*\* (.*?)\n\n", inside, re.S)
    if purpose is None or len(purpose.group(1).split()) > 50:
        problems.append("the box's 'What it is for.' is missing or longer than 50 words")
    outcomes = re.search(r"\*\*You will be able to\*\*\n\n((?:- .*\n(?:  .*\n)*)+)", inside)
    count = len(re.findall(r"^- ", outcomes.group(1), re.M)) if outcomes else 0
    if not 3 <= count <= 5:
        problems.append(f"the box lists {count} things the reader will be able to do, not 3 to 5")
    if "{glue:text}`chapter_time`" not in inside or f'glue_chapter_times("{page}")' not in text:
        problems.append(f'the box does not give the minutes (chapter_time, glue_chapter_times("{page}"))')
    sections = re.split(r"^(## .*)$", body, flags=re.M)
    headings = sections[1::2]
    if "## Key takeaways" not in headings:
        problems.append("no '## Key takeaways' section")
    else:
        k = headings.index("## Key takeaways")
        items = len(re.findall(r"^- ", sections[2 + 2 * k], re.M))
        if not 1 <= items <= 7:
            problems.append(f"{items} key takeaways, not 1 to 7")
        following = headings[k + 1 :]
        if following and not re.fullmatch(r"## (The )?[Ee]xercise", following[0]):
            problems.append(f"the key takeaways come before {following[0]!r}, not before the exercise or at the end")
    for tags, source in cells(text):
        if len(source) > LONGEST_OPEN_CELL and not set(tags) & set(FOLDED):
            problems.append(f"a code cell of {len(source)} lines left open (starts {source[0][:40]!r})")
    return problems


@pytest.mark.parametrize("page", CHAPTERS)
def test_every_chapter_has_the_anatomy(page):
    problems = anatomy_problems((REPO_ROOT / f"{page}.md").read_text(), page)
    assert not problems, f"{page}: " + "; ".join(problems)


def test_the_anatomy_check_names_what_a_page_lacks():
    broken = (
        "# 1. A chapter\n\n:::{admonition} This chapter\n:class: chapter-intro\n\n"
        "**What it is for.** " + "word " * 60 + "\n\n**You will be able to**\n\n- one\n- two\n\n:::\n\n"
        "## Key takeaways\n\n" + "- a fact\n" * 8 + "\n## More after it\n\n"
        "```{code-cell} ipython3\n" + "x = 1\n" * 30 + "```\n"
    )
    found = "\n".join(anatomy_problems(broken, "book/01-a"))
    for fault in (
        "longer than 50 words",
        "lists 2 things",
        "does not give the minutes",
        "8 key takeaways",
        "before '## More after it'",
        "a code cell of 30 lines left open",
    ):
        assert fault in found, f"{fault!r} not reported:\n{found}"
    assert anatomy_problems("# 1. A chapter\n\nJust text.\n", "book/01-a") == [
        "no box 'This chapter' (class chapter-intro) right under the title"
    ]


def test_chapter_five_has_the_resume_checklist():
    text = (REPO_ROOT / "book" / "05-state-checkpointing.md").read_text()
    checklist = text.split("## Resuming a run: a checklist", 1)[1].split("\n## ", 1)[0]
    for fact in ("load_state_dict", "deepcopy", "weights_only", "scheduler"):
        assert fact in checklist, fact


def test_advanced_chapters_say_so_and_the_map_lists_them():
    marked = [page for page in CHAPTERS if "**Advanced.**" in (REPO_ROOT / f"{page}.md").read_text()]
    assert marked == ["book/07-foreach-fused", "book/08-differentiable-step"]
    assert "advanced" in (REPO_ROOT / "book" / "intro.md").read_text()


def test_prose_words_leave_out_code_front_matter_and_options():
    text = (
        "---\njupytext: {x: 1}\n---\n\n# Title here\n\nOne two three.\n\n```{code-cell} ipython3\n:tags: [x]\n"
        "a = b + c  # many words in a comment here\n```\n\n:::{admonition} Box\n:class: c\n\n"
        "Four {glue:text}`n` five.\n:::\n\n```python\nnot counted either\n```\n"
    )
    assert pages.prose_words(text) == 2 + 3 + 3  # "# Title here", the sentence, the text in the box


def test_chapter_times_follow_the_rates():
    t = pages.chapter_times("book/01-manual-updates")
    words = pages.prose_words((REPO_ROOT / "book" / "01-manual-updates.md").read_text())
    assert t["read_minutes"] == max(1, round(words / pages.WORDS_PER_MINUTE))
    assert t["exercise_minutes"] == t["exercise_points"] * pages.MINUTES_PER_POINT
    assert pages.chapter_times("book/10-choosing-an-optimizer")["exercise_minutes"] is None
