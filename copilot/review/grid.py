"""The grid: a row per document, a column per question, a cell per answer.

`Review` answers the cells it has not got yet, one at a time, each through
`Engine.ask(…, document=row.path)`: retrieval is kept to that document, behind
the reader's walls, and every answer is audited like any other.  The rows
are the documents the engine lists for the reader (`Engine.status`), so a
walled document is never a row: its name is not shown either.

A reviewer signs cells off (`Review.sign`): accepted as they stand, or
corrected, the copilot's answer and quote kept beside the correction.  Each
sign-off goes to the audit trail with the reader first, then into the review.

A review a firm's server keeps is a `copilot.review.desk.ServedReview`: the
same grid and run, its cells asked and signed on the server (`Row.to_dict` and
`Cell.record` are what travel).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from copilot.core.answers import CORRECTED, Answer, SignOff
from copilot.core.contract import Engine
from copilot.core.errors import CopilotError
from copilot.core.protocols import TokenFn
from copilot.core.records import Entry
from copilot.core.walls import Reader
from copilot.review.columns import Column
from copilot.review.store import Key, ReviewStore, Verdict


class EmptyReview(CopilotError):
    """Nothing to review: no document the reader may read in the scope given."""


class NoSuchCell(CopilotError):
    """A cell named by document and question that the review does not have for this reader."""


@dataclass(frozen=True)
class Row:
    """One document of a review: indexed (its cells can be asked), or not, and why."""

    path: str
    source: str
    sha256: str
    readable: bool
    reason: str = ""  # why it cannot be asked: skipped at indexing, changed since, pending

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Row:
        return cls(**data)

    @classmethod
    def of(cls, state: str, entry: Entry) -> Row:
        if state == "indexed":
            return cls(entry.path, entry.source, entry.sha256, True)
        reason = {"stale": "changed since it was indexed: run `copilot index` on its folder",
                  "pending": "being indexed now"}.get(state, entry.reason or state)
        return cls(entry.path, entry.source, entry.sha256, False, reason)


@dataclass(frozen=True)
class Cell:
    """A row's answer to a column (None: not asked yet), and its sign-off if any."""

    row: Row
    column: Column
    answer: Answer | None = None
    verdict: Verdict | None = None

    def record(self) -> dict:
        """What a server sends of a cell (its row and column are the grid's)."""
        return {"answer": self.answer.to_dict() if self.answer is not None else None,
                "verdict": asdict(self.verdict) if self.verdict is not None else None}

    @classmethod
    def from_record(cls, row: Row, column: Column, data: dict) -> Cell:
        answer, verdict = data.get("answer"), data.get("verdict")
        return cls(row, column, Answer.from_dict(answer) if answer else None,
                   Verdict(**verdict) if verdict else None)

    @property
    def corrected(self) -> bool:
        return self.verdict is not None and self.verdict.verdict == CORRECTED

    @property
    def text(self) -> str:
        """What the grid shows: the correction, else the answer, else why there is none."""
        if not self.row.readable:
            return f"({self.row.reason})"
        if self.corrected:
            return self.verdict.correction
        return self.answered

    @property
    def answered(self) -> str:
        """What the copilot answered (kept beside a correction), or why it did not."""
        if not self.row.readable:
            return f"({self.row.reason})"
        if self.answer is None:
            return ""
        if not self.answer.found:
            return "not found" + (f": {self.answer.reason}" if self.answer.reason else "")
        return self.answer.text

    @property
    def found(self) -> bool:
        return self.answer is not None and self.answer.found

    @property
    def citation(self) -> str:
        """File and page of the quote the answer rests on ("" for none)."""
        if not self.found:
            return ""
        quoted = self.answer.quoted()
        cited = [c for _, c in quoted] or list(self.answer.citations)
        return "; ".join(dict.fromkeys(f"{c.source}, {c.place}" if c.place else c.source for c in cited))

    @property
    def quote(self) -> str:
        return " … ".join(q.text for q in self.answer.quotes) if self.found else ""

    @property
    def confidence(self) -> float | None:
        c = self.answer.confidence if self.answer is not None else None
        return c.value if c is not None else None


def rows_for(engine: Engine, reader: Reader, paths: Sequence[Path] = (), collection: str | None = None) -> list[Row]:
    """The documents a review covers, in source order: those the reader may read under `paths`
    (files or folders), or in `collection` (`EmptyReview` if there are none)."""
    roots = [Path(p).resolve() for p in paths]

    def covered(entry: Entry) -> bool:
        if collection is not None and entry.collection != collection:
            return False
        where = Path(entry.path)
        return not roots or any(where == r or r in where.parents for r in roots)

    rows = [Row.of(state, entry) for state, entry in engine.status(reader) if covered(entry)]
    if not rows:
        scope = f"the collection {collection!r}" if collection is not None else ", ".join(map(str, paths))
        raise EmptyReview(f"no document {reader.user} may read in {scope or 'the index'}")
    return sorted(rows, key=lambda r: (r.source.lower(), r.path))


@dataclass(frozen=True)
class SignOffs:
    """How far the sign-off is: answered cells accepted, corrected, and still open."""

    accepted: int
    corrected: int
    open: int

    @classmethod
    def of(cls, grid: Sequence[Sequence[Cell]]) -> SignOffs:
        cells = [c for row in grid for c in row if c.answer is not None]
        corrected = sum(c.corrected for c in cells)
        signed = sum(c.verdict is not None for c in cells)
        return cls(signed - corrected, corrected, len(cells) - signed)


@dataclass(frozen=True)
class Progress:
    """How far a run is: cells done of all, of them asked in this run, and the time left."""

    done: int
    total: int
    asked: int
    seconds: float  # since the run began

    @property
    def left_s(self) -> float | None:
        """Time left at this run's pace (None until a cell has been asked)."""
        return self.seconds / self.asked * (self.total - self.done) if self.asked else None


CellFn = Callable[[Cell, Progress], None]


class Review:
    """A review of `rows` by `columns` for `reader`, answered through `engine`, kept in `store`."""

    def __init__(self, engine: Engine, reader: Reader, store: ReviewStore, rows: Sequence[Row],
                 columns: Sequence[Column]):
        self.engine, self.reader, self.store = engine, reader, store
        self.rows, self.columns = tuple(rows), tuple(columns)
        self.model = engine.model

    def key(self, row: Row, column: Column) -> Key:
        return Key(row.path, row.sha256, column.question, self.model)

    def cell(self, row: Row, column: Column) -> Cell:
        """A cell as saved (not asked if it has not been)."""
        if not row.readable:
            return Cell(row, column)
        key = self.key(row, column)
        answer = self.store.answer(key)
        return Cell(row, column, answer, self.store.verdict(key) if answer is not None else None)

    def cells(self) -> list[list[Cell]]:
        """The grid as saved: one list of cells per row."""
        return [[self.cell(r, c) for c in self.columns] for r in self.rows]

    def find(self, document: str, question: str) -> tuple[Row, Column]:
        """The row and column of the cell asked of `document` by `question` (`NoSuchCell` in the
        same words whether the document is walled, not in the review, or cannot be asked)."""
        row = next((r for r in self.rows if r.path == document and r.readable), None)
        column = next((c for c in self.columns if c.question == question), None)
        if row is None or column is None:
            raise NoSuchCell("no cell of this review is asked of that document by that question")
        return row, column

    def ask(self, row: Row, column: Column, cancel: threading.Event | None = None,
            on_wait: Callable[[int], None] | None = None, on_token: TokenFn | None = None) -> Cell | None:
        """Ask one cell now and keep its answer (None if `cancel` stopped it half-way: nothing kept)."""
        answer = self.engine.ask(column.question, self.reader, on_token=on_token, cancel=cancel,
                                 on_wait=on_wait, document=row.path)
        if answer.cancelled:
            return None
        self.store.put(self.key(row, column), answer)
        return Cell(row, column, answer)

    def run(self, on_cell: CellFn | None = None, cancel: threading.Event | None = None,
            on_wait: Callable[[int], None] | None = None) -> Progress:
        """Ask every missing cell, saving each as it comes; `on_cell` hears each cell (saved ones
        first); `cancel` stops the run (the cell in hand, if the engine stops it half-way, is
        not kept: the next run asks it)."""
        on_cell = on_cell or (lambda _c, _p: None)
        readable = [r for r in self.rows if r.readable]
        total, done, asked, started = len(readable) * len(self.columns), 0, 0, time.perf_counter()
        todo = []
        for row in self.rows:
            for column in self.columns:
                cell = self.cell(row, column)
                if row.readable and cell.answer is not None:
                    done += 1
                if cell.answer is None and row.readable:
                    todo.append((row, column))
                else:
                    on_cell(cell, Progress(done, total, 0, 0.0))
        for row, column in todo:
            if cancel is not None and cancel.is_set():
                break
            cell = self.ask(row, column, cancel, on_wait)
            if cell is None:  # stopped half-way: nothing to keep, the next run asks it
                break
            done, asked = done + 1, asked + 1
            on_cell(cell, Progress(done, total, asked, time.perf_counter() - started))
        return Progress(done, total, asked, time.perf_counter() - started)

    def sign(self, cell: Cell, verdict: str, correction: str = "") -> Cell:
        """A reviewer's sign-off of an answered cell (`BadQuestion` for another verdict or an
        empty correction): into the audit trail first, then kept with the cell."""
        if cell.answer is None or not cell.row.readable:
            raise CopilotError("only an answered cell can be signed off")
        signoff = SignOff(cell.row.path, cell.answer, verdict, correction.strip())
        self.engine.sign_off(signoff, self.reader)
        kept = Verdict(verdict, signoff.correction, self.reader.user, time.time())
        self.store.sign(self.key(cell.row, cell.column), kept)
        return Cell(cell.row, cell.column, cell.answer, kept)

    def close(self) -> None:
        self.store.close()
