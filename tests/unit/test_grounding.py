"""The mechanical grounding check: sentences, support, inferred citations, the report."""

import pytest

from copilot.answer.grounding import check, sentences, support
from copilot.core.answers import Quote
from copilot.core.present import report


LAW = ("This Agreement shall be governed by the laws of the State of Delaware.", 1)
TERM = ("The initial term is three (3) years and renews for successive one (1) year terms.", 2)


@pytest.mark.parametrize("text, expected", [
    ("Delaware law governs [1]. The term is 3 years [2].", ["Delaware law governs [1].", "The term is 3 years [2]."]),
    ("Yes. The cap is $1 million.", ["Yes. The cap is $1 million."]),  # a bare verdict heads its reason
    ("Acme Inc. agrees to pay. See Sec. 4 for details.", ["Acme Inc. agrees to pay.", "See Sec. 4 for details."]),
    ("- first point [1]\n- second point [2]", ["- first point [1]", "- second point [2]"]),
    ("[1] [2][3]", []),
])
def test_sentences(text: str, expected: list[str]) -> None:
    assert sentences(text) == expected


def test_support_counts_stemmed_content_words_and_every_number() -> None:
    assert support("Delaware laws govern it.", LAW[0]) == 1.0
    assert support("The initial term is 3 years.", TERM[0]) == 1.0
    assert support("The initial term is three years.", TERM[0]) == 1.0  # a number in words is the number
    assert support("The initial term is 5 years.", TERM[0]) == 0.0  # a number no source states
    assert support("Paris courts decide disputes.", LAW[0]) == 0.0
    assert support("Made on May 1, 2006.", "made on the 1st day of May, 2006") == 1.0  # ordinals hold it


def test_a_verbatim_quote_supports_its_sentence() -> None:
    assert support('It says "governed by the laws of the State" plainly, per counsel.', LAW[0]) == 1.0


def test_an_answer_that_only_echoes_the_question_claims_what_the_question_asks() -> None:
    question = "What insurance must Acme maintain under the Acme supply agreement?"
    focus = "What insurance must Acme maintain?"
    insurance = ("Acme shall maintain product liability insurance of $5 million.", 3)
    echo = "Acme must maintain insurance under the Acme supply agreement."
    (claim,), quotes = check(echo, [LAW, insurance], question, focus)
    assert claim.restates and claim.supported and quotes == (Quote(*insurance),)  # it rests on that sentence
    (claim,), quotes = check(echo, [LAW], question, focus)  # no sentence read is about insurance at all
    assert claim.restates and not claim.supported and quotes == ()
    (claim,), quotes = check("Acme must maintain flood insurance of $5 million.", [LAW], question)
    assert not claim.supported and not claim.restates and quotes == ()


def test_each_answer_sentence_is_quoted_from_the_evidence_sentence_that_bears_it_out() -> None:
    claims, quotes = check("The term renews for one year. Delaware law governs. Disputes go to Paris.", [LAW, TERM])
    assert [(c.cites, c.supported) for c in claims] == [((2,), True), ((1,), True), ((), False)]
    assert quotes == (Quote(*TERM), Quote(*LAW))


def test_of_equally_good_sentences_the_best_ranked_is_quoted() -> None:
    again = ("The State of Delaware's laws govern this Agreement.", 3)
    assert check("Delaware law governs.", [again, LAW])[1] == (Quote(*again),)


def test_report_says_one_line_when_all_is_well_and_lists_sentences_otherwise() -> None:
    ok, _ = check("Delaware law governs.", [LAW])
    assert report(ok, True) == ["Checked: the answer is borne out by the quoted text."]
    mixed, _ = check("Delaware law governs. Disputes go to Paris.", [LAW])
    assert report(mixed, True) == ["Checked against the documents:", "  ⚠ not in the documents: Disputes go to Paris."]
    draft, _ = check("Disputes go to Paris.", [LAW])
    assert report(draft, False)[1] == "  ⚠ Disputes go to Paris."
    assert report((), True) == []


def test_content_words_are_the_same_from_many_threads_at_once() -> None:
    """A server writes answers on several model slots at once: a stemmer shared between threads
    garbled words (and raised IndexError) mid-answer."""
    import threading

    from copilot.answer.grounding import content_words

    texts = [f"The licensee's obligations regarding confidentiality, indemnification and termination "
             f"survive for {n} years after the effective date of the agreement" for n in range(200)]
    expected = [content_words(t) for t in texts]
    got: dict[int, list] = {}
    errors: list[BaseException] = []

    def stem(i: int) -> None:
        try:
            got[i] = [content_words(t) for t in texts for _ in range(5)][::5]
        except BaseException as exc:  # noqa: BLE001 - any failure in a thread is the finding
            errors.append(exc)

    threads = [threading.Thread(target=stem, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and all(words == expected for words in got.values())
