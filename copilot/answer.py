"""Answering: a question (and its conversation) in, a streamed, cited, checked answer out.

The model sees only the retrieved passages, numbered, and is told to cite
them as [n] and to say "The documents do not say." when they do not hold
the answer.  (Told to reply "NOT FOUND", the 0.5B default model replied it
even to a one-sentence source holding the answer.)  When retrieval finds
nothing relevant the model is not asked at all: a model left without
sources answers from its own knowledge, which is what users of a grounded
copilot must never get.  Every answer's sentences then go through the
mechanical grounding check (`copilot.grounding`); an answer none of whose
sentences the passages bear out is reported as not found, its draft shown
flagged beneath.

A follow-up question ("and when does it expire?") is first rewritten by the
model into a standalone one, which is what retrieval searches with (see
`Answerer.standalone` for when a rewrite is not trusted).
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Sequence

from copilot import grounding, prompt
from copilot.retrieval import Retriever
from copilot.sanitize import printable
from copilot.types import (
    NOTHING_RELEVANT, SOURCES_SILENT, UNSUPPORTED, Answer, Citation, Generator, Hit, Timings,
)

NOT_FOUND = "Not found in the indexed documents."
NOT_FOUND_MARK = re.compile(
    r"^\W*(not\s+found\b|the\s+(documents|sources)\s+do\s+not\s+(say|contain|answer))", re.IGNORECASE
)
CITE = grounding.CITE

TokenFn = Callable[[str], None]


def citations_for(hits: Sequence[Hit]) -> list[Citation]:
    """Number hits 1..n as the model and the user will see them."""
    return [
        Citation(
            i, h.chunk.source, h.chunk.path, h.chunk.page, round(h.score, 4),
            h.chunk.text, h.chunk.heading, h.chunk.id, h.chunk.doc_sha256,
        )
        for i, h in enumerate(hits, 1)
    ]


class Answerer:
    """Rewrite a follow-up, retrieve, prompt within the window, stream, cite, check."""

    def __init__(self, retriever: Retriever, generator: Generator, max_tokens: int = 512):
        self.retriever, self.generator, self.max_tokens = retriever, generator, max_tokens

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
        on_token: TokenFn | None = None,
        cancel: threading.Event | None = None,
        history: Sequence[Answer] = (),
    ) -> Answer:
        """Answer `question`, passing each piece of text to `on_token` as it comes.

        `history` is the conversation so far (oldest first): it decides what
        a follow-up means and is shown to the model as far as the window allows.
        """
        on_token = on_token or (lambda _t: None)
        started = time.perf_counter()
        search, rewritten = self.standalone(question, history, cancel)
        found = self.retriever.search(search)
        retrieval_ms = (time.perf_counter() - started) * 1000
        if not found.relevant:
            on_token(NOT_FOUND)
            return Answer(question, NOT_FOUND, False, sources=tuple(citations_for(found.nearest)),
                          timings=Timings(retrieval_ms), reason=NOTHING_RELEVANT, standalone=search)
        gen = self.generator
        # Unrewritten, the follow-up itself is asked: the history shown with it gives its sense.
        fitted = prompt.fit(search if rewritten else question, citations_for(found.relevant), history,
                            gen.count_tokens, gen.context_window, self.max_tokens)
        started = time.perf_counter()
        first, parts = None, []
        stream = gen.stream(fitted.messages, fitted.max_tokens, cancel)
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
        ended = time.perf_counter()
        timings = self._timings(retrieval_ms, started, first, ended)
        return self._finish(question, search, "".join(parts).strip(), fitted.sources, timings, cancelled)

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

    def _finish(self, question, search, text, sources, timings, cancelled) -> Answer:
        if not cancelled and (not text or NOT_FOUND_MARK.match(CITE.sub("", text))):
            return Answer(question, NOT_FOUND, False, sources=tuple(sources), timings=timings,
                          reason=SOURCES_SILENT, standalone=search)
        claims = grounding.check(text, sources, search)
        if not cancelled and not any(c.supported and not c.restates for c in claims):
            # Nothing it says is in the passages: that is "not found", with the draft shown flagged.
            return Answer(question, NOT_FOUND, False, sources=tuple(sources), timings=timings,
                          claims=claims, reason=UNSUPPORTED, standalone=search)
        by_number = {c.n: c for c in sources}
        cited = dict.fromkeys(n for claim in claims for n in claim.cites)
        return Answer(question, text, True, tuple(by_number[n] for n in cited), tuple(sources),
                      timings, cancelled, claims, standalone=search)
