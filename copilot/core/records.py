"""The records indexing and retrieval pass along: a loader's `Page`s, the file they came
from (`Document`), the chunker's `Chunk`s, the store's `Hit`s for a question, a source as
the user sees it cited (`Citation`), and the file ledger's row (`Entry`).

Frozen dataclasses only: any stage can be replaced by a fake that makes them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from copilot.core.walls import DEFAULT_COLLECTION


@dataclass(frozen=True)
class Page:
    """A run of a document's text with one place to cite.

    `number` is the printed page (PDF) or 0 for formats without pages (Word,
    HTML, e-mail, Markdown, text); `heading` is the path of headings above the
    text ("Chapter 3 > Leave > Sick leave"), empty where there are none.  A
    chunk never spans two `Page`s, so each chunk has one page and one heading.
    `ocr` marks text read from a scanned image rather than a text layer.
    """

    number: int
    text: str
    heading: str = ""
    ocr: bool = False


@dataclass(frozen=True)
class Document:
    """What a loader makes of one file.

    `title` and `meta` (author, date, e-mail headers...) describe the whole
    file; `problems` says what could not be read in a file that was otherwise
    read ("pages 3, 4: corrupt content stream"), so the user is told.
    """

    pages: tuple[Page, ...]
    title: str = ""
    meta: dict[str, str] = field(default_factory=dict)
    problems: tuple[str, ...] = ()


def place(page: int, heading: str) -> str:
    """Where a passage is, as users read it: "page 4", "Leave > Sick leave"."""
    parts = [f"page {page}"] if page else []
    if heading:
        parts.append(heading)
    return ", ".join(parts)


@dataclass(frozen=True)
class Chunk:
    """A piece of one page, small enough for the embedder's window."""

    path: str  # absolute path of the source file
    source: str  # the name shown to users: path relative to the indexed folder
    page: int
    number: int  # position of the chunk within its document, from 0
    text: str
    doc_sha256: str
    heading: str = ""
    collection: str = DEFAULT_COLLECTION  # who may read it: see copilot.engine.access
    ocr: bool = False  # read from a scanned image (OCR), not a text layer: cite it as such

    @property
    def id(self) -> str:
        """A stable id: one file, one version, one position.

        The path is part of it: two copies of one document in different
        folders are two sources, and deleting one must not touch the other.
        """
        from hashlib import sha256

        where = sha256(self.path.encode()).hexdigest()[:12]
        return f"{where}-{self.doc_sha256[:16]}:{self.number}"

    @property
    def embed_text(self) -> str:
        """What the embedder reads: the heading path gives a short passage its context."""
        return f"{self.heading}\n{self.text}" if self.heading else self.text


@dataclass(frozen=True)
class Hit:
    """A chunk retrieved for a question, with its similarity (higher is closer)."""

    chunk: Chunk
    score: float


@dataclass(frozen=True)
class Citation:
    """A numbered source (a passage) as the user sees it listed and cited."""

    n: int
    source: str
    path: str
    page: int
    score: float
    text: str
    heading: str = ""
    chunk_id: str = ""  # which stored passage (for the audit trail)
    sha256: str = ""  # of the document version it came from
    ocr: bool = False  # the passage was read from a scan: its words are OCR's reading

    @property
    def place(self) -> str:
        """"page 4" and/or the heading path: where in the file the passage is."""
        return place(self.page, self.heading)

    @property
    def mark(self) -> str:
        """" (OCR)" for a passage read from a scan (its words are OCR's reading), else ""."""
        return " (OCR)" if self.ocr else ""

    def label(self) -> str:
        """`[n] file, page N`: the form users read citations in (`(OCR)` after a scan's)."""
        where = self.place
        return f"[{self.n}] {self.source}" + (f", {where}" if where else "") + self.mark


@dataclass(frozen=True)
class Entry:
    """One file's row."""

    path: str
    source: str
    size: int
    mtime_ns: int
    sha256: str
    status: str
    reason: str = ""
    pages: int = 0
    chunks: int = 0
    updated: float = 0.0
    title: str = ""
    collection: str = DEFAULT_COLLECTION
    ocr_pages: int = 0  # pages read from scans by OCR

    @property
    def notes(self) -> str:
        """What a status listing says of the file: why it was skipped or what was not read,
        and how many of its pages were read from scans (OCR's reading, not a text layer)."""
        scanned = f"{self.ocr_pages} page{'s' if self.ocr_pages > 1 else ''} read by OCR" if self.ocr_pages else ""
        return "; ".join(part for part in (scanned, self.reason) if part)
