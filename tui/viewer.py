"""The document viewer: a cited file opened at the cited page, the passage highlighted.

The file is read again with the indexer's own loaders (in a worker: a big
PDF takes a moment), so the page shown is the text the index was built
from.  If the file is gone or cannot be read, the cited passage itself is
shown, and a notification says why.
"""

from __future__ import annotations

import re
from pathlib import Path

from rich.markup import escape
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Static

from copilot.core.errors import CopilotError
from copilot.core.records import Citation, Document, Page, place
from tui.messages import DocumentLoaded
from tui.status import StatusBar


def locate(text: str, passage: str) -> tuple[int, int] | None:
    """Where `passage` is in `text`, whitespace aside; its ends alone if the middle differs."""
    words = passage.split()
    if not words:
        return None

    def find(ws: list[str], start: int = 0) -> re.Match | None:
        return re.compile(r"\s+".join(map(re.escape, ws))).search(text, start)

    whole = find(words)
    if whole:
        return whole.span()
    head, tail = find(words[:8]), None
    if head:
        tail = find(words[-8:], head.end())
    return (head.start(), tail.end() if tail else head.end()) if head else None


def cited_page(doc: Document, citation: Citation) -> int:
    """The index in `doc.pages` of the page (or section) the citation points at."""
    same = [i for i, p in enumerate(doc.pages) if p.number == citation.page
            and (citation.page or p.heading == citation.heading)]
    for i in same or range(len(doc.pages)):
        if locate(doc.pages[i].text, citation.text):
            return i
    return same[0] if same else 0


class Viewer(Screen[None]):
    """One page at a time; [ and ] (or ← →) turn pages, Esc goes back to the chat."""

    DEFAULT_CSS = """
    Viewer #where { height: 1; background: $boost; padding: 0 1; text-style: bold; }
    Viewer VerticalScroll { padding: 0 2; }
    Viewer .passage { background: $warning 35%; }
    """
    BINDINGS = [
        Binding("escape,q", "app.pop_screen", "Back to chat"),
        Binding("left_square_bracket,left,p", "page(-1)", "Previous page"),
        Binding("right_square_bracket,right,n", "page(1)", "Next page"),
        Binding("c", "cited", "Cited page"),
    ]

    def __init__(self, citation: Citation, quote: str = "") -> None:
        super().__init__()
        self.citation = citation
        self.quote = quote  # the sentence the answer quotes: highlighted instead of the whole passage
        self.document: Document | None = None
        self.index = 0

    def compose(self) -> ComposeResult:
        yield Static(f"{escape(self.citation.source)} — opening…", id="where")
        with VerticalScroll(id="page"):
            yield Static("", id="before")
            yield Static("", id="passage", classes="passage")
            yield Static("", id="after")
        yield StatusBar()
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#page").focus()
        self.load(Path(self.citation.path))

    @work(thread=True, exclusive=True)
    def load(self, path: Path) -> None:
        """Have the engine read the file (off the UI thread): only a document the reader may see."""
        engine = self.app.engine
        try:
            self.post_message(DocumentLoaded(engine.document(str(path), engine.local_reader())))
        except CopilotError as exc:
            self.post_message(DocumentLoaded(None, f"cannot open {self.citation.source}: {exc}"))
        except OSError as exc:
            self.post_message(DocumentLoaded(None, f"cannot open {self.citation.source}: {exc.strerror or exc}"))
        except Exception as exc:  # a loader bug: say so, show the passage anyway
            self.post_message(DocumentLoaded(None, f"cannot open {self.citation.source}: {type(exc).__name__}"))

    def on_document_loaded(self, message: DocumentLoaded) -> None:
        if message.document is None:
            self.notify(f"{message.error}; showing the passage as it was indexed",
                        title="Document viewer", severity="warning", timeout=8)
            c = self.citation
            message.document = Document((Page(c.page, c.text, c.heading),))
        self.document = message.document
        self.action_cited()

    def action_cited(self) -> None:
        """Back to the page the citation points at."""
        if self.document is not None:
            self.show(cited_page(self.document, self.citation))

    def action_page(self, step: int) -> None:
        """Turn to the previous or next page."""
        if self.document is not None:
            self.show(max(0, min(len(self.document.pages) - 1, self.index + step)))

    def show(self, index: int) -> None:
        """Show page `index`, with the quoted sentence (else the cited passage) highlighted if it is on it."""
        assert self.document is not None
        self.index = index
        page = self.document.pages[index]
        kind = "page" if page.number else "section"
        where = place(page.number, page.heading) or f"{kind} {index + 1}"
        self.query_one("#where", Static).update(Text.assemble(
            (f"{kind} {index + 1} of {len(self.document.pages)}  ", "dim"),
            f"{self.citation.source} — {where}", no_wrap=True, overflow="ellipsis",
        ))
        span = (self.quote and locate(page.text, self.quote)) or locate(page.text, self.citation.text)
        text = page.text
        before, marked, after = text, "", ""
        if span is not None:  # whole lines: a highlighted block that starts mid-line breaks the line
            a = text.rfind("\n", 0, span[0]) + 1
            end = text.find("\n", span[1])
            b = len(text) if end < 0 else end
            before, marked, after = text[:a].removesuffix("\n"), text[a:b], text[b:].removeprefix("\n")
        self.query_one("#before", Static).update(escape(before))
        passage = self.query_one("#passage", Static)
        passage.update(escape(marked))
        passage.display = span is not None
        self.query_one("#after", Static).update(escape(after))
        scroller = self.query_one("#page", VerticalScroll)
        if span is not None:
            self.call_after_refresh(scroller.scroll_to_widget, passage, animate=False, top=True)
        else:
            scroller.scroll_home(animate=False)
