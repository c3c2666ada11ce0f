"""`copilot eval`: answer normalization, the measures, and both benchmarks end to end."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from copilot.eval.funnel import funnel
from copilot.eval.metrics import ndcg, overlaps, percentile, recall
from copilot.eval.normalize import matches

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


def _copilot(*args: str, home: Path, tiny_model: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(Path(sys.executable).with_name("copilot")), "--home", str(home), "--model", str(tiny_model), *args],
        capture_output=True, text=True, timeout=600,
    )


@pytest.mark.slow
def test_eval_cuad_end_to_end(tmp_path: Path, tiny_model: Path) -> None:
    """Two contracts and their 16 questions, a quick run of 6: a table and a complete JSON."""
    data = tmp_path / "cuad"
    (data / "pdfs").mkdir(parents=True)
    rows = [json.loads(line) for line in (CUAD / "qa.jsonl").open()]
    docs = sorted({r["doc"] for r in rows})[:2]
    for doc in docs:
        shutil.copy(CUAD / doc, data / doc)
    (data / "qa.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows if r["doc"] in docs))
    out = tmp_path / "cuad.json"
    run = _copilot("eval", "cuad", str(data), "--limit", "6", "--out", str(out),
                   home=tmp_path / "home", tiny_model=tiny_model)
    assert run.returncode == 0, run.stderr
    for measure in ("evidence hit@5", "answer accuracy (gold value)", "refusal on absent clauses",
                    "citation accuracy", "latency p95 (s)"):
        assert f"| {measure}" in run.stdout
    result = json.loads(out.read_text())
    assert len(result["per_question"]) == 6 and result["index"]["indexed"] == 2
    for record in result["per_question"]:
        assert record["seconds"] > 0 and record["retrieved"]
        assert ("evidence_hit" in record) == bool(next(r for r in rows if r["id"] == record["id"])["evidence"])
        if record.get("evidence_hit"):  # the pool is the one the answer was drawn from: its 5 sources in it
            assert record["pool_hit"]
    assert 0 <= result["figures"]["evidence hit@5"] <= 1
    assert "| present: evidence sentence read by the model" in run.stdout  # the funnel is in the table
    # Other questions about the same documents, from a file of the same form.
    own = tmp_path / "own.jsonl"
    own.write_text(json.dumps({"id": "own-1", "type": "anything", "question": "Who are the parties?",
                               "doc": docs[0], "present": True, "answer": None, "evidence": []}) + "\n")
    run = _copilot("eval", "cuad", str(data), "--questions", str(own), "--out", str(out),
                   home=tmp_path / "home", tiny_model=tiny_model)
    assert run.returncode == 0, run.stderr
    assert [r["id"] for r in json.loads(out.read_text())["per_question"]] == ["own-1"]


@pytest.mark.slow
def test_eval_scifact_end_to_end(tmp_path: Path, tiny_model: Path) -> None:
    """60 abstracts (the relevant ones of 10 queries, and others): three modes measured."""
    data = tmp_path / "scifact"
    (data / "qrels").mkdir(parents=True)
    qrels = (SCIFACT / "qrels" / "test.tsv").read_text().splitlines()
    chosen = qrels[1:13]
    wanted = {line.split("\t")[1] for line in chosen}
    queries = {line.split("\t")[0] for line in chosen}
    corpus = [json.loads(line) for line in (SCIFACT / "corpus.jsonl").open()]
    keep = [d for d in corpus if d["_id"] in wanted] + [d for d in corpus if d["_id"] not in wanted][:60 - len(wanted)]
    (data / "corpus.jsonl").write_text("".join(json.dumps(d) + "\n" for d in keep))
    (data / "qrels" / "test.tsv").write_text("\n".join([qrels[0], *chosen]) + "\n")
    (data / "queries.jsonl").write_text("".join(
        line + "\n" for line in (SCIFACT / "queries.jsonl").read_text().splitlines()
        if json.loads(line)["_id"] in queries))
    out = tmp_path / "scifact.json"
    run = _copilot("eval", "scifact", str(data), "--out", str(out), home=tmp_path / "home", tiny_model=tiny_model)
    assert run.returncode == 0, run.stderr
    figures = json.loads(out.read_text())["figures"]
    for mode in ("dense", "lexical", "hybrid"):
        assert 0.3 < figures[f"{mode} nDCG@10"] <= 1.0, figures  # 60 documents: easy, not trivial
    assert figures["queries"] == len(queries)


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
    from copilot.eval import markdown_table

    text = markdown_table([("nDCG@10", "0.7089"), ("a much longer measure name", "7"), ("x", "1234567890")])
    widths = {len(line) for line in text.splitlines()}
    assert len(widths) == 1, text
