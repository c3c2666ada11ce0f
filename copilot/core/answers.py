"""An answer and what it is made of: its quotes, the claims it makes and their sources, how
sure the copilot was (`Confidence`), how long each step took, and why it says "not found"
when it does (the reasons below).  Saved with conversations and sent by the server, so each
record reads back from its dict.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from copilot.core.errors import BadQuestion
from copilot.core.records import Citation


NOTHING_RELEVANT = "nothing relevant"  # retrieval found no passage worth answering from
SOURCES_SILENT = "sources silent"  # the model read the evidence and found no answer
UNCERTAIN = "uncertain"  # the model would have answered, but too unsure of it to be trusted
UNSUPPORTED = "unsupported"  # the model answered, but no sentence of the evidence bears it out


@dataclass(frozen=True)
class Quote:
    """The sentence an answer rests on, word for word, and the citation (by `n`) it is from."""

    text: str
    n: int


@dataclass(frozen=True)
class Confidence:
    """How sure the copilot was of an answer, and what it judged by (see `copilot.answer.confidence`).

    Read before the model writes: `refusal`, its own probability that its
    reply says the evidence does not answer; `similarity` and `terms`, how
    close the best evidence sentence is to the question (MiniLM cosine;
    weight of the question's words it holds).  Read from the draft once it is
    written: `answer_logprob` and `least_logprob`, the mean and the lowest log
    probability of its tokens; `support`, how much of it the grounding check
    found in its quote; `quote_rank`, where the quoted sentence ranked among
    those read (0: the best); `quote_similarity` and `quote_coverage`, how
    close that sentence is to the question and the share of the question's
    words (by rarity) it holds; `coverage`, the most any sentence read holds;
    `verified`, the model's probability that the quote states the answer.
    `value` is the calibrated probability that the answer is right (None for
    a model with no calibration), `floor` the value below which it is not
    shown.  With `decision = "choice"`, `refusal` is the model's probability
    of "none of the sentences", `value` one minus it, and `floor` is None
    unless `min_confidence` sets one.
    """

    refusal: float
    similarity: float
    terms: float
    value: float | None = None
    floor: float | None = None
    answer_logprob: float | None = None
    least_logprob: float | None = None
    support: float | None = None
    quote_rank: int | None = None
    quote_similarity: float | None = None
    quote_coverage: float | None = None
    coverage: float | None = None
    verified: float | None = None


@dataclass(frozen=True)
class Claim:
    """One sentence of an answer, checked against the evidence the model read.

    `cites` is the citation of the evidence sentence that bears it out (its
    quote; empty when none does); `support` is the share of the sentence's
    content words that evidence holds.  `restates` marks a sentence that
    adds nothing to the question (nothing to check, and nothing answered).
    """

    text: str
    cites: tuple[int, ...]
    support: float
    supported: bool
    restates: bool = False


@dataclass(frozen=True)
class Timings:
    """Where an answer's time went, in milliseconds and tokens per second."""

    retrieval_ms: float
    first_token_ms: float | None = None
    total_ms: float | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    tokens_per_s: float | None = None


@dataclass(frozen=True)
class Answer:
    """A finished answer: its text, the sources it rests on, and timings.

    `found` is False when the documents do not hold the answer: nothing was
    relevant enough to ask the model (`reason` NOTHING_RELEVANT), the model
    said the passages do not say (SOURCES_SILENT), or no sentence of what it
    wrote is borne out by them (UNSUPPORTED: its draft stays in `claims`,
    flagged); the text then says so and `sources` are the nearest passages.
    `claims` are the answer's sentences as the grounding check judged them;
    `quotes` the sentences of the documents the answer rests on, verbatim,
    each with its citation (the quote is what a lawyer checks first).
    """

    question: str
    text: str
    found: bool
    citations: tuple[Citation, ...] = ()
    sources: tuple[Citation, ...] = ()
    timings: Timings = field(default_factory=lambda: Timings(0.0))
    cancelled: bool = False
    claims: tuple[Claim, ...] = ()
    reason: str = ""
    standalone: str = ""  # the question retrieval searched with (a follow-up, rewritten)
    quotes: tuple[Quote, ...] = ()
    confidence: Confidence | None = None
    evidence: tuple[Quote, ...] = ()  # the sentences the model read, best first, each with its source
    draft: str = ""  # what the model wrote, shown or not (a refused draft stays on the record)

    def quoted(self) -> list[tuple[Quote, Citation]]:
        """Each quote with the citation it is from."""
        by_number = {c.n: c for c in (*self.citations, *self.sources)}
        return [(q, by_number[q.n]) for q in self.quotes if q.n in by_number]

    @property
    def unsupported(self) -> tuple[Claim, ...]:
        """Sentences no source bears out: the user must be told."""
        return tuple(c for c in self.claims if not c.supported)

    @property
    def shown_sources(self) -> tuple[Citation, ...]:
        """What to list under the answer: its citations, else every passage it was given."""
        return self.citations or self.sources

    @property
    def sources_heading(self) -> str:
        """The heading of that list, saying plainly what the passages are."""
        if not self.found:
            if self.reason in (SOURCES_SILENT, UNSUPPORTED):
                return "Nearest passages (they do not answer the question)"
            if self.reason == UNCERTAIN:
                return "Nearest passages (none answers the question clearly enough)"
            return "Nearest passages (not relevant enough to answer from)"
        if self.citations:
            return "Sources"
        return "Passages consulted (the answer cites none: check it against them)"

    def to_dict(self) -> dict:
        """A JSON-ready form (used by `copilot ask --json`)."""
        from dataclasses import asdict

        return {
            "question": self.question,
            "answer": self.text,
            "found": self.found,
            "cancelled": self.cancelled,
            "citations": [asdict(c) for c in self.citations],
            "sources": [asdict(c) for c in self.sources],
            "timings": asdict(self.timings),
            "claims": [asdict(c) for c in self.claims],
            "reason": self.reason,
            "standalone": self.standalone,
            "quotes": [asdict(q) for q in self.quotes],
            "confidence": asdict(self.confidence) if self.confidence else None,
            "evidence": [asdict(q) for q in self.evidence],
            "draft": self.draft,
        }

    @classmethod
    def from_dict(cls, data: dict) -> Answer:
        """The inverse of `to_dict`: a saved answer back (conversations are stored so).

        Keys a newer version added and an older one did not write take the
        dataclass defaults, and unknown keys are ignored, so old saves load.
        """
        cites = [_record(Citation, c) for c in data.get("citations", ())]
        sources = [_record(Citation, c) for c in data.get("sources", ())]
        claims = [
            _record(Claim, {**c, "cites": tuple(c.get("cites", ()))})
            for c in data.get("claims", ())
        ]
        timings = data.get("timings")
        confidence = data.get("confidence")
        return cls(
            question=data["question"],
            text=data["answer"],
            found=data["found"],
            citations=tuple(cites),
            sources=tuple(sources),
            timings=_record(Timings, {"retrieval_ms": 0.0, **timings}) if timings else Timings(0.0),
            cancelled=data.get("cancelled", False),
            claims=tuple(claims),
            reason=data.get("reason", ""),
            standalone=data.get("standalone", ""),
            quotes=tuple(_record(Quote, q) for q in data.get("quotes", ())),
            confidence=_record(Confidence, confidence) if confidence else None,
            evidence=tuple(_record(Quote, q) for q in data.get("evidence", ())),
            draft=data.get("draft", ""),
        )


ACCEPTED = "accepted"  # a reviewer signs an answer off as it stands
CORRECTED = "corrected"  # a reviewer replaces it (the original stays beside the correction)
VERDICTS = (ACCEPTED, CORRECTED)


@dataclass(frozen=True)
class SignOff:
    """A reviewer's verdict on the answer one document gave in a review (`copilot review`).

    `document` is the path the answer was drawn from alone; a correction
    keeps `answer` (what the copilot said) beside `correction` (what the
    reviewer says), and both go to the audit trail with the reader.
    """

    document: str
    answer: Answer
    verdict: str
    correction: str = ""

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise BadQuestion(f"a verdict is {' or '.join(VERDICTS)}, not {self.verdict!r}")
        if self.verdict == CORRECTED and not self.correction.strip():
            raise BadQuestion("a correction needs the corrected answer")
        if self.verdict == ACCEPTED and self.correction:
            raise BadQuestion("an accepted answer stands as it is: it has no correction")

    def to_dict(self) -> dict:
        return {"document": self.document, "answer": self.answer.to_dict(), "verdict": self.verdict,
                "correction": self.correction}

    @classmethod
    def from_dict(cls, data: dict) -> SignOff:
        return cls(str(data["document"]), Answer.from_dict(data["answer"]), str(data["verdict"]),
                   str(data.get("correction") or ""))


def _record(cls, data: dict):
    """`cls(**data)`, keeping only the keys that are fields of `cls`."""
    from dataclasses import fields

    names = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in data.items() if k in names})
