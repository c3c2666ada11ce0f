"""Reviews kept on the server: each reader's in a folder of their own, their cells asked here.

A thin client's review (`copilot.review.desk.ServedReview`) asks one cell a
request; the cell waits its turn in the fair queue like any question, so a
person asking one question waits behind at most one cell of a long review.
The server answers it behind the reader's walls, as they are now (the rows
are the documents they may read: a walled document is neither a row nor a
name), keeps it in the reader's review, and only then says it is done; a
sign-off judges the answer kept here, never one the client sends.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

from copilot.core.config import Config
from copilot.core.contract import Engine
from copilot.core.errors import CopilotError
from copilot.core.protocols import TokenFn
from copilot.core.walls import Reader
from copilot.review.desk import kept, open_review
from copilot.review.grid import Review
from copilot.review.store import checked_name


def folder_for(config: Config, user: str) -> Path:
    """Where `user`'s reviews are kept: a folder of their own (a name from anywhere, made a
    file name, with a digest so two names never share one)."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", user).strip("._")[:40] or "user"
    return config.reviews_dir / "readers" / f"{safe}-{hashlib.sha256(user.encode()).hexdigest()[:8]}"


class ReviewDesk:
    """The server's reviews, over its own engine."""

    def __init__(self, engine: Engine, config: Config):
        self.engine, self.config = engine, config

    def _open(self, reader: Reader, request: dict, start: bool = False) -> Review:
        name = checked_name(str(request.get("name", "")))
        scope, texts = (request.get("scope"), request.get("columns")) if start else (None, None)
        if start and not (isinstance(scope, dict) and isinstance(texts, list) and texts):
            raise CopilotError("a review is started with its scope (paths or a collection) and its columns")
        return open_review(self.engine, folder_for(self.config, reader.user), reader, name, scope,
                           [str(t) for t in texts] if start else None)

    def listing(self, reader: Reader) -> list[dict]:
        return [asdict(s) for s in kept(None, folder_for(self.config, reader.user))]

    def opened(self, reader: Reader, request: dict) -> dict:
        """The review as the reader may see it: rows, columns, model, and the cells kept."""
        review = self._open(reader, request, start="columns" in request)
        try:
            cells = [{"document": c.row.path, "question": c.column.question, **c.record()}
                     for row in review.cells() for c in row if c.answer is not None]
            return {"rows": [r.to_dict() for r in review.rows],
                    "columns": [asdict(c) for c in review.columns], "model": review.model, "cells": cells}
        finally:
            review.close()

    def cell(self, reader: Reader, request: dict, slot: Callable, on_token: TokenFn,
             cancel: threading.Event) -> dict | None:
        """One cell answered (in a model slot from `slot`) and kept; a cell already kept is
        sent as it is, without waiting; None if the client went away half-way."""
        review = self._open(reader, request)
        try:
            row, column = review.find(str(request.get("document", "")), str(request.get("question", "")))
            cell = review.cell(row, column)
            if cell.answer is None:
                with slot():
                    cell = review.ask(row, column, cancel, on_token=on_token)
            return None if cell is None else cell.record()
        finally:
            review.close()

    def sign(self, reader: Reader, request: dict) -> dict:
        review = self._open(reader, request)
        try:
            row, column = review.find(str(request.get("document", "")), str(request.get("question", "")))
            return review.sign(review.cell(row, column), str(request.get("verdict", "")),
                               str(request.get("correction", ""))).record()
        finally:
            review.close()
