"""The lexical index: BM25 over the same passages as the vector store (SQLite FTS5).

It lives in the manifest's database, and a file's passages are written in
the very transaction that writes its manifest row, so the lexical index is
never out of step with what readers may see.  Each passage is indexed with
its document's title and file name, so a question that names a contract
("the Acme supply agreement") reaches that contract's passages.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Sequence

from copilot.types import Chunk, Hit

SCHEMA = """
CREATE TABLE IF NOT EXISTS passages (
    id INTEGER PRIMARY KEY,
    path TEXT NOT NULL, sha256 TEXT NOT NULL, chunk INTEGER NOT NULL, page INTEGER NOT NULL,
    heading TEXT NOT NULL, source TEXT NOT NULL, title TEXT NOT NULL, text TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS passages_path ON passages(path);
CREATE VIRTUAL TABLE IF NOT EXISTS passages_fts USING fts5(
    text, heading, title, source, content='passages', content_rowid='id',
    tokenize='porter unicode61'
);
CREATE TRIGGER IF NOT EXISTS passages_ai AFTER INSERT ON passages BEGIN
    INSERT INTO passages_fts(rowid, text, heading, title, source)
    VALUES (new.id, new.text, new.heading, new.title, new.source);
END;
CREATE TRIGGER IF NOT EXISTS passages_ad AFTER DELETE ON passages BEGIN
    INSERT INTO passages_fts(passages_fts, rowid, text, heading, title, source)
    VALUES ('delete', old.id, old.text, old.heading, old.title, old.source);
END;
"""

# Words too common to say anything about which passage answers a question.
STOPWORDS = frozenset("""
a an and are as at be been but by can could did do does for from had has have how i if in into is it
its may might must not of on or shall should so than that the their them then there these they this
those to under was were what when where which who whom whose why will with would you your
""".split())


def replace(db: sqlite3.Connection, path: str, chunks: Sequence[Chunk], title: str) -> None:
    """Make `chunks` the file's passages (inside the caller's transaction)."""
    db.execute("DELETE FROM passages WHERE path = ?", (path,))
    db.executemany(
        "INSERT INTO passages (path, sha256, chunk, page, heading, source, title, text)"
        " VALUES (?,?,?,?,?,?,?,?)",
        [(c.path, c.doc_sha256, c.number, c.page, c.heading, c.source, title, c.text) for c in chunks],
    )


def match_expression(question: str) -> str:
    """An FTS5 query: any of the question's meaningful words, each quoted (no syntax leaks)."""
    words = [w for w in re.findall(r"\w+", question.lower()) if w not in STOPWORDS and len(w) > 1]
    return " OR ".join(f'"{w}"' for w in dict.fromkeys(words))


def search(db: sqlite3.Connection, question: str, k: int) -> list[Hit]:
    """The `k` best passages by BM25 (score: BM25, higher is better)."""
    expression = match_expression(question)
    if not expression:
        return []
    rows = db.execute(
        "SELECT p.path, p.source, p.page, p.chunk, p.text, p.sha256, p.heading, -bm25(passages_fts)"
        " FROM passages_fts JOIN passages p ON p.id = passages_fts.rowid"
        " WHERE passages_fts MATCH ? ORDER BY bm25(passages_fts) LIMIT ?",
        (expression, k),
    ).fetchall()
    return [Hit(Chunk(path, source, page, number, text, sha, heading), score)
            for path, source, page, number, text, sha, heading, score in rows]
