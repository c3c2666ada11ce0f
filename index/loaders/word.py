"""Word (.docx): paragraphs and tables in reading order, under their headings.

Word files carry no page numbers (pages exist only once Word lays the text
out), so passages are cited by their heading path.  Table rows become one
line each, cells joined by " | ", so a row is found and quoted whole.
Pictures the size of a page or part of one (a scanned page pasted in) are
read by OCR where they stand; logos and icons are left alone.
"""

from __future__ import annotations

import io
import re
import zipfile
import zlib
from pathlib import Path

from copilot.core.errors import SkipFile
from copilot.core.records import Document
from index.loaders import Reading, read_bytes, reason, unread_scan
from index.loaders.structure import Sections, one_line

OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # encrypted .docx files are OLE containers, not zips
_HEADING = re.compile(r"^(?:heading\s*(\d)|title)$", re.IGNORECASE)


def load_docx(source: Path | bytes, reading: Reading = Reading()) -> Document:
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
    blocks = list(document.iter_inner_content())
    pictures = _pictures(document, blocks)
    read = _read(pictures, reading)
    sections = Sections()
    for i, block in enumerate(blocks):
        if hasattr(block, "rows"):
            for row in _rows(block):
                sections.para(row)
            continue
        level = _level(block)
        if level:
            sections.heading(level, block.text)
        else:
            sections.para(block.text)
        for key in (k for k in pictures if k[0] == i):
            sections.scanned(read.get(key, ""))
    pages = sections.pages()
    if not pages and pictures and not read:
        raise SkipFile(unread_scan(reading, "pictures only"))
    props = document.core_properties
    meta = {k: str(v) for k, v in (("author", props.author), ("created", props.created)) if v}
    return Document(tuple(pages), title=props.title or "", meta=meta)


def _pictures(document, blocks) -> dict[tuple[int, int], bytes]:
    """The pictures in the body's paragraphs that may be scanned pages, by (block, n)."""
    from index.ocr import page_sized

    found, seen = {}, set()
    for i, block in enumerate(blocks):
        if hasattr(block, "rows"):
            continue
        for n, rid in enumerate(block._p.xpath(".//a:blip/@r:embed")):
            part = document.part.related_parts.get(rid)
            if part is None or part.partname in seen or not hasattr(part, "blob"):
                continue
            seen.add(part.partname)
            if page_sized(part.blob):
                found[(i, n)] = part.blob
    return found


def _read(pictures: dict[tuple[int, int], bytes], reading: Reading) -> dict[tuple[int, int], str]:
    """What OCR reads on each picture (nothing when OCR is off or not installed)."""
    from PIL import Image

    from index import ocr

    if not pictures or not (reading.ocr and ocr.available()):
        return {}

    def images():
        for key, blob in pictures.items():
            try:
                yield key, Image.open(io.BytesIO(blob)).convert("RGB")
            except Exception:  # not a picture PIL reads (EMF), or damaged: the text around it counts
                continue

    read = {}
    for n, (key, text) in enumerate(ocr.read_many(images()), 1):
        reading.read(n, len(pictures))
        read[key] = text
    return read


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
