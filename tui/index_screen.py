"""The index screen: what is indexed and why files were skipped; index a folder from the app.

The run itself belongs to the app (`CopilotApp.index_folder`), not to this
screen, so it goes on when the user goes back to the chat; the chat keeps
answering meanwhile from what the manifest already lists as indexed.
"""

from __future__ import annotations

import threading
import time

from rich.markup import escape
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input, Label, ProgressBar, Static

from copilot.core.admin import Totals
from copilot.core.errors import IndexCancelled, IndexEmpty
from copilot.core.indexing import Tally
from copilot.core.present import STATE_STYLE
from tui.messages import IndexFinished, IndexListed, IndexProgress
from tui.status import StatusBar


class AppProgress(Tally):
    """An indexer `Progress` that posts to the app, and stops the run when asked.

    Messages are throttled to ten a second: a folder of small files would
    otherwise post thousands.
    """

    def __init__(self, post, cancel: threading.Event) -> None:
        super().__init__()
        self.post, self.cancel = post, cancel
        self._last = 0.0

    def file(self, source: str, size: int) -> None:
        self._check()
        super().file(source, size)

    def read(self, page: int, pages: int) -> None:
        self._check()  # a long scan stops between two pages
        super().read(page, pages)

    def advance(self, pages: int, chunks: int, fraction: float) -> None:
        self._check()
        super().advance(pages, chunks, fraction)

    def _check(self) -> None:
        if self.cancel.is_set():
            raise IndexCancelled("indexing cancelled")

    def changed(self) -> None:
        now = time.monotonic()
        if not self._last or now - self._last > 0.1 or self.files == self.total_files:
            self._last = now
            self.post(IndexProgress(self.fraction, self.files, self.total_files, self.pages,
                                    self.chunks, self.current, self.ocr_pages))


class IndexScreen(Screen[None]):
    """Totals, the last run, every file with its state, and a folder box to index more."""

    DEFAULT_CSS = """
    IndexScreen #totals { padding: 0 1; height: auto; }
    IndexScreen ProgressBar { width: auto; padding: 0 1; }
    IndexScreen #progress-line { padding: 0 1; color: $text-muted; height: 1; }
    IndexScreen DataTable { height: 1fr; }
    """
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back to chat"),
        Binding("ctrl+g", "app.cancel_index", "Cancel indexing"),
        Binding("f5", "refresh", "Refresh"),
    ]

    def compose(self) -> ComposeResult:
        yield Static("Reading the index…", id="totals")
        yield Input(placeholder="Folder to index (Enter starts; Ctrl+G cancels)", id="folder")
        yield ProgressBar(total=100, show_eta=False, id="bar")
        yield Label("", id="progress-line")
        yield DataTable(id="files", cursor_type="row", zebra_stripes=True)
        yield StatusBar()
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("state", "file", "reason / notes", "pages", "chunks")
        self.query_one("#bar").display = self.app.indexing is not None
        self.query_one("#folder", Input).focus()
        self.action_refresh()

    def action_refresh(self) -> None:
        """Read the files and totals again."""
        self.list_files()

    @work(thread=True, exclusive=True, group="list")
    def list_files(self) -> None:
        engine = self.app.engine
        try:
            try:
                reader = engine.local_reader()
                rows, totals = engine.status(reader), engine.totals(reader)
            except IndexEmpty:  # a new install: no policy before the first index, and nothing to list
                rows, totals = [], Totals()
            self.post_message(IndexListed(rows, totals, engine.last_run()))
        except Exception as exc:  # an unreadable index is said, not shown as a traceback
            self.app.call_from_thread(self.notify, f"cannot read the index: {exc}", title="Index",
                                      severity="error")

    def on_index_listed(self, message: IndexListed) -> None:
        t = message.totals
        run = message.last_run
        last = "never (index a folder below)"
        if run:
            when = time.strftime("%Y-%m-%d %H:%M", time.localtime(run["time"]))
            last = f"{when} — {run.get('line') or run.get('outcome', '')}".splitlines()[0]
        self.query_one("#totals", Static).update(
            f"[b]{t.files:,}[/b] files indexed · [b]{t.pages:,}[/b] pages"
            + (f" ({t.ocr_pages:,} read by OCR)" if t.ocr_pages else "") + " · "
            f"[b]{t.chunks:,}[/b] chunks · [b]{t.skipped:,}[/b] skipped\n"
            f"[dim]Last run:[/dim] {escape(last)}"
        )
        table = self.query_one(DataTable)
        table.clear()
        # Skipped and stale files first: they are what needs the user's attention.
        order = {"skipped": 0, "stale": 1, "pending": 2, "indexed": 3}
        for state, e in sorted(message.rows, key=lambda r: (order.get(r[0], 9), r[1].source)):
            table.add_row(Text(state, style=STATE_STYLE.get(state, "")), e.source, e.notes,
                          str(e.pages or ""), str(e.chunks or ""))

    @on(Input.Submitted, "#folder")
    def start(self, event: Input.Submitted) -> None:
        if event.value.strip():
            self.app.index_folder(event.value.strip())

    def progress(self, message: IndexProgress) -> None:
        """Show a run's progress (called by the app)."""
        bar = self.query_one("#bar", ProgressBar)
        bar.display = True
        bar.update(progress=100 * message.fraction)
        scanned = f" ({message.ocr_pages:,} read by OCR)" if message.ocr_pages else ""
        self.query_one("#progress-line", Label).update(
            f"{message.files}/{message.total} files · {message.pages:,} pages{scanned} · "
            f"{message.chunks:,} chunks · {escape(message.current[-60:])}"
        )

    def finished(self, message: IndexFinished) -> None:
        """A run ended: hide the bar, say how, list the files again (called by the app)."""
        self.query_one("#bar").display = False
        line = message.summary.line().splitlines()[0] if message.summary else (
            "cancelled: files done so far stay indexed" if message.cancelled else message.error)
        self.query_one("#progress-line", Label).update(escape(line))
        self.action_refresh()
