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
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Protocol, runtime_checkable

from copilot.core.config import CHOICES, Config
from copilot.core.protocols import Embedder
from copilot.core.records import Hit
from copilot.core.walls import Walls

RRF_K = 60  # the constant from Cormack et al. (2009); robust across collections
MODES = CHOICES["retrieval"]  # the modes a setting may name


class VectorStore(Protocol):
    def query(self, vector, k: int, walls: Walls, path: str | None = None) -> list[Hit]: ...
    def vectors(self, ids: Sequence[str]) -> dict[str, list[float]]: ...


class Ledger(Protocol):
    """What retrieval needs of the file ledger: path → sha256 of the versions fully indexed
    behind `walls` (a file half-way through indexing is not among them)."""

    def indexed_versions(self, walls: Walls) -> dict[str, str]: ...


@runtime_checkable
class LexicalIndex(Ledger, Protocol):
    """A ledger that also keeps a lexical index of the passages (the manifest's FTS5 table)."""

    def search(self, question: str, k: int, walls: Walls, path: str | None = None) -> list[Hit]: ...
    def named(self, question: str, walls: Walls) -> tuple[str, set[str]] | None: ...


@dataclass(frozen=True)
class RetrievalSettings:
    """How a question is searched: `top_k` sources kept above `min_score` (cosine), from
    `depth` passages fused (at least `top_k`); `mode` "hybrid", or "dense" or "lexical" alone."""

    top_k: int = Config.top_k
    min_score: float = Config.min_score
    mode: str = Config.retrieval
    depth: int = Config.retrieval_depth

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"retrieval mode {self.mode!r}: expected one of {', '.join(MODES)}")

    @classmethod
    def of(cls, config: Config) -> RetrievalSettings:
        return cls(config.top_k, config.min_score, config.retrieval, config.retrieval_depth)

    @property
    def fused(self) -> int:
        """How many passages are fused: `depth`, and never fewer than the `top_k` listed."""
        return max(self.top_k, self.depth)


@dataclass(frozen=True)
class Retrieval:
    """The passages found for a question, best first, each scored by cosine similarity.

    `nearest` are all the passages found (the pool the evidence is drawn
    from), `relevant` those at or above the relevance floor.  `focus` is the
    question without the words naming a document (what is asked of it), and
    `vector` its embedding.
    """

    relevant: tuple[Hit, ...]
    nearest: tuple[Hit, ...]
    ms: float
    focus: str = ""
    vector: tuple[float, ...] = ()


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

    Only chunks of document versions the ledger lists as fully indexed are
    returned, so a reader never sees a file that another process is half-way
    through indexing.  The settings' `mode` picks dense or lexical retrieval
    alone instead (for comparison); a ledger without a lexical index means
    dense retrieval alone.  `depth` passages are fused (at least `top_k`): the
    sentences the answer is drawn from come from all of them.

    Each search is made for one reader's ethical walls (`Walls.everything()`
    for none, never a default): every query is made with them, so the stores
    rank only passages the reader may see, and what they return is checked
    against them once more.
    """

    def __init__(self, embedder: Embedder, store: VectorStore, ledger: Ledger,
                 settings: RetrievalSettings = RetrievalSettings()):
        self.embedder, self.store, self.ledger, self.settings = embedder, store, ledger, settings
        self.lexical = ledger if isinstance(ledger, LexicalIndex) else None

    def search(self, question: str, walls: Walls, document: str | None = None) -> Retrieval:
        """The passages behind `walls` that answer `question` best; of `document` alone if given
        (a review asks each document its questions apart), searched as a question naming it is."""
        started = time.perf_counter()
        hybrid = self.lexical is not None and self.settings.mode == "hybrid"
        named = self.lexical.named(question, walls) if hybrid and document is None else None
        focus = without(question, named[1]) if named else question
        vectors = self.embedder.embed([question] if focus == question else [question, focus])
        versions = self.ledger.indexed_versions(walls)

        def seen(hits: list[Hit]) -> list[Hit]:
            return [h for h in hits if versions.get(h.chunk.path) == h.chunk.doc_sha256
                    and walls.allows(h.chunk.collection)]

        # Over-fetch: some hits may belong to versions not (yet) visible.
        fetch = self.settings.fused * 2
        path = document if document is not None else named[0] if named else None
        if path is not None and hybrid:  # measured on CUAD: the whole-index rankings only add the parties' passages
            rankings = [seen(self.store.query(vectors[-1], fetch, walls, path)),
                        seen(self.lexical.search(focus, fetch, walls, path))]
        else:
            rankings = [seen(self.store.query(vectors[0], fetch, walls, path))
                        if self.settings.mode != "lexical" else []]
            if self.lexical is not None and self.settings.mode != "dense":
                rankings.append(seen(self.lexical.search(question, fetch, walls, path)))
        hits = self._cosine(fuse(rankings, self.settings.fused), vectors)
        relevant = tuple(h for h in hits if h.score >= self.settings.min_score)
        return Retrieval(relevant, tuple(hits), (time.perf_counter() - started) * 1000, focus,
                         tuple(vectors[-1]))

    def _cosine(self, hits: list[Hit], vectors) -> list[Hit]:
        """Every hit scored by its cosine similarity to the question (or to its focus, if closer)."""
        stored = self.store.vectors([h.chunk.id for h in hits]) if hits else {}
        scored = []
        for h in hits:
            v = stored.get(h.chunk.id)
            score = max(sum(a * b for a, b in zip(q, v)) for q in vectors) if v is not None else 0.0
            scored.append(replace(h, score=score))
        return scored


# Words that join the parts of a name ("Bank of America", "Smith & Wesson", "between A and B").
_GLUE = frozenset("and of between & for de du la von van der by among d/b/a dba".split())
_NAME_PUNCTUATION = frozenset(",()\"'“”‘’")


def without(question: str, words: set[str]) -> str:
    """`question` without the words naming a document; the whole question if too little would be left.

    A document is named by a run of words ("the Supply Agreement between
    Acme Corp. and Brill, Inc."): the run around each naming word that is
    capitalized in the question goes, with the capitalized words, joining
    words and punctuation inside it, so no stub of the name ("between, Inc
    and") is left to pull up the passages naming the parties; words in
    lower case around it ("the Acme agreement entered into") say what is
    asked, and stay.  A question written all in lower case loses just the
    naming words.
    """
    tokens = list(re.finditer(r"[\w'’./&-]+|[^\w\s]", question))
    raw = [t.group() for t in tokens]
    low = [r.lower().strip(".'’") for r in raw]
    naming = {w.lower() for w in words}
    capitalized = [r[:1].isupper() or r[:1].isdigit() for r in raw]
    seeds = [i for i, w in enumerate(low) if w in naming and capitalized[i]]
    if not seeds:  # a question in lower case: no run to follow
        seeds = [i for i, w in enumerate(low) if w in naming]

    def member(i: int) -> bool:  # a word of the name: capitalized, past the question's first word
        return capitalized[i] and i > 0

    def joins(i: int, beyond: int) -> bool:
        return (low[i] in _GLUE or raw[i] in _NAME_PUNCTUATION) \
            and 0 <= beyond < len(raw) and member(beyond)

    gone = [False] * len(tokens)
    for seed in seeds:
        if gone[seed]:
            continue
        start = end = seed
        if capitalized[seed]:
            while start > 0 and (member(start - 1) or joins(start - 1, start - 2)):
                start -= 1
            while end + 1 < len(raw) and (member(end + 1) or joins(end + 1, end + 2)):
                end += 1
        for i in range(start, end + 1):
            gone[i] = True
    focus = question
    for token, drop in reversed(list(zip(tokens, gone))):
        if drop:
            focus = f"{focus[:token.start()]} {focus[token.end():]}"
    focus = re.sub(r"\s+([?.,!;:])", r"\1", re.sub(r"\s+", " ", focus)).strip()
    return focus if len(re.findall(r"\w{3,}", focus)) >= 2 else question
