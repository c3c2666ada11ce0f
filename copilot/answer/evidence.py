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

A long sentence (a clause of a contract can run to a hundred words) is
shown as its window around the question's words: the rest of it costs the
budget other sentences need, and the answer is next to what was asked
about (measured on CUAD dev: the evidence read rose from 0.71 to 0.77 at
the same token cost, and on questions of other kinds from 0.89 to 0.91).
The window is a verbatim span of the sentence, so a quote of it still is one.
"""

from __future__ import annotations

import bisect
import math
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from copilot.answer.grounding import content_words
from copilot.core import sentences as sentence_split
from copilot.core.protocols import Embedder
from copilot.core.records import Hit

TERM_WEIGHT = 0.05  # a rare question word in a sentence is worth this much cosine (tuned on CUAD dev)


@dataclass(frozen=True)
class Sentence:
    """One sentence of a retrieved passage, scored against the question."""

    text: str
    passage: int  # its passage's index in `Evidence.passages`
    similarity: float  # MiniLM cosine to the question's focus
    terms: float  # the summed rarity of the question's words it holds
    coverage: float = 0.0  # the share of the question's words it holds, each weighted by its rarity

    @property
    def score(self) -> float:
        return self.similarity + TERM_WEIGHT * self.terms


@dataclass(frozen=True)
class Evidence:
    """The passages, best first, and their sentences, best first."""

    passages: tuple[Hit, ...]
    sentences: tuple[Sentence, ...]
    asked: frozenset[str] = frozenset()  # the question's content words

    def best(self, count: Callable[[str], int], budget: int, most: int, window: int = 0) -> list[Sentence]:
        """The best sentences that fit `budget` tokens (at most `most`; the best one if none fits).

        A sentence longer than `window` tokens (0: no limit) is cut to its
        window around the question's words.  A sentence too long for what is
        left of the budget is passed over for shorter ones after it, so one
        long clause does not crowd out the rest.  (Taking at most one or two
        sentences a passage, for breadth, was measured and lost: bench_evidence.)
        """
        chosen: list[Sentence] = []
        first: Sentence | None = None
        left = budget
        for s in self.sentences:  # counted one by one: a model server counts over HTTP
            if len(chosen) == most:
                break
            size = count(s.text)
            if window and size > window:
                s = replace(s, text=around(s.text, self.asked, count, window, size))
                size = count(s.text)
            first = first or s
            if size <= left:
                chosen.append(s)
                left -= size
        return chosen or ([first] if first else [])


def around(text: str, asked: frozenset[str] | set[str], count: Callable[[str], int], window: int,
           size: int | None = None) -> str:
    """The verbatim span of `text` of about `window` tokens around the `asked` words; `text` itself
    when it fits.  `size`: its tokens, if counted.

    The span holding the most distinct asked words wins, then the one holding
    the most of them in all, then the one with those words nearest its middle:
    what answers ("within forty-eight (48) hours") lies next to what was asked
    about, before it or after it, and a span flush against the words it holds
    cuts it off (measured against the first span on a tie, bench_evidence:
    evidence read and gold value read up or level on CUAD and on the other
    kinds, dev and test).
    """
    size = count(text) if size is None else size
    if size <= window:
        return text
    words = list(re.finditer(r"\S+", text))
    span = max(1, len(words) * window // size)
    if span >= len(words):
        return text
    held = [content_words(w.group()) & asked for w in words]
    marked = [i for i, h in enumerate(held) if h]
    inside: Counter[str] = Counter(w for h in held[:span] for w in h)
    best, at = None, 0
    for i in range(len(words) - span + 1):
        if i:
            inside.subtract(held[i - 1])
            inside.update(held[i + span - 1])
        lo, hi = bisect.bisect_left(marked, i), bisect.bisect_right(marked, i + span - 1)
        balance = -abs((marked[lo] - i) - (i + span - 1 - marked[hi - 1])) if hi > lo else 0
        key = (sum(1 for n in inside.values() if n > 0), hi - lo, balance)
        if best is None or key > best:
            best, at = key, i
    return text[words[at].start():words[at + span - 1].end()]


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
    asked = frozenset(content_words(focus))
    if not texts:
        return Evidence(tuple(hits), (), asked)
    vectors = embedder.embed(texts)
    words = [content_words(t) for t in texts]
    frequency = Counter(w for ws in words for w in ws & asked)
    # A word of the question no sentence holds is as rare as a word can be: what was asked
    # about is missing from all of them, and a sentence's coverage says so.
    rarity = {w: math.log(1 + len(texts) / frequency.get(w, 1)) for w in asked}
    whole = sum(rarity.values()) or 1.0
    held = [sum(rarity[w] for w in ws & asked) for ws in words]
    scored = [
        Sentence(text, i, sum(a * b for a, b in zip(vector, v)), h, h / whole)
        for text, i, v, h in zip(texts, owner, vectors, held)
    ]
    scored.sort(key=lambda s: -s.score)
    return _rerank(hits, scored, asked)


def _rerank(hits: Sequence[Hit], scored: list[Sentence], asked: frozenset[str]) -> Evidence:
    """Passages by their best sentence (measured on CUAD dev: better than fusing in their own rank)."""
    best: dict[int, int] = {}
    for rank, s in enumerate(scored):
        best.setdefault(s.passage, rank)
    order = sorted(range(len(hits)), key=lambda i: (best.get(i, len(scored)), i))
    new_index = {old: new for new, old in enumerate(order)}
    return Evidence(tuple(hits[i] for i in order),
                    tuple(replace(s, passage=new_index[s.passage]) for s in scored), asked)
