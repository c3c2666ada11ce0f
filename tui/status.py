"""The status bar: which model, how full its context, how fast, how big the index, and offline.

The app holds one `Status` (a reactive); every screen's `StatusBar` watches
it, so a value changes in one place and shows everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.widgets import Static


@dataclass(frozen=True)
class Status:
    """What the status bar shows."""

    model: str = ""
    quant: str = ""
    loaded: bool = False
    context: int = 0  # the model's window, in tokens
    used: int = 0  # tokens the last answer took of it (prompt and reply)
    tokens_per_s: float | None = None  # generation speed of the last answer
    files: int = 0
    chunks: int = 0
    indexing: str = ""  # "indexing 42%" while a run from the app goes on
    guard: bool = True  # the offline guard is installed
    blocked: int = 0  # connections it refused in this process


class StatusBar(Static):
    """One line at the bottom of each screen, fed by the app's `status`."""

    DEFAULT_CSS = """
    StatusBar { height: 1; background: $panel; color: $text-muted; }
    """

    def on_mount(self) -> None:
        self.watch(self.app, "status", self._show)

    def _show(self, status: Status) -> None:
        self.update(render(status, self.size.width or 80))

    def on_resize(self) -> None:
        self._show(self.app.status)


def render(status: Status, width: int) -> Text:
    """The bar's text; the least useful parts give way first in narrow terminals."""
    named = status.quant and status.quant.lower() in status.model.lower()
    model = status.model + (f" {status.quant}" if status.quant and not named else "")
    if not status.loaded:
        model += " (loading)"
    context = f"ctx {status.used}/{status.context}" if status.context else ""
    speed = f"{status.tokens_per_s:.1f} tok/s" if status.tokens_per_s else ""
    size = status.indexing or f"{status.files:,} files, {status.chunks:,} chunks"
    if not status.guard:
        badge, style = " GUARD OFF ", "bold white on red"
    elif status.blocked:
        badge, style = f" OFFLINE · {status.blocked} BLOCKED ", "bold white on red"
    else:
        badge, style = " OFFLINE ", "bold black on green"
    room = max(0, width - len(badge) - 1)
    # In a narrow terminal the index size gives way first, then speed, then context.
    for parts in ([model, context, speed, size], [model, context, speed], [model, context], [model]):
        line = "  ".join(p for p in parts if p)
        if len(line) <= room:
            break
    text = Text(line[:room].ljust(room) + " ")
    text.append(badge, style=style)
    return text
