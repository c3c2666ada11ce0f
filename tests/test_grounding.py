"""The mechanical grounding check: sentences, support, inferred citations, the report."""

import pytest

from copilot.grounding import check, report, sentences, support
from copilot.types import Citation


def src(n: int, text: str, source: str = "msa.pdf", page: int = 3) -> Citation:
    return Citation(n, source, f"/docs/{source}", page, 0.5, text)


LAW = src(1, "This Agreement shall be governed by the laws of the State of Delaware.")
TERM = src(2, "The initial term is three (3) years and renews for successive one (1) year terms.", page=7)


@pytest.mark.parametrize("text, expected", [
    ("Delaware law governs [1]. The term is 3 years [2].", ["Delaware law governs [1].", "The term is 3 years [2]."]),
    ("Delaware law governs. [1] The term is 3 years.", ["Delaware law governs. [1]", "The term is 3 years."]),
    ("Acme Inc. agrees to pay. See Sec. 4 for details.", ["Acme Inc. agrees to pay.", "See Sec. 4 for details."]),
    ("- first point [1]\n- second point [2]", ["- first point [1]", "- second point [2]"]),
    ("[1] [2][3]", []),
])
def test_sentences(text: str, expected: list[str]) -> None:
    assert sentences(text) == expected


def test_support_counts_stemmed_content_words_and_every_number() -> None:
    assert support("Delaware laws govern it.", [LAW]) == 1.0
    assert support("The initial term is 3 years.", [TERM]) == 1.0
    assert support("The initial term is 5 years.", [TERM]) == 0.0  # a number no source states
    assert support("Paris courts decide disputes.", [LAW]) == 0.0


def test_a_verbatim_quote_supports_its_sentence() -> None:
    assert support('It says "governed by the laws of the State" plainly, per counsel.', [LAW]) == 1.0


def test_words_echoed_from_the_question_claim_nothing() -> None:
    question = "What insurance must Acme maintain under the Acme supply agreement?"
    (claim,) = check("Acme must maintain insurance under the Acme supply agreement [1].", [LAW], question)
    assert claim.restates and claim.supported and claim.cites == ()
    (claim,) = check("Acme must maintain flood insurance of $5 million [1].", [LAW], question)
    assert not claim.supported and not claim.restates


def test_a_wrong_or_missing_citation_is_replaced_by_the_source_that_holds_the_sentence() -> None:
    missing, wrong, right, invented = check(
        "Delaware law governs. The term renews for one year [1]. The term is three years [2]. "
        "Disputes go to Paris [1].", [LAW, TERM])
    assert (missing.cites, missing.inferred, missing.supported) == ((1,), True, True)
    assert (wrong.cites, wrong.inferred, wrong.supported) == ((2,), True, True)
    assert (right.cites, right.inferred, right.supported) == ((2,), False, True)
    assert (invented.cites, invented.inferred, invented.supported) == ((1,), False, False)


def test_citations_to_sources_that_do_not_exist_are_ignored() -> None:
    (claim,) = check("Delaware law governs [7].", [LAW])
    assert claim.cites == (1,) and claim.inferred


def test_report_says_one_line_when_all_is_well_and_lists_sentences_otherwise() -> None:
    ok = check("Delaware law governs [1].", [LAW])
    assert report(ok, True) == ["Checked: each of its 1 statement(s) is borne out by the passage it cites."]
    mixed = check("Delaware law governs. Disputes go to Paris [1].", [LAW])
    lines = report(mixed, True)
    assert lines[1] == "  ✓ [1] (source found by the check) Delaware law governs."
    assert lines[2] == "  ⚠ not in the passages: Disputes go to Paris [1]."
    draft = check("Disputes go to Paris [1].", [LAW])
    assert report(draft, False)[1] == "  ⚠ Disputes go to Paris [1]."
    assert report((), True) == []
