"""Finding the passages a question is about: dense and lexical, fused.

Dense retrieval (MiniLM vectors in Chroma) finds passages that mean what the
question means; lexical retrieval (BM25 over FTS5) finds the ones that use
its words: a clause number, a party's name, "governing law".  Their rankings
are fused by reciprocal rank (each list contributes 1 / (60 + rank)), which
needs no tuning between two incomparable scores.  Every fused passage is
then scored by cosine similarity to the question, so one relevance floor
decides, for both kinds, whether a passage is worth answering from.

A question that names a document ("Which law governs the supply agreement
between Acme and Brill?") is searched inside that document only, with its
naming words taken out ("Which law governs the supply agreement between
and?"): otherwise the names, rare and heavy in both rankings, pull up the
passages that name the parties rather than the one that answers.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from copilot.types import Embedder, Hit

RRF_K = 60  # the constant from Cormack et al. (2009); robust across collections
MODES = ("hybrid", "dense", "lexical")


class VectorStore(Protocol):
    def query(self, vector, k: int, path: str | None = None,
              collections: Collection[str] | None = None) -> list[Hit]: ...
    def vectors(self, ids: Sequence[str]) -> dict[str, list[float]]: ...


class LexicalIndex(Protocol):
    def search(self, question: str, k: int, path: str | None = None,
               collections: Collection[str] | None = None) -> list[Hit]: ...
    def named(self, question: str, collections: Collection[str] | None = None) -> tuple[str, set[str]] | None: ...


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
    that another process is half-way through indexing.  `mode` picks dense or
    lexical retrieval alone instead (for comparison); without a lexical index
    it is dense retrieval alone.

    `collections` are the reader's ethical walls (None: every collection):
    every query below is made with them, so the stores rank only passages
    the reader may see, and `visible` is filtered by them once more.
    """

    def __init__(
        self,
        embedder: Embedder,
        store: VectorStore,
        visible: Callable[[], dict[str, str]],
        top_k: int = 5,
        min_score: float = 0.25,
        lexical: LexicalIndex | None = None,
        mode: str = "hybrid",
        collections: Collection[str] | None = None,
    ):
        if mode not in MODES:
            raise ValueError(f"retrieval mode {mode!r}: expected one of {', '.join(MODES)}")
        self.embedder, self.store, self.visible = embedder, store, visible
        self.top_k, self.min_score, self.lexical, self.mode = top_k, min_score, lexical, mode
        self.collections = None if collections is None else frozenset(collections)

    def search(self, question: str) -> Retrieval:
        started = time.perf_counter()
        walls = self.collections
        named = (self.lexical.named(question, walls)
                 if self.lexical is not None and self.mode == "hybrid" else None)
        focus = without(question, named[1]) if named else question
        vectors = self.embedder.embed([question] if focus == question else [question, focus])
        versions = self.visible()

        def seen(hits: list[Hit]) -> list[Hit]:
            return [h for h in hits if versions.get(h.chunk.path) == h.chunk.doc_sha256
                    and (walls is None or h.chunk.collection in walls)]

        # Over-fetch: some hits may belong to versions not (yet) visible.
        depth = self.top_k * 4
        if named:  # measured on CUAD: the whole-index rankings only add the parties' passages
            path = named[0]
            rankings = [seen(self.store.query(vectors[-1], depth, path, walls)),
                        seen(self.lexical.search(focus, depth, path, walls))]
        else:
            rankings = [seen(self.store.query(vectors[0], depth, None, walls)) if self.mode != "lexical" else []]
            if self.lexical is not None and self.mode != "dense":
                rankings.append(seen(self.lexical.search(question, depth, None, walls)))
        hits = self._cosine(fuse(rankings, self.top_k), vectors)
        relevant = tuple(h for h in hits if h.score >= self.min_score)
        return Retrieval(relevant, tuple(hits), (time.perf_counter() - started) * 1000)

    def _cosine(self, hits: list[Hit], vectors) -> list[Hit]:
        """Every hit scored by its cosine similarity to the question (or to its focus, if closer)."""
        stored = self.store.vectors([h.chunk.id for h in hits]) if hits else {}
        scored = []
        for h in hits:
            v = stored.get(h.chunk.id)
            score = max(sum(a * b for a, b in zip(q, v)) for q in vectors) if v is not None else 0.0
            scored.append(replace(h, score=score))
        return scored


def without(question: str, words: set[str]) -> str:
    """`question` with `words` taken out; the whole question if too little would be left."""
    pattern = r"\b(" + "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True)) + r")\b"
    focus = re.sub(r"\s+", " ", re.sub(pattern, " ", question, flags=re.IGNORECASE)).strip()
    return focus if len(re.findall(r"\w{3,}", focus)) >= 2 else question
