"""Evidence at the sentence level: passages split, sentences scored, the best few within a budget."""

import pytest

from copilot.answer import evidence
from copilot.answer.grounding import content_words
from copilot.answer.retrieval import without
from copilot.core import sentences
from copilot.core.records import Hit

from fakes import BagOfWordsEmbedder, chunk

TERM = chunk("1. Definitions. Terms have the meanings below. 2. Term. The initial term is three (3) years. "
             "It renews for successive one (1) year terms unless either party objects.", "msa.pdf", 2, 0)
LAW = chunk("This Agreement is governed by the laws of the State of Delaware. Notices go to the addresses "
            "on the signature page.", "msa.pdf", 5, 7)
PREAMBLE = chunk("This Supply Agreement is made between Acme Corp. and Brill, Inc. on 1 May 2020.", "msa.pdf", 1, 0)


def gathered(question: str, hits: list[Hit]):
    emb = BagOfWordsEmbedder()
    return evidence.gather(question, emb.embed([question])[0], hits, emb)


@pytest.mark.parametrize("text, expected", [
    ("The term is 3 years. It renews yearly.", ["The term is 3 years.", "It renews yearly."]),
    ("Acme Inc. Agrees to pay. See Sec. 4 for fees.", ["Acme Inc. Agrees to pay.", "See Sec. 4 for fees."]),
    ("Fees: Customer pays monthly; Provider invoices quarterly.",
     ["Fees: Customer pays monthly;", "Provider invoices quarterly."]),
    ("It ends. Fees remain payable. 7. Governing Law. Delaware law governs.",
     ["It ends.", "Fees remain payable.", "7. Governing Law. Delaware law governs."]),
    ("Terms:\n- one item\n- another item\n\nA new paragraph", ["Terms: - one item", "- another item", "A new paragraph"]),
    ("12. Term. The term is 3 years.", ["12. Term. The term is 3 years."]),
    ("  spread   over\n lines. ", ["spread over lines."]),
    ("", []),
])
def test_sentences_end_at_clause_ends_but_not_at_abbreviations(text: str, expected: list[str]) -> None:
    assert sentences.split(text) == expected


def test_the_sentence_that_answers_ranks_first_among_every_passage_sentence() -> None:
    found = gathered("Which law governs the agreement?", [Hit(TERM, 0.9), Hit(LAW, 0.5)])
    assert found.sentences[0].text == "This Agreement is governed by the laws of the State of Delaware."
    assert found.passages[found.sentences[0].passage].chunk is LAW
    assert sorted(s.text for s in found.sentences if s.passage == 1) == [  # every sentence, scored once
        "1. Definitions. Terms have the meanings below.", "2. Term. The initial term is three (3) years.",
        "It renews for successive one (1) year terms unless either party objects."]


def test_passages_are_reranked_by_their_best_sentence() -> None:
    filler = [Hit(chunk(f"Schedule {i} lists the delivery addresses.", "msa.pdf", 9, 20 + i), 0.9) for i in range(4)]
    found = gathered("Which law governs the agreement?", [*filler, Hit(LAW, 0.3)])
    assert found.passages[0].chunk is LAW  # fifth by retrieval, first by its sentence


def test_a_sentence_repeated_by_overlapping_chunks_is_scored_once() -> None:
    overlap = chunk("Notices go to the addresses on the signature page. Fees are due monthly.", "msa.pdf", 5, 8)
    found = gathered("Where do notices go?", [Hit(LAW, 0.5), Hit(overlap, 0.5)])
    texts = [s.text for s in found.sentences]
    assert texts.count("Notices go to the addresses on the signature page.") == 1


def test_the_best_sentences_fill_the_budget_and_a_long_one_does_not_crowd_out_the_rest() -> None:
    ranked = [evidence.Sentence(text, 0, 0.9 - i / 10, 0.0) for i, text in enumerate(
        ["The renewal term is set out " + "in great detail " * 10 + "here.", "It renews yearly.",
         "Notice is 90 days.", "Either party may object."])]
    found = evidence.Evidence((Hit(TERM, 0.9),), tuple(ranked))
    words = lambda text: len(text.split())  # noqa: E731
    assert [s.text for s in found.best(words, budget=12, most=6)] == [
        "It renews yearly.", "Notice is 90 days.", "Either party may object."]
    assert found.best(words, budget=7, most=6) == [ranked[1], ranked[2]]
    assert found.best(words, budget=2, most=6) == [ranked[0]]  # none fits: the best one
    assert found.best(words, budget=1000, most=2) == ranked[:2]


def test_a_long_sentence_is_shown_as_its_verbatim_window_around_the_question_words() -> None:
    filler = " ".join(f"word{i}" for i in range(60))
    clause = f"Subject to the limits herein, {filler}, the Supplier shall indemnify the Buyer against losses, {filler}."
    count = lambda t: len(t.split())  # noqa: E731  one token a word, as the fake generator counts
    g = gathered("Who shall indemnify the Buyer?", [Hit(chunk(clause, "msa.pdf", 3, 0), 0.9)])
    (shown,) = g.best(count, 240, 8, window=20)
    assert len(shown.text.split()) == 20 and shown.text in clause  # a span of the sentence, as it is written
    assert "indemnify the Buyer" in shown.text
    (whole,) = g.best(count, 240, 8)  # no window: the whole sentence
    assert whole.text == clause
    assert evidence.around("A short one.", {"short"}, count, 20) == "A short one."


def test_a_window_keeps_the_words_either_side_of_what_was_asked() -> None:
    count = lambda t: len(t.split())  # noqa: E731
    lead = " ".join(f"lead{i}" for i in range(30))
    clause = f"{lead} and will notify the Customer of any security breach within forty-eight (48) hours of it."
    # Every 30-word span from the 13th word on holds "security breach": the one with them in its
    # middle keeps what follows them, where the first such span would end at "breach".
    shown = evidence.around(clause, content_words("security breach"), count, 30)
    assert "security breach" in shown and "(48) hours" in shown and shown in clause
    assert len(shown.split()) == 30
    # More distinct words of the question beat more repeats of one of them.
    text = "fee fee fee fee filler filler filler filler filler filler the fee is paid monthly by wire"
    assert evidence.around(text, content_words("fee paid monthly"), count, 6) == "the fee is paid monthly by"


def test_no_passages_no_sentences() -> None:
    assert gathered("anything?", []).sentences == ()


@pytest.mark.parametrize("question, naming, focus", [
    ("Which jurisdiction's law governs the Outsourcing Agreement between Virtual Item Processing Systems, "
     "Inc and Brokers National Life Assurance Company?",
     {"virtual", "item", "processing", "systems", "brokers", "national", "life", "assurance", "outsourcing"},
     "Which jurisdiction's law governs the?"),
    ("What notice is needed to terminate the Northwind engagement?", {"northwind"},
     "What notice is needed to terminate the engagement?"),
    ("what notice is needed to terminate the northwind engagement?", {"northwind"},
     "what notice is needed to terminate the engagement?"),
    ("Is there a cap on liability in the Acme supply agreement?", {"acme", "liability"},
     "Is there a cap on liability in the supply agreement?"),  # a naming word in lower case stays
    ("When was the Acme Bluefield agreement entered into?", {"acme", "bluefield", "agreement", "entered"},
     "When was the agreement entered into?"),  # words in lower case say what is asked
    ("Acme Brill?", {"acme", "brill"}, "Acme Brill?"),  # nothing would be left to ask
])
def test_the_words_naming_a_document_go_with_the_rest_of_its_name(question: str, naming: set[str], focus: str) -> None:
    assert without(question, naming) == focus


@pytest.mark.parametrize("text, bare", [
    ("14.4 NOTICES. All notices are written.", "NOTICES. All notices are written."),
    ("12. Governing law. Delaware law governs.", "Governing law. Delaware law governs."),
    ("(b) The Provider pays.", "The Provider pays."),
    ("10 days after delivery the fee is due.", "10 days after delivery the fee is due."),  # a number, not a section
    ("2024 was the first year.", "2024 was the first year."),
])
def test_the_model_reads_sentences_without_their_section_numbers(text: str, bare: str) -> None:
    assert sentences.unnumbered(text) == bare
