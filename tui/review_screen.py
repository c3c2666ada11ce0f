"""The review screen: a review's grid, to read, open, accept or correct cell by cell (F4).

It opens the review last run (`copilot review …`, or one started here with
n; o opens another by name): a row per document, a column per question, each
cell its answer (dim when the documents do not answer it) and its
confidence.  Enter opens the document viewer at the sentence a cell quotes;
a accepts a cell, e corrects it (the copilot's answer and quote stay beside
the correction, and both go to the audit trail with the reader); r asks the
cells still missing, in a worker, each appearing as it is answered; x writes
the grid out as XLSX, CSV, Markdown or JSON, as `copilot review --out` does;
Esc stops a run, or goes back.
"""

from __future__ import annotations

import threading
from pathlib import Path

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from copilot.core.answers import ACCEPTED, CORRECTED
from copilot.core.errors import CopilotError
from tui.dialogs import Prompt
from tui.messages import ReviewCell, ReviewDone, ReviewExported, ReviewLoaded, ReviewSigned
from tui.status import StatusBar

SHOWN_CHARS = 36  # of a cell's text in the grid (the line under it has the whole quote)
MARKS = {ACCEPTED: "✓ ", CORRECTED: "✎ "}
COLLECTION = "collection:"  # a scope typed as "collection:NAME" is a collection, else paths


def shown(cell) -> Text:
    """A cell as the grid shows it: its sign-off mark, its text and confidence, dim without an answer."""
    mark = MARKS.get(cell.verdict.verdict, "") if cell.verdict else ""
    text = cell.text if cell.answer is not None or not cell.row.readable else "…"
    if len(text) > SHOWN_CHARS:
        text = text[:SHOWN_CHARS - 1] + "…"
    sure = f" ({cell.confidence:.2f})" if cell.found and cell.confidence is not None and not cell.corrected else ""
    return Text(mark + text + sure, style="" if cell.found or cell.corrected else "dim")


def scope_of(text: str) -> tuple[tuple[str, ...], str | None]:
    """What a new review covers, as typed: "collection:NAME", or paths separated by ";"."""
    text = text.strip()
    if text.lower().startswith(COLLECTION):
        return (), text[len(COLLECTION):].strip() or None
    return tuple(str(Path(p.strip()).expanduser()) for p in text.split(";") if p.strip()), None


class ReviewScreen(Screen[None]):
    """One review's grid; its cells signed off by key presses."""

    DEFAULT_CSS = """
    ReviewScreen #where { height: 1; background: $boost; padding: 0 1; text-style: bold; }
    ReviewScreen #quote { height: auto; max-height: 6; padding: 0 1; color: $text-muted; }
    ReviewScreen DataTable { height: 1fr; }
    """
    BINDINGS = [
        Binding("escape", "back", "Back (stops a run)"),
        Binding("enter", "open", "Open the quote"),
        Binding("a", "accept", "Accept"),
        Binding("e", "correct", "Correct"),
        Binding("r", "run", "Ask missing"),
        Binding("x", "export", "Export"),
        Binding("n", "new", "New review"),
        Binding("o", "pick", "Open review"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.review = None  # a `copilot.review.grid.Review`, once loaded
        self.grid: list[list] = []
        self.review_name = ""
        self.names: tuple[str, ...] = ()  # every review kept
        self.running: threading.Event | None = None  # set to stop the run in progress

    def compose(self) -> ComposeResult:
        yield Static("review — opening…", id="where")
        yield DataTable(id="grid", cursor_type="cell", zebra_stripes=True)
        yield Static("", id="quote")
        yield StatusBar()
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(DataTable).focus()
        self.load()

    def on_unmount(self) -> None:
        if self.running is not None:  # the app is closing mid-run: the cell in hand is not kept
            self.running.set()
        else:
            self._close()

    # Work off the screen --------------------------------------------------------

    @work(thread=True, exclusive=True, group="review-load")
    def load(self, name: str | None = None, new: tuple | None = None) -> None:
        """Read review `name` (the latest run if None), or start `new` = (paths, collection,
        column texts) over the documents the reader may read there."""
        from copilot.core.contract import ReviewServer
        from copilot.review.desk import kept, open_review, scope_for
        from copilot.review.store import default_name

        app = self.app
        folder = app.reviews
        try:
            if folder is None and not isinstance(app.engine, ReviewServer):
                raise CopilotError("reviews are kept on the machine that runs them: this session keeps none")
            notes: list[str] = []
            reader = app.engine.local_reader()
            if new is not None:
                paths, collection, texts = new
                name = default_name(paths, collection)
                review = open_review(app.engine, folder, reader, name, scope_for(paths, collection), texts,
                                     notes.append)
            else:
                saved = kept(app.engine, folder)
                if name is None and not saved:
                    self.post_message(ReviewLoaded(None, []))
                    return
                name = name or saved[0].name
                review = open_review(app.engine, folder, reader, name, note=notes.append)
            try:
                names = tuple(s.name for s in kept(app.engine, folder))
                self.post_message(ReviewLoaded(review, review.cells(), name, names, "; ".join(notes)))
            except BaseException:
                review.close()
                raise
        except CopilotError as exc:
            self.post_message(ReviewLoaded(None, [], error=str(exc)))
        except Exception as exc:  # an unreadable review is said, not shown as a traceback
            self.post_message(ReviewLoaded(None, [], error=f"cannot open the review: {type(exc).__name__}: {exc}"))

    @work(thread=True, exclusive=True, group="review-run")
    def fill(self, review, cancel: threading.Event) -> None:
        """Ask the missing cells, each posted as it is answered."""
        progress = None
        try:
            progress = review.run(lambda cell, p: self.post_message(ReviewCell(cell, p)), cancel)
            self.post_message(ReviewDone(progress))
        except CopilotError as exc:
            self.post_message(ReviewDone(progress, str(exc)))
        except Exception as exc:
            self.post_message(ReviewDone(progress, f"the review stopped: {type(exc).__name__}: {exc}"))

    @work(thread=True, group="review-sign")
    def sign(self, cell, verdict: str, correction: str = "") -> None:
        try:
            self.post_message(ReviewSigned(self.review.sign(cell, verdict, correction)))
        except CopilotError as exc:
            self.post_message(ReviewSigned(cell, f"not recorded: {exc}"))
        except Exception as exc:
            self.post_message(ReviewSigned(cell, f"not recorded: {type(exc).__name__}: {exc}"))

    @work(thread=True, group="review-export")
    def export(self, path: Path, grid: list[list]) -> None:
        from copilot.review import export

        try:
            export.write(path, grid)
            self.post_message(ReviewExported(path))
        except CopilotError as exc:
            self.post_message(ReviewExported(path, str(exc)))
        except Exception as exc:
            self.post_message(ReviewExported(path, f"cannot write {path}: {type(exc).__name__}: {exc}"))

    # Messages ----------------------------------------------------------------------

    def on_review_loaded(self, message: ReviewLoaded) -> None:
        if message.error:
            self.notify(message.error, title="Review", severity="error" if message.review is None else "warning")
        if message.review is None:
            if self.review is None:
                self.query_one("#where", Static).update(
                    "No review yet: n starts one here, or run `copilot review FOLDER --ask …`")
            return
        self._close()
        table = self.query_one(DataTable)
        table.clear(columns=True)
        self.review, self.grid, self.review_name, self.names = (message.review, message.grid, message.name,
                                                                message.names)
        table.add_column("Document", key="document")
        for c in message.review.columns:
            table.add_column(c.name, key=c.name)
        for row in self.grid:
            table.add_row(Text(row[0].row.source), *(shown(c) for c in row), key=row[0].row.path)
        self.count()
        self.show_quote()

    def on_review_cell(self, message: ReviewCell) -> None:
        self.put(message.cell)
        p = message.progress
        left = f" · about {max(1, round(p.left_s / 60))} min left" if p.left_s is not None and p.done < p.total else ""
        self.query_one("#where", Static).update(f"asking {self.review_name}: {p.done}/{p.total} cells{left}  (Esc stops)")

    def on_review_done(self, message: ReviewDone) -> None:
        self.running = None
        if message.error:
            self.notify(message.error, title="Review", severity="error")
        self.count()

    def on_review_signed(self, message: ReviewSigned) -> None:
        if message.error:
            self.notify(message.error, title="Sign-off", severity="error")
            return
        self.put(message.cell)
        self.notify(f"{message.cell.column.name} of {message.cell.row.source}: {message.cell.verdict.verdict}",
                    title="Sign-off", timeout=3)
        self.count()

    def on_review_exported(self, message: ReviewExported) -> None:
        if message.error:
            self.notify(message.error, title="Export", severity="error")
        else:
            self.notify(f"Written to {message.path}", title="Export")

    # Actions -----------------------------------------------------------------------

    def action_back(self) -> None:
        if self.running is not None:
            self.running.set()
            self.notify("Stopping: every cell answered is kept; r goes on from there.", title="Review")
        else:
            self.app.pop_screen()

    def action_run(self) -> None:
        if self.review is None:
            self.notify("No review to run: n starts one.", severity="warning")
        elif self.running is None:
            self.running = threading.Event()
            self.fill(self.review, self.running)

    def action_new(self) -> None:
        if self.running is not None:
            self.notify("A review is being asked: Esc stops it first.", severity="warning")
            return

        def scoped(text: str | None) -> None:
            if not text:
                return
            paths, collection = scope_of(text)
            self.app.push_screen(Prompt("Its columns, separated by ;", "", "Governing law; Term; Who signs it?"),
                                 lambda cols: cols and self.load(new=(paths, collection, tuple(
                                     c for c in cols.split(";") if c.strip()))))

        self.app.push_screen(Prompt("New review of: folders or files (separated by ;), or collection:NAME",
                                    str(Path.cwd())), scoped)

    def action_pick(self) -> None:
        if self.running is not None:
            self.notify("A review is being asked: Esc stops it first.", severity="warning")
        elif not self.names:
            self.notify("No review is kept yet: n starts one.", severity="warning")
        else:
            self.app.push_screen(Prompt(f"Open review ({', '.join(self.names[:6])})", self.review_name),
                                 lambda name: name and self.load(name))

    def action_export(self) -> None:
        if self.review is None:
            self.notify("No review to write out.", severity="warning")
            return
        suggested = str(Path.cwd() / f"{self.review_name}.xlsx")
        self.app.push_screen(Prompt("Write the review to (.xlsx, .csv, .md or .json)", suggested),
                             lambda path: path and self.export(Path(path).expanduser(), [list(r) for r in self.grid]))

    def action_open(self) -> None:
        cell = self.current()
        if cell is None:
            return
        quoted = cell.answer.quoted() if cell.found else []
        if not quoted:
            self.notify(f"{cell.column.name} of {cell.row.source}: nothing quoted ({cell.answered or 'not asked yet'})",
                        severity="warning")
            return
        from tui.viewer import Viewer

        quote, citation = quoted[0]
        self.app.push_screen(Viewer(citation, quote.text))

    def action_accept(self) -> None:
        cell = self.current()
        if cell is not None and self.signable(cell):
            self.sign(cell, ACCEPTED)

    def action_correct(self) -> None:
        cell = self.current()
        if cell is None or not self.signable(cell):
            return
        value = cell.verdict.correction if cell.corrected else (cell.answer.text if cell.found else "")
        self.app.push_screen(Prompt(f"Correct {cell.column.name} of {cell.row.source}", value),
                             lambda text: text and self.sign(cell, CORRECTED, text))

    # Helpers -----------------------------------------------------------------------

    def _close(self) -> None:
        if self.review is not None:
            self.review.close()

    def signable(self, cell) -> bool:
        if cell.answer is None:
            self.notify("This cell has not been asked yet: r asks the missing cells.", severity="warning")
            return False
        return True

    def current(self):
        """The cell under the cursor (None on the document column or an empty grid)."""
        table = self.query_one(DataTable)
        if not self.grid or table.cursor_column == 0:
            return None
        return self.grid[table.cursor_row][table.cursor_column - 1]

    def put(self, cell) -> None:
        """Show `cell` in its place in the grid (and keep it)."""
        for row in self.grid:
            if row[0].row.path != cell.row.path:
                continue
            for k, old in enumerate(row):
                if old.column == cell.column:
                    row[k] = cell
                    self.query_one(DataTable).update_cell(cell.row.path, cell.column.name, shown(cell))
        self.show_quote()

    def count(self) -> None:
        """The review's progress and sign-off state, on the line above the grid."""
        from copilot.review.grid import SignOffs

        cells = [c for row in self.grid for c in row if c.row.readable]
        answered = sum(c.answer is not None for c in cells)
        signed = SignOffs.of(self.grid)
        self.query_one("#where", Static).update(
            f"review {self.review_name} — {len(self.grid)} documents · {answered}/{len(cells)} cells answered · "
            f"{signed.accepted} accepted · {signed.corrected} corrected · {signed.open} open")

    def show_quote(self) -> None:
        """Under the grid: the question and quote of the cell under the cursor."""
        cell = self.current() if self.grid else None
        quote = self.query_one("#quote", Static)
        if cell is None:
            quote.update("")
            return
        line = Text(f"{cell.row.source} · {cell.column.question}\n", style="bold")
        if cell.found:
            line.append(f"“{cell.quote}” — {cell.citation}")
        elif cell.answer is not None:
            line.append(cell.answered)
        if cell.corrected:
            line.append(f"\ncorrected by {cell.verdict.user}; the copilot said: {cell.answered}", style="italic")
        elif cell.verdict is not None:
            line.append(f"\naccepted by {cell.verdict.user}", style="italic")
        quote.update(line)

    def on_data_table_cell_highlighted(self, _event) -> None:
        self.show_quote()

    def on_data_table_cell_selected(self, event: DataTable.CellSelected) -> None:
        event.stop()  # Enter on a cell: the grid takes the key before the screen's binding
        self.action_open()
