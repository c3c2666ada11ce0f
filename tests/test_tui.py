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

    def ask(self, question, on_token=None, cancel=None, history=()):
        self.history = list(history)
        return self.answerer.ask(question, on_token, cancel, history)


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
async def test_an_uncited_answer_gets_its_source_from_the_check_and_says_so() -> None:
    app = CopilotApp(FakeEngine("Three years."))
    async with app.run_test() as pilot:
        await ask_and_wait(pilot, "how long is email kept")
        assert "[1] retention.md, page 1" in screen_text(app, "#sources")
        answer = screen_text(app, "#answer")
        assert answer.startswith("how long is email kept")
        assert "✓ [1] (source found by the check) Three years." in answer


@pytest.mark.asyncio
async def test_a_follow_up_is_asked_with_the_conversation_so_far() -> None:
    engine = FakeEngine("E-mail is kept for three years [1].")
    app = CopilotApp(engine)
    async with app.run_test() as pilot:
        await ask_and_wait(pilot, "how long is email kept")
        await ask_and_wait(pilot, "and then?")
        assert [a.question for a in engine.history] == ["how long is email kept"]


@pytest.mark.asyncio
async def test_an_answer_the_passages_do_not_bear_out_is_not_found_with_its_draft_flagged() -> None:
    app = CopilotApp(FakeEngine("Ten years, in a vault in Zurich."))
    async with app.run_test() as pilot:
        await ask_and_wait(pilot, "how long is email kept")
        answer = screen_text(app, "#answer")
        assert "Not found in the indexed documents." in answer
        assert "⚠ Ten years, in a vault in Zurich." in answer
        assert "they do not answer the question" in screen_text(app, "#sources")
