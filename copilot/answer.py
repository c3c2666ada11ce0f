"""Answering: a question (and its conversation) in, a short answer, its quote and citation out.

The path gives the model the least to do and checks the rest mechanically:

1. Retrieval finds passages (`copilot.retrieval`); when none is relevant
   the model is not asked at all: a model left without sources answers from
   its own knowledge, which users of a grounded copilot must never get.
2. The passages' sentences are scored against the question and only the
   best few are shown to the model (`copilot.evidence`, `copilot.prompt`).
3. Before it writes a word, the model's own probability of replying "Not
   stated." and the best sentence's closeness to the question are turned
   into a calibrated confidence (`copilot.confidence`); below the floor the
   answer is "not found" and nothing is generated.
4. The model writes the answer in a few words copied from the sentences,
   streamed as it comes.  Past a floor it may not reply "Not stated." (the
   floor decided that, its doubt weighed in); with no calibration for the
   model, that reply of its own is the refusal.
5. The sentence that bears the answer out is found by its words (the
   grounding check, `copilot.grounding`): it is the quote, verbatim by
   construction, and its passage's file and page the citation.  An answer
   no sentence bears out is reported as not found, its draft flagged.

A follow-up question ("and when does it expire?") is first rewritten by the
model into a standalone one, which is what retrieval searches with (see
`Answerer.standalone` for when a rewrite is not trusted).
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace

from copilot import confidence, evidence, grounding, prompt
from copilot.core.config import Config
from copilot.core.sanitize import printable
from copilot.core.sentences import unnumbered
from copilot.core.types import (
    NOTHING_RELEVANT, SOURCES_SILENT, UNCERTAIN, UNSUPPORTED, Answer, Citation, Confidence, Embedder, Generator, Hit,
    Timings, TokenFn,
)
from copilot.core.walls import Walls
from copilot.retrieval import Retrieval, Retriever

NOT_FOUND = "Not found in the indexed documents."
NOT_FOUND_MARK = re.compile(
    r"^\W*(not\s+(found|stated)\b|the\s+(documents|sources|sentences)\s+do\s+not\s+(say|contain|answer|state))",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Brief:
    """What the model is given, and what its answer is checked and cited against.

    `quotable` are the evidence sentences it reads, best first, each with the
    number of the source it is from; `best` is the best of them.
    """

    messages: list[dict[str, str]]
    max_tokens: int
    sources: tuple[Citation, ...]
    quotable: tuple[tuple[str, int], ...]
    best: evidence.Sentence


def citations_for(hits: Sequence[Hit]) -> list[Citation]:
    """Number hits 1..n as the user will see them."""
    return [
        Citation(
            i, h.chunk.source, h.chunk.path, h.chunk.page, round(h.score, 4),
            h.chunk.text, h.chunk.heading, h.chunk.id, h.chunk.doc_sha256, h.chunk.ocr,
        )
        for i, h in enumerate(hits, 1)
    ]


class Answerer:
    """Rewrite a follow-up, retrieve, pick the evidence, judge, stream, quote, check."""

    def __init__(self, retriever: Retriever, generator: Generator, max_tokens: int = Config.max_tokens,
                 embedder: Embedder | None = None, evidence_tokens: int = Config.evidence_tokens,
                 evidence_sentences: int = Config.evidence_sentences, min_confidence: float | None = None):
        self.retriever, self.generator, self.max_tokens = retriever, generator, max_tokens
        self.embedder = embedder or retriever.embedder
        self.evidence_tokens, self.evidence_sentences = evidence_tokens, evidence_sentences
        self.min_confidence = min_confidence  # None: the model's calibrated floor

    def standalone(self, question: str, history: Sequence[Answer],
                   cancel: threading.Event | None = None) -> tuple[str, bool]:
        """The question as retrieval must see it, and whether the model rewrote it.

        A rewrite is kept only if it is one question built from the words of
        the conversation: a small model often answers instead, or borrows
        names from the prompt's examples.  Otherwise retrieval searches with
        the follow-up and the question before it.
        """
        if not history:
            return question, False
        gen = self.generator
        msgs = prompt.rewrite_messages(question, history, gen.count_tokens, gen.context_window)
        if msgs is None:
            return question, False
        stream = gen.stream(msgs, prompt.REWRITE_TOKENS, cancel)
        try:
            text = "".join(stream).strip().strip('"').strip()
        finally:
            getattr(stream, "close", lambda: None)()
        text = re.sub(r"^(standalone|rewritten)(\s+question)?:\s*", "", text, flags=re.IGNORECASE)
        said = " ".join([question] + [f"{t.question} {t.text}" for t in history])
        new = grounding.content_words(text) - grounding.content_words(said)
        if text.endswith("?") and "\n" not in text and len(new) <= 1:
            return text, True
        return f"{question} {history[-1].question}", False

    def ask(
        self,
        question: str,
        walls: Walls,
        on_token: TokenFn | None = None,
        cancel: threading.Event | None = None,
        history: Sequence[Answer] = (),
    ) -> Answer:
        """Answer `question` from what `walls` let the reader see, passing each piece
        of text to `on_token` as it comes.

        `history` is the conversation so far (oldest first): it decides what
        a follow-up means and is shown to the model as far as the window allows.
        """
        on_token = on_token or (lambda _t: None)
        started = time.perf_counter()
        search, rewritten = self.standalone(question, history, cancel)
        found = self.retriever.search(search, walls)
        if not found.relevant:
            on_token(NOT_FOUND)
            return Answer(question, NOT_FOUND, False,
                          sources=tuple(citations_for(found.nearest[:self.retriever.top_k])),
                          timings=Timings((time.perf_counter() - started) * 1000), reason=NOTHING_RELEVANT,
                          standalone=search)
        # Unrewritten, the follow-up itself is asked: the history shown with it gives its sense.
        brief = self.brief(search if rewritten else question, found, history)
        retrieval_ms = (time.perf_counter() - started) * 1000
        gen = self.generator
        started = time.perf_counter()
        refusal = gen.opening_probability(brief.messages, [prompt.REFUSAL], cancel)
        judged = confidence.judge(Confidence(round(refusal, 6), round(brief.best.similarity, 4),
                                             round(brief.best.terms, 4)),
                                  getattr(gen, "name", ""), self.min_confidence)
        done = Answer(question, NOT_FOUND, False, sources=brief.sources, standalone=search, confidence=judged)
        if cancel is not None and cancel.is_set():
            return replace(done, text="", cancelled=True,
                           timings=self._timings(retrieval_ms, started, None, time.perf_counter()))
        if judged.value is not None and judged.floor is not None and judged.value < judged.floor:
            on_token(NOT_FOUND)
            return replace(done, reason=UNCERTAIN,
                           timings=self._timings(retrieval_ms, started, None, time.perf_counter()))
        # Past a floor, whether to answer was decided by it (the model's doubt included): the
        # model now answers, and the grounding check judges what it says.  A model with no
        # calibration has no value to hold to a floor: its own "Not stated." decides.
        decided = judged.value is not None and judged.floor is not None
        avoid = (prompt.REFUSAL,) if decided else ()
        first, parts = None, []
        stream = gen.stream(brief.messages, brief.max_tokens, cancel, stop=("\n",), avoid=avoid)
        try:
            for piece in stream:
                if cancel is not None and cancel.is_set():
                    break
                first = first or time.perf_counter()
                piece = printable(piece)  # the model can emit an escape sequence like any other byte
                parts.append(piece)
                on_token(piece)
        finally:
            getattr(stream, "close", lambda: None)()
        # Set before the end, or while the prompt was read (the model then stops at once).
        cancelled = cancel is not None and cancel.is_set()
        answer = replace(done, text="".join(parts).strip(), found=True, cancelled=cancelled,
                         timings=self._timings(retrieval_ms, started, first, time.perf_counter()))
        return _finish(answer, brief.quotable, search)

    def brief(self, question: str, found: Retrieval, history: Sequence[Answer] = ()) -> Brief:
        """What the model is given for `question`: the best evidence sentences of what was
        found, fitted to its window with the conversation, and the sources to list."""
        gen = self.generator
        gathered = evidence.gather(found.focus, found.vector, found.nearest, self.embedder)
        shown = gathered.best(gen.count_tokens, self.evidence_tokens, self.evidence_sentences)
        # The sources listed: the best passages, and every passage a shown sentence is from.
        listed = sorted(set(range(min(self.retriever.top_k, len(gathered.passages)))) | {s.passage for s in shown})
        sources = citations_for([gathered.passages[i] for i in listed])
        number = {i: c.n for i, c in zip(listed, sources)}
        fitted = prompt.fit(question, [unnumbered(s.text) for s in shown], history,
                            gen.count_tokens, gen.context_window, self.max_tokens)
        shown = shown[:fitted.shown]
        return Brief(fitted.messages, fitted.max_tokens, tuple(sources),
                     tuple((s.text, number[s.passage]) for s in shown), max(shown, key=lambda s: s.score))

    def _timings(self, retrieval_ms: float, started: float, first, ended: float) -> Timings:
        gen = self.generator
        n_out = getattr(gen, "last_completion_tokens", 0) or 0
        return Timings(
            retrieval_ms=retrieval_ms,
            first_token_ms=(first - started) * 1000 if first else None,
            total_ms=(ended - started) * 1000,
            prompt_tokens=getattr(gen, "last_prompt_tokens", 0) or 0,
            completion_tokens=n_out,
            tokens_per_s=(n_out - 1) / (ended - first) if first and n_out > 1 and ended > first else None,
        )


def _finish(answer: Answer, quotable: Sequence[tuple[str, int]], question: str) -> Answer:
    """The draft checked against the evidence sentences: quoted and cited, or not found."""
    text = answer.text
    if answer.cancelled:
        return answer
    if not text or NOT_FOUND_MARK.match(grounding.CITE.sub("", text)):
        return replace(answer, text=NOT_FOUND, found=False, reason=SOURCES_SILENT)
    claims, quotes = grounding.check(text, quotable, question)
    if not any(c.supported and not c.restates for c in claims) and not all(c.restates for c in claims):
        # Nothing it says is in the evidence: that is "not found", with the draft shown flagged.
        return replace(answer, text=NOT_FOUND, found=False, claims=claims, reason=UNSUPPORTED)
    by_number = {c.n: c for c in answer.sources}
    cited = tuple(by_number[n] for n in dict.fromkeys(q.n for q in quotes))
    return replace(answer, claims=claims, quotes=quotes, citations=cited)
