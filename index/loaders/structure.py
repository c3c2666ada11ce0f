"""Shared pieces of the loaders: text cleaning and heading-aware sections."""

from __future__ import annotations

import re

from copilot.core.records import Page
from copilot.core.sanitize import printable

MAX_HEADING = 120  # characters of heading path kept: the deepest part matters most


def clean(text: str) -> str:
    """Printable text (`copilot.core.sanitize.printable`: no NULs, controls or escapes, line ends
    as \n) with runs of spaces collapsed and paragraph breaks kept."""
    text = printable(text)
    text = re.sub(r"[ \t\u00a0\u2000-\u200b]+", " ", text)
    text = re.sub(r" *\n *", "\n", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def one_line(text: str) -> str:
    """A heading or table cell as one tidy line."""
    return " ".join(text.split())


class Sections:
    """Collects paragraphs under the current heading path, one `Page` per section.

    Formats without pages (Word, HTML, Markdown, e-mail) become a list of
    sections: each keeps the path of headings above it, which is what a
    citation points at when there is no page number.
    """

    def __init__(self, page: int = 0, prefix: str = ""):
        self.page = page
        self._prefix = prefix
        self._stack: list[tuple[int, str]] = []
        self._paras: list[str] = []
        self._pages: list[Page] = []

    @property
    def path(self) -> str:
        parts = [self._prefix] if self._prefix else []
        parts += [title for _, title in self._stack]
        path = " > ".join(parts)
        return path if len(path) <= MAX_HEADING else "…" + path[-(MAX_HEADING - 1):]

    def heading(self, level: int, title: str) -> None:
        """Start a section under a heading of `level` (1 is the top)."""
        title = one_line(title)
        if not title:
            return
        self._flush()
        while self._stack and self._stack[-1][0] >= level:
            self._stack.pop()
        self._stack.append((level, title))

    def para(self, text: str) -> None:
        """Add a paragraph (or a table row) to the current section."""
        text = text.strip()
        if text:
            self._paras.append(text)

    def scanned(self, text: str) -> None:
        """Add what OCR read on an image (a scanned page pasted in) as a section of its own:
        it is cited like the text around it, and marked as OCR's reading."""
        text = text.strip()
        if text:
            self._flush()
            self._pages.append(Page(self.page, text, self.path, ocr=True))

    def _flush(self) -> None:
        if self._paras:
            self._pages.append(Page(self.page, "\n\n".join(self._paras), self.path))
            self._paras = []

    def pages(self) -> list[Page]:
        """Every section with text, in reading order."""
        self._flush()
        return self._pages
