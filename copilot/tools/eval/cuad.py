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

The contracts are split in two halves by a fixed seed, `dev` and `test`:
anything tuned (a weight, a threshold, a calibration) is tuned on `dev`
only, and every figure is reported for both halves and all.  A gap over
0.05 between them says something is fitted to the data.
"""

from __future__ import annotations

import json
import random
from dataclasses import asdict
from pathlib import Path

from copilot.core.config import Config
from copilot.tools.eval import ProgressFn, Report, eval_config
from copilot.tools.eval.funnel import MEASURES as FUNNEL
from copilot.tools.eval.funnel import funnel, wrong_answers
from copilot.tools.eval.metrics import overlaps, percentile, share
from copilot.tools.eval.normalize import matches


def load(data: Path, questions: Path | None = None) -> list[dict]:
    """The questions: DATA/qa.jsonl, or another file of the same form about DATA's documents."""
    return [json.loads(line) for line in (questions or data / "qa.jsonl").open() if line.strip()]


SPLIT_SEED = 16
PARTS = ("dev", "test")


def halves(questions: list[dict]) -> dict[str, str]:
    """Each contract's half, "dev" or "test": the contracts shuffled by a fixed seed, cut in two."""
    docs = sorted({q["doc"] for q in questions})
    random.Random(SPLIT_SEED).shuffle(docs)
    return {doc: PARTS[i >= len(docs) // 2] for i, doc in enumerate(docs)}


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


def judge(q: dict, answer, data: Path, pages: Pages, part: str, pool=()) -> dict:
    """One question's record: what was asked, answered, quoted, cited, and whether each was right.

    `pool` are the passages retrieval found for the question (all of them, not
    only the sources listed): where the evidence stood before the answer.
    """
    doc = str((data / q["doc"]).resolve())
    evidence = q.get("evidence") or []
    t = answer.timings
    read = [e.text for e in answer.evidence]
    record = {
        "id": q["id"], "type": q.get("type", ""), "question": q["question"], "doc": q["doc"], "part": part,
        "present": q["present"],
        "gold": q.get("answer"), "answer": answer.text, "found": answer.found, "reason": answer.reason,
        "quotes": [qt.text for qt in answer.quotes],
        "citations": [f"{Path(c.path).name} p{c.page}" for c in answer.citations],
        "retrieved": [f"{Path(c.path).name} p{c.page}" for c in answer.sources[:5]],
        "confidence": asdict(answer.confidence) if answer.confidence else None,
        "seconds": (t.retrieval_ms + (t.total_ms or 0)) / 1000,
        "first_token_s": (t.retrieval_ms + t.first_token_ms) / 1000 if t.first_token_ms is not None else None,
        "prompt_tokens": t.prompt_tokens,
        "unsupported": [c.text for c in answer.claims if not c.supported],
        "read": read,
        "quote_rank": next((read.index(qt.text) for qt in answer.quotes if qt.text in read), None),
    }
    if evidence:
        record["evidence_hit"] = any(c.path == doc and overlaps(c.text, evidence) for c in answer.sources[:5])
        record["pool_hit"] = any(h.chunk.path == doc and overlaps(h.chunk.text, evidence) for h in pool)
        record["read_hit"] = any(overlaps(text, evidence) for text in read)
        if answer.quotes:
            record["quote_is_evidence"] = any(overlaps(qt.text, evidence) for qt in answer.quotes)
    if q.get("answer"):
        record["correct"] = answer.found and matches(q["answer"], answer.text)
    if not q["present"]:
        record["refused"] = not answer.found
    if q["present"] and answer.found and evidence:
        record["citations_right"] = [
            c.path == doc and overlaps(pages.text(c.path, c.page), evidence) for c in answer.citations
        ]
        record["cited_right"] = bool(record["citations_right"]) and all(record["citations_right"])
    return record


MEASURES = (
    "questions", "evidence hit@5", "answer accuracy (gold value)", "refusal on absent clauses",
    "wrong refusals on present clauses", "citation accuracy", "answers citing nothing",
    "answers with an unsupported sentence", "latency p50 (s)", "latency p95 (s)", "first token p50 (s)",
)


def figures(records: list[dict]) -> dict[str, float | None]:
    """The headline measures of some records (see the module)."""
    def having(key: str) -> list:
        return [r[key] for r in records if key in r]

    cites = [ok for r in records for ok in r.get("citations_right", [])]
    answered = [r for r in records if r["present"] and r["found"]]
    seconds = [r["seconds"] for r in records]
    first = [r["first_token_s"] for r in records if r["first_token_s"] is not None]
    return dict(zip(MEASURES, (
        len(records), share(having("evidence_hit")), share(having("correct")), share(having("refused")),
        share([not r["found"] for r in records if r["present"]]), share(cites),
        share([not r["citations"] for r in answered]), share([bool(r["unsupported"]) for r in answered]),
        percentile(seconds, 50), percentile(seconds, 95), percentile(first, 50),
    )))


def with_parts(records: list[dict], data: Path, questions_file: Path | None = None) -> list[dict]:
    """`records` each with its contract's half (a run recorded before the halves were kept has none)."""
    questions = load(data, questions_file)
    doc = {q["id"]: q["doc"] for q in questions}
    half = halves(questions)
    return [r if "part" in r else {**r, "part": half[doc[r["id"]]]} for r in records]


def summarize(records: list[dict], report: Report) -> None:
    """One column for all the records, then one per half present among them."""
    columns = [records] + [[r for r in records if r.get("part") == p] for p in PARTS]
    names = ["all"] + list(PARTS)
    kept = [(n, c) for n, c in zip(names, columns) if c and (n == "all" or len(c) < len(records))]
    report.headers = ("measure", *(n for n, _ in kept))
    table = [figures(c) | funnel(c) for _, c in kept]
    for measure in MEASURES + FUNNEL:
        fmt = "{}" if measure == "questions" else "{:.2f}" if "(s)" in measure else "{:.4f}"
        report.add(measure, *(t[measure] for t in table), fmt=fmt)
    report.data["absent clauses answered"] = wrong_answers(records)


def folders(data: Path, questions: list[dict]) -> list[Path]:
    """The folders holding the questions' documents: what is indexed (CUAD's: `pdfs/`)."""
    return sorted({(data / q["doc"]).parent for q in questions})


class Recorded:
    """A retriever that keeps what its last search found: the passages an answer was drawn
    from, for the funnel, without searching a second time."""

    def __init__(self, retriever) -> None:
        self._retriever, self.last = retriever, None

    def __getattr__(self, name: str):
        return getattr(self._retriever, name)

    def search(self, *args, **kwargs):
        self.last = self._retriever.search(*args, **kwargs)
        return self.last


def run(data: Path, config: Config, workdir: Path, limit: int = 0,
        progress: ProgressFn | None = None, index_progress=None, part: str = "all",
        questions_file: Path | None = None) -> Report:
    """Index the documents, ask the questions (of one half, and a sample of `limit`), judge every answer.

    `questions_file`: questions of the same form as DATA/qa.jsonl about
    DATA's documents (other kinds of question, other wording).
    """
    from copilot.engine import local_engine

    engine = local_engine(eval_config(config, workdir))
    questions = load(data, questions_file)
    summary = engine.index(folders(data, questions), index_progress)
    half = halves(questions)
    questions = pick([q for q in questions if part == "all" or half[q["doc"]] == part], limit)
    report = Report("cuad", data={"model": config.model, "part": part, "split_seed": SPLIT_SEED,
                                  "questions": str(questions_file or data / "qa.jsonl"),
                                  "index": summary.to_dict(), "per_question": []})
    pages, records = Pages(), report.data["per_question"]
    reader = engine.local_reader()
    searches = engine.answerer.retriever = Recorded(engine.answerer.retriever)
    for i, q in enumerate(questions, 1):
        searches.last = None
        answer = engine.ask(q["question"], reader)
        pool = searches.last.nearest if searches.last else ()
        records.append(judge(q, answer, data, pages, half[q["doc"]], pool))
        if progress:
            progress(i, len(questions), q["type"])
    summarize(records, report)
    return report
