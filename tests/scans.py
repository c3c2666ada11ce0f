"""Scanned documents for tests, made from a real scan: image-only PDF pages (as a scanner
writes them, JPEG inside), optionally with a line of real text on top (a stamp)."""

from __future__ import annotations

import io
from pathlib import Path

from conftest import HOSTILE

SCAN = HOSTILE / "docling--ocr_test.pdf"  # one scanned page; its text begins:
SCAN_OPENING = "Docling bundles PDF document conversion"
DPI = 200


def scanned_page():
    """The real scanned page as an image (grey), rendered at 200 dpi."""
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(SCAN)
    try:
        return doc[0].render(scale=DPI / 72, grayscale=True).to_pil()
    finally:
        doc.close()


def blank_page():
    from PIL import Image

    return Image.new("L", (1700, 2200), 255)


def pdf(path: Path, pages: list, dpi: int = DPI) -> Path:
    """A PDF of `pages`, each an image (a scan, drawn over the whole page), a string (a page
    with that text layer and no image), or (image, stamp): a scan with a line of text on it."""
    objects: list[bytes] = [b"", b""]  # 1: the catalog, 2: the page tree, written last

    def add(body: bytes) -> int:
        objects.append(body)
        return len(objects)

    font = add(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    kids = []
    for page in pages:
        image, text = (page, "") if not isinstance(page, (str, tuple)) else (
            (None, page) if isinstance(page, str) else page)
        width, height = (image.width * 72 / dpi, image.height * 72 / dpi) if image else (612, 792)
        draw, resources = b"", b"/Font << /F1 %d 0 R >>" % font
        if image is not None:
            jpeg = io.BytesIO()
            image.convert("L").save(jpeg, "JPEG", quality=85)
            picture = add(b"<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceGray "
                          b"/BitsPerComponent 8 /Filter /DCTDecode /Length %d >>\nstream\n"
                          % (image.width, image.height, len(jpeg.getvalue())) + jpeg.getvalue() + b"\nendstream")
            draw += b"q %.2f 0 0 %.2f 0 0 cm /Im0 Do Q\n" % (width, height)
            resources += b" /XObject << /Im0 %d 0 R >>" % picture
        if text:
            draw += b"BT /F1 9 Tf 36 %.2f Td (%s) Tj ET\n" % (height - 24, text.encode("latin-1"))
        content = add(b"<< /Length %d >>\nstream\n" % len(draw) + draw + b"endstream")
        kids.append(add(b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %.2f %.2f] /Resources << %s >> "
                        b"/Contents %d 0 R >>" % (width, height, resources, content)))
    objects[0] = b"<< /Type /Catalog /Pages 2 0 R >>"
    objects[1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (b" ".join(b"%d 0 R" % k for k in kids), len(kids))
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for number, obj in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + obj + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    path.write_bytes(bytes(out))
    return path

