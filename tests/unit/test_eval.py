"""`copilot eval`: answer normalization, the measures, and both benchmarks end to end."""


import pytest

from copilot.tools.eval.funnel import funnel
from copilot.tools.eval.metrics import ndcg, overlaps, percentile, recall
from copilot.tools.eval.normalize import matches

from conftest import SHARED

CUAD = SHARED / "eval" / "cuad"
SCIFACT = SHARED / "eval" / "scifact"


@pytest.mark.parametrize("gold, answer, expected", [
    ("Oklahoma", "governed by the laws of the State of Oklahoma [1].", True),
    ("New York", "the laws of New Jersey", False),
    ("5/1/2006", "entered into on the 1 st day of May 2006.", True),
    ("5/1/2006", "May 1st, 2006", True),
    ("5/1/2006", "2006-05-01", True),
    ("5/1/2006", "05/01/2006", True),
    ("5/1/2006", "June 1, 2006", False),
    ("09/[]/2018", "made as of September __, 2018", True),
    ("perpetual", "It continues in perpetuity unless terminated.", True),
    ("successive 1 year", "renews for successive one (1) year periods", True),
    ("12 months", "a term of one year", True),
    ("4 years, 6 months", "four years and six months", True),
    ("180 days / 6 months", "at least six months before", True),
    ("90 days", "ninety (90) days' notice", True),
    ("90 days", "thirty days' notice", False),
    ("48 hours", "Forty-eight hours", True),
    ("48 hours", "within forty-eight (48) hours of discovering it", True),
    ("48 hours", "within 48 days", False),
    ("2 days", "forty-eight hours", False),
    ("45 days", "forty-five days", True),
    ("England; Wales", "the laws of England and Wales", True),
    ("7/22/2019; 7/22/2022", "on July 22, 2019", False),
    ("Ontario, Canada", "the laws of the Province of Ontario", True),
    ("People's Republic of China", "the laws of China", True),
])
def test_gold_values_match_however_the_answer_writes_them(gold: str, answer: str, expected: bool) -> None:
    assert matches(gold, answer) is expected


def test_ranking_measures() -> None:
    relevant = {"a": 1, "b": 1}
    assert ndcg(["a", "b", "c"], relevant) == pytest.approx(1.0)
    assert ndcg(["c", "a"], relevant) == pytest.approx((1 / 1.5849625) / (1 + 1 / 1.5849625))
    assert recall(["c", "a", "x", "y", "z", "b"], relevant, 5) == 0.5
    assert percentile([1, 2, 3, 4], 50) == 2.5 and percentile([], 95) is None


def test_evidence_overlap_needs_a_run_of_words_or_the_whole_short_span() -> None:
    clause = "This Agreement shall be governed by the laws of the State of Oklahoma without regard"
    assert overlaps("… 12. This Agreement shall be governed by the laws of …", [clause])
    assert not overlaps("The laws of the State of Texas apply.", [clause])
    assert overlaps("made as of the 15th day of July, 2010 by", ["15 th day of July, 2010"])


def _record(present: bool, **stages) -> dict:
    return {"present": present, "evidence_hit": False, **stages} if present else {"present": False, **stages}


def test_the_funnel_counts_each_stage_among_the_questions_that_passed_the_one_before() -> None:
    records = [
        _record(True, pool_hit=True, evidence_hit=True, read_hit=True, found=True, quote_is_evidence=True,
                cited_right=True, correct=True),
        _record(True, pool_hit=True, evidence_hit=True, read_hit=True, found=True, quote_is_evidence=False,
                correct=False),
        _record(True, pool_hit=True, evidence_hit=False, read_hit=True, found=True),  # read, though not in the 5
        _record(True, pool_hit=False, found=False),
        _record(False, found=True, quote_rank=2),
        _record(False, found=False),
    ]
    f = funnel(records)
    assert f["present: evidence in the passages retrieved"] == 0.75
    assert f["present: evidence in the 5 sources"] == 0.5  # of those retrieved, then listed
    assert f["present: answered"] == 0.5 and f["present: quote is evidence"] == 0.25
    assert f["present: citations right"] == 0.25
    assert f["gold value: answered right"] == 0.5 and f["gold value: answered wrong"] == 0.5
    assert f["absent: refused"] == 0.5 and f["absent answered: quoting a lower one"] == 1.0


def test_the_results_table_lines_up_whatever_the_widths() -> None:
    from copilot.tools.eval import markdown_table

    text = markdown_table([("nDCG@10", "0.7089"), ("a much longer measure name", "7"), ("x", "1234567890")])
    widths = {len(line) for line in text.splitlines()}
    assert len(widths) == 1, text
