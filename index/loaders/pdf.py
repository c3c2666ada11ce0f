"""PDF: page-numbered text through PDFium, with pypdf as second opinion.

PDFium (pypdfium2) reads text about 18 times faster than pypdf here and
rebuilds broken cross-reference tables that pypdf rejects, so it reads first.
pypdf (with `cryptography`, for AES) is asked only when PDFium cannot open a
file or finds no text on a page: it then either reads that page or says
precisely what is wrong with it ("startxref not found", a bad LZW stream).
A page with images and no text, or an image over most of it and a few words
(a scanner's stamp, a page number added later), is a scan: it is read by
OCR (`index.ocr`) when that is on and installed, else reported; a file of
nothing but unread scans is reported as such, never indexed silently empty.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Sequence
from pathlib import Path

from copilot.core.errors import SkipFile
from copilot.core.records import Document, Page
from index.loaders import Reading, reason, unread_scan
from index.loaders.structure import clean

NEEDS_PASSWORD = "encrypted: needs a password"
ALMOST_NONE = 200  # characters: a page with no more text than this and ...
SCAN_COVER = 0.5  # ... an image over at least this share of it is a scan with a stamp on it


def load_pdf(source: Path | bytes, reading: Reading = Reading()) -> Document:
    """Every page with text, numbered as printed in the file's page order."""
    import pypdfium2 as pdfium

    from index import ocr

    if (len(source) if isinstance(source, bytes) else source.stat().st_size) == 0:
        raise SkipFile("empty file (0 bytes)")
    passwords = reading.passwords
    pdf, password = _open(source, passwords)
    if pdf is None:
        return _with_pypdf(source, passwords)
    scans = reading.ocr and ocr.available()
    try:
        title = pdf.get_metadata_dict(skip_empty=True).get("Title", "")
        texts, scan = {}, set()
        for number in range(1, len(pdf) + 1):
            try:
                page = pdf[number - 1]
                textpage = page.get_textpage()
                texts[number] = clean(textpage.get_text_bounded())
                textpage.close()
                if _scan(page, texts[number]):
                    scan.add(number)
                page.close()
            except pdfium.PdfiumError:
                texts[number] = ""
        read = dict(_read_scans(pdf, sorted(scan), reading)) if scans else {}
    finally:
        pdf.close()
    pages, scanned, unread = [], [], []
    for number, text in texts.items():
        if read.get(number):
            pages.append(Page(number, read[number], ocr=True))
        elif text:
            pages.append(Page(number, text))
        elif number in scan and not scans:
            scanned.append(number)
        else:
            unread.append(number)  # blank, a blank scan, or a stream PDFium could not decode
    problems: list[str] = []
    if unread:  # pypdf may read what PDFium could not, or say why
        rescued, why = _second_opinion(source, password, unread)
        pages = sorted(pages + rescued, key=lambda p: p.number)
        problems += [f"page {n}: corrupt: {w}" for n, w in why.items()]
    no_text = unread_scan(reading)
    if scanned:
        problems.append(f"{_pages(scanned)}: {no_text}")
    if not pages:
        if scanned and len(scanned) >= len(problems):
            raise SkipFile(no_text)
        if problems:
            raise SkipFile(problems[0].split(": ", 1)[1] if len(problems) == 1 else "corrupt: no page could be read")
        raise SkipFile("no text (every page is blank)")
    return Document(tuple(pages), title=str(title), problems=tuple(problems))


def _read_scans(pdf, numbers: list[int], reading: Reading):
    """(page number, text) of the scanned pages, read by OCR on several threads; the
    pages are rendered here, one at a time, as the readers need them."""
    import pypdfium2 as pdfium

    from index import ocr

    def rendered():
        for number in numbers:
            page = pdf[number - 1]
            try:
                yield number, page.render(scale=ocr.scale(*page.get_size())).to_pil()
            except pdfium.PdfiumError:
                continue  # a page PDFium cannot draw: pypdf's second opinion says why
            finally:
                page.close()

    for n, (number, text) in enumerate(ocr.read_many(rendered()), 1):
        reading.read(n, len(numbers))
        yield number, clean(text)


def _scan(page, text: str) -> bool:
    """Whether a page is a scanned image: no text but an image, or almost no text and
    an image over most of the page."""
    import pypdfium2 as pdfium

    if len(text) > ALMOST_NONE:
        return False
    images = page.get_objects(filter=(pdfium.raw.FPDF_PAGEOBJ_IMAGE,))
    if not text:
        return any(True for _ in images)
    width, height = page.get_size()
    covered = 0.0
    for image in images:
        left, bottom, right, top = image.get_bounds()
        covered = max(covered, (right - left) * (top - bottom) / max(width * height, 1.0))
    return covered >= SCAN_COVER


def _open(source: Path | bytes, passwords: Sequence[str]):
    """(document, password) from PDFium, or (None, None) when it cannot open it."""
    import pypdfium2 as pdfium

    data = source if isinstance(source, bytes) else str(source)
    for password in ("", *passwords):
        try:
            return pdfium.PdfDocument(data, password=password or None), password
        except pdfium.PdfiumError as exc:
            code = getattr(exc, "err_code", None)
            if code == pdfium.raw.FPDF_ERR_PASSWORD:
                continue
            if code == pdfium.raw.FPDF_ERR_SECURITY:
                raise SkipFile("encrypted with an unsupported security handler") from None
            return None, None
    raise SkipFile(NEEDS_PASSWORD + (" (none of the supplied passwords opens it)" if passwords else ""))


def _reader(source: Path | bytes, password: str | None):
    from pypdf import PdfReader

    logging.getLogger("pypdf").setLevel(logging.CRITICAL)  # its warnings are ours to word
    reader = PdfReader(io.BytesIO(source) if isinstance(source, bytes) else source, strict=False)
    if reader.is_encrypted:
        reader.decrypt(password or "")
    return reader


def _second_opinion(source: Path | bytes, password: str | None, numbers: list[int]):
    """pypdf's text for pages PDFium found empty, and why the unreadable ones failed."""
    rescued, why = [], {}
    try:
        reader = _reader(source, password)
        for n in numbers:
            try:
                text = clean(reader.pages[n - 1].extract_text() or "")
            except Exception as exc:  # one bad page must not cost the others
                why[n] = reason(exc)
                continue
            if text:
                rescued.append(Page(n, text))
    except Exception:  # pypdf cannot open what PDFium could: PDFium's empty pages stand
        pass
    return rescued, why


def _with_pypdf(source: Path | bytes, passwords: Sequence[str]) -> Document:
    """A file PDFium could not open: pypdf reads what it can, or says why not."""
    from pypdf.errors import FileNotDecryptedError

    try:
        reader = _reader(source, None)
        if reader.is_encrypted and not any(reader.decrypt(p) for p in ("", *passwords)):
            raise SkipFile(NEEDS_PASSWORD)
        count = len(reader.pages)
    except SkipFile:
        raise
    except FileNotDecryptedError:
        raise SkipFile(NEEDS_PASSWORD) from None
    except NotImplementedError as exc:
        raise SkipFile(f"unsupported PDF feature: {reason(exc)}") from None
    except Exception as exc:
        raise SkipFile(f"corrupt: {_wording(reason(exc))}") from None
    pages, failed = [], []
    for n in range(1, count + 1):
        try:
            text = clean(reader.pages[n - 1].extract_text() or "")
        except Exception:
            failed.append(n)
            continue
        if text:
            pages.append(Page(n, text))
    if not pages:
        raise SkipFile(f"corrupt: no page could be read ({len(failed)} failed)" if failed
                       else "no extractable text (and PDFium, which renders scans for OCR, cannot open it)")
    problems = (f"{_pages(failed)}: corrupt",) if failed else ()
    return Document(tuple(pages), problems=problems)


def _wording(text: str) -> str:
    """pypdf's messages for files cut short, in words an IT team acts on."""
    if "/Pages" in text or "Root object" in text:
        return f"{text} (page tree missing: truncated or damaged file)"
    return text


def _pages(numbers: list[int]) -> str:
    shown = ", ".join(str(n) for n in numbers[:10]) + (", …" if len(numbers) > 10 else "")
    return f"page{'s' if len(numbers) > 1 else ''} {shown}"
