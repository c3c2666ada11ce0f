"""Turning files into `Document`s, or into a clear reason they cannot be.

Each format has its own module; `load` picks one by file extension.  A file
that cannot be read raises `SkipFile` whose message is the reason the user
sees ("encrypted: needs a password", "corrupt: startxref not found"): it never
takes the rest of the run down with it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from copilot.core.errors import IndexCancelled, SkipFile
from copilot.core.records import Document
from copilot.core.sanitize import printable

Source = Path | bytes  # a file, or the bytes of an e-mail attachment


@dataclass(frozen=True)
class Reading:
    """How files are read: the passwords tried on encrypted ones (after the empty
    password), whether pages with no text layer are read by OCR, and who is told
    each time a page has been (`read(page, pages)`: OCR is slow, progress shows it)."""

    passwords: tuple[str, ...] = ()
    ocr: bool = True
    read: Callable[[int, int], None] = field(default=lambda page, pages: None, compare=False)


Loader = Callable[[Source, Reading], Document]

# Why a scan was not read; `awaits_ocr` knows them all, so a file skipped for it is
# read on the next run that can (OCR installed, or turned back on).
OCR_MISSING = "OCR not available"
OCR_OFF = "OCR is turned off: ocr in config.toml"


def unread_scan(reading: Reading, what: str = "scanned") -> str:
    """The reason a scan (or an image file: `what` it is) was not read."""
    return f"no extractable text ({what}; {OCR_OFF if not reading.ocr else OCR_MISSING})"


def awaits_ocr(reason: str) -> bool:
    """Whether a recorded reason (or problem) says scans were left unread."""
    return OCR_MISSING in reason or OCR_OFF in reason


# suffix → (module in this package, function); modules are imported on first use,
# so a run over Markdown never imports PDFium.  Every loader takes
# (source, reading): PDF, Word, images and e-mail (for what it attaches) use it.
FORMATS: dict[str, tuple[str, str]] = {
    ".pdf": ("pdf", "load_pdf"),
    ".docx": ("word", "load_docx"),
    ".docm": ("word", "load_docx"),
    ".html": ("web", "load_html"),
    ".htm": ("web", "load_html"),
    ".xhtml": ("web", "load_html"),
    ".eml": ("mail", "load_eml"),
    ".md": ("text", "load_markdown"),
    ".markdown": ("text", "load_markdown"),
    ".txt": ("text", "load_text"),
    ".text": ("text", "load_text"),
    ".png": ("image", "load_image"),
    ".jpg": ("image", "load_image"),
    ".jpeg": ("image", "load_image"),
    ".tif": ("image", "load_image"),
    ".tiff": ("image", "load_image"),
}


def loader(suffix: str) -> Loader | None:
    """The loader for a file extension, or None when the type is not supported."""
    import importlib

    where = FORMATS.get(suffix.lower())
    if where is None:
        return None
    return getattr(importlib.import_module(f"index.loaders.{where[0]}"), where[1])


def supported(path: Path) -> bool:
    """Whether a file has a type we can index."""
    return path.suffix.lower() in FORMATS


def read_bytes(source: Source) -> bytes:
    """The raw bytes, refusing an empty file with the reason users expect."""
    data = source if isinstance(source, bytes) else source.read_bytes()
    if not data.strip():
        raise SkipFile("empty file" + (" (0 bytes)" if not data else ""))
    return data


def reason(exc: BaseException) -> str:
    """An exception as a short, one-line reason."""
    text = printable(str(exc)).strip()  # messages may quote the file's own bytes
    return (text.splitlines()[0] if text else type(exc).__name__)[:160]


def load(path: Path, passwords: Sequence[str] = (), suffix: str | None = None, ocr: bool = True) -> Document:
    """The document in any supported file; `SkipFile` with the reason otherwise.

    `passwords` are tried on encrypted files (after the empty password);
    with `ocr`, scanned pages are read (`index.ocr`) when the engine is installed.
    """
    return load_source(path, suffix or path.suffix, Reading(tuple(passwords), ocr))


def load_source(source: Source, suffix: str, reading: Reading = Reading()) -> Document:
    """`load` for a file or for bytes whose type is given by `suffix`."""
    load_format = loader(suffix)
    if load_format is None:
        raise SkipFile(f"unsupported file type {suffix or '(none)'}")
    try:
        doc = load_format(source, reading)
    except (SkipFile, IndexCancelled):  # a reason already, or the user stopping a long scan
        raise
    except PermissionError:
        raise SkipFile("permission denied") from None
    except (RecursionError, MemoryError):
        raise SkipFile("corrupt: structure nested too deeply or too large") from None
    except Exception as exc:  # a loader bug must not end the run
        raise SkipFile(f"could not be read: {type(exc).__name__}: {reason(exc)}") from None
    if not doc.pages:
        raise SkipFile("no text")
    return _printable(doc)


def _printable(doc: Document) -> Document:
    """The document with no control characters or escape sequences left in what is stored
    and later printed: a file must not be able to drive the terminal of whoever reads it."""
    pages = tuple(replace(p, text=printable(p.text), heading=printable(p.heading)) for p in doc.pages)
    return replace(doc, pages=pages, title=printable(doc.title),
                   meta={printable(k): printable(v) for k, v in doc.meta.items()})
