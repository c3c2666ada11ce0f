"""Every message the app's workers post to its screens, in one place.

Workers run in threads and never touch widgets: they post one of these and
the screen that owns the widgets updates them on the UI thread.
"""

from __future__ import annotations

from textual.message import Message

from copilot.core.admin import Totals
from copilot.core.answers import Answer
from copilot.core.indexing import Summary
from copilot.core.records import Document


class EngineReady(Message):
    """The models are loaded; answers start without a load delay."""

    def __init__(self, model: str, quant: str, context: int, switched: bool = False) -> None:
        super().__init__()
        self.model, self.quant, self.context = model, quant, context
        self.switched = switched  # the user chose this model in the app


class Token(Message):
    """A piece of the answer being generated for turn `turn`."""

    def __init__(self, turn: int, text: str) -> None:
        super().__init__()
        self.turn, self.text = turn, text


class Queued(Message):
    """Turn `turn` waits for the firm server's model, `ahead` questions before it."""

    def __init__(self, turn: int, ahead: int) -> None:
        super().__init__()
        self.turn, self.ahead = turn, ahead


class Answered(Message):
    """Generation of turn `turn` ended (finished, or cancelled with `answer.cancelled`)."""

    def __init__(self, turn: int, answer: Answer) -> None:
        super().__init__()
        self.turn, self.answer = turn, answer


class ModelFailed(Message):
    """The model chosen in the app could not be loaded; the configured one stays."""

    def __init__(self, model: str, error: str) -> None:
        super().__init__()
        self.model, self.error = model, error


class Failed(Message):
    """A worker hit an error the user should hear about, in one line.

    `turn` is the question it ended, if any (its placeholder is taken back).
    """

    def __init__(self, error: str, turn: int | None = None) -> None:
        super().__init__()
        self.error, self.turn = error, turn


class IndexProgress(Message):
    """How far an indexing run from the app has got."""

    def __init__(self, fraction: float, files: int, total: int, pages: int, chunks: int,
                 current: str, ocr_pages: int = 0) -> None:
        super().__init__()
        self.fraction, self.files, self.total = fraction, files, total
        self.pages, self.chunks, self.current = pages, chunks, current
        self.ocr_pages = ocr_pages  # scanned pages read by OCR so far


class IndexFinished(Message):
    """An indexing run ended: its summary, or None and the error or cancellation."""

    def __init__(self, summary: Summary | None, error: str = "", cancelled: bool = False) -> None:
        super().__init__()
        self.summary, self.error, self.cancelled = summary, error, cancelled


class IndexTotals(Message):
    """Files, pages and chunks indexed, and files skipped (for the status bar)."""

    def __init__(self, totals: Totals) -> None:
        super().__init__()
        self.totals = totals


class IndexListed(Message):
    """The index's files and their states, read for the index screen."""

    def __init__(self, rows: list, totals: Totals, last_run: dict | None) -> None:
        super().__init__()
        self.rows, self.totals, self.last_run = rows, totals, last_run


class DocumentLoaded(Message):
    """The document viewer's file was read (or could not be: `error`)."""

    def __init__(self, document: Document | None, error: str = "") -> None:
        super().__init__()
        self.document, self.error = document, error


class ReviewLoaded(Message):
    """A review read back to show (`review` None: there is none yet, or it could not be read:
    `error` says why); `grid` its cells as saved; `names` every review kept."""

    def __init__(self, review, grid: list, name: str = "", names: tuple[str, ...] = (), error: str = "") -> None:
        super().__init__()
        self.review, self.grid, self.name, self.names, self.error = review, grid, name, names, error


class ReviewCell(Message):
    """A cell of the review in hand was answered (and saved); `progress` how far the run is."""

    def __init__(self, cell, progress) -> None:
        super().__init__()
        self.cell, self.progress = cell, progress


class ReviewDone(Message):
    """The run asking the missing cells ended (all asked, stopped, or failed: `error`)."""

    def __init__(self, progress, error: str = "") -> None:
        super().__init__()
        self.progress, self.error = progress, error


class ReviewSigned(Message):
    """A cell signed off (audited and saved), or not: `error` says why."""

    def __init__(self, cell, error: str = "") -> None:
        super().__init__()
        self.cell, self.error = cell, error


class ReviewExported(Message):
    """The review written to `path`, or not: `error` says why."""

    def __init__(self, path, error: str = "") -> None:
        super().__init__()
        self.path, self.error = path, error
