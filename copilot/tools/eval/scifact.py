"""SciFact (BEIR format): retrieval quality of dense, lexical and hybrid search.

Each abstract is written as a text file (title, blank line, text) and indexed
by the real indexer, so the figures are those of the product's own loaders,
chunker, embedder and stores.  A document ranks by its best passage.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from copilot.answer.retrieval import MODES, RetrievalSettings, Retriever
from copilot.core.config import Config
from copilot.tools.eval import ProgressFn, Report, eval_config
from copilot.tools.eval.metrics import ndcg, recall

DEPTH = 40  # passages fetched per query: enough for 10 distinct abstracts


def load(data: Path) -> tuple[list[dict], dict[str, str], dict[str, dict[str, int]]]:
    """(corpus, queries by id, relevance judgements by query id) from a BEIR folder."""
    corpus = [json.loads(line) for line in (data / "corpus.jsonl").open()]
    qrels: dict[str, dict[str, int]] = {}
    with (data / "qrels" / "test.tsv").open() as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            qrels.setdefault(row["query-id"], {})[row["corpus-id"]] = int(row["score"])
    queries = {q["_id"]: q["text"] for q in map(json.loads, (data / "queries.jsonl").open())
               if q["_id"] in qrels}
    return corpus, queries, qrels


def write_corpus(corpus: list[dict], folder: Path) -> Path:
    """One text file per abstract; unchanged files are left alone so re-indexing is instant."""
    folder.mkdir(parents=True, exist_ok=True)
    for doc in corpus:
        path = folder / f"{doc['_id']}.txt"
        text = f"{doc['title']}\n\n{doc['text']}\n"
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
    return folder


def run(data: Path, config: Config, workdir: Path, limit: int = 0,
        progress: ProgressFn | None = None, index_progress=None) -> Report:
    """Index the corpus, run the queries (the first `limit`, if given) in each mode."""
    from copilot.engine import local_engine

    corpus, queries, qrels = load(data)
    engine = local_engine(eval_config(config, workdir))
    summary = engine.index([write_corpus(corpus, workdir / "corpus")], index_progress)
    chosen = list(queries.items())[:limit] if limit else list(queries.items())
    report = Report("scifact", data={"documents": len(corpus), "queries": len(chosen),
                                     "index": summary.to_dict(), "per_query": {}})
    report.add("documents", len(corpus), fmt="{:,}")
    report.add("queries", len(chosen), fmt="{}")
    walls = engine.local_reader().walls
    for mode in MODES:
        retriever = Retriever(engine.embedder, engine.store, engine.manifest,
                              RetrievalSettings(top_k=DEPTH, min_score=-1.0, mode=mode, depth=DEPTH))
        scores = []
        for i, (qid, text) in enumerate(chosen, 1):
            ranked: list[str] = []
            for hit in retriever.search(text, walls).nearest:
                doc = Path(hit.chunk.path).stem
                if doc not in ranked:
                    ranked.append(doc)
            scores.append((ndcg(ranked, qrels[qid], 10), recall(ranked, qrels[qid], 5)))
            report.data["per_query"].setdefault(qid, {})[mode] = ranked[:10]
            if progress:
                progress(i, len(chosen), mode)
        report.add(f"{mode} nDCG@10", sum(s[0] for s in scores) / len(scores))
        report.add(f"{mode} recall@5", sum(s[1] for s in scores) / len(scores))
    return report
