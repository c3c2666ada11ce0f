"""Where a review keeps what it has answered: one SQLite file per review, written cell by cell.

A review is named (`--name`, by default from the paths or collection it
covers) and lives in `$COPILOT_HOME/reviews/NAME.sqlite`.  A cell is keyed by
what its answer depends on: the document (path and the sha256 of the version
indexed), the question, and the model.  So a run killed at any moment goes on
from the last cell committed; a document that changed has a new sha256, and
only its row is asked again; a new column is only that column's cells.  Each
cell is one transaction (WAL, synchronous=FULL): a crash leaves every
finished cell and no half of one.

A reviewer's sign-off of a cell (accepted, or corrected: the answer stays,
the correction beside it, with who signed and when) is kept under the same
key, so it belongs to the answer it judged: a document that changes is a
new answer to sign off.
"""

from __future__ import annotations

import json
import re
import sqlite3
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from copilot.core.answers import Answer
from copilot.core.errors import CopilotError

SCHEMA = """
CREATE TABLE IF NOT EXISTS cells (
    document TEXT NOT NULL, sha256 TEXT NOT NULL, question TEXT NOT NULL, model TEXT NOT NULL,
    answer TEXT NOT NULL, answered REAL NOT NULL,
    PRIMARY KEY (document, sha256, question, model));
CREATE TABLE IF NOT EXISTS signoffs (
    document TEXT NOT NULL, sha256 TEXT NOT NULL, question TEXT NOT NULL, model TEXT NOT NULL,
    verdict TEXT NOT NULL, correction TEXT NOT NULL, user TEXT NOT NULL, signed REAL NOT NULL,
    PRIMARY KEY (document, sha256, question, model));
CREATE TABLE IF NOT EXISTS review (
    one INTEGER PRIMARY KEY CHECK (one = 1),
    name TEXT NOT NULL, scope TEXT NOT NULL, columns TEXT NOT NULL, updated REAL NOT NULL);
"""
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
SUFFIX = ".sqlite"


class ReviewStoreError(CopilotError):
    """The review's file cannot be opened or written, or its name is not one; the message says why."""


@dataclass(frozen=True)
class Key:
    """What a cell's answer depends on."""

    document: str
    sha256: str
    question: str
    model: str


@dataclass(frozen=True)
class Verdict:
    """A reviewer's sign-off of a cell: "accepted", or "corrected" with the `correction`;
    who signed it (`user`) and when (`signed`, seconds since the epoch)."""

    verdict: str
    correction: str
    user: str
    signed: float


@dataclass(frozen=True)
class Saved:
    """A review as last run: its scope ({"paths": [...]} or {"collection": NAME}), its columns as
    written, when it last ran, and how many cells it holds."""

    name: str
    scope: dict
    columns: tuple[str, ...]
    updated: float
    cells: int


def checked_name(name: str) -> str:
    """`name` if it can name a review's file (`ReviewStoreError` otherwise)."""
    if not NAME.fullmatch(name):
        raise ReviewStoreError(f"a review's name is 1 to 64 letters, digits, '.', '_' or '-' "
                               f"(starting with a letter or digit), not {name!r}")
    return name


def default_name(paths: Sequence[str | Path], collection: str | None) -> str:
    """A review's name from what it covers: the collection, or the first folder's name and a
    digest of every path (the same folders are the same review, whatever its columns)."""
    import hashlib

    if collection is not None:
        base, digest = f"collection-{collection}", ""
    else:
        where = sorted({str(Path(p).resolve()) for p in paths})
        base = Path(where[0]).name or "review"
        digest = "-" + hashlib.sha256("\n".join(where).encode()).hexdigest()[:8]
    base = re.sub(r"[^A-Za-z0-9._-]+", "-", base).strip("-._")[:40] or "review"
    return base + digest


def path_of(folder: Path, name: str) -> Path:
    return folder / f"{checked_name(name)}{SUFFIX}"


class ReviewStore:
    """One review's answered cells and what it covers, in `path`."""

    def __init__(self, path: Path, create: bool = True):
        self.path = path
        if not create and not path.is_file():
            raise ReviewStoreError(f"there is no review named {path.name.removesuffix(SUFFIX)!r} "
                                   "(`copilot review --list` lists them)")
        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise ReviewStoreError(f"cannot open the review file {path}: {exc}") from None
        self._lock = threading.Lock()  # a worker answers while a screen reads

    @classmethod
    def named(cls, folder: Path, name: str, create: bool = True) -> ReviewStore:
        return cls(path_of(folder, name), create)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> ReviewStore:
        return self

    def __exit__(self, *_exc) -> None:
        self.close()

    def _write(self, sql: str, args: Sequence) -> None:
        try:
            with self._lock, self._db:
                self._db.execute("BEGIN IMMEDIATE")
                self._db.execute(sql, args)
        except sqlite3.Error as exc:
            raise ReviewStoreError(f"cannot write the review file {self.path}: {exc}") from None

    def _read(self, sql: str, args: Sequence = ()) -> list[tuple]:
        try:
            with self._lock:
                return self._db.execute(sql, args).fetchall()
        except sqlite3.Error as exc:
            raise ReviewStoreError(f"cannot read the review file {self.path}: {exc}") from None

    def answer(self, key: Key) -> Answer | None:
        rows = self._read("SELECT answer FROM cells WHERE document=? AND sha256=? AND question=? AND model=?",
                          (key.document, key.sha256, key.question, key.model))
        return Answer.from_dict(json.loads(rows[0][0])) if rows else None

    def put(self, key: Key, answer: Answer) -> None:
        """Keep a cell's answer (committed before this returns)."""
        self._write("INSERT OR REPLACE INTO cells VALUES (?,?,?,?,?,?)",
                    (key.document, key.sha256, key.question, key.model,
                     json.dumps(answer.to_dict(), ensure_ascii=False), time.time()))

    def verdict(self, key: Key) -> Verdict | None:
        rows = self._read("SELECT verdict, correction, user, signed FROM signoffs"
                          " WHERE document=? AND sha256=? AND question=? AND model=?",
                          (key.document, key.sha256, key.question, key.model))
        return Verdict(*rows[0]) if rows else None

    def sign(self, key: Key, verdict: Verdict) -> None:
        """Keep a cell's sign-off, replacing an earlier one (committed before this returns)."""
        self._write("INSERT OR REPLACE INTO signoffs VALUES (?,?,?,?,?,?,?,?)",
                    (key.document, key.sha256, key.question, key.model, verdict.verdict,
                     verdict.correction, verdict.user, verdict.signed))

    def describe(self, name: str, scope: dict, columns: Sequence[str]) -> None:
        """Record what the review covers and asks (the latest run's, for `--show` and `--list`)."""
        self._write("INSERT OR REPLACE INTO review VALUES (1,?,?,?,?)",
                    (name, json.dumps(scope), json.dumps(list(columns)), time.time()))

    def saved(self) -> Saved | None:
        """What the review covers and asks, as last run (None before its first run)."""
        rows = self._read("SELECT name, scope, columns, updated FROM review")
        if not rows:
            return None
        name, scope, columns, updated = rows[0]
        return Saved(name, json.loads(scope), tuple(json.loads(columns)), updated, self.answered())

    def answered(self) -> int:
        """How many cells are kept (of any version of any document)."""
        return self._read("SELECT COUNT(*) FROM cells")[0][0]


def every(folder: Path) -> list[Saved]:
    """The reviews kept in `folder`, the latest run first (one that cannot be read is left out)."""
    found = []
    for path in folder.glob(f"*{SUFFIX}") if folder.is_dir() else ():
        try:
            with ReviewStore(path, create=False) as store:
                saved = store.saved()
        except ReviewStoreError:
            continue
        if saved is not None:
            found.append(saved)
    return sorted(found, key=lambda s: -s.updated)
