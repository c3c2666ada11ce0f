"""A minimal chat app over the `Copilot` core: ask, watch the answer stream, see sources.

The full app (conversations, document viewer, index screen) builds on this;
what is here already keeps to its rules: blocking work runs in thread
workers that post messages, Esc cancels a generation, and errors become
notifications rather than tracebacks.
"""

from __future__ import annotations

import threading
from pathlib import Path

from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Footer, Header, Input, Static

from copilot.errors import CopilotError
from copilot.types import Answer
from tui.messages import Answered, EngineReady, Failed, Token


HISTORY_TURNS = 4  # past answers a follow-up is read with


class CopilotApp(App[None]):
    """Question box at the bottom, the streamed answer above it, then its sources."""

    TITLE = "copilot"
    SUB_TITLE = "offline"
    CSS = """
    #conversation { height: 1fr; padding: 0 1; }
    #answer { margin: 1 0; }
    #sources { color: $text-muted; margin-bottom: 1; }
    #question { dock: bottom; }
    """
    BINDINGS = [
        Binding("escape", "cancel", "Cancel answer"),
        Binding("ctrl+q", "quit", "Quit"),
    ]

    def __init__(self, engine) -> None:
        super().__init__()
        self.engine = engine
        self._cancel = threading.Event()
        self._question = ""
        self._text = ""
        self._history: list[Answer] = []  # this session's answered questions, for follow-ups

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll(id="conversation"):
            yield Static("Ask a question about your documents.", id="answer")
            yield Static("", id="sources")
        yield Input(placeholder="Ask about your documents…", id="question")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#question", Input).focus()
        self.warm_up()

    @work(thread=True, exclusive=True, group="load")
    def warm_up(self) -> None:
        """Load the models in the background while the user types."""
        try:
            _ = self.engine.embedder.model, self.engine.generator
            self.post_message(EngineReady(self.engine.config.model))
        except CopilotError as exc:
            self.post_message(Failed(str(exc)))

    @on(Input.Submitted, "#question")
    def ask(self, event: Input.Submitted) -> None:
        question = event.value.strip()
        if not question:
            return
        event.input.clear()
        self._question, self._text = question, ""
        self._cancel = threading.Event()
        self._show("…")
        self.query_one("#sources", Static).update("")
        self.generate(question, self._cancel)

    @work(thread=True, exclusive=True, group="answer")
    def generate(self, question: str, cancel: threading.Event) -> None:
        """Retrieve and stream the answer, posting each piece to the screen."""
        try:
            answer = self.engine.ask(
                question, on_token=lambda t: self.post_message(Token(t)), cancel=cancel,
                history=list(self._history[-HISTORY_TURNS:]),
            )
            self.post_message(Answered(answer))
        except CopilotError as exc:
            self.post_message(Failed(str(exc)))

    def _show(self, body_markup: str) -> None:
        self.query_one("#answer", Static).update(
            f"[b]{_escape(self._question)}[/b]\n\n{body_markup}"
        )

    def on_token(self, message: Token) -> None:
        self._text += message.text
        self._show(_escape(self._text))

    def on_answered(self, message: Answered) -> None:
        answer: Answer = message.answer
        if answer.found and not answer.cancelled:
            self._history.append(answer)
        from copilot.grounding import report

        marker = "\n\n[i](cancelled)[/i]" if answer.cancelled else ""
        check = "\n".join(_escape(line) for line in report(answer.claims, answer.found))
        self._show(_escape(answer.text) + marker + (f"\n\n[dim]{check}[/dim]" if check else ""))
        shown = answer.shown_sources
        lines = [f"[b]{answer.sources_heading}[/b]"] + [_escape(c.label()) for c in shown]
        self.query_one("#sources", Static).update("\n".join(lines) if shown else "")

    def on_engine_ready(self, message: EngineReady) -> None:
        self.sub_title = f"offline · {Path(message.model).name}"

    def on_failed(self, message: Failed) -> None:
        self.notify(message.error, title="copilot", severity="error", timeout=10)

    def action_cancel(self) -> None:
        """Stop the answer being generated; what came so far stays."""
        self._cancel.set()


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def run_app(engine) -> None:
    """Open the app on an engine (the `copilot` command with no arguments)."""
    CopilotApp(engine).run()
