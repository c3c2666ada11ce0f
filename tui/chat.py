"""The chat screen: conversations on the left, the answers streaming, their sources, the question box.

Generation runs in a thread worker that posts `Token`s and one `Answered`
(or `Failed`) tagged with its turn's number, so a cancelled turn's late
tokens are simply dropped.  Esc marks the turn cancelled at once and tells
the worker to stop; the model lock makes a next question wait for the
model, never share it.
"""

from __future__ import annotations

import itertools
import threading

from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Input, OptionList, Static

from copilot.core.answers import Answer
from copilot.core.errors import CopilotError
from tui.conversations import ConversationActions
from tui.messages import Answered, Failed, Queued, Token
from tui.status import StatusBar
from tui.turn import Sources, Turn
from tui.viewer import Viewer

HISTORY_TURNS = 4  # past answers a follow-up is read with
WELCOME = (
    "Ask a question about your indexed documents: every answer cites file and page.\n"
    "[dim]F1 keys · F2 index a folder · Ctrl+P every command[/dim]"
)


class ChatScreen(ConversationActions, Screen[None]):
    """The app's main screen."""

    DEFAULT_CSS = """
    ChatScreen #conversations {
        width: 30; height: 1fr; border: round $foreground 25%; display: none;
        text-wrap: nowrap; text-overflow: ellipsis;
    }
    ChatScreen.sidebar #conversations { display: block; }
    ChatScreen #conversations:focus { border: round $accent; }
    ChatScreen #log { height: 1fr; padding: 0 1; }
    ChatScreen #welcome { color: $text-muted; margin-bottom: 1; }
    ChatScreen #question { margin: 0; }
    """
    BINDINGS = [
        Binding("escape", "cancel", "Cancel"),
        Binding("ctrl+o", "sources", "Sources"),
        Binding("ctrl+n", "new", "New chat"),
        Binding("ctrl+b", "sidebar", "Chats", show=False),
        Binding("ctrl+r", "rename", "Rename chat", show=False),
        Binding("f8", "delete", "Delete chat", show=False),
        Binding("ctrl+y", "copy", "Copy answer", show=False),
        Binding("ctrl+s", "save", "Save answer to file", show=False),
        Binding("question_mark", "app.help", "Help", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.conversation: int | None = None
        self.turns: dict[int, Turn] = {}  # the open conversation's, by number
        # Numbers are never reused, even across conversations: a late message from a
        # cancelled answer in a conversation since closed must not land in another one.
        self.numbers = itertools.count(1)
        self.busy: int | None = None  # the turn being generated
        self._cancel = threading.Event()

    def compose(self) -> ComposeResult:
        with Horizontal():
            yield OptionList(id="conversations")
            with Vertical():
                with VerticalScroll(id="log"):
                    yield Static(WELCOME, id="welcome")
                yield Sources(id="sources")
                yield Input(placeholder="Ask about your documents…  (Enter asks, Esc cancels)",
                            id="question", select_on_focus=False)
        yield StatusBar()
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#conversations").border_title = "Chats"
        self.query_one(Sources).show(None)
        self.set_class(self.app.size.width >= 100, "sidebar")
        self.list_conversations()
        self.query_one("#question", Input).focus()

    # Asking ---------------------------------------------------------------

    @on(Input.Submitted, "#question")
    def question_submitted(self, event: Input.Submitted) -> None:
        question = event.value.strip()
        if not question:
            return
        if self.busy is not None:
            self.notify("Still answering the last question: Esc cancels it.", severity="warning")
            return
        event.input.clear()
        self.query_one("#welcome").display = False
        number = next(self.numbers)
        turn = self.turns[number] = Turn(question)
        log = self.query_one("#log", VerticalScroll)
        log.mount(turn)
        log.scroll_end(animate=False)
        self.busy, self._cancel = number, threading.Event()
        self.generate(number, question, self._cancel, self.history())

    def history(self) -> list[Answer]:
        """The conversation's answered questions, for a follow-up."""
        done = [t.answer for t in self.turns.values()
                if t.answer and t.answer.found and not t.answer.cancelled]
        return done[-HISTORY_TURNS:]

    @work(thread=True, group="answer")
    def generate(self, turn: int, question: str, cancel: threading.Event, history: list[Answer]) -> None:
        """Retrieve and stream the answer, posting each piece to the screen."""
        self.app.loaded.wait()
        try:
            engine = self.app.engine
            answer = engine.ask(question, engine.local_reader(), on_token=lambda t: self.post_message(Token(turn, t)),
                                cancel=cancel, history=history, on_wait=lambda n: self.post_message(Queued(turn, n)))
            self.post_message(Answered(turn, answer))
        except CopilotError as exc:
            self.post_message(Failed(str(exc), turn))
        except Exception as exc:  # a bug must not leave a traceback on a lawyer's screen
            self.post_message(Failed(f"unexpected error: {type(exc).__name__}: {exc}", turn))

    def on_token(self, message: Token) -> None:
        turn = self.turns.get(message.turn)
        if turn is not None:
            log = self.query_one("#log", VerticalScroll)
            follow = log.scroll_y >= log.max_scroll_y - 1  # keep following unless the user scrolled up
            turn.add(message.text)
            if follow:
                log.call_after_refresh(log.scroll_end, animate=False)

    def on_queued(self, message: Queued) -> None:
        if self.busy == message.turn:
            self.notify(f"Waiting for the firm's model: {message.ahead} ahead (Esc gives up the place).",
                        title="Queue", timeout=4)

    def on_answered(self, message: Answered) -> None:
        if self.busy == message.turn:
            self.busy = None
        turn = self.turns.get(message.turn)
        if turn is None:  # its conversation was closed (which cancelled it) before it ended
            return
        turn.finish(message.answer)
        self.query_one("#log", VerticalScroll).scroll_end(animate=False)
        if message.turn == max(self.turns):
            self.query_one(Sources).show(message.answer)
        self.app.answered(message.answer)
        self.save(message.answer)

    def on_failed(self, message: Failed) -> None:
        """Say why in the turn's place; the message bubbles on to the app, which notifies."""
        if message.turn is not None and message.turn in self.turns:
            self.turns[message.turn].fail(message.error)
            if self.busy == message.turn:
                self.busy = None

    def action_focus_question(self) -> None:
        """Move to the question box."""
        self.query_one("#question", Input).focus()

    def action_cancel(self) -> None:
        """Stop the answer being generated; what came so far stays, marked cancelled."""
        if self.busy is None:
            self.action_focus_question()
            return
        self._cancel.set()
        self.turns[self.busy].cancel()
        self.busy = None

    def take_typing(self, key: events.Key) -> None:
        """Typing in a list (sources, chats) goes to the question box: the user is asking.

        The app calls this before it hands `key` to the focused widget, so focus moves in
        the order keys are typed and this key and every later one reach the box.  (Moved by
        the list's own key handler, it came too late: keys the app had already handed the
        list arrived after ones typed later, or not at all.)
        """
        question = self.query_one("#question", Input)
        if key.is_printable and key.character and self.focused is not question \
                and key.key not in self.active_bindings:  # a bound key ("?": help) does what it is bound to
            self.set_focus(question)

    # Sources --------------------------------------------------------------

    def action_sources(self) -> None:
        """Move to the sources list (Enter opens one; Tab or Esc comes back)."""
        sources = self.query_one(Sources)
        if sources.citations:
            sources.focus()
        else:
            self.notify("No sources yet: ask a question first.")

    @on(OptionList.OptionSelected, "#sources")
    def open_source(self, event: OptionList.OptionSelected) -> None:
        sources = self.query_one(Sources)
        citation = sources.citations[int(event.option.id)]
        self.app.push_screen(Viewer(citation, sources.quotes.get(citation.n, "")))

