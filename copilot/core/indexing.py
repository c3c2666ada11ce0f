"""What an indexing run reports: live progress as it goes, a summary at the end."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Protocol

OCR_SHARE = 0.95  # of a scanned file's time, what reading its pages takes (embedding is the rest)


class Progress(Protocol):
    """Live progress of a run (the CLI draws a bar from it).

    Work is measured in bytes of files to look at: the only size known for
    every file before it is read, so the ETA covers the whole run.  `read`
    says a scanned page of the current file has been read by OCR (`page` of
    its `pages`): seconds a page, so a scan moves the bar while it is read.
    """

    def start(self, files: int, total_bytes: int) -> None: ...
    def file(self, source: str, size: int) -> None: ...
    def read(self, page: int, pages: int) -> None: ...
    def advance(self, pages: int, chunks: int, fraction: float) -> None: ...
    def done(self, source: str) -> None: ...


class Silent:
    """A `Progress` that shows nothing."""

    def start(self, files: int, total_bytes: int) -> None: ...
    def file(self, source: str, size: int) -> None: ...
    def read(self, page: int, pages: int) -> None: ...
    def advance(self, pages: int, chunks: int, fraction: float) -> None: ...
    def done(self, source: str) -> None: ...


class Tally:
    """A `Progress` that keeps count: files, pages (and of them, read by OCR), chunks,
    and bytes done of the whole.

    What draws progress (the CLI's bar, the app's index screen) subclasses it
    and shows the counts in `changed()`, called after every update.
    """

    def __init__(self) -> None:
        self.files = self.total_files = self.pages = self.chunks = self.ocr_pages = 0
        self.total_bytes = self.done_bytes = 0  # done: of the files finished
        self.size = self.part = 0  # the current file's size, and its bytes embedded so far
        self.current = ""

    @property
    def fraction(self) -> float:
        """How far the run is, by bytes, part-way through the current file too."""
        return (self.done_bytes + self.part) / max(self.total_bytes, 1)

    def start(self, files: int, total_bytes: int) -> None:
        self.total_files, self.total_bytes = files, total_bytes
        self.changed()

    def file(self, source: str, size: int) -> None:
        self.current, self.size, self.part = source, size, 0
        self.changed()

    def read(self, page: int, pages: int) -> None:
        # Reading is nearly all of a scan's time: its pages move the bar through the file.
        self.ocr_pages += 1
        self.part = max(self.part, int(self.size * OCR_SHARE * page / max(pages, 1)))
        self.changed()

    def advance(self, pages: int, chunks: int, fraction: float) -> None:
        self.pages += pages
        self.chunks += chunks
        self.part = max(self.part, int(self.size * fraction))
        self.changed()

    def done(self, source: str) -> None:
        self.files += 1
        self.done_bytes += self.size
        self.size = self.part = 0
        self.changed()

    def changed(self) -> None:
        """Show the counts (nothing here)."""


@dataclass
class Summary:
    """What one run did."""

    files: int = 0
    indexed: int = 0
    unchanged: int = 0
    removed: int = 0
    pages: int = 0
    ocr_pages: int = 0  # of `pages`, those read from scans by OCR
    chunks: int = 0
    ignored: dict[str, int] = field(default_factory=dict)  # unsupported suffix → files
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (file, reason)
    partial: list[tuple[str, str]] = field(default_factory=list)  # (file, what was not read)
    seconds: float = 0.0

    def line(self) -> str:
        """The one-line summary printed at the end of `copilot index`."""
        scanned = f", {self.ocr_pages} read by OCR" if self.ocr_pages else ""
        return (
            f"{self.files} files: {self.indexed} indexed ({self.pages} pages{scanned}, "
            f"{self.chunks} chunks embedded), {self.unchanged} unchanged, "
            f"{self.removed} removed, {len(self.skipped)} skipped; {self.seconds:.1f} s"
        ) + self._ignored_note()

    def _ignored_note(self) -> str:
        if not self.ignored:
            return ""
        kinds = ", ".join(f"{n} {suffix}" for suffix, n in sorted(self.ignored.items()))
        n = sum(self.ignored.values())
        return f"\n{n} file{'s' if n > 1 else ''} of unsupported type not read ({kinds})"

    def to_dict(self) -> dict:
        """A JSON-ready form (`copilot index --json`)."""
        data = asdict(self)
        data["skipped"] = [{"file": f, "reason": r} for f, r in self.skipped]
        data["partial"] = [{"file": f, "problem": p} for f, p in self.partial]
        return data
