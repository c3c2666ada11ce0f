"""CUAD: real contracts, real questions, the whole answer path measured.

For every question the product answers exactly as `copilot ask` would, and
the answer is judged on:

- evidence hit@5: one of the 5 passages retrieved comes from the question's
  contract and shares a run of words with an evidence span;
- accuracy: on questions with a gold value, the answer states it
  (`normalize.matches`: states, dates in any common form, durations);
- refusal: on questions whose clause is absent, the answer is "not found";
- citation accuracy: of the citations given on questions whose clause is
  present, the share naming the right contract and a page holding evidence;
- latency: from question to the whole answer, and to its first token.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from copilot.config import Config
from copilot.eval import ProgressFn, Report, eval_config
from copilot.eval.metrics import overlaps, percentile, share
from copilot.eval.normalize import matches


def load(data: Path) -> list[dict]:
    return [json.loads(line) for line in (data / "qa.jsonl").open() if line.strip()]


def pick(questions: list[dict], limit: int) -> list[dict]:
    """All questions, or a fixed random sample of `limit` (the same one on every run)."""
    if not limit or limit >= len(questions):
        return questions
    chosen = set(random.Random(0).sample(range(len(questions)), limit))
    return [q for i, q in enumerate(questions) if i in chosen]


class Pages:
    """Each contract's page texts, read once with the product's own loader."""

    def __init__(self) -> None:
        self._pages: dict[str, dict[int, str]] = {}

    def text(self, path: str, page: int) -> str:
        if path not in self._pages:
            from index.loaders import load as load_document

            self._pages[path] = {p.number: p.text for p in load_document(Path(path)).pages}
        return self._pages[path].get(page, "")


def judge(q: dict, answer, retrieved, data: Path, pages: Pages) -> dict:
    """One question's record: what was asked, answered, cited, and whether each was right."""
    doc = str((data / q["doc"]).resolve())
    evidence = q.get("evidence") or []
    record = {
        "id": q["id"], "type": q["type"], "present": q["present"], "gold": q.get("answer"),
        "answer": answer.text, "found": answer.found,
        "citations": [f"{Path(c.path).name} p{c.page}" for c in answer.citations],
        "retrieved": [f"{Path(h.chunk.path).name} p{h.chunk.page}" for h in retrieved],
        "seconds": (answer.timings.retrieval_ms + (answer.timings.total_ms or 0)) / 1000,
        "first_token_s": ((answer.timings.retrieval_ms + answer.timings.first_token_ms) / 1000
                          if answer.timings.first_token_ms is not None else None),
        "unsupported": [c.text for c in answer.claims if not c.supported],
        "reason": answer.reason,
    }
    if evidence:
        record["evidence_hit"] = any(h.chunk.path == doc and overlaps(h.chunk.text, evidence)
                                     for h in retrieved[:5])
    if q.get("answer"):
        record["correct"] = answer.found and matches(q["answer"], answer.text)
    if not q["present"]:
        record["refused"] = not answer.found
    if q["present"] and answer.found and evidence:
        record["citations_right"] = [
            c.path == doc and overlaps(pages.text(c.path, c.page), evidence) for c in answer.citations
        ]
    return record


def summarize(records: list[dict], report: Report) -> None:
    def having(key: str) -> list:
        return [r[key] for r in records if key in r]

    cites = [ok for r in records for ok in r.get("citations_right", [])]
    answered = [r for r in records if r["present"] and r["found"]]
    report.add("questions", len(records), "{}")
    report.add("evidence hit@5", share(having("evidence_hit")))
    report.add("answer accuracy (gold value)", share(having("correct")))
    report.add("refusal on absent clauses", share(having("refused")))
    report.add("wrong refusals on present clauses",
               share([not r["found"] for r in records if r["present"]]))
    report.add("citation accuracy", share(cites))
    report.add("answers citing nothing", share([not r["citations"] for r in answered]))
    report.add("answers with an unsupported sentence", share([bool(r["unsupported"]) for r in answered]))
    seconds = [r["seconds"] for r in records]
    first = [r["first_token_s"] for r in records if r["first_token_s"] is not None]
    report.add("latency p50 (s)", percentile(seconds, 50), "{:.2f}")
    report.add("latency p95 (s)", percentile(seconds, 95), "{:.2f}")
    report.add("first token p50 (s)", percentile(first, 50), "{:.2f}")


def run(data: Path, config: Config, workdir: Path, limit: int = 0,
        progress: ProgressFn | None = None, index_progress=None) -> Report:
    """Index the contracts, ask the questions (a sample of `limit`), judge every answer."""
    from copilot.engine import Copilot

    engine = Copilot(eval_config(config, workdir))
    summary = engine.index([data / "pdfs"], index_progress)
    questions = pick(load(data), limit)
    report = Report("cuad", data={"model": config.model, "index": summary.to_dict(), "per_question": []})
    pages, records = Pages(), report.data["per_question"]
    for i, q in enumerate(questions, 1):
        retrieved = engine.answerer.retriever.search(q["question"]).nearest
        answer = engine.ask(q["question"])
        records.append(judge(q, answer, retrieved, data, pages))
        if progress:
            progress(i, len(questions), q["type"])
    summarize(records, report)
    return report
