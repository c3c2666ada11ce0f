"""Scanned documents end to end: read by OCR, indexed, answered from and cited as scans
(the real OCR engine, embedder, Chroma and the default model)."""

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from copilot.cli.main import main
from copilot.tools.eval.normalize import matches
from index import ocr

from conftest import HOSTILE

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not ocr.available(), reason="tesserocr or its models are not installed")]

SCANS = ("docling--ocr_test.pdf", "docling--nemotron_multipage.pdf")


def copilot(home: Path, *args: str):
    result = CliRunner().invoke(main, ["--home", str(home), *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_the_hostile_scans_are_read_indexed_and_answered_from_with_their_pages_cited(tmp_path: Path) -> None:
    folder = tmp_path / "signed"
    folder.mkdir()
    for name in SCANS:
        shutil.copy(HOSTILE / name, folder / name)
    summary = json.loads(copilot(tmp_path / "home", "index", str(folder), "--json"))
    assert (summary["indexed"], summary["pages"], summary["ocr_pages"], summary["skipped"]) == (2, 5, 5, [])
    status = {row["file"]: row for row in json.loads(copilot(tmp_path / "home", "index", "--status", "--json"))}
    assert {name: row["ocr_pages"] for name, row in status.items()} == {SCANS[0]: 1, SCANS[1]: 4}
    assert "OCR" in copilot(tmp_path / "home", "index", "--status")  # "N pages read by OCR", folded

    question = "What does Docling bundle PDF document conversion to?"
    answer = json.loads(copilot(tmp_path / "home", "ask", question, "--json"))
    assert answer["found"] and matches("JSON and Markdown", answer["answer"]), answer["answer"]
    assert answer["citations"] and all(c["source"] in SCANS and c["ocr"] and c["page"] >= 1
                                       for c in answer["citations"])
    assert "Docling bundles PDF document conversion" in answer["quotes"][0]["text"]
    shown = copilot(tmp_path / "home", "ask", question)
    assert "(OCR)" in shown  # the citation says the passage is OCR's reading of a scan


def test_with_ocr_off_the_scans_are_skipped_with_the_reason(tmp_path: Path) -> None:
    for name in SCANS:
        shutil.copy(HOSTILE / name, tmp_path / name)
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / "config.toml").write_text('ocr = "off"\n')
    result = CliRunner().invoke(main, ["--home", str(tmp_path / "home"), "index", str(tmp_path), "--json"])
    summary = json.loads(result.output)
    assert summary["indexed"] == 0 and sorted(s["reason"] for s in summary["skipped"]) == [
        "no extractable text (scanned; OCR is turned off: ocr in config.toml)"] * 2
