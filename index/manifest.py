"""The per-file manifest: what was indexed, from which version, or why not.

It is the source of truth for incremental runs and for readers: a file's
chunks count only once its row says `indexed` with that chunk's sha256, so a
run killed half-way through a file leaves nothing of it visible.  Before the
store is touched for a file, the file is written to `pending`; the store
write and the final row come after.  A run that finds `pending` rows left by
a killed run undoes them first (see `Indexer.recover`).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from copilot.core.admin import Totals
from copilot.core.records import Chunk, Entry, Hit
from copilot.core.walls import DEFAULT_COLLECTION, Walls
from index import lexical

SCHEMA = f"""
CREATE TABLE IF NOT EXISTS documents (
    path TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    status TEXT NOT NULL,          -- indexed | skipped
    reason TEXT NOT NULL DEFAULT '',
    pages INTEGER NOT NULL DEFAULT 0,
    chunks INTEGER NOT NULL DEFAULT 0,
    updated REAL NOT NULL,
    title TEXT NOT NULL DEFAULT '',
    collection TEXT NOT NULL DEFAULT '{DEFAULT_COLLECTION}',
    ocr_pages INTEGER NOT NULL DEFAULT 0   -- of `pages`, those read by OCR (scans)
);
CREATE TABLE IF NOT EXISTS pending (path TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


class Manifest:
    """A small SQLite table of files, safe to read while another process writes."""

    def __init__(self, file: Path):
        file.parent.mkdir(parents=True, exist_ok=True)
        self.file = file
        # One connection shared by the app's worker threads, serialised by a lock.
        self._db = sqlite3.connect(file, timeout=30, check_same_thread=False)
        self._lock = threading.Lock()
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(SCHEMA)
        self._db.executescript(lexical.SCHEMA)
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(documents)")}
        if "title" not in columns:  # a manifest written before titles were kept
            self._db.execute("ALTER TABLE documents ADD COLUMN title TEXT NOT NULL DEFAULT ''")
        if "collection" not in columns:  # ... or before collections (the next run rebuilds it)
            self._db.execute(f"ALTER TABLE documents ADD COLUMN collection TEXT NOT NULL DEFAULT '{DEFAULT_COLLECTION}'")
        if "ocr_pages" not in columns:  # ... or before scans were read (none was, then)
            self._db.execute("ALTER TABLE documents ADD COLUMN ocr_pages INTEGER NOT NULL DEFAULT 0")
        if "ocr" not in {row[1] for row in self._db.execute("PRAGMA table_info(passages)")}:
            self._db.execute("ALTER TABLE passages ADD COLUMN ocr INTEGER NOT NULL DEFAULT 0")
        if self._db.execute("SELECT 1 FROM identities LIMIT 1").fetchone() is None:
            with self._db:  # an index written before identities were kept
                lexical.fill_identities(self._db)

    def _rows(self, sql: str, args: tuple = ()) -> list[tuple]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    def get(self, path: str) -> Entry | None:
        rows = self._rows("SELECT * FROM documents WHERE path = ?", (path,))
        return Entry(*rows[0]) if rows else None

    def entries(self) -> list[Entry]:
        return [Entry(*r) for r in self._rows("SELECT * FROM documents ORDER BY path")]

    def put(self, entry: Entry, chunks: Sequence[Chunk] = ()) -> None:
        """Write a file's row, its passages for lexical search and, in the same
        transaction, clear its pending mark."""
        with self._lock, self._db:
            lexical.replace(self._db, entry.path, chunks, entry.title)
            self._db.execute(
                "INSERT OR REPLACE INTO documents VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    entry.path, entry.source, entry.size, entry.mtime_ns, entry.sha256,
                    entry.status, entry.reason, entry.pages, entry.chunks,
                    entry.updated or time.time(), entry.title, entry.collection, entry.ocr_pages,
                ),
            )
            self._db.execute("DELETE FROM pending WHERE path = ?", (entry.path,))

    def retime(self, path: str, mtime_ns: int) -> None:
        """Record a file's new modification time: touched or copied, its content (and so its
        passages and identity) unchanged."""
        with self._lock, self._db:
            self._db.execute("UPDATE documents SET mtime_ns = ? WHERE path = ?", (mtime_ns, path))

    def begin(self, path: str) -> None:
        """Mark a file as about to change in the store (committed before the store is touched)."""
        with self._lock, self._db:
            self._db.execute("INSERT OR IGNORE INTO pending VALUES (?)", (path,))

    def wordless(self) -> list[str]:
        """Indexed files with no passages for lexical search: until `retime` existed, a
        touched file's row was rewritten with no passages (the next run re-indexes them)."""
        return [p for (p,) in self._rows(
            "SELECT path FROM documents WHERE status = 'indexed' AND chunks > 0"
            " AND NOT EXISTS (SELECT 1 FROM passages WHERE passages.path = documents.path)")]

    def generation(self) -> int:
        """A number that changes whenever another connection (another process indexing)
        commits a change to the ledger: SQLite's own `data_version`, so reading it before
        each question costs nothing.  This connection's own writes leave it as it was."""
        return int(self._rows("PRAGMA data_version")[0][0])

    def pending(self) -> list[str]:
        """Files a killed run left half-written in the store."""
        return [r[0] for r in self._rows("SELECT path FROM pending ORDER BY path")]

    def setting(self, key: str) -> str | None:
        rows = self._rows("SELECT value FROM settings WHERE key = ?", (key,))
        return rows[0][0] if rows else None

    def set_setting(self, key: str, value: str) -> None:
        with self._lock, self._db:
            self._db.execute("INSERT OR REPLACE INTO settings VALUES (?, ?)", (key, value))

    def remove(self, path: str) -> None:
        """Forget a file (and any pending mark it has)."""
        with self._lock, self._db:
            self._db.execute("DELETE FROM documents WHERE path = ?", (path,))
            self._db.execute("DELETE FROM pending WHERE path = ?", (path,))
            lexical.replace(self._db, path, (), "")

    def clear(self) -> None:
        """Forget every file at once (the index is being rebuilt)."""
        with self._lock, self._db:
            for table in ("documents", "pending", "passages", "identities"):
                self._db.execute(f"DELETE FROM {table}")

    def indexed_versions(self, walls: Walls) -> dict[str, str]:
        """path → sha256 of every fully indexed file behind `walls` (what readers may see)."""
        # A pending file is being rewritten in the store: whole or absent, never half.
        scope, args = walls.sql("collection")
        return dict(self._rows(
            "SELECT path, sha256 FROM documents WHERE status = 'indexed'"
            " AND path NOT IN (SELECT path FROM pending)" + scope, args
        ))

    def search(self, question: str, k: int, walls: Walls, path: str | None = None) -> list[Hit]:
        """BM25 over the passages behind `walls`, or over one file's."""
        with self._lock:
            return lexical.search(self._db, question, k, walls, path)

    def named(self, question: str, walls: Walls) -> tuple[str, set[str]] | None:
        """The document behind `walls` the question names, and the words naming it."""
        with self._lock:
            return lexical.named(self._db, question, walls)

    def totals(self, walls: Walls) -> Totals:
        """Files, pages (and of them, pages read by OCR) and chunks indexed, files skipped:
        of the collections `walls` open (how much lies behind a wall is not told either)."""
        clause, names = walls.sql("collection")
        (row,) = self._rows(
            "SELECT COALESCE(SUM(status='indexed'),0), COALESCE(SUM(pages),0),"
            " COALESCE(SUM(chunks),0), COALESCE(SUM(status='skipped'),0),"
            " COALESCE(SUM(ocr_pages),0) FROM documents WHERE 1" + clause, names
        )
        return Totals(*row)

    def close(self) -> None:
        self._db.close()
