"""The chat app driven by key presses, on a fake engine."""

import time

import pytest

from copilot.answer import Answerer
from copilot.config import Config
from copilot.errors import ModelMissing
from copilot.retrieval import Retriever
from tui.app import CopilotApp

from fakes import BagOfWordsEmbedder, ListStore, ScriptedGenerator, chunk


@pytest.fixture(autouse=True)
def idle_threshold(monkeypatch):
    """Let the pilot see a small, busy CI machine as idle.

    The pilot waits after each key until the process uses under 5% of a core,
    up to a second per key; an idle Textual app here uses about 8%, so every
    key press would cost two seconds.
    """
    import textual._wait

    monkeypatch.setattr(textual._wait, "SLEEP_IDLE", textual._wait.SLEEP_GRANULARITY / 4)


class SlowGenerator(ScriptedGenerator):
    def stream(self, messages, max_tokens):
        for piece in super().stream(messages, max_tokens):
            time.sleep(0.02)
            yield piece


class FakeEngine:
    def __init__(self, reply: str, fail_load: bool = False):
        emb = BagOfWordsEmbedder()
        chunks = [chunk("E-mail is kept for three years, then deleted.", "retention.md", 1)]
        retriever = Retriever(emb, ListStore(chunks, emb), lambda: {c.path: c.doc_sha256 for c in chunks}, 3, 0.1)
        self.answerer = Answerer(retriever, SlowGenerator(reply), 400)
        self.config = Config(model="fake-model")
        self.embedder = type("E", (), {"model": None})()
        self.fail_load = fail_load

    @property
    def generator(self):
        if self.fail_load:
            raise ModelMissing("model file not found: /x.gguf")
        return self.answerer.generator

    def ask(self, question, on_token=None, cancel=None):
        return self.answerer.ask(question, on_token, cancel)


async def ask(pilot, text: str) -> None:
    for key in text:
        await pilot.press(key if key != " " else "space")
    await pilot.press("enter")


async def ask_and_wait(pilot, text: str) -> None:
    """Type a question, press Enter, and wait for the answer to be on screen."""
    await ask(pilot, text)
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def screen_text(app, selector: str) -> str:
    return str(app.query_one(selector).render())


@pytest.mark.asyncio
async def test_question_streams_an_answer_with_sources() -> None:
    app = CopilotApp(FakeEngine("E-mail is kept for three years [1]."))
    async with app.run_test() as pilot:
        await ask_and_wait(pilot, "how long is email kept")
        assert "three years [1]" in screen_text(app, "#answer")
        assert "[1] retention.md, page 1" in screen_text(app, "#sources")
        assert app.sub_title.endswith("fake-model")


@pytest.mark.asyncio
async def test_escape_cancels_and_keeps_the_partial_answer() -> None:
    app = CopilotApp(FakeEngine(" ".join(f"word{i}" for i in range(300))))
    async with app.run_test() as pilot:
        await ask(pilot, "how long is email kept")
        await pilot.pause(0.3)
        await pilot.press("escape")
        await app.workers.wait_for_complete()
        await pilot.pause()
        text = screen_text(app, "#answer")
        assert "word1" in text and "(cancelled)" in text and "word299" not in text


@pytest.mark.asyncio
async def test_errors_are_notifications_not_tracebacks() -> None:
    app = CopilotApp(FakeEngine("x", fail_load=True))
    async with app.run_test() as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert [n.message for n in app._notifications] == ["model file not found: /x.gguf"]


@pytest.mark.asyncio
async def test_an_uncited_answer_says_so_next_to_its_passages() -> None:
    app = CopilotApp(FakeEngine("Three years."))
    async with app.run_test() as pilot:
        await ask_and_wait(pilot, "how long is email kept")
        sources = screen_text(app, "#sources")
        assert "cites none" in sources and "[1] retention.md, page 1" in sources
        assert screen_text(app, "#answer").startswith("how long is email kept")
