"""Saved conversations: answers survive a round trip, a restart and a bad file."""

from __future__ import annotations

import sqlite3
import threading
from contextlib import closing

import pytest

from copilot.core.answers import SOURCES_SILENT, Answer, Claim, Confidence, Quote, Timings
from copilot.core.errors import ConversationError, CopilotError
from copilot.core.records import Citation
from tui.saved import TITLE_LIMIT, Conversations


class Clock:
    """A clock that moves one second each time it is read."""

    def __init__(self, start: float = 1000.0):
        self.now = start

    def __call__(self) -> float:
        self.now += 1
        return self.now


def cite(n: int, source: str = "msa.pdf", page: int = 3, heading: str = "") -> Citation:
    return Citation(n, source, f"/docs/{source}", page, 0.8 - n / 10, f"passage {n}", heading)


def answer(question: str = "Which law governs?", text: str = "Delaware law [1].") -> Answer:
    return Answer(question, text, found=True, citations=(cite(1),), sources=(cite(1), cite(2)))


def full_answer() -> Answer:
    """Every field away from its default."""
    return Answer(
        question="And the notice period?",
        text="Thirty days [1]. Written notice [2].",
        found=False,
        citations=(cite(1, heading="Term > Notice"), cite(2, "letter.pdf", 0)),
        sources=(cite(1), cite(2, "letter.pdf", 0), cite(3, "hr.docx", 0, "Leave")),
        timings=Timings(12.5, 80.0, 950.25, 512, 40, 31.5),
        cancelled=True,
        claims=(
            Claim("Thirty days.", (1,), 1.0, True),
            Claim("Written notice.", (1, 2), 0.5, False, restates=True),
        ),
        reason=SOURCES_SILENT,
        standalone="What is the notice period of the agreement?",
        quotes=(Quote("Notice is thirty days.", 1), Quote("It must be written.", 2)),
        confidence=Confidence(0.25, 0.61, 3.5, 0.72, 0.4),
    )


@pytest.fixture
def store(tmp_path):
    s = Conversations(tmp_path / "sub" / "conversations.db", clock=Clock())
    yield s
    s.close()


def test_answer_round_trips_through_to_dict_and_from_dict() -> None:
    a = full_answer()
    back = Answer.from_dict(a.to_dict())
    assert back == a
    assert all(type(c.cites) is tuple for c in back.claims)


def test_from_dict_of_older_data_takes_the_defaults() -> None:
    old = {"question": "Q?", "answer": "A [1].", "found": True,
           "citations": [{"n": 1, "source": "a.pdf", "path": "/a.pdf", "page": 2,
                          "score": 0.7, "text": "t"}],  # no heading
           "timings": {"retrieval_ms": 3.0},
           "claims": [{"text": "A.", "cites": [1], "inferred": False, "support": 1.0,
                       "supported": True}],  # no restates
           "future_key": "ignored"}
    a = Answer.from_dict(old)
    assert a.citations == (Citation(1, "a.pdf", "/a.pdf", 2, 0.7, "t", ""),)
    assert a.sources == () and a.cancelled is False and a.reason == "" and a.standalone == ""
    assert a.timings == Timings(3.0)
    assert a.claims == (Claim("A.", (1,), 1.0, True, False),)  # "inferred", no longer kept, is ignored
    assert a.quotes == () and a.confidence is None
    assert Answer.from_dict({"question": "Q?", "answer": "", "found": False}).timings == Timings(0.0)


def test_new_list_rename_and_delete(store) -> None:
    first = store.new()
    second = store.new("  Leave policy  ")
    assert second.title == "Leave policy" and first.title == ""
    assert [c.id for c in store.list()] == [second.id, first.id]  # newest first

    store.add(first.id, answer())  # now the most recently updated
    listed = store.list()
    assert [c.id for c in listed] == [first.id, second.id]
    assert [c.turns for c in listed] == [1, 0]
    assert listed[0].updated > listed[0].created

    store.rename(second.id, "  Travel  ")
    assert store.get(second.id).title == "Travel"

    store.add(first.id, answer("Second?"))
    store.delete(first.id)
    assert store.get(first.id) is None
    assert store.answers(first.id) == []
    assert [c.id for c in store.list()] == [second.id]
    with closing(sqlite3.connect(store.file)) as raw:  # the turns went with it
        assert raw.execute("SELECT COUNT(*) FROM turns").fetchone()[0] == 0
    store.delete(first.id)  # deleting twice does nothing


def test_ties_in_updated_list_the_higher_id_first(tmp_path) -> None:
    s = Conversations(tmp_path / "c.db", clock=lambda: 5.0)
    ids = [s.new().id for _ in range(3)]
    assert [c.id for c in s.list()] == ids[::-1]
    s.close()


def test_answers_come_back_in_order(store) -> None:
    c = store.new()
    given = [answer("One?"), full_answer(), answer("Three?")]
    for a in given:
        store.add(c.id, a)
    assert store.answers(c.id) == given
    assert store.get(c.id).turns == 3


def test_title_is_the_first_question_shortened(store) -> None:
    c = store.new()
    long = "What does the master services agreement say about the termination " \
           "of services for convenience?"
    store.add(c.id, answer(long))
    title = store.get(c.id).title
    assert len(title) <= TITLE_LIMIT and title.endswith("…")
    assert title == "What does the master services agreement say about the…"
    store.add(c.id, answer("And the notice period?"))
    assert store.get(c.id).title == title  # the second question does not rename it

    short = store.new()
    store.add(short.id, answer("Which\n law  governs?"))
    assert store.get(short.id).title == "Which law governs?"

    named = store.new()
    store.rename(named.id, "Termination")
    store.add(named.id, answer(long))
    assert store.get(named.id).title == "Termination"


def test_conversations_survive_reopening_the_file(tmp_path) -> None:
    file = tmp_path / "conversations.db"
    s = Conversations(file, clock=Clock())
    c = s.new()
    s.add(c.id, full_answer())
    s.close()

    again = Conversations(file, clock=Clock(5000))
    assert again.get(c.id) == c.__class__(c.id, "And the notice period?", c.created, c.created + 1, 1)
    assert again.answers(c.id) == [full_answer()]
    again.add(c.id, answer())
    assert len(again.answers(c.id)) == 2
    again.close()


def test_an_unreadable_turn_is_skipped(store) -> None:
    c = store.new()
    store.add(c.id, answer("One?"))
    store.add(c.id, answer("Two?"))
    store.add(c.id, answer("Three?"))
    with closing(sqlite3.connect(store.file)) as raw, raw:
        raw.execute("UPDATE turns SET answer = '{not json' WHERE seq = 2")
        raw.execute("UPDATE turns SET answer = '[1, 2]' WHERE seq = 3")
    assert [a.question for a in store.answers(c.id)] == ["One?"]


def test_a_corrupt_file_is_a_one_line_error(tmp_path) -> None:
    file = tmp_path / "conversations.db"
    file.write_bytes(b"this is not a database, just some bytes " * 200)
    with pytest.raises(ConversationError) as e:
        Conversations(file)
    assert isinstance(e.value, CopilotError)
    message = str(e.value)
    assert str(file) in message and "move it aside" in message and "\n" not in message


def test_unknown_ids_and_empty_titles_are_errors(store) -> None:
    with pytest.raises(ConversationError, match="no conversation 42"):
        store.rename(42, "Title")
    with pytest.raises(ConversationError, match="no conversation 42"):
        store.add(42, answer())
    c = store.new("Kept")
    with pytest.raises(ConversationError, match="empty"):
        store.rename(c.id, "   ")
    assert store.get(c.id).title == "Kept"
    assert store.get(42) is None and store.answers(42) == []


def test_usable_from_several_threads(store) -> None:
    c = store.new()
    threads = [threading.Thread(target=store.add, args=(c.id, answer(f"Q{n}?"))) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(a.question for a in store.answers(c.id)) == sorted(f"Q{n}?" for n in range(8))


def test_the_file_is_readable_by_its_owner_only(tmp_path) -> None:
    import stat

    store = Conversations(tmp_path / "c.sqlite")
    store.new("x")
    assert stat.S_IMODE((tmp_path / "c.sqlite").stat().st_mode) == 0o600
