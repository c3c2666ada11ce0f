"""The per-file manifest: what was indexed, from which version, or why not.

It is the source of truth for incremental runs and for readers: a file's
chunks count only once its row says `indexed` with that chunk's sha256, so a
run killed half-way through a file leaves nothing of it visible.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

SCHEMA = """
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
    updated REAL NOT NULL
);
"""


@dataclass(frozen=True)
class Entry:
    """One file's row."""

    path: str
    source: str
    size: int
    mtime_ns: int
    sha256: str
    status: str
    reason: str = ""
    pages: int = 0
    chunks: int = 0
    updated: float = 0.0


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

    def _rows(self, sql: str, args: tuple = ()) -> list[tuple]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    def get(self, path: str) -> Entry | None:
        rows = self._rows("SELECT * FROM documents WHERE path = ?", (path,))
        return Entry(*rows[0]) if rows else None

    def entries(self) -> list[Entry]:
        return [Entry(*r) for r in self._rows("SELECT * FROM documents ORDER BY path")]

    def put(self, entry: Entry) -> None:
        with self._lock, self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO documents VALUES (?,?,?,?,?,?,?,?,?,?)",
                (
                    entry.path, entry.source, entry.size, entry.mtime_ns, entry.sha256,
                    entry.status, entry.reason, entry.pages, entry.chunks,
                    entry.updated or time.time(),
                ),
            )

    def remove(self, path: str) -> None:
        with self._lock, self._db:
            self._db.execute("DELETE FROM documents WHERE path = ?", (path,))

    def indexed_versions(self) -> dict[str, str]:
        """path → sha256 of every fully indexed file (what readers may see)."""
        return dict(self._rows("SELECT path, sha256 FROM documents WHERE status = 'indexed'"))

    def totals(self) -> dict[str, int]:
        """Files, pages and chunks indexed; files skipped."""
        (row,) = self._rows(
            "SELECT COALESCE(SUM(status='indexed'),0), COALESCE(SUM(pages),0),"
            " COALESCE(SUM(chunks),0), COALESCE(SUM(status='skipped'),0) FROM documents"
        )
        return dict(zip(("files", "pages", "chunks", "skipped"), row))

    def close(self) -> None:
        self._db.close()
