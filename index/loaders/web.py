"""HTML: the visible text, sectioned by its headings, in the right encoding.

The encoding comes from a byte-order mark, then the document's own
declaration, then UTF-8, then detection (see `text.decode`).  Scripts,
styles, navigation and other non-content elements are dropped before any
text is taken, so none of their words can be indexed.
"""

from __future__ import annotations

import re
from pathlib import Path

from copilot.core.records import Document
from index.loaders import Reading, read_bytes
from index.loaders.structure import Sections, one_line
from index.loaders.text import decode

DROP = ("script", "style", "noscript", "template", "svg", "canvas", "iframe", "object", "nav", "head")
BLOCKS = (
    "p", "div", "section", "article", "main", "aside", "header", "footer", "blockquote", "pre",
    "li", "dt", "dd", "tr", "table", "ul", "ol", "dl", "form", "fieldset", "figure",
    "figcaption", "address", "caption", "br", "hr",
)
_DECLARED = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([\w.:-]+)""", re.IGNORECASE)
_MARK, _HEAD = "\ue000", "\ue001"  # private-use characters: never in real text, never whitespace


def load_html(source: Path | bytes | str, reading: Reading = Reading()) -> Document:
    """Sections of an HTML page, one per heading (a `str` is markup already decoded)."""
    page_title, text = html_text(source if isinstance(source, str) else read_bytes(source))
    sections = Sections()
    for block in text.split(_MARK):
        if block.startswith(_HEAD):  # a heading: _HEAD level _HEAD title
            _, level, heading = block.split(_HEAD, 2)
            sections.heading(int(level), heading)
        else:
            sections.para(one_line(block))
    return Document(tuple(sections.pages()), title=page_title)


def html_text(data: bytes | str) -> tuple[str, str]:
    """The page's title, and its visible text as blocks separated by `_MARK`."""
    from bs4 import BeautifulSoup

    markup = data if isinstance(data, str) else decode(data, declared=_declared(data))
    soup = BeautifulSoup(markup, "html.parser")
    title = one_line(soup.title.get_text()) if soup.title else ""
    for tag in soup(DROP):
        tag.decompose()
    for tag in soup.find_all(attrs={"hidden": True}):
        tag.decompose()
    for tag in soup.find_all(re.compile(r"^h[1-6]$")):
        tag.replace_with(f"{_MARK}{_HEAD}{tag.name[1]}{_HEAD}{one_line(tag.get_text(' '))}{_MARK}")
    for tag in soup.find_all(["td", "th"]):
        tag.append(" | ")
    for tag in soup.find_all(BLOCKS):
        tag.insert_before(_MARK)
        tag.append(_MARK)
    blocks = (b.strip().rstrip("|").strip() for b in soup.get_text().split(_MARK))
    return title, _MARK.join(b for b in blocks if b)


def _declared(data: bytes) -> str | None:
    """The charset a page declares in its first few kilobytes, if any."""
    match = _DECLARED.search(data[:4096])
    return match.group(1).decode("ascii", "replace") if match else None
