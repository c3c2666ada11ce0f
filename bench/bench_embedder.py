"""Embedder benchmark on SciFact: retrieval quality and speed, fp32 against ONNX int8.

Embeds the 5,183 SciFact abstracts (title + text, as BEIR does) and the 300
test claims with each embedder, then scores exact dot-product search:
nDCG@10 and recall@5 against qrels/test.tsv.  All embedders run in the same
process, one after another, so their speeds compare.

    .venv/bin/python bench/bench_embedder.py                       # torch fp32, onnx, onnx-int8
    .venv/bin/python bench/bench_embedder.py --backends onnx-int8 --docs 1000
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SCIFACT = ROOT.parent / "shared" / "eval" / "scifact"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

from report import record  # noqa: E402


def load(limit: int | None):
    corpus = [json.loads(line) for line in (SCIFACT / "corpus.jsonl").open()]
    qrels: dict[str, dict[str, int]] = {}
    with (SCIFACT / "qrels" / "test.tsv").open() as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            qrels.setdefault(row["query-id"], {})[row["corpus-id"]] = int(row["score"])
    if limit:  # keep every relevant document, fill up with others
        relevant = {d for rel in qrels.values() for d in rel}
        corpus = [d for d in corpus if d["_id"] in relevant] + [d for d in corpus if d["_id"] not in relevant]
        corpus = corpus[:limit]
    queries = {q["_id"]: q["text"] for q in map(json.loads, (SCIFACT / "queries.jsonl").open()) if q["_id"] in qrels}
    return corpus, queries, qrels


def scores(doc_vecs, query_vecs, ids, queries, qrels, k: int = 10) -> tuple[float, float]:
    import numpy as np

    sims = np.asarray(query_vecs) @ np.asarray(doc_vecs).T
    ndcg, recall = [], []
    for row, qid in zip(sims, queries):
        top = [ids[i] for i in np.argsort(-row)[:k]]
        rel = qrels[qid]
        dcg = sum(rel.get(d, 0) / math.log2(i + 2) for i, d in enumerate(top))
        ideal = sum(g / math.log2(i + 2) for i, g in enumerate(sorted(rel.values(), reverse=True)[:k]))
        ndcg.append(dcg / ideal if ideal else 0.0)
        recall.append(len(set(top[:5]) & set(rel)) / len(rel))
    return sum(ndcg) / len(ndcg), sum(recall) / len(recall)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="torch,onnx,onnx-int8")
    parser.add_argument("--docs", type=int, default=0, help="limit the corpus (0: all 5,183)")
    parser.add_argument("--batch", type=int, default=0, help="0: each backend's default")
    args = parser.parse_args()

    from copilot.core import offline
    from copilot.llama.models import resolve_embedder
    from index.embedding import make_embedder

    offline.set_flags()
    corpus, queries, qrels = load(args.docs or None)
    ids = [d["_id"] for d in corpus]
    texts = [f"{d['title']} {d['text']}".strip() for d in corpus]
    folder = resolve_embedder("")
    cache = Path(tempfile.mkdtemp(prefix="bench-emb-"))
    rows, raw, base, batches = [], {}, None, {}
    for backend in args.backends.split(","):
        emb = make_embedder(folder, backend, cache, args.batch)
        emb.embed(["warm up"])  # load (and for ONNX, export) outside the timing
        started = time.perf_counter()
        doc_vecs = emb.embed(texts)
        seconds = time.perf_counter() - started
        ndcg, recall = scores(doc_vecs, emb.embed(list(queries.values())), ids, queries, qrels)
        base = base or (backend, len(texts) / seconds, ndcg)
        batches[backend] = emb.batch_size
        raw[backend] = {"batch": emb.batch_size, "seconds": seconds, "texts_per_s": len(texts) / seconds, "ndcg10": ndcg, "recall5": recall}
        rows += [
            (f"{backend}: nDCG@10 / recall@5", f"{ndcg:.4f} / {recall:.4f}"),
            (f"{backend}: documents embedded/s", f"{len(texts) / seconds:.1f} ({seconds:.0f} s)"),
        ]
        if backend != base[0]:
            rows += [(f"{backend} vs {base[0]}: speed-up / nDCG@10 change",
                      f"{len(texts) / seconds / base[1]:.2f}x / {ndcg - base[2]:+.4f}")]
    note = (f"SciFact test, {len(texts)} documents, {len(queries)} queries; batch sizes "
            + ", ".join(f"{b} {n}" for b, n in batches.items()) + "; run one after another, same process.")
    record(__file__, rows, note, raw)


if __name__ == "__main__":
    main()
