"""The engine contract: everything the CLI and the app may ask of an engine.

`copilot.engine.local.Copilot` is the local engine (the index and the model on this
machine); `copilot.engine.remote.RemoteEngine` (a firm-wide server's client)
implements the same methods over the wire.  The edges import this protocol and the records it
speaks in (`copilot.core.records`, `.answers`, `.admin`), never the engine's workings, so either can
stand behind them.  Every method that reads documents takes the `Reader` it
reads for: the engine holds no identity of its own.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

from copilot.core.admin import AuditBreak, ModelInfo, ModelState, Superseded, Totals
from copilot.core.answers import Answer, SignOff
from copilot.core.hashing import ProgressFn
from copilot.core.indexing import Progress, Summary
from copilot.core.protocols import TokenFn
from copilot.core.records import Document, Entry
from copilot.core.walls import Reader


@runtime_checkable
class AuditTrail(Protocol):
    """The hash-chained record of every answer (`copilot audit …`)."""

    file: Path

    def records(self) -> Iterator[dict]: ...
    def last(self) -> dict | None: ...
    def get(self, n: int) -> dict: ...
    def verify(self) -> tuple[int, AuditBreak | None]: ...


@runtime_checkable
class Engine(Protocol):
    """Index documents and answer readers from them, with citations, behind their walls."""

    @property
    def model(self) -> str:
        """The model answering: a name from `models()` or a GGUF path (or, for a firm's server,
        the server: its model is the one it serves)."""
        ...

    def local_reader(self) -> Reader:
        """The person at this machine's keyboard, with the walls the access policy gives
        them (`AccessDenied` if none): what the CLI and the app read for."""
        ...

    def ask(self, question: str, reader: Reader, on_token: TokenFn | None = None,
            cancel: threading.Event | None = None, history: Sequence[Answer] = (),
            on_wait: Callable[[int], None] | None = None, document: str | None = None) -> Answer:
        """Answer `reader` from the documents they may see, streaming pieces to `on_token`;
        `cancel` stops it; `history` is the conversation so far; `on_wait` hears how many
        questions are ahead while it waits for the model (a server's queue); `document`: from
        that indexed file alone (a review's cell; `AccessDenied` unless `reader` may read it).
        Every answer is audited."""
        ...

    def sign_off(self, signoff: SignOff, reader: Reader) -> dict:
        """Record a reviewer's verdict on a review's answer (accepted, or corrected with the
        original kept) in the audit trail, and return the record written.  `AccessDenied`
        unless `reader` may read its document.  A firm's server takes sign-offs only in the
        reviews it keeps, of the answers it kept (`ReviewServer.review_sign`): its client
        refuses this one."""
        ...

    def index(self, paths: Iterable[Path], progress: Progress | None = None, passwords: Sequence[str] = (),
              collection: str | None = None, folders: Mapping[Path, str] | None = None) -> Summary:
        """Bring the index in step with `paths`, reporting to `progress` (which may stop it
        by raising `IndexCancelled`).  Files go to the collection of the deepest of
        `folders` holding them, else `collection`, else the default one."""
        ...

    def status(self, reader: Reader) -> list[tuple[str, Entry]]:
        """Every file the index knows behind `reader`'s walls, with its state now."""
        ...

    def totals(self, reader: Reader) -> Totals:
        """How much of the index `reader` can see: files indexed and skipped, pages, chunks."""
        ...

    def last_run(self) -> dict | None:
        """The latest indexing run: time, paths, outcome, and its summary line when done."""
        ...

    def models(self, hashes: bool = True,
               progress: Callable[[str], ProgressFn] | None = None) -> list[ModelInfo]:
        """The models it can answer with (`hashes`: with each file's sha256)."""
        ...

    def load_models(self) -> ModelState:
        """Load the embedder and the language model now, rather than on the first question."""
        ...

    def use_model(self, setting: str) -> ModelState:
        """Answer with another model from now on; the old setting stays if it fails to load."""
        ...

    def document(self, path: str, reader: Reader) -> Document:
        """A cited document, whole, to be shown at its page: only one indexed behind
        `reader`'s walls (`AccessDenied` otherwise)."""
        ...

    def audit(self) -> AuditTrail:
        """The audit trail of every answer."""
        ...

    def superseded(self) -> list[Superseded]:
        """Past answers citing passages of documents since changed or removed."""
        ...


@runtime_checkable
class ReviewServer(Protocol):
    """An engine that keeps each reader's reviews itself: a firm's server.  A review lives on
    the server, its cells asked there one at a time in the server's fair queue, behind the
    reader's walls; a sign-off judges the answer the server kept, never one a client sends.
    It speaks the review's own records as JSON (`copilot.review`'s `Row`, `Column`, `Cell`)."""

    def reviews(self) -> list[dict]:
        """The reader's reviews kept on the server (as `copilot.review.store.Saved`), latest first."""
        ...

    def review_open(self, request: dict) -> dict:
        """Open review `name` (`request`: name, and scope and columns to start or go on with
        it): its rows, columns, model, and every cell the server keeps for it."""
        ...

    def review_cell(self, request: dict, on_token: TokenFn | None = None, cancel: threading.Event | None = None,
                    on_wait: Callable[[int], None] | None = None) -> dict | None:
        """Answer one cell (`request`: name, document, question) and keep it on the server; its
        record, or None when `cancel` stopped it (nothing kept)."""
        ...

    def review_sign(self, request: dict) -> dict:
        """Sign off a kept cell (`request`: name, document, question, verdict, correction): the
        cell's record with its verdict, the sign-off in the server's audit trail."""
        ...
