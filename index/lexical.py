"""The lexical index: BM25 over the same passages as the vector store (SQLite FTS5).

It lives in the manifest's database, and a file's passages are written in
the very transaction that writes its manifest row, so the lexical index is
never out of step with what readers may see.  Each passage is indexed with
its document's title and file name, so a question that names a contract
("the Acme supply agreement") reaches that contract's passages.

Each document also has one row of its own, its *identity*: title, file name
(CamelCase and underscores split into words) and opening passages, where
contracts, letters and memos name their parties and subject.  `named()`
finds the document a question names and the words it names it by.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Sequence

from copilot.core.records import Chunk, Hit
from copilot.core.walls import Walls


SCHEMA = """
CREATE TABLE IF NOT EXISTS passages (
    id INTEGER PRIMARY KEY,
    path TEXT NOT NULL, sha256 TEXT NOT NULL, chunk INTEGER NOT NULL, page INTEGER NOT NULL,
    heading TEXT NOT NULL, source TEXT NOT NULL, title TEXT NOT NULL, text TEXT NOT NULL,
    ocr INTEGER NOT NULL DEFAULT 0
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
CREATE VIRTUAL TABLE IF NOT EXISTS identities USING fts5(
    path UNINDEXED, identity, tokenize='porter unicode61'
);
"""
IDENTITY_PASSAGES = 2  # opening passages that name a document's parties and subject
DECISIVE = 1.5  # the named document must outscore the next one by this factor
RARE = 0.1  # a naming word occurs in at most this share of documents (and at most in 3)

# Words too common to say anything about which passage answers a question.
STOPWORDS = frozenset("""
a an and are as at be been but by can could did do does for from had has have how i if in into is it
its may might must not of on or shall should so than that the their them then there these they this
those to under was were what when where which who whom whose why will with would you your
""".split())


def identity(source: str, title: str, opening: Sequence[str]) -> str:
    """What names a document: its title, its file name as words, its opening passages."""
    stem = source.rsplit(".", 1)[0]
    name = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", re.sub(r"[_\-.,()\[\]]+", " ", stem))
    return "\n".join([title, name, *opening])


def replace(db: sqlite3.Connection, path: str, chunks: Sequence[Chunk], title: str) -> None:
    """Make `chunks` the file's passages (inside the caller's transaction)."""
    db.execute("DELETE FROM passages WHERE path = ?", (path,))
    db.execute("DELETE FROM identities WHERE path = ?", (path,))
    db.executemany(
        "INSERT INTO passages (path, sha256, chunk, page, heading, source, title, text, ocr)"
        " VALUES (?,?,?,?,?,?,?,?,?)",
        [(c.path, c.doc_sha256, c.number, c.page, c.heading, c.source, title, c.text, c.ocr)
         for c in chunks],
    )
    if chunks:
        opening = [c.text for c in sorted(chunks, key=lambda c: c.number)[:IDENTITY_PASSAGES]]
        db.execute("INSERT INTO identities (path, identity) VALUES (?, ?)",
                   (path, identity(chunks[0].source, title, opening)))


def fill_identities(db: sqlite3.Connection) -> None:
    """Give every document of an index written before identities were kept its identity."""
    rows = db.execute(
        "SELECT path, source, title, text FROM passages WHERE chunk < ? AND path NOT IN"
        " (SELECT path FROM identities) ORDER BY path, chunk", (IDENTITY_PASSAGES,)
    ).fetchall()
    docs: dict[str, tuple[str, str, list[str]]] = {}
    for path, source, title, text in rows:
        docs.setdefault(path, (source, title, []))[2].append(text)
    db.executemany("INSERT INTO identities (path, identity) VALUES (?, ?)",
                   [(p, identity(s, t, o)) for p, (s, t, o) in docs.items()])


def scope(walls: Walls, column: str) -> tuple[str, tuple[str, ...]]:
    """An SQL condition keeping rows whose document (by `column`, a path) is behind `walls`.

    The collection is kept once, on the document's manifest row: passages and
    identities are filtered through it inside the query, so a walled
    passage is never read, not read and dropped.
    """
    where, names = walls.sql("collection")
    return (f" AND {column} IN (SELECT path FROM documents WHERE 1{where})", names) if where else ("", ())


def named(db: sqlite3.Connection, question: str, walls: Walls) -> tuple[str, set[str]] | None:
    """The document `question` names, and the question's words that name it; None if none.

    A document is named when it matches the question by its identity far
    better than any other (by `DECISIVE`) through at least two rare words:
    words a handful of documents use, like a party's name, not "agreement".
    The words naming it are then all the question's words its identity holds
    and most documents' do not ("law" or "term" stay: they say what is asked).
    """
    expression = match_expression(question)
    if not expression:
        return None
    where, names = scope(walls, "path")
    rows = db.execute(
        "SELECT path, -bm25(identities) FROM identities WHERE identities MATCH ?" + where +
        " ORDER BY bm25(identities) LIMIT 2", (expression, *names)
    ).fetchall()
    if not rows or (len(rows) == 2 and rows[0][1] < DECISIVE * rows[1][1]):
        return None
    path = rows[0][0]
    (total,) = db.execute("SELECT count(*) FROM identities WHERE 1" + where, names).fetchone()
    rare = max(1, min(3, int(RARE * total)))
    naming, rare_ones = set(), 0
    for word in content_words(question):
        quoted = f'"{word}"'
        if not db.execute("SELECT 1 FROM identities WHERE identities MATCH ? AND path = ?",
                          (quoted, path)).fetchone():
            continue
        (count,) = db.execute("SELECT count(*) FROM identities WHERE identities MATCH ?" + where,
                              (quoted, *names)).fetchone()
        if count <= max(1, total // 2):
            naming.add(word)
            rare_ones += count <= rare
    return (path, naming) if rare_ones >= 2 else None


def content_words(question: str) -> list[str]:
    """The question's meaningful words, lower-cased, in order, once each."""
    words = [w for w in re.findall(r"\w+", question.lower()) if w not in STOPWORDS and len(w) > 1]
    return list(dict.fromkeys(words))


def match_expression(question: str) -> str:
    """An FTS5 query: any of the question's meaningful words, each quoted (no syntax leaks)."""
    return " OR ".join(f'"{w}"' for w in content_words(question))


def search(db: sqlite3.Connection, question: str, k: int, walls: Walls, path: str | None = None) -> list[Hit]:
    """The `k` best passages by BM25 (score: BM25, higher is better) behind `walls`, of one file if `path`."""
    expression = match_expression(question)
    if not expression:
        return []
    where, names = scope(walls, "p.path")
    rows = db.execute(
        "SELECT p.path, p.source, p.page, p.chunk, p.text, p.sha256, p.heading, -bm25(passages_fts),"
        " COALESCE(d.collection, ''), p.ocr"
        " FROM passages_fts JOIN passages p ON p.id = passages_fts.rowid"
        " LEFT JOIN documents d ON d.path = p.path"
        " WHERE passages_fts MATCH ? AND (? IS NULL OR p.path = ?)" + where +
        " ORDER BY bm25(passages_fts) LIMIT ?",
        (expression, path, path, *names, k),
    ).fetchall()
    return [Hit(Chunk(path, source, page, number, text, sha, heading, collection, bool(ocr)), score)
            for path, source, page, number, text, sha, heading, score, collection, ocr in rows]
