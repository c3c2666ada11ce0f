from pathlib import Path

import pytest

from copilot.errors import SkipFile
from index import loaders
from index.loaders import NO_TEXT

from conftest import EXAMPLES, HOSTILE


def test_pdf_keeps_page_numbers() -> None:
    pages = loaders.load(EXAMPLES / "master-services-agreement-acme-bluefield.pdf")
    assert [p.number for p in pages] == [1, 2, 3]
    assert "State of Delaware" in pages[2].text


def test_text_and_markdown_are_one_page() -> None:
    (page,) = loaders.load(EXAMPLES / "data-retention-policy.md")
    assert page.number == 1 and "seven (7) years" in page.text


def test_text_encodings(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_bytes("Café – résumé".encode("cp1252"))
    (tmp_path / "b.txt").write_bytes("Café – résumé".encode("utf-16"))
    (tmp_path / "c.txt").write_bytes("\ufeffCafé – résumé".encode("utf-8"))
    for name in "abc":
        assert loaders.load(tmp_path / f"{name}.txt")[0].text == "Café – résumé"


@pytest.mark.parametrize(
    "name, reason",
    [
        ("pypdf--r4-user-password.pdf", "needs a password"),
        ("unstructured--password.pdf", "needs a password"),
        ("pdfplumber--empty.pdf", "empty file"),
        ("docling--ocr_test.pdf", NO_TEXT),
        ("unstructured--empty.txt", "empty file"),
    ],
)
def test_bad_files_say_why(name: str, reason: str) -> None:
    with pytest.raises(SkipFile, match=reason.replace("(", r"\(").replace(")", r"\)")):
        loaders.load(HOSTILE / name)


def test_empty_password_and_owner_only_pdfs_open() -> None:
    assert len(loaders.load(HOSTILE / "pypdf--r6-empty-password.pdf")) == 1
    assert len(loaders.load(HOSTILE / "pypdf--r2-owner-password.pdf")) == 1


def test_unsupported_type(tmp_path: Path) -> None:
    (tmp_path / "x.xyz").write_text("hello")
    with pytest.raises(SkipFile, match="unsupported file type .xyz"):
        loaders.load(tmp_path / "x.xyz")
