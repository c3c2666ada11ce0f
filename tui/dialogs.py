"""Small modal screens: the help screen, a one-line prompt, a yes/no question, the model picker."""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from copilot.core.admin import ModelInfo

DIALOG_CSS = """
{name} {{ align: center middle; }}
{name} > Vertical {{
    width: 80%; max-width: 76; height: auto; max-height: 90%;
    border: round $accent; background: $surface; padding: 0 1;
}}
"""


class HelpScreen(ModalScreen[None]):
    """Every key binding of every screen, read from the bindings themselves."""

    DEFAULT_CSS = DIALOG_CSS.format(name="HelpScreen") + """
    HelpScreen VerticalScroll { height: auto; max-height: 100%; }
    """
    BINDINGS = [Binding("escape,f1,q,question_mark", "dismiss", "Close help")]

    def __init__(self, sections: list[tuple[str, list[Binding]]]) -> None:
        super().__init__()
        self.sections = sections

    def compose(self) -> ComposeResult:
        lines = Text()
        for title, bindings in [*self.sections, ("Anywhere", [Binding("ctrl+p", "", "Command palette: every action by name")])]:
            lines.append(f"{title}\n", style="bold underline")
            for b in bindings:
                lines.append(f"  {_keys(b.key):<18}", style="bold")
                lines.append(f"{b.description}\n")
            lines.append("\n")
        lines.rstrip()
        with Vertical() as box:
            box.border_title = "Keys  (Esc closes)"
            with VerticalScroll():
                yield Static(lines)


def _keys(key: str) -> str:
    names = {"question_mark": "?", "escape": "Esc", "left_square_bracket": "[",
             "right_square_bracket": "]"}
    return " / ".join(names.get(k, k) for k in key.split(","))


class Prompt(ModalScreen[str | None]):
    """Ask for one line of text (a title, a path); Enter gives it, Esc gives None."""

    DEFAULT_CSS = DIALOG_CSS.format(name="Prompt")
    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel")]

    def __init__(self, title: str, value: str = "", placeholder: str = "") -> None:
        super().__init__()
        self.title_text, self.value, self.placeholder = title, value, placeholder

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = self.title_text
            yield Input(self.value, placeholder=self.placeholder)
            yield Label("[dim]Enter to confirm · Esc to cancel[/dim]")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.dismiss(event.value.strip() or None)


class Confirm(ModalScreen[bool]):
    """A yes/no question; y or Enter says yes, n or Esc says no."""

    DEFAULT_CSS = DIALOG_CSS.format(name="Confirm")
    BINDINGS = [
        Binding("y,enter", "dismiss(True)", "Yes"),
        Binding("n,escape", "dismiss(False)", "No"),
    ]

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = "Confirm"
            yield Label(self.question)
            yield Label("[b]y[/b] yes · [b]n[/b] no")


class ModelPicker(ModalScreen[str | None]):
    """Choose the model to answer with: every model `copilot models` lists."""

    DEFAULT_CSS = DIALOG_CSS.format(name="ModelPicker") + """
    ModelPicker OptionList { height: auto; max-height: 16; border: none; }
    """
    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel")]

    def __init__(self, list_models: Callable[..., list[ModelInfo]], current: str) -> None:
        super().__init__()
        self.list_models_of, self.current = list_models, current  # `Engine.models`

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = "Answer with  (Enter chooses · Esc cancels)"
            yield OptionList(Option("reading the models folder…", disabled=True))

    def on_mount(self) -> None:
        self.list_models()

    @work(thread=True)
    def list_models(self) -> None:
        """Read the models' headers away from the screen (no hashing: that is `copilot models`)."""
        try:
            rows = self.list_models_of(hashes=False)
        except Exception as exc:  # an unreadable folder is said, not shown as a traceback
            self.app.call_from_thread(self.notify, f"cannot list the models: {exc}", severity="error")
            return
        self.app.call_from_thread(self.show, rows)

    def show(self, rows) -> None:
        options = self.query_one(OptionList)
        options.clear_options()
        for m in rows:
            line = Text.assemble(("● " if m.name == self.current else "  ", "bold green"),
                                 (f"{m.name:<28}", "bold"), f"{m.quant:<8}{m.size / 2**20:>8,.0f} MiB  ",
                                 (m.note, "dim"))
            options.add_option(Option(line, id=m.name, disabled=not m.installed))
        names = [m.name for m in rows]
        options.highlighted = names.index(self.current) if self.current in names else 0
        options.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(event.option.id)
