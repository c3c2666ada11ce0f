"""Finding the passages a question is about."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from copilot.types import Embedder, Hit


class VectorStore(Protocol):
    def query(self, vector, k: int) -> list[Hit]: ...


@dataclass(frozen=True)
class Retrieval:
    """The passages relevant enough to answer from, and the nearest ones overall."""

    relevant: tuple[Hit, ...]
    nearest: tuple[Hit, ...]
    ms: float


class Retriever:
    """Dense retrieval with a relevance floor.

    Only chunks of document versions the manifest lists as fully indexed are
    returned (`visible` gives path → sha256), so a reader never sees a file
    that another process is half-way through indexing.
    """

    def __init__(
        self,
        embedder: Embedder,
        store: VectorStore,
        visible: Callable[[], dict[str, str]],
        top_k: int = 5,
        min_score: float = 0.25,
    ):
        self.embedder, self.store, self.visible = embedder, store, visible
        self.top_k, self.min_score = top_k, min_score

    def search(self, question: str) -> Retrieval:
        started = time.perf_counter()
        (vector,) = self.embedder.embed([question])
        versions = self.visible()
        # Over-fetch: some hits may belong to versions not (yet) visible.
        hits = [
            h
            for h in self.store.query(vector, self.top_k * 3)
            if versions.get(h.chunk.path) == h.chunk.doc_sha256
        ][: self.top_k]
        relevant = tuple(h for h in hits if h.score >= self.min_score)
        return Retrieval(relevant, tuple(hits), (time.perf_counter() - started) * 1000)
