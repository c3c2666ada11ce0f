"""Word (.docx): paragraphs and tables in reading order, under their headings.

Word files carry no page numbers (pages exist only once Word lays the text
out), so passages are cited by their heading path.  Table rows become one
line each, cells joined by " | ", so a row is found and quoted whole.
"""

from __future__ import annotations

import io
import re
import zipfile
import zlib
from collections.abc import Sequence
from pathlib import Path

from copilot.errors import SkipFile
from copilot.types import Document
from index.loaders import read_bytes, reason
from index.loaders.structure import Sections, one_line

OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # encrypted .docx files are OLE containers, not zips
_HEADING = re.compile(r"^(?:heading\s*(\d)|title)$", re.IGNORECASE)


def load_docx(source: Path | bytes, passwords: Sequence[str] = ()) -> Document:
    """Sections of a Word document, one per heading, tables included."""
    import docx
    from docx.opc.exceptions import PackageNotFoundError

    data = read_bytes(source)
    if data.startswith(OLE_MAGIC):
        raise SkipFile("encrypted: needs a password (protected Word file; save it unprotected to index it)")
    try:
        document = docx.Document(io.BytesIO(data))
    # A damaged zip fails in many ways: bad offsets (ValueError), cut streams (EOFError,
    # zlib.error), broken XML inside (lxml's XMLSyntaxError is a SyntaxError).
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError, EOFError, zlib.error,
            NotImplementedError, SyntaxError) as exc:
        raise SkipFile(f"corrupt: not a readable Word file ({reason(exc)})") from None
    sections = Sections()
    for block in document.iter_inner_content():
        if hasattr(block, "rows"):
            for row in _rows(block):
                sections.para(row)
            continue
        level = _level(block)
        if level:
            sections.heading(level, block.text)
        else:
            sections.para(block.text)
    props = document.core_properties
    meta = {k: str(v) for k, v in (("author", props.author), ("created", props.created)) if v}
    return Document(tuple(sections.pages()), title=props.title or "", meta=meta)


def _level(paragraph) -> int:
    """1–9 for a heading paragraph (Title counts as 1), 0 otherwise."""
    try:
        name = paragraph.style.name if paragraph.style is not None else ""
    except (KeyError, ValueError):  # a style id the file never defines
        return 0
    match = _HEADING.match(name or "")
    if not match or not paragraph.text.strip():
        return 0
    return int(match.group(1) or 1)


def _rows(table) -> list[str]:
    """Each row as "cell | cell", merged cells once, nested tables flattened."""
    out = []
    for row in table.rows:
        cells, last = [], None
        for cell in row.cells:
            if cell._tc is last:  # a merged cell repeats across the span
                continue
            last = cell._tc
            cells.append(_cell_text(cell))
        line = " | ".join(c for c in cells if c)
        if line:
            out.append(line)
    return out


def _cell_text(cell) -> str:
    parts = []
    for block in cell.iter_inner_content():
        parts.extend(_rows(block) if hasattr(block, "rows") else [block.text])
    return one_line(" ".join(parts))
