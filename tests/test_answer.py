import threading

import pytest

from copilot.answer import NOT_FOUND, Answerer, cited_numbers
from copilot.errors import QuestionTooLong
from copilot.retrieval import Retriever

from fakes import BagOfWordsEmbedder, ListStore, ScriptedGenerator, chunk

CHUNKS = [
    chunk("The agreement is governed by the laws of the State of Delaware.", "msa.pdf", 3, 0),
    chunk("Invoices are payable within thirty days of receipt.", "letter.pdf", 2, 1),
    chunk("Flights under six hours are booked in economy class.", "travel.txt", 1, 2),
]


def answerer(reply: str, min_score: float = 0.3, window: int = 4096, chunks=CHUNKS) -> Answerer:
    emb = BagOfWordsEmbedder()
    store = ListStore(chunks, emb)
    visible = lambda: {c.path: c.doc_sha256 for c in chunks}  # noqa: E731
    retriever = Retriever(emb, store, visible, top_k=3, min_score=min_score)
    return Answerer(retriever, ScriptedGenerator(reply, window), max_tokens=64)


def test_streams_tokens_and_maps_citations_to_file_and_page() -> None:
    a = answerer("Delaware law governs the agreement [1].")
    pieces: list[str] = []
    answer = a.ask("Which laws govern the agreement?", on_token=pieces.append)
    assert len(pieces) > 3 and "".join(pieces).strip() == answer.text
    assert answer.found
    assert [c.label() for c in answer.citations] == ["[1] msa.pdf, page 3"]
    assert answer.timings.first_token_ms is not None and answer.timings.completion_tokens > 0


def test_sources_are_numbered_data_in_the_prompt() -> None:
    a = answerer("Thirty days [1].")
    a.ask("When are invoices payable?")
    (messages,) = a.generator.calls
    assert messages[0]["role"] == "system" and "The documents do not say." in messages[0]["content"]
    user = messages[1]["content"]
    assert "[1] letter.pdf, page 2\nInvoices are payable" in user
    assert user.rstrip().endswith("Question: When are invoices payable?")


def test_nothing_relevant_means_no_generation_and_a_plain_not_found() -> None:
    a = answerer("The capital of France is Paris [1].", min_score=0.5)
    pieces: list[str] = []
    answer = a.ask("Who painted Guernica?", on_token=pieces.append)
    assert a.generator.calls == []  # the model was never asked
    assert not answer.found and answer.text == NOT_FOUND == "".join(pieces)
    assert answer.citations == ()
    assert answer.sources  # the nearest passages are still shown


@pytest.mark.parametrize(
    "reply", ["NOT FOUND", "[1] NOT FOUND", "Not found in the sources.", "The documents do not say.",
              "The sources do not contain this."],
)
def test_model_saying_not_found_becomes_the_plain_message(reply: str) -> None:
    answer = answerer(reply).ask("Which laws govern the agreement?")
    assert not answer.found and answer.text == NOT_FOUND


def test_cancel_keeps_the_partial_answer() -> None:
    cancel = threading.Event()
    a = answerer("one two three four five six seven eight nine ten [1].")
    seen: list[str] = []

    def on_token(t: str) -> None:
        seen.append(t)
        if len(seen) == 3:
            cancel.set()

    answer = a.ask("Which laws govern the agreement?", on_token=on_token, cancel=cancel)
    assert answer.cancelled and answer.text == "one two three"


def test_prompt_fits_the_context_window_by_dropping_weakest_sources() -> None:
    long = [chunk(("Delaware law governs " * 60).strip(), f"d{i}.pdf", 1, i) for i in range(3)]
    a = answerer("Delaware [1].", window=64 + 2 * 200, chunks=long)
    answer = a.ask("Which Delaware law governs?")
    (messages,) = a.generator.calls
    used = sum(len(m["content"].split()) + 8 for m in messages)
    assert used + 64 <= a.generator.context_window
    assert len(answer.sources) < 3


def test_a_question_too_long_for_the_window_is_a_clear_error() -> None:
    a = answerer("Delaware [1].", window=200)
    with pytest.raises(QuestionTooLong, match="200-token context window"):
        a.ask("Which law governs " + "the agreement " * 100)
    assert a.generator.calls == []


def test_unversioned_chunks_are_invisible() -> None:
    emb = BagOfWordsEmbedder()
    retriever = Retriever(emb, ListStore(CHUNKS, emb), lambda: {}, top_k=3, min_score=0.0)
    assert retriever.search("Delaware").nearest == ()


@pytest.mark.parametrize(
    "text, numbers",
    [("a [1]. b [2][3].", [1, 2, 3]), ("a [2, 1]; b [1]", [2, 1]), ("no citation", []), ("[x] [12]", [12])],
)
def test_cited_numbers(text: str, numbers: list[int]) -> None:
    assert cited_numbers(text) == numbers


def test_citations_name_the_page_or_the_heading_path() -> None:
    from copilot.types import Citation

    assert Citation(1, "msa.pdf", "/d/msa.pdf", 3, 0.9, "t").label() == "[1] msa.pdf, page 3"
    word = Citation(2, "h.docx", "/d/h.docx", 0, 0.9, "t", "Leave > Sick leave")
    assert word.label() == "[2] h.docx, Leave > Sick leave"
    assert Citation(3, "notes.txt", "/d/notes.txt", 0, 0.9, "t").label() == "[3] notes.txt"
