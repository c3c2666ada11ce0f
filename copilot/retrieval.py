"""Finding the passages a question is about: dense and lexical, fused.

Dense retrieval (MiniLM vectors in Chroma) finds passages that mean what the
question means; lexical retrieval (BM25 over FTS5) finds the ones that use
its words: a clause number, a party's name, "governing law".  Their rankings
are fused by reciprocal rank (each list contributes 1 / (60 + rank)), which
needs no tuning between two incomparable scores.  Every fused passage is
then scored by cosine similarity to the question, so one relevance floor
decides, for both kinds, whether a passage is worth answering from.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from copilot.types import Embedder, Hit

RRF_K = 60  # the constant from Cormack et al. (2009); robust across collections


class VectorStore(Protocol):
    def query(self, vector, k: int) -> list[Hit]: ...
    def vectors(self, ids: Sequence[str]) -> dict[str, list[float]]: ...


class LexicalIndex(Protocol):
    def search(self, question: str, k: int) -> list[Hit]: ...


@dataclass(frozen=True)
class Retrieval:
    """The passages relevant enough to answer from, and the nearest ones overall."""

    relevant: tuple[Hit, ...]
    nearest: tuple[Hit, ...]
    ms: float


def fuse(rankings: Sequence[Sequence[Hit]], k: int) -> list[Hit]:
    """Reciprocal rank fusion of several rankings; a passage's first `Hit` is kept."""
    scores: dict[str, float] = {}
    first: dict[str, Hit] = {}
    for ranking in rankings:
        for rank, hit in enumerate(ranking, 1):
            key = hit.chunk.id
            scores[key] = scores.get(key, 0.0) + 1.0 / (RRF_K + rank)
            first.setdefault(key, hit)
    order = sorted(scores, key=lambda key: -scores[key])
    return [first[key] for key in order[:k]]


class Retriever:
    """Hybrid retrieval with a relevance floor.

    Only chunks of document versions the manifest lists as fully indexed are
    returned (`visible` gives path → sha256), so a reader never sees a file
    that another process is half-way through indexing.  Without a lexical
    index it is dense retrieval alone.
    """

    def __init__(
        self,
        embedder: Embedder,
        store: VectorStore,
        visible: Callable[[], dict[str, str]],
        top_k: int = 5,
        min_score: float = 0.25,
        lexical: LexicalIndex | None = None,
    ):
        self.embedder, self.store, self.visible = embedder, store, visible
        self.top_k, self.min_score, self.lexical = top_k, min_score, lexical

    def search(self, question: str) -> Retrieval:
        started = time.perf_counter()
        (vector,) = self.embedder.embed([question])
        versions = self.visible()

        def seen(hits: list[Hit]) -> list[Hit]:
            return [h for h in hits if versions.get(h.chunk.path) == h.chunk.doc_sha256]

        # Over-fetch: some hits may belong to versions not (yet) visible.
        depth = self.top_k * 4
        dense = seen(self.store.query(vector, depth))
        rankings = [dense]
        if self.lexical is not None:
            rankings.append(seen(self.lexical.search(question, depth)))
        hits = self._cosine(fuse(rankings, self.top_k), vector, {h.chunk.id: h.score for h in dense})
        relevant = tuple(h for h in hits if h.score >= self.min_score)
        return Retrieval(relevant, tuple(hits), (time.perf_counter() - started) * 1000)

    def _cosine(self, hits: list[Hit], vector, known: dict[str, float]) -> list[Hit]:
        """Every hit scored by cosine similarity to the question (lexical ones looked up)."""
        missing = [h.chunk.id for h in hits if h.chunk.id not in known]
        if missing:
            for key, v in self.store.vectors(missing).items():
                known[key] = sum(a * b for a, b in zip(vector, v))
        return [replace(h, score=known.get(h.chunk.id, 0.0)) for h in hits]
