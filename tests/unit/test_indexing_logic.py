"""The indexing run's logic with fakes: crash recovery, rebuilds, passwords, status, progress."""

import os
import shutil
from pathlib import Path

import pytest

from copilot.cli.status import read_passwords
from copilot.core.config import Config
from copilot.core.errors import ConfigError
from copilot.core.walls import Walls
from copilot.engine.local import Copilot
from copilot.llama.models import resolve_embedder
from index import lexical, ocr as ocr_engine
from index.chunking import Chunker
from index.indexer import Indexer
from index.manifest import Manifest

from conftest import EXAMPLES, HOSTILE
from fakes import BagOfWordsEmbedder, DictStore
import scans

EVERYONE = Walls.everything()  # no wall: the walls themselves are tested in test_walls.py


class Named(BagOfWordsEmbedder):
    """A fake embedder with a name (what the index records) and the real tokenizer's file."""

    tokenizer_file = resolve_embedder("") / "tokenizer.json"
    window = 256

    def __init__(self, name: str = "bag-a"):
        self.name = name
        self.calls = 0

    def embed(self, texts):
        self.calls += len(texts)
        return super().embed(texts)


@pytest.fixture
def parts(tmp_path: Path):
    tokenizer = resolve_embedder("") / "tokenizer.json"
    store, manifest = DictStore(), Manifest(tmp_path / "manifest.sqlite")
    return store, manifest, Chunker(tokenizer, 200, 32)


def make(parts, embedder=None, passwords=()):
    store, manifest, chunker = parts
    return Indexer(store, manifest, chunker, embedder or Named(), passwords)


def test_a_run_killed_mid_write_is_undone_then_redone(parts, corpus: Path) -> None:
    store, manifest, _ = parts
    make(parts).run([corpus])
    whole = store.paths()
    policy = corpus / "data-retention-policy.md"
    policy.write_text(policy.read_text() + "\n\nA new closing paragraph.\n")
    store.fail_after = 2  # dies after writing two chunks of the new version
    with pytest.raises(KeyboardInterrupt):
        make(parts).run([corpus])
    assert manifest.pending() == [str(policy)]
    store.fail_after = None
    summary = make(parts).run([corpus])
    assert summary.indexed == 1 and summary.unchanged == 4 and not manifest.pending()
    assert store.paths() == {**whole, str(policy): manifest.get(str(policy)).chunks}


def test_a_kill_before_the_store_is_touched_leaves_the_old_version_visible(parts, corpus: Path) -> None:
    store, manifest, _ = parts
    make(parts).run([corpus])
    before = manifest.indexed_versions(EVERYONE)

    class Dying(Named):
        def embed(self, texts):
            raise KeyboardInterrupt("killed while embedding")

    (corpus / "it-security-handbook.md").write_text("# Changed\n\nAll new text.\n")
    with pytest.raises(KeyboardInterrupt):
        make(parts, Dying("bag-a")).run([corpus])
    assert manifest.indexed_versions(EVERYONE) == before and not manifest.pending()


def test_another_embedder_rebuilds_everything(parts, corpus: Path) -> None:
    make(parts, Named("bag-a")).run([corpus])
    again = Named("bag-a")
    assert make(parts, again).run([corpus]).unchanged == 5 and again.calls == 0
    other = Named("bag-b")
    summary = make(parts, other).run([corpus])
    assert summary.indexed == 5 and other.calls == summary.chunks > 0
    assert parts[1].setting("embedder") == "bag-b"


def test_identical_copies_in_two_folders_are_two_sources(parts, tmp_path: Path) -> None:
    store, manifest, _ = parts
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        shutil.copy(EXAMPLES / "data-retention-policy.md", tmp_path / name / "policy.md")
    make(parts).run([tmp_path / "a", tmp_path / "b"])
    n = manifest.get(str(tmp_path / "a" / "policy.md")).chunks
    os.remove(tmp_path / "a" / "policy.md")
    make(parts).run([tmp_path / "a", tmp_path / "b"])
    assert store.paths() == {str(tmp_path / "b" / "policy.md"): n}


def test_passwords_reopen_files_skipped_for_want_of_one(parts, tmp_path: Path) -> None:
    shutil.copy(HOSTILE / "pypdf--r4-user-password.pdf", tmp_path / "locked.pdf")
    first = make(parts).run([tmp_path])
    assert first.skipped == [("locked.pdf", "encrypted: needs a password")]
    assert make(parts).run([tmp_path]).unchanged == 1  # no password: not retried
    second = make(parts, passwords=["nope", "asdfzxcv"]).run([tmp_path])
    assert second.indexed == 1 and second.pages == 1 and not second.skipped


def make_ocr(parts, ocr: bool):
    store, manifest, chunker = parts
    return Indexer(store, manifest, chunker, Named(), ocr=ocr)


@pytest.mark.skipif(not ocr_engine.available(), reason="tesserocr or its models are not installed")
def test_scans_skipped_with_ocr_off_are_read_once_it_is_on_and_never_read_twice(parts, tmp_path: Path,
                                                                                  monkeypatch) -> None:
    store, manifest, _ = parts
    scans.pdf(tmp_path / "signed.pdf", ["The term of this lease is five years.", scans.scanned_page()])
    scans.pdf(tmp_path / "scan.pdf", [scans.scanned_page()])
    off = make_ocr(parts, ocr=False).run([tmp_path])
    assert off.indexed == 1 and off.skipped == [
        ("scan.pdf", "no extractable text (scanned; OCR is turned off: ocr in config.toml)")]
    assert off.partial == [("signed.pdf", "page 2: no extractable text (scanned; OCR is turned off: ocr in config.toml)")]
    assert make_ocr(parts, ocr=False).run([tmp_path]).unchanged == 2  # still off: nothing to retry
    on = make_ocr(parts, ocr=True).run([tmp_path])
    assert (on.indexed, on.pages, on.ocr_pages, on.skipped, on.partial) == (2, 3, 2, [], [])
    assert "2 read by OCR" in on.line()
    entries = {e.source: e for e in manifest.entries()}
    assert (entries["signed.pdf"].ocr_pages, entries["signed.pdf"].notes) == (1, "1 page read by OCR")
    assert {(c.source, c.page) for c in store.rows.values() if c.ocr} == {("signed.pdf", 2), ("scan.pdf", 1)}
    (hit,) = manifest.search("Docling bundles conversion", 1, EVERYONE, path=str(tmp_path / "scan.pdf"))
    assert hit.chunk.ocr  # the lexical index knows a scan's passages too

    def never(image):
        raise AssertionError("an unchanged scan was read again")

    monkeypatch.setattr(ocr_engine, "read", never)
    os.utime(tmp_path / "scan.pdf")  # touched, same content
    again = make_ocr(parts, ocr=True).run([tmp_path])
    assert again.unchanged == 2 and again.ocr_pages == 0


@pytest.mark.skipif(not ocr_engine.available(), reason="tesserocr or its models are not installed")
def test_progress_counts_pages_read_by_ocr_and_moves_through_a_scan(parts, tmp_path: Path) -> None:
    from copilot.core.indexing import Tally

    scans.pdf(tmp_path / "scan.pdf", [scans.scanned_page()] * 2)
    moved: list[tuple[int, float]] = []

    class Watch(Tally):
        def changed(self) -> None:
            moved.append((self.ocr_pages, self.fraction))

    make_ocr(parts, ocr=True).run([tmp_path], Watch())
    reading = [m for m in moved if m[0]]
    assert [n for n, _ in reading][:2] == [1, 2]
    assert 0 < reading[0][1] < reading[1][1] < 1  # the bar moves while pages are read


def test_an_index_from_before_scans_were_read_opens_as_it_was(tmp_path: Path) -> None:
    import sqlite3

    old = tmp_path / "manifest.sqlite"
    with sqlite3.connect(old) as db:  # the tables as the last release wrote them
        db.executescript(
            "CREATE TABLE documents (path TEXT PRIMARY KEY, source TEXT NOT NULL, size INTEGER NOT NULL,"
            " mtime_ns INTEGER NOT NULL, sha256 TEXT NOT NULL, status TEXT NOT NULL, reason TEXT NOT NULL DEFAULT '',"
            " pages INTEGER NOT NULL DEFAULT 0, chunks INTEGER NOT NULL DEFAULT 0, updated REAL NOT NULL,"
            " title TEXT NOT NULL DEFAULT '', collection TEXT NOT NULL DEFAULT 'general');"
            + lexical.SCHEMA.replace(",\n    ocr INTEGER NOT NULL DEFAULT 0", "") +
            "INSERT INTO documents VALUES ('/d/a.pdf', 'a.pdf', 1, 1, 'ab', 'indexed', '', 2, 3, 0, 'A', 'general');"
            "INSERT INTO passages VALUES (1, '/d/a.pdf', 'ab', 0, 1, '', 'a.pdf', 'A', 'the lease term is five years');"
        )
        assert "ocr" not in {row[1] for row in db.execute("PRAGMA table_info(passages)")}
    manifest = Manifest(old)
    (entry,) = manifest.entries()
    assert (entry.pages, entry.ocr_pages, entry.notes) == (2, 0, "")
    assert manifest.totals(EVERYONE).ocr_pages == 0
    (hit,) = manifest.search("lease term", 1, EVERYONE)
    assert hit.chunk.page == 1 and not hit.chunk.ocr


def test_progress_reports_pages_chunks_and_whole_files(parts, corpus: Path) -> None:
    seen = {"pages": 0, "chunks": 0, "files": 0, "last": 0.0}

    class Recorder:
        def start(self, files, total_bytes):
            seen["total"] = (files, total_bytes)

        def file(self, source, size):
            seen["last"] = 0.0

        def read(self, page, pages):
            raise AssertionError("no scan in this folder: nothing is read by OCR")

        def advance(self, pages, chunks, fraction):
            seen["pages"] += pages
            seen["chunks"] += chunks
            assert fraction > seen["last"]
            seen["last"] = fraction

        def done(self, source):
            seen["files"] += 1

    summary = make(parts).run([corpus], Recorder())
    size = sum(f.stat().st_size for f in corpus.iterdir())
    assert seen["total"] == (5, size) and seen["files"] == 5
    assert seen["chunks"] == summary.chunks and seen["pages"] >= summary.pages


def test_status_tells_indexed_skipped_stale_and_pending(tmp_path: Path, corpus: Path) -> None:
    engine = Copilot(Config(home=tmp_path / "home"))
    engine._parts["embedder"] = Named()
    engine._parts["store"] = DictStore()
    (corpus / "empty.txt").write_text("")
    engine.index([corpus])
    (corpus / "travel-and-expense-policy.txt").write_text("changed")
    engine.manifest.begin(str(corpus / "it-security-handbook.md"))
    states = {e.source: state for state, e in engine.status(engine.local_reader())}
    assert states == {
        "data-retention-policy.md": "indexed", "engagement-letter-northwind.pdf": "indexed",
        "master-services-agreement-acme-bluefield.pdf": "indexed", "empty.txt": "skipped",
        "travel-and-expense-policy.txt": "stale", "it-security-handbook.md": "pending",
    }


def test_password_file(tmp_path: Path) -> None:
    file = tmp_path / "pw.txt"
    file.write_text("# IT's list\n\n s3cret with spaces \nasdfzxcv\n")
    file.chmod(0o600)
    warnings: list[str] = []
    assert read_passwords(file, warnings.append) == (" s3cret with spaces ", "asdfzxcv")
    assert warnings == []
    file.chmod(0o644)
    read_passwords(file, warnings.append)
    assert "readable by other users" in warnings[0]
    file.write_text("# nothing\n")
    with pytest.raises(ConfigError, match="holds no passwords"):
        read_passwords(file, warnings.append)
    with pytest.raises(ConfigError, match="cannot read"):
        read_passwords(tmp_path / "missing.txt", warnings.append)


def test_asking_an_index_built_by_another_embedder_says_rebuild(tmp_path: Path, corpus: Path) -> None:
    from copilot.core.errors import IndexStale

    config = Config(home=tmp_path / "home")
    first = Copilot(config)
    first._parts.update(embedder=Named("bag-a"), store=DictStore())
    first.index([corpus])
    later = Copilot(config)
    later._parts.update(embedder=Named("bag-b"))
    with pytest.raises(IndexStale, match="built with the embedder bag-a.*run `copilot index`"):
        later.ask("How long are files kept?", later.local_reader())


def test_broken_links_and_vanishing_files_are_reported_not_fatal(parts, corpus: Path) -> None:
    os.symlink(corpus / "nowhere.md", corpus / "broken.md")
    summary = make(parts).run([corpus])
    assert summary.indexed == 5
    assert summary.skipped == [("broken.md", "cannot be read: No such file or directory")]


def test_a_tally_counts_files_chunks_and_bytes_as_the_run_goes(parts, corpus: Path) -> None:
    """What the CLI's bar and the app's index screen show: one count for both."""
    from copilot.core.indexing import Tally

    fractions: list[float] = []

    class Watched(Tally):
        def changed(self) -> None:
            fractions.append(self.fraction)

    tally = Watched()
    summary = make(parts).run([corpus], tally)
    assert (tally.files, tally.total_files) == (summary.files, summary.files)
    assert tally.chunks == summary.chunks and tally.pages >= summary.pages  # sections count too
    assert fractions == sorted(fractions) and fractions[-1] == 1.0 and any(0 < f < 1 for f in fractions)
