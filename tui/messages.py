"""Every message the app's workers post to its screens, in one place."""

from __future__ import annotations

from textual.message import Message

from copilot.types import Answer


class EngineReady(Message):
    """The models are loaded; answers will start without a load delay."""

    def __init__(self, model: str) -> None:
        super().__init__()
        self.model = model


class Token(Message):
    """A piece of the answer being generated."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text


class Answered(Message):
    """Generation ended (finished, or cancelled with `answer.cancelled`)."""

    def __init__(self, answer: Answer) -> None:
        super().__init__()
        self.answer = answer


class Failed(Message):
    """A worker hit an error the user should hear about, in one line."""

    def __init__(self, error: str) -> None:
        super().__init__()
        self.error = error
