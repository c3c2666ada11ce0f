"""The vector store: one Chroma collection on disk, fed our own embeddings.

Chroma is never given an embedding function: its default one downloads a
model, and the product must not reach the network.  Every chunk carries its
document's path and sha256, so a document version can be replaced or removed
as a whole, and readers can ignore chunks of a version still being written.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import contextmanager
from pathlib import Path

from copilot.core.errors import CopilotError, Unavailable
from copilot.core.records import Chunk, Hit
from copilot.core.walls import Walls

COLLECTION = "chunks"


def open_client(folder: Path, url: str = ""):
    """A Chroma client with telemetry off: the index on disk in `folder`, or, given `url`, the
    `chroma run` server there (a firm's shared index; it has no authentication, so it must
    listen where only `copilot serve` and the indexing account can reach it)."""
    from copilot.core import offline

    offline.set_flags()  # before chromadb is imported: it reads them on import
    import chromadb
    from chromadb.config import Settings

    settings = Settings(anonymized_telemetry=False, allow_reset=False)
    if url:
        from urllib.parse import urlsplit

        parts = urlsplit(url)
        try:
            return chromadb.HttpClient(host=parts.hostname or "127.0.0.1", port=parts.port or 8000,
                                       ssl=parts.scheme == "https", settings=settings)
        except Exception as exc:  # chromadb raises ValueError/ConnectionError for a server it cannot reach
            raise Unavailable(f"cannot reach the index's Chroma server at {url}: {exc}") from None
    folder.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(folder), settings=settings)


def forget_open_clients() -> None:
    """Make the next client of a folder open it afresh.  Chroma keeps one client per folder
    for the whole process, and its vector index in memory: writes another process made
    since (a `copilot index` beside a warm engine or a server) are not found until then.
    Collections already in use go on working."""
    from chromadb.api.shared_system_client import SharedSystemClient

    SharedSystemClient.clear_system_cache()


class ChromaStore:
    """Chunks and their vectors, keyed by document version."""

    def __init__(self, folder: Path, url: str = ""):
        self.folder, self.url = folder, url
        self._client = open_client(folder, url)
        self._col = self._client.get_or_create_collection(
            COLLECTION, metadata={"hnsw:space": "cosine"}, embedding_function=None
        )
        self._batch = max(1, min(1000, self._client.get_max_batch_size()))

    @contextmanager
    def _reaching(self):
        """A Chroma server that fails (down, restarting) is one clear `Unavailable`, not a
        library's traceback; the next call tries it again."""
        try:
            yield
        except Exception as exc:
            if not self.url or isinstance(exc, CopilotError):
                raise
            raise Unavailable(f"the index's Chroma server at {self.url} failed: {type(exc).__name__}: {exc}") from None

    def count(self) -> int:
        """How many chunks are stored."""
        with self._reaching():
            return self._col.count()

    def add(self, chunks: Sequence[Chunk], vectors) -> None:
        """Store chunks with their vectors (ids are stable, so re-adding is harmless)."""
        import numpy as np

        vectors = np.asarray(vectors, dtype=np.float32)
        with self._reaching():
            self._upsert(chunks, vectors)

    def _upsert(self, chunks: Sequence[Chunk], vectors) -> None:
        for start in range(0, len(chunks), self._batch):
            part = chunks[start : start + self._batch]
            self._col.upsert(
                ids=[c.id for c in part],
                embeddings=vectors[start : start + self._batch],
                documents=[c.text for c in part],
                metadatas=[
                    {
                        "path": c.path,
                        "source": c.source,
                        "page": c.page,
                        "chunk": c.number,
                        "sha256": c.doc_sha256,
                        "heading": c.heading,
                        "collection": c.collection,
                        "ocr": c.ocr,
                    }
                    for c in part
                ],
            )

    def clear(self) -> None:
        """Drop every chunk (the index is being rebuilt with another embedder)."""
        with self._reaching():
            self._client.delete_collection(COLLECTION)
            self._col = self._client.get_or_create_collection(
                COLLECTION, metadata={"hnsw:space": "cosine"}, embedding_function=None
            )

    def paths(self) -> dict[str, int]:
        """path → number of chunks stored, for every file with chunks (consistency checks)."""
        counts: dict[str, int] = {}
        total, step = self.count(), 5000
        for offset in range(0, total, step):
            with self._reaching():
                got = self._col.get(include=["metadatas"], limit=step, offset=offset)
            for meta in got["metadatas"]:
                counts[str(meta["path"])] = counts.get(str(meta["path"]), 0) + 1
        return counts

    def vectors(self, ids: Sequence[str]) -> dict[str, list[float]]:
        """The stored vectors of some chunks, by id."""
        with self._reaching():
            got = self._col.get(ids=list(ids), include=["embeddings"])
        return {key: list(map(float, v)) for key, v in zip(got["ids"], got["embeddings"])}

    def delete_path(self, path: str) -> None:
        """Remove every chunk of a file, whatever its version."""
        with self._reaching():
            self._col.delete(where={"path": path})

    def query(self, vector: Sequence[float], k: int, walls: Walls, path: str | None = None) -> list[Hit]:
        """The `k` nearest chunks behind `walls` (of one file, if `path`), closest first,
        scored by cosine.  The walls are in the query itself: Chroma ranks only chunks
        of the collections they open."""
        total = self.count()
        if total == 0 or walls.blind:
            return []
        where = [{"path": path}] if path else []
        if walls.where() is not None:
            where.append(walls.where())
        with self._reaching():
            res = self._col.query(
                query_embeddings=[list(vector)],
                n_results=min(k, total),
                where=None if not where else where[0] if len(where) == 1 else {"$and": where},
                include=["documents", "metadatas", "distances"],
            )
        hits = []
        for text, meta, dist in zip(res["documents"][0], res["metadatas"][0], res["distances"][0]):
            chunk = Chunk(
                path=str(meta["path"]),
                source=str(meta["source"]),
                page=int(meta["page"]),
                number=int(meta["chunk"]),
                text=text or "",
                doc_sha256=str(meta["sha256"]),
                heading=str(meta.get("heading") or ""),
                collection=str(meta.get("collection") or ""),
                ocr=bool(meta.get("ocr", False)),  # absent in an index written before OCR
            )
            hits.append(Hit(chunk, 1.0 - float(dist)))
        return hits
