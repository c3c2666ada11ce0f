"""Turning files into pages of text, or into a clear reason they cannot be.

Each loader takes a path and returns its `Page`s.  A file that cannot be read
raises `SkipFile` whose message is the reason the user sees: it never takes
the rest of the run down with it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from pathlib import Path

from copilot.errors import SkipFile
from copilot.types import Page

Loader = Callable[[Path], list[Page]]

NO_TEXT = "no extractable text (scanned; OCR not available)"


def _clean(text: str) -> str:
    """Collapse runs of spaces, keep paragraph breaks, drop NULs and form feeds."""
    text = text.replace("\x00", "").replace("\x0c", "\n")
    text = re.sub(r"[ \t\u00a0]+", " ", text)
    text = re.sub(r" *\n *", "\n", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def decode(data: bytes) -> str:
    """Bytes to text: BOMs first, then UTF-8, then cp1252 (what Windows writes)."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def load_text(path: Path) -> list[Page]:
    """Plain text and Markdown: one page holding the whole file."""
    data = path.read_bytes()
    if not data.strip():
        raise SkipFile("empty file")
    text = _clean(decode(data))
    if not text:
        raise SkipFile("no text")
    return [Page(1, text)]


def load_pdf(path: Path, password: str | None = None) -> list[Page]:
    """A PDF's pages with their numbers, through pypdf."""
    from pypdf import PdfReader
    from pypdf.errors import FileNotDecryptedError, PdfReadError

    if path.stat().st_size == 0:
        raise SkipFile("empty file (0 bytes)")
    logging.getLogger("pypdf").setLevel(logging.ERROR)  # its warnings are ours to word
    try:
        reader = PdfReader(path, strict=False)
        if reader.is_encrypted and not reader.decrypt(password or ""):
            raise SkipFile("encrypted: needs a password")
        count = len(reader.pages)
    except SkipFile:
        raise
    except FileNotDecryptedError:
        raise SkipFile("encrypted: needs a password") from None
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, OSError) as exc:
        raise SkipFile(f"corrupt: {_reason(exc)}") from None
    except NotImplementedError as exc:
        raise SkipFile(f"unsupported PDF feature: {_reason(exc)}") from None
    pages, failed = [], []
    for number in range(1, count + 1):
        try:
            text = _clean(reader.pages[number - 1].extract_text() or "")
        except Exception:  # one bad page must not cost the others
            failed.append(number)
            continue
        if text:
            pages.append(Page(number, text))
    if not pages:
        if failed:
            raise SkipFile(f"corrupt: no page could be read ({len(failed)} failed)")
        raise SkipFile(NO_TEXT)
    return pages


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:160]


LOADERS: dict[str, Loader] = {
    ".pdf": load_pdf,
    ".md": load_text,
    ".markdown": load_text,
    ".txt": load_text,
    ".text": load_text,
}


def supported(path: Path) -> bool:
    """Whether a file has a type we can index."""
    return path.suffix.lower() in LOADERS


def load(path: Path) -> list[Page]:
    """The pages of any supported file; `SkipFile` with the reason otherwise."""
    loader = LOADERS.get(path.suffix.lower())
    if loader is None:
        raise SkipFile(f"unsupported file type {path.suffix or '(none)'}")
    try:
        return loader(path)
    except SkipFile:
        raise
    except PermissionError:
        raise SkipFile("permission denied") from None
    except RecursionError:
        raise SkipFile("corrupt: structure nested too deeply") from None
    except Exception as exc:  # a loader bug must not end the run
        raise SkipFile(f"could not be read: {type(exc).__name__}: {_reason(exc)}") from None
