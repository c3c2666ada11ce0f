"""The terminal app driven by key presses, on a fake engine (real answering logic, scripted model)."""

from __future__ import annotations

import threading

import pytest
from textual.widgets import DataTable, Input, OptionList

from copilot.core import offline
from tui.app import CopilotApp
from tui.chat import ChatScreen
from tui.dialogs import HelpScreen, ModelPicker
from tui.index_screen import IndexScreen
from tui.saved import Conversations
from tui.turn import Sources, Turn
from tui.viewer import Viewer, locate

from tui_fakes import FakeEngine

SURVIVE = "These obligations survive for five (5) years after the Agreement ends [1]."


@pytest.fixture(autouse=True)
def quiet_machine(monkeypatch):
    """Let the pilot see a small, busy CI machine as idle, and give every app a clean guard.

    The pilot waits after each key until the process uses under 5% of a core,
    up to a second per key; an idle Textual app here uses about 8%, so every
    key press would cost two seconds.  Other tests in this process provoke
    the offline guard on purpose: the badge must not count those.
    """
    import textual._wait

    monkeypatch.setattr(textual._wait, "SLEEP_IDLE", textual._wait.SLEEP_GRANULARITY / 4)
    monkeypatch.setattr(offline, "attempts", lambda: [])
    monkeypatch.setattr(offline, "active", lambda: True)


def make_app(tmp_path, **engine_args) -> CopilotApp:
    engine = FakeEngine(home=tmp_path, **engine_args)
    return CopilotApp(engine, Conversations(tmp_path / "conversations.sqlite"))


async def type_text(pilot, text: str) -> None:
    for key in text:
        await pilot.press({" ": "space", "?": "question_mark"}.get(key, key))


async def ask(pilot, text: str) -> None:
    await type_text(pilot, text)
    await pilot.press("enter")


async def fill_prompt(pilot, key: str, text: str) -> None:
    """Open a one-line prompt with `key`, replace its text with `text`, and press Enter."""
    await pilot.press(key)
    await pilot.pause()
    await pilot.press("ctrl+u")
    await type_text(pilot, text)
    await pilot.press("enter")


async def settle(pilot) -> None:
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def ask_and_wait(pilot, text: str) -> None:
    """Type a question, press Enter, and wait for the answer to be on screen."""
    await ask(pilot, text)
    await settle(pilot)


def text_of(widget) -> str:
    return str(widget.render())


def turns(app) -> list[Turn]:
    return list(app.chat.query(Turn))


def answer_text(app, n: int = -1) -> str:
    return text_of(turns(app)[n].query_one(".answer"))


def notes(app) -> list[str]:
    return [n.message for n in app._notifications]


@pytest.mark.asyncio
async def test_an_answer_streams_with_its_sources_and_the_status_bar_fills_in(tmp_path) -> None:
    app = make_app(tmp_path)
    async with app.run_test() as pilot:
        await ask_and_wait(pilot, "how long are client matter files kept")
        assert "seven (7) years after the matter is closed [1]" in answer_text(app)
        sources = app.chat.query_one(Sources)
        assert sources.citations[0].label().startswith("[1] data-retention-policy.md")
        assert "Sources" in sources.border_title
        bar = text_of(app.chat.query_one("StatusBar"))
        assert "qwen2.5-coder-0.5b Q4_K_M" in bar and "44.4 tok/s" in bar
        assert "ctx 1240/4096" in bar and "OFFLINE" in bar


@pytest.mark.asyncio
async def test_the_box_takes_typing_before_the_model_has_loaded(tmp_path) -> None:
    app = make_app(tmp_path)
    async with app.run_test() as pilot:
        await type_text(pilot, "typed at once")
        assert app.chat.query_one("#question", Input).value == "typed at once"


@pytest.mark.asyncio
async def test_escape_cancels_at_once_and_keeps_the_partial_answer_marked(tmp_path) -> None:
    app = make_app(tmp_path, reply=" ".join(f"word{i}" for i in range(300)), delay=0.03)
    async with app.run_test() as pilot:
        await ask(pilot, "how long are client matter files kept")
        await pilot.pause(0.4)
        await pilot.press("escape")
        shown = answer_text(app)  # before the worker has even noticed
        assert "word1" in shown and "(cancelled)" in shown
        await settle(pilot)
        final = answer_text(app)
        assert "(cancelled)" in final and "word299" not in final
        assert turns(app)[-1].answer.cancelled
        await ask_and_wait(pilot, "and e-mail?")  # the box works again
        assert len(turns(app)) == 2


@pytest.mark.asyncio
async def test_a_second_question_while_answering_is_refused_politely(tmp_path) -> None:
    app = make_app(tmp_path, reply="word " * 100, delay=0.05)
    async with app.run_test() as pilot:
        await ask(pilot, "how long are client matter files kept")
        await ask(pilot, "second")
        assert any("Esc cancels" in n for n in notes(app))
        await settle(pilot)
        assert [t.question for t in turns(app)] == ["how long are client matter files kept"]


@pytest.mark.asyncio
async def test_a_missing_model_is_a_notification_with_what_to_do(tmp_path) -> None:
    app = make_app(tmp_path, fail_load=True)
    async with app.run_test() as pilot:
        await settle(pilot)
        assert "model file not found: /x.gguf; run `copilot doctor`" in notes(app)


@pytest.mark.asyncio
async def test_an_empty_index_says_how_to_fill_it(tmp_path) -> None:
    app = make_app(tmp_path, files=0)
    async with app.run_test() as pilot:
        await settle(pilot)
        assert any("Press F2" in n for n in notes(app))


@pytest.mark.asyncio
async def test_an_engine_bug_is_a_notification_not_a_traceback(tmp_path) -> None:
    app = make_app(tmp_path)

    def broken(*args, **kwargs):
        raise KeyError("boom")

    app.engine.ask = broken
    async with app.run_test() as pilot:
        await ask_and_wait(pilot, "anything")
        assert [n for n in notes(app) if "unexpected error: KeyError" in n] == [
            "unexpected error: KeyError: 'boom'"]  # said once
        assert "unexpected error" in answer_text(app)
        await ask_and_wait(pilot, "again")  # not stuck as busy
        assert len(turns(app)) == 2


@pytest.mark.asyncio
async def test_a_source_opens_at_its_page_highlighted_and_pages_turn(tmp_path) -> None:
    app = make_app(tmp_path, reply=SURVIVE)
    async with app.run_test() as pilot:
        await ask_and_wait(pilot, "how long do confidentiality obligations survive")
        assert app.chat.query_one(Sources).citations[0].page == 2
        await pilot.press("ctrl+o", "enter")
        await settle(pilot)
        viewer = app.screen
        assert isinstance(viewer, Viewer)
        where = text_of(viewer.query_one("#where"))
        assert "page 2 of 3" in where and "master-services-agreement-acme-bluefield.pdf" in where
        highlighted = text_of(viewer.query_one("#passage"))  # the quoted sentence, not the whole passage
        assert "survive for five (5) years" in highlighted and "Confidential Information secret" not in highlighted
        await pilot.press("right_square_bracket")
        assert "page 3 of 3" in text_of(viewer.query_one("#where"))
        assert not viewer.query_one("#passage").display  # the passage is not on page 3
        assert "Termination" in text_of(viewer.query_one("#before"))
        await pilot.press("right_square_bracket")  # no page 4: stays
        assert "page 3 of 3" in text_of(viewer.query_one("#where"))
        await pilot.press("left_square_bracket", "left_square_bracket")
        assert "page 1 of 3" in text_of(viewer.query_one("#where"))
        await pilot.press("c")
        assert "page 2 of 3" in text_of(viewer.query_one("#where"))
        await pilot.press("escape")
        assert isinstance(app.screen, ChatScreen)


@pytest.mark.asyncio
async def test_a_source_whose_file_is_gone_shows_the_indexed_passage(tmp_path) -> None:
    app = make_app(tmp_path, reply=SURVIVE)
    async with app.run_test() as pilot:
        await ask_and_wait(pilot, "how long do confidentiality obligations survive")
        sources = app.chat.query_one(Sources)
        from dataclasses import replace

        sources.citations = (replace(sources.citations[0], path=str(tmp_path / "gone.pdf")),)
        await pilot.press("ctrl+o", "enter")
        await settle(pilot)
        assert isinstance(app.screen, Viewer)
        assert "survive for five (5) years" in text_of(app.screen.query_one("#passage"))
        assert any("cannot open" in n and "showing the passage as it was indexed" in n for n in notes(app))


def test_a_passage_is_found_across_different_line_breaks() -> None:
    page = "Intro.\nThese obligations\nsurvive for five (5)   years after the Agreement ends. More."
    a, b = locate(page, "These obligations survive for five (5) years after the Agreement ends.")
    assert page[a:b].startswith("These") and page[a:b].endswith("ends.")
    assert locate(page, "nothing like it at all") is None


@pytest.mark.asyncio
async def test_conversations_are_kept_reopened_renamed_and_deleted(tmp_path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await ask_and_wait(pilot, "how long are client matter files kept")
        await pilot.press("ctrl+n")
        await pilot.pause()
        assert turns(app) == [] and not app.chat.query_one(Sources).display
        await ask_and_wait(pilot, "how long is e-mail kept")
        store = app.conversations
        assert [c.title for c in store.list()] == ["how long is e-mail kept",
                                                  "how long are client matter files kept"]
        sidebar = app.chat.query_one("#conversations", OptionList)
        assert sidebar.option_count == 2
        sidebar.focus()
        await pilot.press("down", "enter")  # the older conversation
        await pilot.pause()
        assert [t.question for t in turns(app)] == ["how long are client matter files kept"]
        assert "seven (7) years" in answer_text(app)
        assert app.chat.query_one(Sources).citations[0].source == "data-retention-policy.md"

        await fill_prompt(pilot, "ctrl+r", "Retention: client files")
        await pilot.pause()
        assert store.get(app.chat.conversation).title == "Retention: client files"

        await pilot.press("f8", "y")
        await pilot.pause()
        assert [c.title for c in store.list()] == ["how long is e-mail kept"]
        assert turns(app) == []


@pytest.mark.asyncio
async def test_a_reopened_conversation_survives_a_restart_and_its_follow_ups_use_it(tmp_path) -> None:
    app = make_app(tmp_path)
    async with app.run_test() as pilot:
        await ask_and_wait(pilot, "how long are client matter files kept")
    again = make_app(tmp_path)
    async with again.run_test(size=(120, 40)) as pilot:
        sidebar = again.chat.query_one("#conversations", OptionList)
        assert sidebar.option_count == 1
        sidebar.focus()
        await pilot.press("enter")
        await pilot.pause()
        assert "seven (7) years" in answer_text(again)
        again.chat.query_one("#question").focus()
        await ask_and_wait(pilot, "and then?")
        assert [a.question for a in again.engine.history] == ["how long are client matter files kept"]
        assert again.conversations.list()[0].turns == 2


@pytest.mark.asyncio
async def test_the_index_screen_lists_files_and_indexes_a_folder_while_the_chat_answers(tmp_path) -> None:
    app = make_app(tmp_path)
    app.engine.index_gate = threading.Event()  # the run's last file waits for the test: it is still going
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("f2")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, IndexScreen)
        totals = text_of(screen.query_one("#totals"))
        assert "2 files indexed" in totals and "1 skipped" in totals and "Last run:" in totals
        table = screen.query_one(DataTable)
        assert table.row_count == 3
        assert [str(c) for c in table.get_row_at(0)][:2] == ["skipped", "scan.pdf"]
        assert "needs OCR" in str(table.get_row_at(0)[2])

        await type_text(pilot, str(tmp_path))
        await pilot.press("enter")
        await pilot.pause(0.5)
        assert screen.query_one("#bar").display
        assert "indexing" in text_of(screen.query_one("StatusBar"))
        await pilot.press("escape")  # back to the chat: the run goes on
        await ask(pilot, "how long are client matter files kept")
        await pilot.pause(1.0)
        assert app.indexing is not None, "the run should still be going"
        assert "seven (7) years" in answer_text(app)
        app.engine.index_gate.set()
        await settle(pilot)
        assert app.indexing is None
        assert any(n.startswith("5 files: 5 indexed") for n in notes(app))
        assert "7 files, 63 chunks" in text_of(app.chat.query_one("StatusBar"))


@pytest.mark.asyncio
async def test_indexing_from_the_app_can_be_cancelled(tmp_path) -> None:
    app = make_app(tmp_path)
    app.engine.index_delay = 0.1
    async with app.run_test() as pilot:
        await pilot.press("f2")
        await type_text(pilot, str(tmp_path))
        await pilot.press("enter")
        await pilot.pause(0.5)
        await pilot.press("ctrl+g")
        await settle(pilot)
        assert app.indexing is None
        assert any("Indexing cancelled" in n for n in notes(app))
        assert "cancelled" in text_of(app.screen.query_one("#progress-line"))
        assert app.engine.manifest.files == 2  # the fake run never finished


@pytest.mark.asyncio
async def test_a_folder_that_does_not_exist_is_a_notification(tmp_path) -> None:
    app = make_app(tmp_path)
    async with app.run_test() as pilot:
        await pilot.press("f2")
        await type_text(pilot, "/no/such/folder")
        await pilot.press("enter")
        await pilot.pause()
        assert app.indexing is None
        assert any("No such file or folder: /no/such/folder" in n for n in notes(app))


@pytest.mark.asyncio
async def test_the_offline_badge_turns_red_on_a_refused_connection(tmp_path, monkeypatch) -> None:
    app = make_app(tmp_path)
    async with app.run_test() as pilot:
        assert "OFFLINE" in text_of(app.chat.query_one("StatusBar"))
        monkeypatch.setattr(offline, "attempts", lambda: ["one attempt"])
        await pilot.pause(1.3)
        bar = app.chat.query_one("StatusBar").render()
        assert "OFFLINE · 1 BLOCKED" in str(bar)
        assert any(span.style and "red" in str(span.style) for span in bar.spans)
        assert any("refused 1 connection" in n for n in notes(app))


@pytest.mark.asyncio
async def test_help_lists_every_binding_and_a_question_mark_in_the_box_is_typed(tmp_path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await type_text(pilot, "why?")
        assert app.chat.query_one("#question", Input).value == "why?"
        await pilot.press("f1")
        assert isinstance(app.screen, HelpScreen)
        shown = text_of(app.screen.query_one("VerticalScroll > Static"))
        for screen in (ChatScreen, Viewer, IndexScreen):
            for b in screen.BINDINGS:
                assert b.description in shown
        await pilot.press("escape")
        assert isinstance(app.screen, ChatScreen)


@pytest.mark.asyncio
async def test_every_action_is_in_the_command_palette(tmp_path) -> None:
    app = make_app(tmp_path)
    async with app.run_test() as pilot:
        titles = {c.title for c in app.get_system_commands(app.screen)}
        for wanted in ("Ask a question", "Cancel answer", "Open sources", "Copy answer",
                       "Save answer to file", "New conversation", "Conversations",
                       "Rename conversation", "Delete conversation", "Index screen",
                       "Index a folder", "Cancel indexing", "Choose model", "Light or dark theme", "Help", "Quit"):
            assert wanted in titles
        await ask_and_wait(pilot, "how long are client matter files kept")
        await pilot.press("ctrl+p")
        await type_text(pilot, "new conversation")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await pilot.pause()
        assert turns(app) == []


@pytest.mark.asyncio
async def test_an_answer_is_copied_and_saved_with_its_citations(tmp_path) -> None:
    app = make_app(tmp_path)
    async with app.run_test() as pilot:
        await ask_and_wait(pilot, "how long are client matter files kept")
        await pilot.press("ctrl+y")
        copied = app.clipboard
        assert copied.startswith("**Q:** how long are client matter files kept")
        assert "seven (7) years after the matter is closed [1]" in copied
        assert "- [1] data-retention-policy.md" in copied
        assert "  > - Client matter files are kept for seven (7) years" in copied
        await fill_prompt(pilot, "ctrl+s", str(tmp_path / "memo.md"))
        await pilot.pause()
        assert (tmp_path / "memo.md").read_text(encoding="utf-8") == copied
        (tmp_path / "memo.md").write_text("my own notes")
        await fill_prompt(pilot, "ctrl+s", str(tmp_path / "memo.md"))
        await pilot.press("n")  # asked before replacing: no
        await pilot.pause()
        assert (tmp_path / "memo.md").read_text() == "my own notes"


@pytest.mark.asyncio
async def test_the_theme_switches_between_light_and_dark(tmp_path) -> None:
    app = make_app(tmp_path)
    async with app.run_test() as pilot:
        assert app.theme == "textual-dark"
        await pilot.press("ctrl+t")
        assert app.theme == "textual-light"


@pytest.mark.asyncio
async def test_an_answer_shows_the_sentence_it_quotes_with_its_file_and_page(tmp_path) -> None:
    app = make_app(tmp_path, reply="Seven (7) years after the matter is closed.")
    async with app.run_test() as pilot:
        await ask_and_wait(pilot, "how long are client matter files kept")
        quote = text_of(turns(app)[-1].query_one(".quote"))
        assert "- Client matter files are kept for seven (7) years after the matter is closed" in quote
        assert "data-retention-policy.md" in quote
        assert "borne out by the quoted text" in text_of(turns(app)[-1].query_one(".check"))


@pytest.mark.asyncio
async def test_an_answer_the_passages_do_not_bear_out_is_not_found_with_its_draft_flagged(tmp_path) -> None:
    app = make_app(tmp_path, reply="Ten years, in a vault in Zurich.")
    async with app.run_test() as pilot:
        await ask_and_wait(pilot, "how long are client matter files kept")
        assert "Not found in the indexed documents." in answer_text(app)
        assert "⚠ Ten years, in a vault in Zurich." in text_of(turns(app)[-1].query_one(".check"))
        assert "they do not answer the question" in app.chat.query_one(Sources).border_title


@pytest.mark.asyncio
async def test_typing_while_the_sources_list_has_focus_goes_to_the_question_box(tmp_path) -> None:
    app = make_app(tmp_path)
    async with app.run_test() as pilot:
        await ask_and_wait(pilot, "how long are client matter files kept")
        await pilot.press("ctrl+o")
        assert app.chat.query_one(Sources).has_focus
        await type_text(pilot, "and email")
        question = app.chat.query_one("#question", Input)
        assert question.has_focus and question.value == "and email"


@pytest.mark.asyncio
async def test_a_key_bound_on_the_chat_screen_does_its_own_thing_from_the_sources_list(tmp_path) -> None:
    app = make_app(tmp_path)
    async with app.run_test() as pilot:
        await ask_and_wait(pilot, "how long are client matter files kept")
        await pilot.press("ctrl+o")
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        assert app.chat.query_one("#question", Input).value == ""


@pytest.mark.asyncio
async def test_typing_into_the_sources_list_on_a_busy_machine_asks_every_key_in_order(tmp_path, monkeypatch) -> None:
    """Keys keep coming from the terminal while the list is still taken up with the first ones."""
    import asyncio

    from textual import events

    async def busy(self, event) -> None:  # a loaded machine: each key takes the list a while
        await asyncio.sleep(0.02)

    monkeypatch.setattr(Sources, "on_key", busy, raising=False)
    app = make_app(tmp_path)
    async with app.run_test() as pilot:
        await ask_and_wait(pilot, "how long are client matter files kept")
        await pilot.press("ctrl+o")
        assert app.chat.query_one(Sources).has_focus
        text = "and how long is e-mail kept, in detail?"
        for character in text:  # as a fast typist's keys arrive: a few milliseconds apart
            app.post_message(events.Key(character, character))
            await asyncio.sleep(0.005)
        app.post_message(events.Key("enter", "\r"))
        await pilot.pause(1)
        assert turns(app)[-1].question == text
        assert app.chat.query_one("#question", Input).value == ""


@pytest.mark.asyncio
async def test_an_answer_cancelled_by_leaving_its_conversation_does_not_land_in_the_next(tmp_path) -> None:
    app = make_app(tmp_path, reply=" ".join(f"word{i}" for i in range(200)), delay=0.03)
    async with app.run_test() as pilot:
        await ask(pilot, "how long are client matter files kept")
        await pilot.pause(0.3)
        await pilot.press("ctrl+n")  # leaves (and cancels) the answer being written
        app.engine.answerer.generator.replies = ["E-mail is kept for three (3) years [1]."]
        app.engine.answerer.generator.delay = 0.0
        await ask_and_wait(pilot, "how long is e-mail kept")
        assert [t.question for t in turns(app)] == ["how long is e-mail kept"]
        assert "word" not in answer_text(app)
        saved = app.conversations.answers(app.chat.conversation)
        assert [a.question for a in saved] == ["how long is e-mail kept"]


def test_the_app_progress_posts_sparingly_and_stops_the_run_when_cancelled() -> None:
    import threading

    from copilot.core.errors import IndexCancelled
    from tui.index_screen import AppProgress

    posted, cancel = [], threading.Event()
    progress = AppProgress(posted.append, cancel)
    progress.start(1000, 1000)
    for i in range(1000):
        progress.file(f"f{i}", 1)
        progress.done(f"f{i}")
    assert 2 <= len(posted) < 50  # throttled, the first and the last always posted
    assert posted[-1].fraction == 1.0 and posted[-1].files == 1000
    cancel.set()
    with pytest.raises(IndexCancelled):
        progress.file("one more", 1)


def test_the_app_progress_counts_pages_read_by_ocr_and_esc_stops_between_two() -> None:
    import threading

    from copilot.core.errors import IndexCancelled
    from tui.index_screen import AppProgress

    posted, cancel = [], threading.Event()
    progress = AppProgress(posted.append, cancel)
    progress.start(1, 300_000)
    progress.file("scan.pdf", 300_000)
    progress.read(1, 300)
    assert progress.ocr_pages == 1 and 0 < progress.fraction < 0.01  # posted with the next message
    cancel.set()
    with pytest.raises(IndexCancelled):  # the indexer's loader lets it through: the run stops
        progress.read(2, 300)


@pytest.mark.asyncio
async def test_f3_lists_the_models_and_switches_to_the_one_chosen(tmp_path) -> None:
    from fakes import write_gguf

    (tmp_path / "models").mkdir()
    write_gguf(tmp_path / "models" / "firm-tuned.Q8_0.gguf", file_type=7)
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("f3")
        await settle(pilot)
        assert isinstance(app.screen, ModelPicker)
        options = app.screen.query_one(OptionList)
        ids = [options.get_option_at_index(i).id for i in range(options.option_count)]
        assert ids[-1] == "firm-tuned.Q8_0" and "smollm2-135m" in ids
        assert ids[options.highlighted] == "qwen2.5-coder-0.5b"  # the model in use
        assert "Q8_0" in str(options.get_option_at_index(len(ids) - 1).prompt)
        await pilot.press("end", "enter")
        await settle(pilot)
        assert isinstance(app.screen, ChatScreen)
        assert app.engine.model == "firm-tuned.Q8_0"
        assert app.status.model == "firm-tuned.Q8_0" and app.status.loaded
        assert any("Answering with firm-tuned.Q8_0" in n for n in notes(app))
        await ask_and_wait(pilot, "how long are client matter files kept")
        assert "seven (7) years" in turns(app)[-1].answer.text


@pytest.mark.asyncio
async def test_a_model_that_cannot_load_is_said_and_the_old_one_stays(tmp_path) -> None:
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "broken.gguf").write_bytes(b"PK\x03\x04 not a model")
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("f3")
        await settle(pilot)
        await pilot.press("end", "enter")
        await settle(pilot)
        assert app.engine.model == "qwen2.5-coder-0.5b"
        assert app.status.model == "qwen2.5-coder-0.5b"
        assert any("broken.gguf is not a GGUF model file" in n for n in notes(app))


@pytest.mark.asyncio
async def test_the_model_is_not_switched_while_an_answer_is_written(tmp_path) -> None:
    app = make_app(tmp_path, delay=0.2)
    async with app.run_test() as pilot:
        await settle(pilot)
        await ask(pilot, "how long are client matter files kept")
        await pilot.press("f3")
        assert not isinstance(app.screen, ModelPicker)
        assert any("Esc cancels it, then choose a model" in n for n in notes(app))
        await pilot.press("escape")
