"""Saved conversations: the terminal app keeps its threads across sessions.

A user comes back to a matter days later and picks up where they left off:
the answers as shown (text, citations, the grounding check), and follow-ups
asked with that conversation's answers as context.  So each turn is the whole
`Answer`, stored as `Answer.to_dict` JSON and read back with `from_dict`.

One SQLite file, one connection shared under a lock (the app calls from
worker threads).  A file that is not a database is a one-line
`ConversationError` naming it; a turn that cannot be read is skipped.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from copilot.core.answers import Answer
from copilot.core.errors import ConversationError

TITLE_LIMIT = 60  # characters of the first question a conversation is named by

_SCHEMA = """
PRAGMA journal_mode=WAL;
PRAGMA foreign_keys=ON;
CREATE TABLE IF NOT EXISTS conversations (
    id INTEGER PRIMARY KEY, title TEXT NOT NULL DEFAULT '',
    created REAL NOT NULL, updated REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS turns (
    conversation INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    seq INTEGER NOT NULL, answer TEXT NOT NULL,  -- Answer.to_dict, as JSON
    PRIMARY KEY (conversation, seq)
);
"""

_SELECT = """
SELECT c.id, c.title, c.created, c.updated, COUNT(t.seq)
FROM conversations c LEFT JOIN turns t ON t.conversation = c.id
"""


@dataclass(frozen=True)
class Conversation:
    """A saved conversation as listed: `turns` is how many answers it holds."""

    id: int
    title: str
    created: float
    updated: float
    turns: int


def short_title(question: str, limit: int = TITLE_LIMIT) -> str:
    """The question on one line, cut at a word to at most `limit` characters with "…"."""
    text = " ".join(question.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if text[limit - 1] != " " and " " in cut:
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:") + "…"


class Conversations:
    """The conversations in one SQLite file; safe to use from several threads."""

    def __init__(self, file: Path, clock: Callable[[], float] = time.time):
        self.file = Path(file)
        self._clock = clock
        self._lock = threading.Lock()
        self.file.parent.mkdir(parents=True, exist_ok=True)
        if not self.file.exists():  # answers quote confidential documents: owner-only
            os.close(os.open(self.file, os.O_WRONLY | os.O_CREAT, 0o600))
        self._db = sqlite3.connect(self.file, check_same_thread=False)
        try:
            with self._locked() as db:
                db.executescript(_SCHEMA)
        except ConversationError:
            self._db.close()
            raise

    @contextmanager
    def _locked(self) -> Iterator[sqlite3.Connection]:
        """The connection, held alone, in one transaction; a broken file as our error."""
        with self._lock:
            try:
                with self._db:
                    yield self._db
            except (sqlite3.IntegrityError, sqlite3.ProgrammingError):
                raise  # our bug, not the file's
            except sqlite3.OperationalError as e:  # locked, read-only, disk full
                raise ConversationError(f"cannot use saved conversations in {self.file}: {e}") from e
            except sqlite3.DatabaseError as e:  # not a database, or corrupt
                raise ConversationError(f"{self.file} is not a readable conversations database: "
                                        "move it aside to start afresh") from e

    def new(self, title: str = "") -> Conversation:
        """Start an empty conversation (untitled ones take their first question)."""
        now = self._clock()
        with self._locked() as db:
            cur = db.execute("INSERT INTO conversations (title, created, updated) VALUES (?, ?, ?)",
                             (title.strip(), now, now))
        return Conversation(cur.lastrowid, title.strip(), now, now, 0)

    def list(self) -> list[Conversation]:
        """Every conversation, the most recently added to first."""
        with self._locked() as db:
            rows = db.execute(_SELECT + "GROUP BY c.id ORDER BY c.updated DESC, c.id DESC").fetchall()
        return [Conversation(*row) for row in rows]

    def get(self, id: int) -> Conversation | None:
        """One conversation, or None if there is no such id."""
        with self._locked() as db:
            row = db.execute(_SELECT + "WHERE c.id = ? GROUP BY c.id", (id,)).fetchone()
        return Conversation(*row) if row else None

    def rename(self, id: int, title: str) -> None:
        """Give a conversation a title of the user's own."""
        if not title.strip():
            raise ConversationError("a conversation's title cannot be empty")
        with self._locked() as db:
            cur = db.execute("UPDATE conversations SET title = ? WHERE id = ?", (title.strip(), id))
        if not cur.rowcount:
            raise ConversationError(f"there is no conversation {id}")

    def delete(self, id: int) -> None:
        """Forget a conversation and all its answers (no such id: nothing to do)."""
        with self._locked() as db:
            db.execute("DELETE FROM conversations WHERE id = ?", (id,))

    def add(self, id: int, answer: Answer) -> None:
        """Append an answer as the conversation's next turn; name it if it is untitled."""
        saved = json.dumps(answer.to_dict(), ensure_ascii=False)
        with self._locked() as db:
            row = db.execute("SELECT title FROM conversations WHERE id = ?", (id,)).fetchone()
            if row is None:
                raise ConversationError(f"there is no conversation {id}")
            db.execute(
                "INSERT INTO turns (conversation, seq, answer) VALUES "
                "(?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM turns WHERE conversation = ?), ?)",
                (id, id, saved),
            )
            title = row[0] or short_title(answer.question)
            db.execute("UPDATE conversations SET title = ?, updated = ? WHERE id = ?",
                       (title, self._clock(), id))

    def answers(self, id: int) -> list[Answer]:
        """A conversation's answers in the order given; a turn that cannot be read is left out."""
        with self._locked() as db:
            rows = db.execute("SELECT answer FROM turns WHERE conversation = ? ORDER BY seq",
                              (id,)).fetchall()
        out = []
        for (saved,) in rows:
            try:
                out.append(Answer.from_dict(json.loads(saved)))
            except (ValueError, KeyError, TypeError, AttributeError):
                continue
        return out

    def close(self) -> None:
        """Close the file (the store cannot be used after)."""
        with self._lock:
            self._db.close()
