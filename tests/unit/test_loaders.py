"""Loaders: every format, encodings, structure, and the precise reasons for bad files."""

from email.message import EmailMessage
from pathlib import Path

import pytest

from copilot.core.errors import SkipFile
from index import loaders

from conftest import EXAMPLES, HOSTILE


def test_pdf_keeps_page_numbers() -> None:
    doc = loaders.load(EXAMPLES / "master-services-agreement-acme-bluefield.pdf")
    assert [p.number for p in doc.pages] == [1, 2, 3]
    assert "State of Delaware" in doc.pages[2].text


def test_markdown_sections_carry_their_heading_path(tmp_path: Path) -> None:
    (tmp_path / "p.md").write_text(
        "# Policy\n\nIntro text.\n\n## Leave\n\nAnnual leave is 25 days.\n\n"
        "```\n# not a heading\n```\n\nSick leave\n----------\n\nTen days.\n\n# Other\n\nEnd.\n"
    )
    doc = loaders.load(tmp_path / "p.md")
    got = [(p.number, p.heading, p.text) for p in doc.pages]
    assert got[0] == (0, "Policy", "Intro text.")
    assert got[1][1] == "Policy > Leave" and "# not a heading" in got[1][2]
    assert got[2] == (0, "Policy > Sick leave", "Ten days.")
    assert got[3] == (0, "Other", "End.")


def test_markdown_inline_markup_is_not_text_but_code_blocks_are_kept_as_written(tmp_path: Path) -> None:
    (tmp_path / "p.md").write_text(
        "# The **retention** policy\n\n- **Client matter files** are kept *seven* years ([details](x.md)).\n"
        "- Run `purge` yearly; 2*3*4 stays.\n\n```\n**as written**\n```\n"
    )
    (page,) = loaders.load(tmp_path / "p.md").pages
    assert page.heading == "The retention policy"
    assert page.text.startswith("- Client matter files are kept seven years (details).\n- Run purge yearly; 2*3*4")
    assert "**as written**" in page.text


def test_text_is_one_unpaged_passage() -> None:
    (page,) = loaders.load(EXAMPLES / "travel-and-expense-policy.txt").pages
    assert page.number == 0 and page.heading == ""


@pytest.mark.parametrize("encoding", ["cp1252", "utf-16", "utf-8-sig", "utf-8"])
def test_text_encodings(tmp_path: Path, encoding: str) -> None:
    text = "Café – résumé, naïve coöperation: 15,50 € “quoted”"
    (tmp_path / "a.txt").write_bytes(text.encode(encoding))
    assert loaders.load(tmp_path / "a.txt").pages[0].text == text


def test_cyrillic_text_is_detected(tmp_path: Path) -> None:
    text = "Договор аренды нежилого помещения заключён на пять лет. " * 3
    (tmp_path / "ru.txt").write_bytes(text.encode("cp1251"))
    assert "Договор аренды" in loaders.load(tmp_path / "ru.txt").pages[0].text


def test_docx_paragraphs_tables_and_headings_in_order(tmp_path: Path) -> None:
    import docx

    d = docx.Document()
    d.core_properties.title = "Fee schedule"
    d.add_heading("Fees", level=1)
    d.add_paragraph("Hourly rates apply from 1 March.")
    table = d.add_table(rows=2, cols=2)
    for r, row in enumerate([("Role", "Rate"), ("Partner", "$950")]):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    d.add_heading("Expenses", level=2)
    d.add_paragraph("Travel is billed at cost.")
    d.save(tmp_path / "f.docx")
    doc = loaders.load(tmp_path / "f.docx")
    assert doc.title == "Fee schedule"
    assert [(p.heading, p.text) for p in doc.pages] == [
        ("Fees", "Hourly rates apply from 1 March.\n\nRole | Rate\n\nPartner | $950"),
        ("Fees > Expenses", "Travel is billed at cost."),
    ]


def test_real_docx_tables_are_searchable() -> None:
    text = "\n".join(p.text for p in loaders.load(HOSTILE / "unstructured--docx-tables.docx").pages)
    assert "Header Col 1 | Header Col 2" in text and "Lorem ipsum | A link example" in text
    assert "d | e | f g&t | h | i" in text  # a nested table, flattened into its row


def test_encrypted_docx_needs_a_password(tmp_path: Path) -> None:
    (tmp_path / "locked.docx").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600)
    with pytest.raises(SkipFile, match="needs a password"):
        loaders.load(tmp_path / "locked.docx")


def test_html_cp1252_and_utf16_decode_without_mojibake() -> None:
    cp = " ".join(p.text for p in loaders.load(HOSTILE / "unstructured--fake-html-cp1252.html").pages)
    assert "très chaud" in cp and "15,50 €" in cp and "schöne" in cp
    doc = loaders.load(HOSTILE / "unstructured--example-steelJIS-datasheet-utf-16.html")
    text = " ".join(p.text for p in doc.pages)
    assert "日本語" in text and "Chromium molybdenum steel" in text
    assert doc.title.startswith("SNB22-3")
    assert any("Chemical composition" in p.heading for p in doc.pages)


def test_html_script_and_style_text_is_not_indexed() -> None:
    doc = loaders.load(HOSTILE / "unstructured--example-with-scripts.html")
    text = " ".join(p.text + " " + p.heading for p in doc.pages)
    assert "Russian Offensive Campaign Assessment" in text
    for code in ("switchTo5x", "stLight", "CDATA", "function(", "{"):
        assert code not in text


def test_eml_headers_body_and_attachments(tmp_path: Path) -> None:
    m = EmailMessage()
    m["From"], m["To"], m["Subject"] = "Dana <dana@hv.example>", "ops@hv.example", "Lease renewal"
    m["Date"] = "Mon, 2 Nov 2026 10:00:00 +0000"
    m.set_content("The landlord agreed to renew for five years.")
    m.add_attachment(b"Rent: $4,200 a month.", maintype="text", subtype="plain", filename="rent.txt")
    pdf = (EXAMPLES / "engagement-letter-northwind.pdf").read_bytes()
    m.add_attachment(pdf, maintype="application", subtype="pdf", filename="letter.pdf")
    m.add_attachment(b"\x89PNG", maintype="image", subtype="png", filename="logo.png")
    m.add_attachment(b"PK\x03\x04", maintype="application", subtype="zip", filename="old.zip")
    (tmp_path / "m.eml").write_bytes(bytes(m))
    doc = loaders.load(tmp_path / "m.eml")
    assert doc.title == "Lease renewal" and doc.meta["from"] == "Dana <dana@hv.example>"
    body, rent, *letter = doc.pages
    assert body.text.startswith("From: Dana") and "renew for five years" in body.text
    assert rent.heading == "Lease renewal > attachment rent.txt" and "$4,200" in rent.text
    assert letter[0].heading == "Lease renewal > attachment letter.pdf > page 1"
    assert doc.problems == ("attachment logo.png: corrupt: not an image any reader here knows",
                            "attachment old.zip: not read (unsupported type application/zip)")


def test_an_eml_whose_address_the_parser_trips_on_is_still_read() -> None:
    """Found by bench/fuzz.py: CPython's header parser raises IndexError on "<dana@"."""
    doc = loaders.load_source(b"From: Dana <dana@\nSubject: Lease\n\nThe landlord agreed to renew.", ".eml")
    assert doc.meta == {"from": "Dana <dana@", "subject": "Lease"} and "agreed to renew" in doc.pages[0].text
    unknown = (b"From: a@b.example\nSubject: Lease\nContent-Type: text/plain; charset=\"utf-\xd6\x8dd8\"\n\n"
               b"The landlord agreed to renew.")  # an unknown charset: LookupError in get_content()
    assert "agreed to renew" in loaders.load_source(unknown, ".eml").pages[0].text


@pytest.mark.parametrize(
    "name, reason",
    [
        ("pypdf--r4-user-password.pdf", "encrypted: needs a password"),
        ("pypdf--r4-aes-user-password.pdf", "encrypted: needs a password"),
        ("unstructured--password.pdf", "encrypted: needs a password"),
        ("pdfplumber--empty.pdf", "empty file (0 bytes)"),
        ("unstructured--empty.txt", "empty file"),
        ("qpdf--bad-data.pdf", "corrupt: LZW"),
        ("qpdf--unfilterable.pdf", "corrupt: Unsupported filter"),
        ("qpdf--issue-141b.pdf", "corrupt: Cannot find Root object"),
        ("truncated-contract.pdf", "page tree missing"),
    ],
)
def test_bad_files_say_why(name: str, reason: str) -> None:
    with pytest.raises(SkipFile) as caught:
        loaders.load(HOSTILE / name)
    assert str(caught.value).startswith(reason) or reason in str(caught.value)


@pytest.mark.parametrize("name, pages", [("docling--ocr_test.pdf", 1), ("docling--nemotron_multipage.pdf", 4)])
def test_scanned_pdfs_are_read_by_ocr_page_by_page_or_skipped_saying_ocr_is_off(name: str, pages: int) -> None:
    doc = loaders.load(HOSTILE / name)
    assert [p.number for p in doc.pages] == list(range(1, pages + 1)) and all(p.ocr for p in doc.pages)
    assert all(p.text.startswith("Docling bundles PDF document conversion") for p in doc.pages)
    with pytest.raises(SkipFile, match="no extractable text .scanned; OCR is turned off"):
        loaders.load(HOSTILE / name, ocr=False)


def test_image_files_are_read_by_ocr_one_page_per_frame(tmp_path: Path) -> None:
    import pypdfium2 as pdfium

    from index import ocr

    if not ocr.available():
        pytest.skip("tesserocr or its models are not installed")
    scan = pdfium.PdfDocument(HOSTILE / "docling--ocr_test.pdf")[0].render(scale=ocr.DPI / 72).to_pil()
    scan.save(tmp_path / "scan.png")
    scan.convert("RGB").save(tmp_path / "scan.jpg", quality=40)
    scan.save(tmp_path / "scans.tif", save_all=True, append_images=[scan.rotate(90, expand=True)])
    for name, pages in (("scan.png", 1), ("scan.jpg", 1), ("scans.tif", 2)):
        doc = loaders.load(tmp_path / name)
        assert [p.number for p in doc.pages] == list(range(1, pages + 1)) and all(p.ocr for p in doc.pages)
        assert all("Docling bundles PDF" in p.text for p in doc.pages), name
    (tmp_path / "bad.png").write_bytes(b"\x89PNG")
    with pytest.raises(SkipFile, match="^corrupt: not an image"):
        loaders.load(tmp_path / "bad.png")
    with pytest.raises(SkipFile, match="OCR is turned off"):
        loaders.load(tmp_path / "scan.png", ocr=False)


@pytest.mark.parametrize("name", ["qpdf--bad-xref.pdf", "qpdf--bad2.pdf", "qpdf--bad39.pdf", "qpdf--bad40.pdf"])
def test_broken_xref_pdfs_are_recovered(name: str) -> None:
    assert loaders.load(HOSTILE / name).pages[0].text == "Potato"


def test_passwords_open_encrypted_pdfs() -> None:
    for name in ("pypdf--r4-user-password.pdf", "pypdf--r4-aes-user-password.pdf"):
        doc = loaders.load(HOSTILE / name, passwords=["wrong", "asdfzxcv"])
        assert "pdf encryption test" in doc.pages[0].text
    with pytest.raises(SkipFile, match="none of the supplied passwords"):
        loaders.load(HOSTILE / "unstructured--password.pdf", passwords=["wrong"])


def test_empty_password_and_owner_only_pdfs_open() -> None:
    assert len(loaders.load(HOSTILE / "pypdf--r6-empty-password.pdf").pages) == 1
    assert len(loaders.load(HOSTILE / "pypdf--r2-owner-password.pdf").pages) == 1
    assert len(loaders.load(HOSTILE / "unstructured--copy-protected.pdf").pages) == 2


def test_unsupported_type(tmp_path: Path) -> None:
    (tmp_path / "x.xyz").write_text("hello")
    with pytest.raises(SkipFile, match="unsupported file type .xyz"):
        loaders.load(tmp_path / "x.xyz")


def test_eml_with_only_an_html_body_in_latin1(tmp_path: Path) -> None:
    m = EmailMessage()
    m["From"], m["Subject"] = "a@hv.example", "Café"
    html = '<html><head><meta charset="iso-8859-1"><script>var x=1;</script></head>'
    m.set_content(html + "<body><h1>Menu</h1><p>Crème brûlée à 9 €.</p></body></html>",
                  subtype="html", charset="utf-8")
    (tmp_path / "h.eml").write_bytes(bytes(m))
    (body,) = loaders.load(tmp_path / "h.eml").pages
    assert "Crème brûlée à 9 €." in body.text and "var x" not in body.text
