"""`copilot eval` end to end on tiny samples of the shared data, with the tiny model."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import SHARED

CUAD = SHARED / "eval" / "cuad"
SCIFACT = SHARED / "eval" / "scifact"


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
