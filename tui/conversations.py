"""The chat screen's conversation and export actions (the sidebar, rename, delete, copy, save).

Kept apart from `tui.chat` so the screen's own module stays about asking;
`ChatScreen` mixes these in.  They act on the screen's open conversation
(`self.conversation`, `self.turns`) and the app's store (`app.conversations`).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from textual.containers import VerticalScroll
from textual.widgets import Input, OptionList
from textual.widgets.option_list import Option

from copilot.core.answers import Answer
from copilot.core.errors import CopilotError
from tui.dialogs import Confirm, Prompt
from tui.turn import Sources, Turn


class ConversationActions:
    """Conversations in the sidebar, and the last answer copied or saved."""

    # Conversations ----------------------------------------------------------

    def list_conversations(self) -> None:
        """Fill the sidebar from the store, the open conversation highlighted."""
        store = self.app.conversations
        sidebar = self.query_one("#conversations", OptionList)
        sidebar.clear_options()
        if store is None:
            return
        chats = store.list()
        sidebar.add_options([Option(c.title or "(untitled)", id=str(c.id)) for c in chats])
        ids = [c.id for c in chats]
        if ids:  # the cursor on the open conversation, else on the latest
            sidebar.highlighted = ids.index(self.conversation) if self.conversation in ids else 0

    def save(self, answer: Answer) -> None:
        """Keep the answer in the open conversation (starting one for a first question)."""
        store = self.app.conversations
        if store is None:
            return
        try:
            if self.conversation is None or store.get(self.conversation) is None:
                self.conversation = store.new().id
            store.add(self.conversation, answer)
        except CopilotError as exc:
            self.notify(str(exc), title="Conversations", severity="error")
        self.list_conversations()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        # By name, not `@on`: a mixin is not a Textual class, so its decorated handlers are not seen.
        if event.option_list.id != "conversations":
            return
        self.open_conversation(int(event.option.id))
        self.query_one("#question", Input).focus()

    def open_conversation(self, conversation: int | None) -> None:
        """Show a saved conversation's answers and sources (None: a fresh one)."""
        if self.busy is not None:
            self.action_cancel()
        store = self.app.conversations
        answers = store.answers(conversation) if store is not None and conversation is not None else []
        self.conversation = conversation
        log = self.query_one("#log", VerticalScroll)
        for turn in self.turns.values():
            turn.remove()
        self.turns = {n: Turn(a.question, a) for n, a in zip(self.numbers, answers)}
        log.mount_all(self.turns.values())
        self.query_one("#welcome").display = not answers
        self.query_one(Sources).show(answers[-1] if answers else None)
        log.call_after_refresh(log.scroll_end, animate=False)
        self.list_conversations()

    def action_new(self) -> None:
        """Start a new conversation (the current one stays in the sidebar)."""
        self.open_conversation(None)
        self.query_one("#question", Input).focus()

    def action_sidebar(self) -> None:
        """Show or hide the conversations, and move to them when shown."""
        self.toggle_class("sidebar")
        if self.has_class("sidebar"):
            self.query_one("#conversations").focus()

    def _chosen(self) -> int | None:
        """The conversation an action applies to: the one highlighted in a focused sidebar, else the open one."""
        sidebar = self.query_one("#conversations", OptionList)
        if sidebar.has_focus and sidebar.highlighted is not None:
            return int(sidebar.get_option_at_index(sidebar.highlighted).id)
        return self.conversation

    def action_rename(self) -> None:
        """Give a conversation a title of your own."""
        chosen, store = self._chosen(), self.app.conversations
        if chosen is None or store is None:
            self.notify("Nothing to rename yet: a conversation starts with its first answer.")
            return

        def rename(title: str | None) -> None:
            if title:
                store.rename(chosen, title)
                self.list_conversations()

        self.app.push_screen(Prompt("Rename conversation", store.get(chosen).title), rename)

    def action_delete(self) -> None:
        """Delete a conversation, after asking."""
        chosen, store = self._chosen(), self.app.conversations
        if chosen is None or store is None:
            return

        def delete(yes: bool | None) -> None:
            if yes:
                store.delete(chosen)
                if chosen == self.conversation:
                    self.open_conversation(None)
                self.list_conversations()
                self.notify("Conversation deleted.")

        self.app.push_screen(Confirm(f"Delete “{store.get(chosen).title}” and its answers?"), delete)

    # Copying --------------------------------------------------------------

    def last_answer(self) -> Answer | None:
        """The open conversation's latest finished (or cancelled) answer."""
        done = [t.answer for t in self.turns.values() if t.answer is not None]
        return done[-1] if done else None

    def action_copy(self) -> None:
        """Copy the last answer, its check and its sources quoted, to the clipboard."""
        from copilot.core.present import markdown

        answer = self.last_answer()
        if answer is None:
            self.notify("No answer to copy yet.")
            return
        self.app.copy_to_clipboard(markdown(answer))
        self.notify(f"Copied the answer and {len(answer.shown_sources)} source(s). "
                    "If your terminal blocks the clipboard, Ctrl+S saves to a file.")

    def action_save(self) -> None:
        """Write the last answer with its sources to a Markdown file."""
        from copilot.core.present import markdown

        answer = self.last_answer()
        if answer is None:
            self.notify("No answer to save yet.")
            return
        default = Path.cwd() / f"answer-{datetime.now():%Y%m%d-%H%M%S}.md"

        def write(file: Path) -> None:
            try:
                file.write_text(markdown(answer), encoding="utf-8")
            except OSError as exc:
                self.notify(f"cannot write {file}: {exc.strerror or exc}", severity="error")
            else:
                self.notify(f"Saved to {file}")

        def chosen(path: str | None) -> None:
            if not path:
                return
            file = Path(path).expanduser()
            if file.exists():  # a memo the user already has must not vanish without asking
                self.app.push_screen(Confirm(f"{file} exists. Replace it?"),
                                     lambda yes: yes and write(file))
            else:
                write(file)

        self.app.push_screen(Prompt("Save the answer to", str(default)), chosen)
