"""Evidence at the sentence level: the few sentences of the retrieved passages that bear on the question.

A passage holds several clauses; the one that answers is a sentence among
them.  Every sentence of the passages retrieved is scored against what is
asked (the question without the words naming its document): by meaning
(MiniLM cosine) and by the question's words it holds, each weighted by how
rare it is among these sentences (BM25's idea, without document lengths:
sentences are short).  The model reads only the best few, within a token
budget, which is most of the time to first token on a laptop; the
passages themselves are re-ranked by their best sentence, so the sources
listed are the ones the evidence comes from.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from copilot.core import sentences as sentence_split
from copilot.core.types import Embedder, Hit
from copilot.grounding import content_words

TERM_WEIGHT = 0.05  # a rare question word in a sentence is worth this much cosine (tuned on CUAD dev)


@dataclass(frozen=True)
class Sentence:
    """One sentence of a retrieved passage, scored against the question."""

    text: str
    passage: int  # its passage's index in `Evidence.passages`
    similarity: float  # MiniLM cosine to the question's focus
    terms: float  # the summed rarity of the question's words it holds

    @property
    def score(self) -> float:
        return self.similarity + TERM_WEIGHT * self.terms


@dataclass(frozen=True)
class Evidence:
    """The passages, best first, and their sentences, best first."""

    passages: tuple[Hit, ...]
    sentences: tuple[Sentence, ...]

    def best(self, count: Callable[[str], int], budget: int, most: int) -> list[Sentence]:
        """The best sentences that fit `budget` tokens (at most `most`; the best one if none fits).

        A sentence too long for what is left of the budget is passed over for
        shorter ones after it, so one long clause does not crowd out the rest.
        """
        chosen: list[Sentence] = []
        left = budget
        for s in self.sentences:
            if len(chosen) == most:
                break
            size = count(s.text)
            if size <= left:
                chosen.append(s)
                left -= size
        return chosen or list(self.sentences[:1])


def gather(focus: str, vector: Sequence[float], hits: Sequence[Hit], embedder: Embedder) -> Evidence:
    """Split `hits` into sentences, score them against `focus`, rank both (see the module)."""
    texts: list[str] = []
    owner: list[int] = []
    seen: set[tuple[str, str]] = set()  # overlapping chunks repeat sentences: score each once
    for i, hit in enumerate(hits):
        for text in sentence_split.split(hit.chunk.text):
            if (hit.chunk.path, text) not in seen:
                seen.add((hit.chunk.path, text))
                texts.append(text)
                owner.append(i)
    if not texts:
        return Evidence(tuple(hits), ())
    vectors = embedder.embed(texts)
    words = [content_words(t) for t in texts]
    asked = content_words(focus)
    frequency = Counter(w for ws in words for w in ws & asked)
    rarity = {w: math.log(1 + len(texts) / n) for w, n in frequency.items()}
    scored = [
        Sentence(text, i, sum(a * b for a, b in zip(vector, v)), sum(rarity[w] for w in ws & asked))
        for text, i, v, ws in zip(texts, owner, vectors, words)
    ]
    scored.sort(key=lambda s: -s.score)
    return _rerank(hits, scored)


def _rerank(hits: Sequence[Hit], scored: list[Sentence]) -> Evidence:
    """Passages by their best sentence (measured on CUAD dev: better than fusing in their own rank)."""
    best: dict[int, int] = {}
    for rank, s in enumerate(scored):
        best.setdefault(s.passage, rank)
    order = sorted(range(len(hits)), key=lambda i: (best.get(i, len(scored)), i))
    new_index = {old: new for new, old in enumerate(order)}
    return Evidence(tuple(hits[i] for i in order),
                    tuple(replace(s, passage=new_index[s.passage]) for s in scored))
