"""Where a review is kept and asked: this machine's folder, or a firm's server.

The edges (the command line, the app) open reviews here and never choose:
with a local engine a review is a SQLite file in the reviews folder, its
cells asked through `Engine.ask`; with an engine that keeps reviews itself
(`copilot.core.contract.ReviewServer`, a firm's server) it is a
`ServedReview`: the same grid, whose cells the server asks in its fair
queue, one request a cell, and keeps, so a client killed, or a server
restarted, loses nothing but the cell in hand.  The server opens each
reader's reviews with `open_review` too, over its own engine.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from copilot.core.contract import Engine, ReviewServer
from copilot.core.errors import CopilotError
from copilot.core.protocols import TokenFn
from copilot.core.walls import Reader
from copilot.review.columns import Column
from copilot.review.columns import columns as make_columns
from copilot.review.grid import Cell, Review, Row, rows_for
from copilot.review.store import ReviewStore, Saved, every

Note = Callable[[str], None]


def scope_for(paths: Sequence[str | Path], collection: str | None) -> dict:
    """What a review covers, as kept: {"collection": NAME} or {"paths": [absolute paths]}."""
    if collection is not None:
        return {"collection": collection}
    return {"paths": [str(Path(p).expanduser().resolve()) for p in paths]}


def open_review(engine: Engine, folder: Path, reader: Reader, name: str, scope: dict | None = None,
                texts: Sequence[str] | None = None, note: Note = lambda _line: None) -> Review:
    """Review `name` for `reader`: started, or gone on with, over `scope` asking the columns
    `texts`; or, with neither, as last run (`ReviewStoreError` if there is none).  `note`
    hears each column left out and why."""
    if isinstance(engine, ReviewServer):
        return ServedReview.open(engine, name, scope, texts)
    if texts is not None:  # nothing is written before the rows are known: an empty scope leaves no file
        columns = make_columns(texts, note)
        rows = _rows(engine, reader, scope)
        store = ReviewStore.named(folder, name)
        try:
            store.describe(name, scope, [c.name for c in columns])
        except BaseException:
            store.close()
            raise
        return Review(engine, reader, store, rows, columns)
    store = ReviewStore.named(folder, name, create=False)
    try:
        saved = store.saved()
        if saved is None:
            raise CopilotError(f"the review {name!r} has not run yet")
        return Review(engine, reader, store, _rows(engine, reader, saved.scope), make_columns(saved.columns, note))
    except BaseException:
        store.close()
        raise


def _rows(engine: Engine, reader: Reader, scope: dict | None) -> list[Row]:
    scope = scope or {}
    return rows_for(engine, reader, [Path(p) for p in scope.get("paths", ())], scope.get("collection"))


def kept(engine: Engine | None, folder: Path) -> list[Saved]:
    """The reviews kept for this reader, the latest run first: on the server that keeps them,
    else in `folder`."""
    if isinstance(engine, ReviewServer):
        return [Saved(s["name"], s["scope"], tuple(s["columns"]), s["updated"], s["cells"])
                for s in engine.reviews()]
    return every(folder)


class ServedReview(Review):
    """A review kept on a firm's server, as this client sees it: the grid the server sent
    (only what the reader may read), each missing cell asked there in its own request."""

    def __init__(self, server: ReviewServer, name: str, opened: dict):
        self.server, self.name = server, name
        self.rows = tuple(Row.from_dict(r) for r in opened["rows"])
        self.columns = tuple(Column(c["name"], c["question"]) for c in opened["columns"])
        self.model = opened["model"]
        rows = {r.path: r for r in self.rows}
        columns = {c.question: c for c in self.columns}
        self._cells: dict[tuple[str, str], Cell] = {}
        for kept_cell in opened["cells"]:
            row, column = rows.get(kept_cell["document"]), columns.get(kept_cell["question"])
            if row is not None and column is not None:
                self._keep(Cell.from_record(row, column, kept_cell))
        self._lock = threading.Lock()

    @classmethod
    def open(cls, server: ReviewServer, name: str, scope: dict | None,
             texts: Sequence[str] | None) -> ServedReview:
        request: dict = {"name": name}
        if texts is not None:
            request.update(scope=scope, columns=list(texts))
        return cls(server, name, server.review_open(request))

    def _keep(self, cell: Cell) -> Cell:
        self._cells[(cell.row.path, cell.column.question)] = cell
        return cell

    def _request(self, row: Row, column: Column, **more) -> dict:
        return {"name": self.name, "document": row.path, "question": column.question, **more}

    def cell(self, row: Row, column: Column) -> Cell:
        return self._cells.get((row.path, column.question)) or Cell(row, column)

    def ask(self, row: Row, column: Column, cancel: threading.Event | None = None,
            on_wait: Callable[[int], None] | None = None, on_token: TokenFn | None = None) -> Cell | None:
        record = self.server.review_cell(self._request(row, column), on_token, cancel, on_wait)
        return None if record is None else self._keep(Cell.from_record(row, column, record))

    def sign(self, cell: Cell, verdict: str, correction: str = "") -> Cell:
        """The server signs the answer it kept (not this client's copy of it), as this reader."""
        if cell.answer is None or not cell.row.readable:
            raise CopilotError("only an answered cell can be signed off")
        record = self.server.review_sign(self._request(cell.row, cell.column, verdict=verdict,
                                                       correction=correction.strip()))
        return self._keep(Cell.from_record(cell.row, cell.column, record))

    def close(self) -> None:
        pass  # nothing held here: the server keeps the review
