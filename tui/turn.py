"""One question and its answer in the chat, and the list of an answer's sources."""

from __future__ import annotations

from rich.markup import escape
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from copilot.core.answers import Answer
from copilot.core.present import report
from copilot.core.records import Citation

THINKING = "[dim]…[/dim]"


def quotes_markup(answer: Answer) -> str:
    """The sentences the answer rests on, verbatim, each with its file and page."""
    return "\n".join(f"“{escape(q.text)}”\n  [dim]— {escape(c.label())}[/dim]" for q, c in answer.quoted())


class Turn(Vertical):
    """A question, then its answer as it streams, then the text it quotes and what the check found."""

    DEFAULT_CSS = """
    Turn { height: auto; margin: 0 0 1 0; }
    Turn .question { text-style: bold; color: $accent; }
    Turn .answer { padding: 0 0 0 2; }
    Turn .quote { padding: 0 0 0 4; text-style: italic; }
    Turn .check { padding: 0 0 0 2; color: $text-muted; }
    Turn.cancelled .answer { color: $text-muted; }
    """

    def __init__(self, question: str, answer: Answer | None = None) -> None:
        super().__init__()
        self.question = question
        self.answer = answer
        self.text = ""  # what has streamed so far
        self.cancelled = False

    def compose(self) -> ComposeResult:
        yield Static(f"› {escape(self.question)}", classes="question")
        yield Static(THINKING, classes="answer")
        quote = Static("", classes="quote")
        quote.display = False  # until the answer is in
        yield quote
        yield Static("", classes="check")

    def on_mount(self) -> None:
        if self.answer is not None:
            self.finish(self.answer)

    def add(self, text: str) -> None:
        """Append a streamed piece (ignored once the user cancelled)."""
        if self.cancelled or self.answer is not None:
            return
        self.text += text
        self.query_one(".answer", Static).update(escape(self.text))

    def cancel(self) -> None:
        """Show the answer as cancelled now; what came so far stays."""
        if self.answer is None:
            self.cancelled = True
            self.add_class("cancelled")
            shown = escape(self.text) if self.text else "[dim](nothing yet)[/dim]"
            self.query_one(".answer", Static).update(f"{shown} [i](cancelled)[/i]")

    def fail(self, error: str) -> None:
        """The question could not be answered: say why in its place."""
        self.cancelled = True
        self.query_one(".answer", Static).update(f"[red]{escape(error)}[/red]")

    def finish(self, answer: Answer) -> None:
        """Show the final answer with the grounding check's verdict."""
        self.answer = answer
        self.set_class(answer.cancelled, "cancelled")
        body = escape(answer.text) or "[dim](nothing yet)[/dim]"
        if answer.cancelled:
            body += " [i](cancelled)[/i]"
        self.query_one(".answer", Static).update(body)
        quotes = quotes_markup(answer)
        self.query_one(".quote", Static).update(quotes)
        self.query_one(".quote", Static).display = bool(quotes)
        check = "\n".join(escape(line) for line in report(answer.claims, answer.found))
        self.query_one(".check", Static).update(check)
        self.query_one(".check", Static).display = bool(check)


def source_option(citation: Citation, index: int) -> Option:
    """A source as listed: `[n] file, page` and its score, then its first words."""
    first = " ".join(citation.text.split())
    head = Text.assemble((f"[{citation.n}] ", "bold"), citation.source)
    if citation.place:
        head.append(f", {citation.place}")
    head.append(citation.mark, "dim")
    prompt = Text.assemble(head, "\n    ", (f"{citation.score:.2f} ", "bold dim"), (first[:300], "dim"),
                           no_wrap=True, overflow="ellipsis")
    return Option(prompt, id=str(index))


class Sources(OptionList):
    """The latest answer's sources; Enter opens the one selected at its page."""

    DEFAULT_CSS = """
    Sources { height: auto; max-height: 9; border: round $foreground 25%; text-wrap: nowrap; text-overflow: ellipsis; }
    Sources:focus { border: round $accent; }
    """

    def show(self, answer: Answer | None) -> None:
        """List `answer`'s sources under the heading that says what they are."""
        self.clear_options()
        self.citations = answer.shown_sources if answer else ()
        self.quotes = {q.n: q.text for q in answer.quotes} if answer else {}
        self.border_title = answer.sources_heading if self.citations else "Sources"
        self.add_options([source_option(c, i) for i, c in enumerate(self.citations)])
        self.display = bool(self.citations)
        if self.citations:
            self.highlighted = 0
