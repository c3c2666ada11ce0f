"""The terminal app: chat, document viewer, index and review screens, over one engine
(`copilot.core.contract.Engine`).

The app owns what outlives a screen: the engine, the saved conversations, where reviews are kept,
the status bar's `Status`, and an indexing run (so it goes on while the user
is back in the chat).  Models load in a worker as soon as the app is up, so
the question box takes typing from the first frame.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import replace
from functools import partial
from pathlib import Path

from textual import events, work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.reactive import reactive
from textual.screen import Screen

from copilot.core import offline
from copilot.core.admin import Totals
from copilot.core.answers import Answer
from copilot.core.config import Config
from copilot.core.contract import Engine
from copilot.core.errors import CopilotError, IndexCancelled, IndexEmpty
from tui.chat import ChatScreen
from tui.dialogs import HelpScreen, ModelPicker, Prompt
from tui.index_screen import AppProgress, IndexScreen
from tui.messages import EngineReady, Failed, IndexFinished, IndexProgress, IndexTotals, ModelFailed
from tui.status import Status
from tui.viewer import Viewer

THEMES = {"dark": "textual-dark", "light": "textual-light"}
# The palette's chat commands: title, what it does, and the `ChatScreen` action it runs.
CHAT_COMMANDS = [
    ("Ask a question", "Move to the question box", "focus_question"),
    ("Cancel answer", "Stop the answer being written (Esc)", "cancel"),
    ("Open sources", "Pick a source of the last answer to read (Ctrl+O)", "sources"),
    ("Copy answer", "Copy the last answer and its sources (Ctrl+Y)", "copy"),
    ("Save answer to file", "Write the last answer and its sources (Ctrl+S)", "save"),
    ("New conversation", "Start afresh (Ctrl+N)", "new"),
    ("Conversations", "Show or hide the list of conversations (Ctrl+B)", "sidebar"),
    ("Rename conversation", "Give the open conversation a title (Ctrl+R)", "rename"),
    ("Delete conversation", "Delete the open conversation (F8)", "delete"),
]


class CopilotApp(App[None]):
    """Ask, read cited answers, open the cited pages, keep conversations, index folders."""

    TITLE = "copilot"
    BINDINGS = [
        Binding("f1", "help", "Help"),
        Binding("f2", "index", "Index"),
        Binding("f3", "pick_model", "Model", show=False),
        Binding("f4", "review", "Review"),
        Binding("ctrl+t", "toggle_theme", "Light/dark", show=False),
        Binding("ctrl+q", "quit", "Quit"),
    ]
    status: reactive[Status] = reactive(Status, always_update=True)

    def __init__(self, engine: Engine, conversations=None, theme: str = "dark", notice: str = "",
                 reviews: Path | None = None) -> None:
        super().__init__()
        self.reviews = reviews  # the folder reviews are kept in (None: none, unless a server keeps them)
        self.notice = notice  # a start-up problem to tell the user about
        self.engine = engine
        self.conversations = conversations  # a `tui.saved.Conversations`, or None
        self.theme = THEMES.get(theme, THEMES["dark"])
        self.indexing: threading.Event | None = None  # set to cancel the run in progress
        self.loaded = threading.Event()  # the warm-up has ended (loaded, or failed and said so)
        self.chat = ChatScreen()

    def get_default_screen(self) -> Screen:
        return self.chat

    async def on_event(self, event: events.Event) -> None:
        # Keys come here one at a time, in the order typed, before any widget sees them.
        if isinstance(event, events.Key) and not event.is_forwarded and self.screen is self.chat:
            self.chat.take_typing(event)
        await super().on_event(event)

    def _model_name(self) -> str:
        return Path(self.engine.model).name.removesuffix(".gguf")

    def on_mount(self) -> None:
        self.status = Status(model=self._model_name(), guard=offline.active())
        self.warm_up()
        self.read_totals()
        self.set_interval(1.0, self.watch_guard)
        if self.notice:
            self.notify(self.notice, severity="error", timeout=15)

    # Background work --------------------------------------------------------

    @work(thread=True, exclusive=True, group="load")
    def warm_up(self) -> None:
        """Load the models in the background while the user types.

        Other workers wait for this one (`loaded`): two threads importing
        numpy-based libraries at once can deadlock Python's import locks.
        """
        try:
            model = self.engine.load_models()
            self.post_message(EngineReady(model.name, model.quant, model.context_window))
        except CopilotError as exc:
            self.post_message(Failed(f"{exc}"))
        except Exception as exc:  # a broken install must not leave a traceback on screen
            self.post_message(Failed(f"cannot load the models: {type(exc).__name__}: {exc}"))
        finally:
            self.loaded.set()

    @work(thread=True, exclusive=True, group="totals")
    def read_totals(self) -> None:
        """Count what is indexed, for the status bar; say so if it is nothing."""
        try:
            totals = self.engine.totals(self.engine.local_reader())
        except IndexEmpty:  # a new install: no policy before the first index, and nothing to count
            totals = Totals()
        except Exception as exc:  # an unreadable index is said, not shown as a traceback
            self.post_message(Failed(f"cannot read the index: {exc}"))
            return
        self.post_message(IndexTotals(totals))

    @work(thread=True, exclusive=True, group="load")
    def load_model(self, name: str) -> None:
        """Switch the engine to model `name`; the chat waits for it (`loaded`)."""
        self.loaded.wait()
        self.loaded.clear()
        try:
            model = self.engine.use_model(name)
            self.post_message(EngineReady(name, model.quant, model.context_window, switched=True))
        except CopilotError as exc:
            self.post_message(ModelFailed(name, f"{exc}"))
        except Exception as exc:  # a file llama.cpp cannot load must not leave a traceback
            self.post_message(ModelFailed(name, f"cannot load {name}: {type(exc).__name__}: {exc}"))
        finally:
            self.loaded.set()

    def on_model_failed(self, message: ModelFailed) -> None:
        # The previous setting stays; its model loads again with the next question.
        self.status = replace(self.status, model=self._model_name(), loaded=False)
        self.notify(message.error, title=f"Model {message.model}", severity="error", timeout=12)

    def on_engine_ready(self, message: EngineReady) -> None:
        self.status = replace(self.status, model=message.model, loaded=True, quant=message.quant,
                              context=message.context, used=0, tokens_per_s=None)
        if message.switched:
            self.notify(f"Answering with {message.model} ({message.quant}) from now on.", title="Model")

    def on_index_totals(self, message: IndexTotals) -> None:
        t = message.totals
        self.status = replace(self.status, files=t.files, chunks=t.chunks)
        if not t.files and self.indexing is None:
            self.notify("Nothing is indexed yet. Press F2 and give a folder of documents to index.",
                        title="Empty index", severity="warning", timeout=12)

    def on_failed(self, message: Failed) -> None:
        self.notify(message.error, title="copilot", severity="error", timeout=12)

    def watch_guard(self) -> None:
        """Poll the offline guard: the badge turns red on any refused connection."""
        blocked, guard = len(offline.attempts()), offline.active()
        if (blocked, guard) != (self.status.blocked, self.status.guard):
            self.status = replace(self.status, blocked=blocked, guard=guard)
            if blocked:
                self.notify(f"The offline guard refused {blocked} connection attempt(s); "
                            "run `copilot doctor` to see from where.", severity="error", timeout=15)

    def answered(self, answer: Answer) -> None:
        """Show the last answer's speed and context use in the status bar."""
        t = answer.timings
        if t.prompt_tokens or t.completion_tokens:
            self.status = replace(self.status, used=t.prompt_tokens + t.completion_tokens,
                                  tokens_per_s=t.tokens_per_s or self.status.tokens_per_s)

    # Indexing -------------------------------------------------------------

    def index_folder(self, folder: str) -> None:
        """Index `folder` in the background; the chat answers from the old index meanwhile."""
        path = Path(folder).expanduser()
        if self.indexing is not None:
            self.notify("An indexing run is already going on (Ctrl+G cancels it).", severity="warning")
        elif not path.exists():
            self.notify(f"No such file or folder: {path}", title="Index", severity="error")
        else:
            self.indexing = threading.Event()
            self.status = replace(self.status, indexing="indexing 0%")
            self.run_index(path, self.indexing)

    @work(thread=True, exclusive=True, group="index")
    def run_index(self, path: Path, cancel: threading.Event) -> None:
        self.loaded.wait()
        try:
            summary = self.engine.index([path], progress=AppProgress(self.post_message, cancel))
            self.post_message(IndexFinished(summary))
        except IndexCancelled:
            self.post_message(IndexFinished(None, cancelled=True))
        except CopilotError as exc:
            self.post_message(IndexFinished(None, error=str(exc)))
        except Exception as exc:  # a bug must not leave a traceback on screen
            self.post_message(IndexFinished(None, error=f"unexpected error: {type(exc).__name__}: {exc}"))

    def action_cancel_index(self) -> None:
        """Stop the indexing run; files done so far stay indexed."""
        if self.indexing is None:
            self.notify("No indexing run to cancel.")
        else:
            self.indexing.set()
            self.status = replace(self.status, indexing="cancelling…")

    def on_index_progress(self, message: IndexProgress) -> None:
        self.status = replace(self.status, indexing=f"indexing {message.fraction:.0%}")
        for screen in self.screen_stack:
            if isinstance(screen, IndexScreen):
                screen.progress(message)

    def on_index_finished(self, message: IndexFinished) -> None:
        self.indexing = None
        self.status = replace(self.status, indexing="")
        if message.summary is not None:
            self.notify(message.summary.line(), title="Indexing done", timeout=10)
        elif message.cancelled:
            self.notify("Indexing cancelled: files done so far stay indexed.", title="Index")
        else:
            self.notify(message.error, title="Indexing failed", severity="error", timeout=12)
        for screen in self.screen_stack:
            if isinstance(screen, IndexScreen):
                screen.finished(message)
        self.read_totals()

    # Screens and commands -----------------------------------------------------

    def action_index(self) -> None:
        """Show the index screen (what is indexed, and index a folder)."""
        if not isinstance(self.screen, IndexScreen):
            self.push_screen(IndexScreen())

    def action_review(self) -> None:
        """Show the review screen (the last review's grid, to sign off cell by cell)."""
        from tui.review_screen import ReviewScreen

        if not isinstance(self.screen, ReviewScreen):
            self.push_screen(ReviewScreen())

    def action_pick_model(self) -> None:
        """Choose another model to answer with (the list `copilot models` prints)."""
        if self.chat.busy is not None:
            self.notify("An answer is being written: Esc cancels it, then choose a model.",
                        severity="warning")
        elif not isinstance(self.screen, ModelPicker):
            self.push_screen(ModelPicker(self.engine.models, self.engine.model), self.switch_model)

    def switch_model(self, name: str | None) -> None:
        """Load model `name` in the background (None: the picker was cancelled)."""
        if name and name != self.engine.model:
            self.status = replace(self.status, model=name, quant="", loaded=False)
            self.load_model(name)

    def action_help(self) -> None:
        """Show every key binding."""
        from tui.review_screen import ReviewScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen([
                ("Everywhere", self.BINDINGS), ("Chat", ChatScreen.BINDINGS),
                ("Document viewer", Viewer.BINDINGS), ("Index screen", IndexScreen.BINDINGS),
                ("Review screen", ReviewScreen.BINDINGS),
            ]))

    def action_toggle_theme(self) -> None:
        """Switch between the light and the dark theme."""
        self.theme = THEMES["light"] if self.theme == THEMES["dark"] else THEMES["dark"]

    def in_chat(self, action) -> None:
        """Run a chat action from any screen: back to the chat first."""
        while not isinstance(self.screen, ChatScreen):
            self.pop_screen()
        action()

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        for title, help, action in CHAT_COMMANDS:
            yield SystemCommand(title, help, partial(self.in_chat, getattr(self.chat, f"action_{action}")))
        yield SystemCommand("Index screen", "What is indexed and what was skipped (F2)", self.action_index)
        yield SystemCommand("Index a folder", "Add or update a folder of documents",
                            lambda: self.push_screen(Prompt("Folder to index", str(Path.cwd())),
                                                     lambda f: f and self.index_folder(f)))
        yield SystemCommand("Cancel indexing", "Stop the indexing run (Ctrl+G)", self.action_cancel_index)
        yield SystemCommand("Review", "A review's grid, to sign off cell by cell (F4)", self.action_review)
        yield SystemCommand("Choose model", "Answer with another model (F3)", self.action_pick_model)
        yield SystemCommand("Light or dark theme", "Switch theme (Ctrl+T)", self.action_toggle_theme)
        yield SystemCommand("Help", "Every key binding (F1)", self.action_help)
        yield from super().get_system_commands(screen)


def run_app(engine: Engine, config: Config) -> None:
    """Open the app on an engine (the `copilot` command with no arguments); `config` gives
    the app's own settings (its theme, where conversations are kept)."""
    from tui.saved import Conversations

    conversations, notice = None, ""
    try:
        conversations = Conversations(config.conversations_file)
    except CopilotError as exc:
        notice = f"{exc}; conversations will not be kept this session"
    # Reviews are kept where the index is: here, or on the firm's server (which then keeps them).
    CopilotApp(engine, conversations, config.theme, notice, config.reviews_dir).run()
