"""Reading scans offline: the real engine (Tesseract via tesserocr) and its shipped models."""

import pytest

from index import ocr

from conftest import HOSTILE

pytestmark = pytest.mark.skipif(not ocr.available(), reason="tesserocr or its models are not installed")


def page_image(name: str, number: int = 1):
    import pypdfium2 as pdfium

    return pdfium.PdfDocument(HOSTILE / name)[number - 1].render(scale=ocr.DPI / 72).to_pil()


def test_a_scanned_page_is_read_and_its_models_come_from_the_environment() -> None:
    assert ocr.models() is not None and (ocr.models() / "eng.traineddata").is_file()
    assert ocr.read(page_image("docling--ocr_test.pdf")).startswith("Docling bundles PDF document conversion")


@pytest.mark.parametrize("degrees", [90, 180, 270])
def test_a_page_scanned_the_wrong_way_round_is_read_upright(degrees: int) -> None:
    page = page_image("docling--ocr_test.pdf")
    assert ocr.read(page.rotate(degrees, expand=True)) == ocr.read(page)


def test_a_blank_scan_reads_as_no_text() -> None:
    from PIL import Image

    assert ocr.read(Image.new("RGB", (1700, 2200), "white")) == ""


# Scanned documents through the loaders: what a user's folder of scans becomes.

from pathlib import Path  # noqa: E402

from copilot.core.errors import IndexCancelled, SkipFile  # noqa: E402
from index import loaders  # noqa: E402

import scans  # noqa: E402


def test_a_pdf_mixing_text_pages_and_scans_gets_both_and_marks_the_scans(tmp_path: Path) -> None:
    mixed = scans.pdf(tmp_path / "signed.pdf", ["The term of this lease is five years.", scans.scanned_page(),
                                                "Schedule A follows."])
    doc = loaders.load(mixed)
    assert [(p.number, p.ocr) for p in doc.pages] == [(1, False), (2, True), (3, False)]
    assert doc.pages[1].text.startswith(scans.SCAN_OPENING) and doc.problems == ()


def test_a_scan_with_a_few_words_of_text_on_it_is_still_read_as_a_scan(tmp_path: Path) -> None:
    stamped = scans.pdf(tmp_path / "stamped.pdf", [(scans.scanned_page(), "EXECUTED COPY 0042")])
    (page,) = loaders.load(stamped).pages
    assert page.ocr and scans.SCAN_OPENING in page.text


@pytest.mark.parametrize("degrees", [90, 180])
def test_a_page_scanned_the_wrong_way_round_in_a_pdf_is_read_upright(tmp_path: Path, degrees: int) -> None:
    turned = scans.pdf(tmp_path / "turned.pdf", [scans.scanned_page().rotate(degrees, expand=True)])
    assert loaders.load(turned).pages[0].text.startswith(scans.SCAN_OPENING)


def test_a_blank_scan_is_a_blank_page_and_a_file_of_nothing_else_says_so(tmp_path: Path) -> None:
    doc = loaders.load(scans.pdf(tmp_path / "a.pdf", [scans.scanned_page(), scans.blank_page()]))
    assert [p.number for p in doc.pages] == [1] and doc.problems == ()
    with pytest.raises(SkipFile, match=r"^no text \(every page is blank\)$"):
        loaders.load(scans.pdf(tmp_path / "b.pdf", [scans.blank_page(), scans.blank_page()]))


def test_a_noisy_low_resolution_skewed_scan_is_still_read(tmp_path: Path) -> None:
    import numpy as np
    from PIL import Image

    page = scans.scanned_page()
    poor = page.resize((page.width * 3 // 4, page.height * 3 // 4)).rotate(1.5, expand=True, fillcolor=255)
    noise = np.random.default_rng(0).normal(0, 12, (poor.height, poor.width))
    poor = Image.fromarray(np.clip(np.asarray(poor, dtype=float) + noise, 0, 255).astype(np.uint8))
    (read,) = loaders.load(scans.pdf(tmp_path / "poor.pdf", [poor], dpi=150)).pages
    assert "PDF document conversion" in read.text


def test_with_ocr_off_scans_are_reported_and_text_pages_kept(tmp_path: Path) -> None:
    mixed = scans.pdf(tmp_path / "signed.pdf", ["The term of this lease is five years.", scans.scanned_page()])
    doc = loaders.load(mixed, ocr=False)
    assert [p.number for p in doc.pages] == [1]
    assert doc.problems == ("page 2: no extractable text (scanned; OCR is turned off: ocr in config.toml)",)
    assert loaders.awaits_ocr(doc.problems[0])


def test_every_page_read_is_reported_and_a_cancel_stops_a_long_scan(tmp_path: Path) -> None:
    scan = scans.pdf(tmp_path / "scan.pdf", [scans.scanned_page()] * 3)
    told: list[tuple[int, int]] = []
    loaders.load_source(scan, ".pdf", loaders.Reading(read=lambda page, pages: told.append((page, pages))))
    assert told == [(1, 3), (2, 3), (3, 3)]

    def stop(page: int, pages: int) -> None:
        raise IndexCancelled("indexing cancelled")

    with pytest.raises(IndexCancelled):  # not turned into "could not be read"
        loaders.load_source(scan, ".pdf", loaders.Reading(read=stop))


def test_a_word_file_reads_a_scanned_page_pasted_in_where_it_stands_and_not_its_logo(tmp_path: Path) -> None:
    import docx
    from docx.shared import Inches

    scans.scanned_page().save(tmp_path / "page.png")
    scans.scanned_page().crop((0, 0, 400, 120)).save(tmp_path / "logo.png")  # text on it, but a logo's size
    document = docx.Document()
    document.add_picture(str(tmp_path / "logo.png"), width=Inches(1))
    document.add_heading("Executed agreement", level=1)
    document.add_paragraph("The signed copy follows.")
    document.add_picture(str(tmp_path / "page.png"), width=Inches(6))
    document.save(tmp_path / "signed.docx")
    doc = loaders.load(tmp_path / "signed.docx")
    assert [(p.heading, p.ocr) for p in doc.pages] == [("Executed agreement", False), ("Executed agreement", True)]
    assert doc.pages[1].text.startswith(scans.SCAN_OPENING)
    assert loaders.load(tmp_path / "signed.docx", ocr=False).pages == doc.pages[:1]


@pytest.mark.slow
def test_a_300_page_scan_is_read_whole_page_by_page(tmp_path: Path) -> None:
    strip = scans.scanned_page().crop((0, 0, 1700, 500))  # the opening lines: a short page reads fast
    scan = scans.pdf(tmp_path / "long.pdf", [strip] * 300)
    told: list[int] = []
    doc = loaders.load_source(scan, ".pdf", loaders.Reading(read=lambda page, pages: told.append(page)))
    assert [p.number for p in doc.pages] == list(range(1, 301)) and all(p.ocr for p in doc.pages)
    assert told == list(range(1, 301)) and all(p.text.startswith("Docling bundles") for p in doc.pages)


def test_an_email_reads_a_scan_sent_with_it_and_passes_over_its_logo(tmp_path: Path) -> None:
    from email.message import EmailMessage

    def png(image) -> bytes:
        import io

        out = io.BytesIO()
        image.save(out, "PNG")
        return out.getvalue()

    m = EmailMessage()
    m["From"], m["Subject"] = "Dana <dana@hv.example>", "Signed copy"
    m.set_content("The signed agreement is attached.")
    m.add_attachment(png(scans.scanned_page()), maintype="image", subtype="png", filename="signed.png")
    m.add_attachment(png(scans.scanned_page().crop((0, 0, 400, 120))), maintype="image", subtype="png",
                     filename="logo.png")
    (tmp_path / "m.eml").write_bytes(bytes(m))
    doc = loaders.load(tmp_path / "m.eml")
    body, scan = doc.pages
    assert scan.ocr and scan.text.startswith(scans.SCAN_OPENING) and "attachment signed.png" in scan.heading
    assert doc.problems == ()


@pytest.mark.parametrize("read, meant", [
    ("this Ist day of March 2O20", "this 1st day of March 2020"),  # the ones and zeros OCR misreads
    ("first (lst) day of January, l996", "first (1st) day of January, 1996"),
    ("the 2lst and the llth", "the 21st and the 11th"),
    ("USD 1,5O0.00", "USD 1,500.00"),
    ("List of Ill items: ISO 9001, Section Il.2, page l of 3, Ith", "List of Ill items: ISO 9001, Section Il.2, page l of 3, Ith"),
])
def test_ocr_slips_in_numbers_are_put_right_and_words_left_alone(read: str, meant: str) -> None:
    assert ocr.tidy(read) == meant
