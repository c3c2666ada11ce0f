"""Incremental indexing on the real embedder and a real Chroma store."""

import os
from pathlib import Path

import pytest

from copilot.core.errors import CopilotError, IndexBusy
from copilot.core.walls import Walls
from copilot.engine.local import Copilot
from index.indexer import writer_lock

EVERYONE = Walls.everything()  # no wall: the walls themselves are tested in test_walls.py

pytestmark = pytest.mark.slow


def chunk_sources(engine: Copilot) -> dict[str, int]:
    got = engine.store._col.get(include=["metadatas"])
    counts: dict[str, int] = {}
    for meta in got["metadatas"]:
        counts[meta["source"]] = counts.get(meta["source"], 0) + 1
    return counts


def test_incremental_runs(config, corpus: Path) -> None:
    engine = Copilot(config)
    first = engine.index([corpus])
    assert first.files == 5 and first.indexed == 5 and not first.skipped
    assert first.pages == 2 + 3 and first.chunks == engine.store.count()
    before = chunk_sources(engine)

    again = engine.index([corpus])
    assert (again.chunks, again.indexed, again.unchanged) == (0, 0, 5)

    policy = corpus / "data-retention-policy.md"
    os.utime(policy)  # touched, not changed
    touched = engine.index([corpus])
    assert touched.chunks == 0 and touched.unchanged == 5
    assert engine.index([corpus]).unchanged == 5  # its new time was recorded: not even hashed again
    assert chunk_sources(engine) == before  # nothing of it lost: its vectors, its words, its identity
    assert len(engine.manifest.search("retention", 50, EVERYONE, str(policy))) == before["data-retention-policy.md"]
    assert engine.manifest.named("the Harbor & Vale records and data retention policy", EVERYONE)[0] == str(policy)
    with engine.manifest._db:  # an index a touch emptied this way before is mended by the next run
        engine.manifest._db.execute("DELETE FROM passages WHERE path = ?", (str(policy),))
    assert engine.manifest.wordless() == [str(policy)]
    mended = engine.index([corpus])
    assert mended.indexed == 1 and not engine.manifest.wordless() and chunk_sources(engine) == before

    policy.write_text(policy.read_text().replace("seven (7) years", "eight (8) years"))
    edited = engine.index([corpus])
    assert edited.indexed == 1 and edited.chunks == before["data-retention-policy.md"]
    assert chunk_sources(engine) == before  # replaced, not duplicated
    hits = engine.store.query(engine.embedder.embed(["client files kept eight years"])[0], 3, EVERYONE)
    assert any("eight (8) years" in h.chunk.text for h in hits)
    assert not any("seven (7) years" in h.chunk.text for h in hits)

    (corpus / "travel-and-expense-policy.txt").unlink()
    removed = engine.index([corpus])
    assert removed.removed == 1
    assert "travel-and-expense-policy.txt" not in chunk_sources(engine)
    assert engine.manifest.get(str(corpus / "travel-and-expense-policy.txt")) is None


def test_bad_files_are_reported_and_the_run_goes_on(config, corpus: Path) -> None:
    (corpus / "scan.pdf").write_bytes(b"%PDF-1.4\n%garbage\n")
    (corpus / "empty.txt").write_bytes(b"")
    (corpus / "picture.png").write_bytes(b"\x89PNG")
    (corpus / "slides.pptx").write_bytes(b"PK\x03\x04")
    summary = Copilot(config).index([corpus])
    assert summary.indexed == 5 and summary.ignored == {".pptx": 1}
    assert summary.line().endswith("\n1 file of unsupported type not read (1 .pptx)")
    reasons = dict(summary.skipped)
    assert set(reasons) == {"scan.pdf", "empty.txt", "picture.png"}
    assert reasons["empty.txt"] == "empty file (0 bytes)"
    assert reasons["scan.pdf"].startswith("corrupt: ")


def test_a_changed_file_that_became_unreadable_loses_its_old_chunks(config, corpus: Path) -> None:
    engine = Copilot(config)
    engine.index([corpus])
    (corpus / "it-security-handbook.md").write_bytes(b"   ")
    summary = engine.index([corpus])
    assert summary.skipped == [("it-security-handbook.md", "empty file")]
    assert "it-security-handbook.md" not in chunk_sources(engine)


def test_a_missing_path_is_a_clear_error(config, tmp_path: Path) -> None:
    with pytest.raises(CopilotError, match="no such file or folder"):
        Copilot(config).index([tmp_path / "nope"])


def test_a_second_writer_is_refused(config) -> None:
    with writer_lock(config.index_dir):
        with pytest.raises(IndexBusy, match=f"PID {os.getpid()}"):
            with writer_lock(config.index_dir):
                pass
