"""The 29 hostile files of ../shared: every one gets the outcome its manifest expects.

One real run (MiniLM + Chroma) indexes the whole folder; each file is then
checked against a table written from `manifest.json`'s `expect` texts.  A
file added to the manifest without a row here fails the test.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from copilot.engine.local import Copilot

from conftest import HOSTILE

pytestmark = pytest.mark.slow

PASSWORD = "needs a password"
INDEXED, SKIPPED, EITHER = "indexed", "skipped", "either"

# file → (outcome, pages when indexed or text in the reason when skipped)
EXPECT = {
    "pypdf--r4-user-password.pdf": (SKIPPED, PASSWORD),
    "pypdf--r4-aes-user-password.pdf": (SKIPPED, PASSWORD),
    "pypdf--r6-empty-password.pdf": (INDEXED, 1),
    "pypdf--r2-owner-password.pdf": (INDEXED, 1),
    "unstructured--copy-protected.pdf": (INDEXED, 2),
    "unstructured--password.pdf": (SKIPPED, PASSWORD),
    "unstructured--DA-619p.pdf": (INDEXED, 619),
    "qpdf--bad2.pdf": (EITHER, "corrupt: "),
    "qpdf--bad-xref.pdf": (EITHER, "corrupt: "),
    "qpdf--bad39.pdf": (EITHER, "corrupt: "),
    "qpdf--bad40.pdf": (EITHER, "corrupt: "),
    "qpdf--issue-141b.pdf": (SKIPPED, "Root object"),
    "qpdf--bad-data.pdf": (EITHER, "corrupt: LZW"),
    "qpdf--unfilterable.pdf": (SKIPPED, "Unsupported filter"),
    "qpdf--content-stream-errors.pdf": (INDEXED, None),  # readable pages in; any others reported
    "sample-files--unreadablemetadata.pdf": (EITHER, "corrupt: "),
    "pdfplumber--empty.pdf": (SKIPPED, "empty file (0 bytes)"),
    "pdfplumber--malformed-from-issue-932.pdf": (EITHER, "corrupt: "),
    "pdfplumber--federal-register-2020-17221.pdf": (INDEXED, 15),
    "docling--ocr_test.pdf": (INDEXED, 1),  # scanned: read by OCR
    "docling--nemotron_multipage.pdf": (INDEXED, 4),
    "unstructured--handbook-872p.docx": (INDEXED, 0),  # Word files have no pages: cited by heading
    "unstructured--docx-tables.docx": (INDEXED, 0),
    "unstructured--fake-html-cp1252.html": (INDEXED, 0),
    "unstructured--example-steelJIS-datasheet-utf-16.html": (INDEXED, 0),
    "unstructured--example-with-scripts.html": (INDEXED, 0),
    "unstructured--empty.txt": (SKIPPED, "empty file"),
    "unstructured--eng_spa_mult.md": (INDEXED, 0),
    "truncated-contract.pdf": (EITHER, "corrupt: "),
}


@pytest.fixture(scope="module")
def run(tmp_path_factory, models_home):
    from copilot.core.config import Config

    config = Config(home=tmp_path_factory.mktemp("hostile") / "home", models_home=str(models_home))
    engine = Copilot(config)
    summary = engine.index([HOSTILE])
    return config, engine, summary


def texts_of(engine: Copilot, name: str) -> str:
    """Everything indexed from one file: chunk texts and their heading paths."""
    got = engine.store._col.get(where={"source": name}, include=["documents", "metadatas"])
    return "\n".join(f"{m['heading']}\n{d}" for d, m in zip(got["documents"], got["metadatas"]))


def test_table_covers_the_manifest() -> None:
    listed = {row["file"] for row in json.loads((HOSTILE / "manifest.json").read_text())}
    assert listed == set(EXPECT)


def test_every_file_gets_its_expected_outcome(run) -> None:
    _, engine, summary = run
    entries = {e.source: e for e in engine.manifest.entries()}
    assert set(entries) == set(EXPECT)
    assert summary.files == len(EXPECT)
    stored = engine.store.paths()
    for name, (outcome, detail) in EXPECT.items():
        entry = entries[name]
        if outcome == INDEXED or (outcome == EITHER and entry.status == "indexed"):
            assert entry.status == "indexed", f"{name}: {entry.reason}"
            assert stored[entry.path] == entry.chunks > 0, name
            if isinstance(detail, int):
                assert entry.pages == detail, name
        else:
            assert entry.status == "skipped", name
            assert detail in entry.reason, f"{name}: {entry.reason!r}"
            assert entry.path not in stored, name
    skipped = {name for name, _ in summary.skipped}
    assert skipped == {n for n, e in entries.items() if e.status == "skipped"}


def test_content_is_right(run) -> None:
    _, engine, _ = run
    assert "très chaud" in texts_of(engine, "unstructured--fake-html-cp1252.html")
    assert "日本語" in texts_of(engine, "unstructured--example-steelJIS-datasheet-utf-16.html")
    scripts = texts_of(engine, "unstructured--example-with-scripts.html")
    assert "Russian Offensive" in scripts and "stLight" not in scripts and "switchTo5x" not in scripts
    assert "Header Col 1 | Header Col 2" in texts_of(engine, "unstructured--docx-tables.docx")
    handbook = engine.store._col.get(
        where={"source": "unstructured--handbook-872p.docx"}, include=["metadatas"]
    )["metadatas"]
    assert len(handbook) > 500
    assert any(m["heading"].startswith("CHAPTER 3") for m in handbook)
    pages = {
        m["page"] for m in engine.store._col.get(
            where={"source": "unstructured--DA-619p.pdf"}, include=["metadatas"]
        )["metadatas"]
    }
    assert min(pages) == 1 and max(pages) == 619


def test_cli_reports_each_skipped_file_and_exits_1(run) -> None:
    config, engine, _ = run
    env = {**os.environ, "COPILOT_HOME": str(config.home)}
    out = subprocess.run(
        [str(Path(sys.executable).with_name("copilot")), "index", str(HOSTILE)],
        capture_output=True, text=True, env=env, timeout=300,
    )
    assert out.returncode == 1, out.stderr
    assert "Traceback" not in out.stderr and not out.stderr.strip(), out.stderr
    for state, entry in engine.status(engine.local_reader()):
        if state == "skipped":
            assert f"  skipped {entry.source}: {entry.reason}" in out.stdout
    status = subprocess.run(
        [str(Path(sys.executable).with_name("copilot")), "index", "--status", "--json"],
        capture_output=True, text=True, env=env, timeout=120,
    )
    rows = json.loads(status.stdout)
    assert {r["file"] for r in rows} == set(EXPECT)
    assert {r["state"] for r in rows} == {"indexed", "skipped"}
