"""Turning files into `Document`s, or into a clear reason they cannot be.

Each format has its own module; `load` picks one by file extension.  A file
that cannot be read raises `SkipFile` whose message is the reason the user
sees ("encrypted: needs a password", "corrupt: startxref not found"): it never
takes the rest of the run down with it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from copilot.errors import SkipFile
from copilot.types import Document

Source = Path | bytes  # a file, or the bytes of an e-mail attachment
Loader = Callable[[Source, Sequence[str]], Document]

NO_TEXT = "no extractable text (scanned; OCR not available)"


def _pdf(source: Source, passwords: Sequence[str]) -> Document:
    from index.loaders.pdf import load_pdf

    return load_pdf(source, passwords)


def _docx(source: Source, passwords: Sequence[str]) -> Document:
    from index.loaders.word import load_docx

    return load_docx(source)


def _html(source: Source, passwords: Sequence[str]) -> Document:
    from index.loaders.web import load_html

    return load_html(source)


def _eml(source: Source, passwords: Sequence[str]) -> Document:
    from index.loaders.mail import load_eml

    return load_eml(source, passwords)


def _markdown(source: Source, passwords: Sequence[str]) -> Document:
    from index.loaders.text import load_markdown

    return load_markdown(source)


def _text(source: Source, passwords: Sequence[str]) -> Document:
    from index.loaders.text import load_text

    return load_text(source)


LOADERS: dict[str, Loader] = {
    ".pdf": _pdf,
    ".docx": _docx,
    ".docm": _docx,
    ".html": _html,
    ".htm": _html,
    ".xhtml": _html,
    ".eml": _eml,
    ".md": _markdown,
    ".markdown": _markdown,
    ".txt": _text,
    ".text": _text,
}


def supported(path: Path) -> bool:
    """Whether a file has a type we can index."""
    return path.suffix.lower() in LOADERS


def read_bytes(source: Source) -> bytes:
    """The raw bytes, refusing an empty file with the reason users expect."""
    data = source if isinstance(source, bytes) else source.read_bytes()
    if not data.strip():
        raise SkipFile("empty file" + (" (0 bytes)" if not data else ""))
    return data


def reason(exc: BaseException) -> str:
    """An exception as a short, one-line reason."""
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:160]


def load(path: Path, passwords: Sequence[str] = (), suffix: str | None = None) -> Document:
    """The document in any supported file; `SkipFile` with the reason otherwise.

    `passwords` are tried on encrypted files (after the empty password).
    """
    return load_source(path, suffix or path.suffix, passwords)


def load_source(source: Source, suffix: str, passwords: Sequence[str] = ()) -> Document:
    """`load` for a file or for bytes whose type is given by `suffix`."""
    loader = LOADERS.get(suffix.lower())
    if loader is None:
        raise SkipFile(f"unsupported file type {suffix or '(none)'}")
    try:
        doc = loader(source, passwords)
    except SkipFile:
        raise
    except PermissionError:
        raise SkipFile("permission denied") from None
    except (RecursionError, MemoryError):
        raise SkipFile("corrupt: structure nested too deeply or too large") from None
    except Exception as exc:  # a loader bug must not end the run
        raise SkipFile(f"could not be read: {type(exc).__name__}: {reason(exc)}") from None
    if not doc.pages:
        raise SkipFile("no text")
    return doc
