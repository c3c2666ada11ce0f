"""Answering: a question (and its conversation) in, a short answer, its quote and citation out.

The path gives the model the least to do and checks the rest mechanically:

1. Retrieval finds passages (`copilot.answer.retrieval`); when none is relevant
   the model is not asked at all: a model left without sources answers from
   its own knowledge, which users of a grounded copilot must never get.
2. The passages' sentences are scored against the question and only the
   best few are shown to the model (`copilot.answer.evidence`, `copilot.answer.prompt`).
3. The model drafts the answer in a few words copied from the sentences.
   Before it writes, its own probability of replying "Not stated." is read
   off its first-token distribution; a calibrated model is then not let
   reply so (that doubt is weighed with the rest), and its draft is held:
   nothing is shown until it is judged.
4. The sentence that bears the draft out is found by its words (the
   grounding check, `copilot.answer.grounding`): it is the quote, verbatim by
   construction, and its passage's file and page the citation.  A draft
   no sentence bears out is "not found", the draft kept flagged.
5. The draft is judged by what can be read off it and its quote (how sure
   the model was of its tokens, where the quoted sentence ranked, how close
   it is to the question; and, where a calibration weighs it, the model's
   own reading of the quote), calibrated per model (`copilot.answer.confidence`);
   below the floor the answer is "not found".  A model with no calibration
   has nothing to judge by but its own "Not stated.", so its reply streams
   as it is written.

With `decision = "choice"` (a setting; the floor above stays the default,
see bench/RESULTS.md) steps 3 and 5 are the model's own choice instead:
asked which numbered sentence answers, "0" for none, it is "not found"
when none is at least as likely as its likeliest sentence, with nothing
fitted (see `Answerer._by_choice`).

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

from copilot.answer import confidence, evidence, grounding, prompt
from copilot.answer.confidence import SIGNALS
from copilot.answer.retrieval import Retrieval, Retriever
from copilot.core.answers import (
    NOTHING_RELEVANT, SOURCES_SILENT, UNCERTAIN, UNSUPPORTED, Answer, Claim, Confidence, Quote, Timings,
)
from copilot.core.config import Config
from copilot.core.protocols import Completion, Generator, TokenFn
from copilot.core.records import Citation, Hit
from copilot.core.sanitize import printable
from copilot.core.sentences import unnumbered
from copilot.core.walls import Walls

NOT_FOUND = "Not found in the indexed documents."
CHOICE, FLOOR = "choice", "floor"  # the decisions: the model's choice of sentence; the fitted floor
MAX_CHOICES = 9  # sentences the model chooses among: each number one token
NOT_FOUND_MARK = re.compile(
    r"^\W*((not|none)\s+(found|stated|specified|mentioned|given)\b"
    r"|the\s+(documents|sources|sentences)\s+do\s+not\s+(say|contain|answer|state))"
    # "The renewal term is not stated." (the model names what is missing, then says so)
    r"|^.{0,120}\b(is|are)\s+not\s+(stated|specified|mentioned|given)(\s+in\s+the\s+\w+)?\W*$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Brief:
    """What the model is given, and what its answer is checked and cited against.

    `read` are the evidence sentences it reads, best first, each with the
    number of the source it is from; `best` is the best of them.
    """

    messages: list[dict[str, str]]
    max_tokens: int
    sources: tuple[Citation, ...]
    read: tuple[tuple[evidence.Sentence, int], ...]
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


@dataclass(frozen=True)
class AnswerSettings:
    """How much an answer may take: `max_tokens` written; evidence read up to `evidence_tokens`
    in `evidence_sentences` sentences, a long one shown as its `evidence_window` tokens around
    the question's words; and the confidence floor (None: the model's calibrated one; 0: every
    borne-out draft is shown, with every signal weighed, as `copilot eval` calibrates from)."""

    max_tokens: int = Config.max_tokens
    evidence_tokens: int = Config.evidence_tokens
    evidence_sentences: int = Config.evidence_sentences
    evidence_window: int = Config.evidence_window
    min_confidence: float | None = None
    decision: str = Config.decision

    @classmethod
    def of(cls, config: Config) -> AnswerSettings:
        return cls(config.max_tokens, config.evidence_tokens, config.evidence_sentences, config.evidence_window,
                   None if config.min_confidence < 0 else config.min_confidence, config.decision)


class Answerer:
    """Rewrite a follow-up, retrieve, pick the evidence, judge, stream, quote, check."""

    def __init__(self, retriever: Retriever, generator: Generator, settings: AnswerSettings = AnswerSettings()):
        self.retriever, self.generator, self.settings = retriever, generator, settings

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

    def answer(
        self,
        question: str,
        walls: Walls,
        on_token: TokenFn | None = None,
        cancel: threading.Event | None = None,
        history: Sequence[Answer] = (),
        document: str | None = None,
    ) -> Answer:
        """Answer `question` from what `walls` let the reader see (of `document` alone, if
        given); `on_token` gets the answer once it is decided (a short answer is drafted whole,
        then judged).

        `history` is the conversation so far (oldest first): it decides what
        a follow-up means and is shown to the model as far as the window allows.
        """
        on_token = on_token or (lambda _t: None)
        started = time.perf_counter()
        search, rewritten = self.standalone(question, history, cancel)
        found = self.retriever.search(search, walls, document)
        if not found.relevant:
            on_token(NOT_FOUND)
            return Answer(question, NOT_FOUND, False,
                          sources=tuple(citations_for(found.nearest[:self.retriever.settings.top_k])),
                          timings=Timings((time.perf_counter() - started) * 1000), reason=NOTHING_RELEVANT,
                          standalone=search)
        # Unrewritten, the follow-up itself is asked: the history shown with it gives its sense.
        brief = self.brief(search if rewritten else question, found, history)
        retrieval_ms = (time.perf_counter() - started) * 1000
        gen = self.generator
        started = time.perf_counter()
        done = Answer(question, NOT_FOUND, False, sources=brief.sources, standalone=search,
                      evidence=tuple(Quote(s.text, n) for s, n in brief.read))

        streamed: list[float] = []  # when the first piece of a streamed reply was shown

        def timed(answer: Answer, completion: Completion | None = None, shown: float | None = None) -> Answer:
            """`answer` with its timings; `shown`: when the reader saw a held answer (None: never);
            a streamed reply was seen from its first piece."""
            shown = streamed[0] if streamed else shown
            return replace(answer, timings=self._timings(retrieval_ms, started, shown, time.perf_counter(),
                                                         completion))

        if self.settings.decision == CHOICE:
            return self._by_choice(search if rewritten else question, search, found, brief, done, on_token,
                                   cancel, timed)
        calibration = confidence.calibration_for(gen.name)
        calibrated = calibration is not None
        # A calibrated model always drafts, and its draft is held until judged (its doubt is
        # weighed with the rest once the draft is in).  One without calibration decides by
        # replying "Not stated." itself: nothing is left to judge, so its reply streams.
        avoid = (prompt.REFUSAL,) if calibrated else ()

        def stream(piece: str) -> None:
            streamed[:1] = streamed[:1] or [time.perf_counter()]
            on_token(printable(piece))

        # Every signal is measured when every draft is shown (min_confidence 0: the runs
        # calibrations are fitted on); otherwise those that cost something only if weighed.
        weighed = (set(SIGNALS) if self.settings.min_confidence == 0.0
                   else set(calibration.features if calibrated else ()))
        draft = None
        if not (cancel is not None and cancel.is_set()):
            # The model's own leaning to refuse is read off the same evaluation of the prompt.
            draft = gen.complete(brief.messages, brief.max_tokens, cancel, stop=("\n",), avoid=avoid,
                                 on_piece=None if calibrated else stream,
                                 logprobs=bool(weighed & {"answer logprob", "least logprob"}),
                                 opening=(prompt.REFUSAL,))
        say = (lambda _t: None) if streamed else on_token  # a streamed reply has been said
        if cancel is not None and cancel.is_set():
            partial = printable(draft.text).strip() if draft else ""
            # What was streamed was read; a held draft was never shown.
            return timed(replace(done, text=partial if streamed else "", cancelled=True, draft=partial), draft)
        text = printable(draft.text).strip()  # the model can emit an escape sequence like any other byte
        if not text or NOT_FOUND_MARK.match(grounding.CITE.sub("", text)):
            say(NOT_FOUND)
            return timed(replace(done, reason=SOURCES_SILENT, draft=text), draft)
        claims, quotes = grounding.check(text, [(s.text, n) for s, n in brief.read], search, found.focus)
        if not _borne_out(claims):
            # Nothing it says is in the evidence: that is "not found", with the draft shown flagged.
            say(NOT_FOUND)
            return timed(replace(done, claims=claims, reason=UNSUPPORTED, draft=text), draft)
        signals = self._signals(brief, draft.opening or 0.0, draft, claims, quotes, search, cancel,
                                verify="verified logit" in weighed)
        judged = confidence.judge(signals, gen.name, self.settings.min_confidence)
        if cancel is not None and cancel.is_set():
            return timed(replace(done, text=text if streamed else "", cancelled=True, confidence=judged,
                                 draft=text), draft)
        if not confidence.shows(judged.value, judged.floor):
            say(NOT_FOUND)
            return timed(replace(done, reason=UNCERTAIN, confidence=judged, draft=text), draft)
        say(text)
        return timed(_found(done, brief, text, claims, quotes, judged, text), draft, shown=time.perf_counter())

    def _by_choice(self, asked: str, search: str, found: Retrieval, brief: Brief, done: Answer,
                   say: TokenFn, cancel: threading.Event | None, timed) -> Answer:
        """`decision = "choice"`: the model decides which numbered sentence answers, or none.

        Its first-token distribution over "0" (none) and 1..n is read in one
        evaluation; "none" at least as likely as the likeliest sentence is "not
        found", with no floor fitted to any question kind.  Otherwise the draft
        is written and grounded as always; a draft no sentence bears out gives
        way to the chosen sentence itself, which is then the answer and its
        quote, verbatim.
        """
        gen = self.generator
        read = brief.read[:MAX_CHOICES]
        openings = [prompt.NONE] + [str(k) for k in range(1, len(read) + 1)]
        chances = gen.opening_probabilities(prompt.choice_messages(asked, [s.text for s, _ in read]), openings,
                                            cancel)
        if cancel is not None and cancel.is_set():
            return timed(replace(done, text="", cancelled=True))
        mass = sum(chances) or 1.0
        best = max(range(1, len(chances)), key=lambda k: chances[k], default=0)
        none = chances[0] / mass
        judged = Confidence(round(none, 6), round(brief.best.similarity, 4), round(brief.best.terms, 4),
                            value=round(1 - none, 4), floor=self.settings.min_confidence)
        if not best or not (chances[best] > chances[0] if judged.floor is None else judged.value >= judged.floor):
            say(NOT_FOUND)
            return timed(replace(done, reason=SOURCES_SILENT, confidence=judged))
        draft = gen.complete(brief.messages, brief.max_tokens, cancel, stop=("\n",), avoid=(prompt.REFUSAL,),
                             logprobs=False)
        text = drafted = printable(draft.text).strip()
        if cancel is not None and cancel.is_set():
            return timed(replace(done, text="", cancelled=True, confidence=judged, draft=drafted), draft)
        claims, quotes = (), ()
        if text and not NOT_FOUND_MARK.match(grounding.CITE.sub("", text)):
            claims, quotes = grounding.check(text, [(s.text, n) for s, n in brief.read], search, found.focus)
        if not (claims and _borne_out(claims)):  # the sentence the model chose says it, word for word
            chosen, n = read[best - 1]
            text = chosen.text
            claims, quotes = grounding.check(text, [(chosen.text, n)], search, found.focus)
        say(text)
        return timed(_found(done, brief, text, claims, quotes, judged, drafted), draft, shown=time.perf_counter())

    def _signals(self, brief: Brief, refusal: float, draft: Completion, claims: Sequence[Claim],
                 quotes: Sequence[Quote], question: str, cancel: threading.Event | None,
                 verify: bool = True) -> Confidence:
        """What the decision to show the draft weighs (see `copilot.answer.confidence`); the model's
        reading of the quote only if `verify`."""
        read = [s for s, _ in brief.read]
        checked = [c for c in claims if c.supported] or list(claims)
        rank = next((i for i, s in enumerate(read) for q in quotes if s.text == q.text), len(read))
        quoted = read[rank] if rank < len(read) else brief.best
        verified = self.verify(brief, draft.text, quoted.text, question, cancel) if verify else None
        logprobs = draft.logprobs  # none from a model server that does not report them
        return Confidence(
            round(refusal, 6), round(brief.best.similarity, 4), round(brief.best.terms, 4),
            answer_logprob=round(sum(logprobs) / len(logprobs), 4) if logprobs else None,
            least_logprob=round(min(logprobs), 4) if logprobs else None,
            support=round(min(c.support for c in checked), 4), quote_rank=rank,
            quote_similarity=round(quoted.similarity, 4), quote_coverage=round(quoted.coverage, 4),
            coverage=round(max(s.coverage for s in read), 4),
            verified=None if verified is None else round(verified, 6),
        )

    def verify(self, brief: Brief, answer: str, quote: str, question: str,
               cancel: threading.Event | None) -> float:
        """The model's probability that `quote` itself states `answer` to the question.

        Asked as the next turn of the same conversation, so the model reads
        only the few tokens of the question and the quote: the rest is in its
        cache from the answer it just wrote.
        """
        messages = brief.messages + [{"role": "assistant", "content": answer},
                                     {"role": "user", "content": prompt.verify_message(quote)}]
        return self.generator.opening_probability(messages, [prompt.YES], cancel)

    def brief(self, question: str, found: Retrieval, history: Sequence[Answer] = ()) -> Brief:
        """What the model is given for `question`: the best evidence sentences of what was
        found, fitted to its window with the conversation, and the sources to list."""
        gen = self.generator
        gathered = evidence.gather(found.focus, found.vector, found.nearest, self.retriever.embedder)
        shown = gathered.best(gen.count_tokens, self.settings.evidence_tokens, self.settings.evidence_sentences,
                              self.settings.evidence_window)
        # The sources listed: the best passages, and every passage a shown sentence is from.
        top = min(self.retriever.settings.top_k, len(gathered.passages))
        listed = sorted(set(range(top)) | {s.passage for s in shown})
        sources = citations_for([gathered.passages[i] for i in listed])
        number = {i: c.n for i, c in zip(listed, sources)}
        fitted = prompt.fit(question, [unnumbered(s.text) for s in shown], history,
                            gen.count_tokens, gen.context_window, self.settings.max_tokens)
        shown = shown[:fitted.shown]
        return Brief(fitted.messages, fitted.max_tokens, tuple(sources),
                     tuple((s, number[s.passage]) for s in shown), max(shown, key=lambda s: s.score))

    def _timings(self, retrieval_ms: float, started: float, shown: float | None, ended: float,
                 completion: Completion | None) -> Timings:
        """Where the time went; `shown`: when the answer reached the reader (None: it did not)."""
        n_out = completion.completion_tokens if completion else 0
        return Timings(
            retrieval_ms=retrieval_ms,
            first_token_ms=(shown - started) * 1000 if shown else None,
            total_ms=(ended - started) * 1000,
            prompt_tokens=completion.prompt_tokens if completion else 0,
            completion_tokens=n_out,
            tokens_per_s=completion.tokens_per_s if completion else None,
        )


def _found(done: Answer, brief: Brief, text: str, claims: Sequence[Claim], quotes: Sequence[Quote],
           judged: Confidence, draft: str) -> Answer:
    """`done` as the answer shown: `text`, its claims and quotes, cited by the sources they are from."""
    by_number = {c.n: c for c in brief.sources}
    cited = tuple(by_number[n] for n in dict.fromkeys(q.n for q in quotes))
    return replace(done, text=text, found=True, claims=tuple(claims), quotes=tuple(quotes), citations=cited,
                   confidence=judged, draft=draft)


def _borne_out(claims: Sequence[Claim]) -> bool:
    """Whether the check bears the answer out: a sentence that states something is in the
    evidence, or, where every sentence only answers the question ("Yes."), one of them is."""
    stating = [c for c in claims if not c.restates]
    return any(c.supported for c in (stating or claims))
