"""The small records and protocols the pipeline stages meet at.

Loaders yield `Page`s, the chunker turns them into `Chunk`s, the store returns
`Hit`s for a question, and the answerer produces an `Answer`.  Stages only see
these frozen dataclasses and the two protocols below, so any stage can be
replaced by a fake in tests.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from threading import Event
from typing import Protocol, runtime_checkable

from copilot.core.walls import DEFAULT_COLLECTION


@dataclass(frozen=True)
class Page:
    """A run of a document's text with one place to cite.

    `number` is the printed page (PDF) or 0 for formats without pages (Word,
    HTML, e-mail, Markdown, text); `heading` is the path of headings above the
    text ("Chapter 3 > Leave > Sick leave"), empty where there are none.  A
    chunk never spans two `Page`s, so each chunk has one page and one heading.
    `ocr` marks text read from a scanned image rather than a text layer.
    """

    number: int
    text: str
    heading: str = ""
    ocr: bool = False


@dataclass(frozen=True)
class Document:
    """What a loader makes of one file.

    `title` and `meta` (author, date, e-mail headers...) describe the whole
    file; `problems` says what could not be read in a file that was otherwise
    read ("pages 3, 4: corrupt content stream"), so the user is told.
    """

    pages: tuple[Page, ...]
    title: str = ""
    meta: dict[str, str] = field(default_factory=dict)
    problems: tuple[str, ...] = ()


def place(page: int, heading: str) -> str:
    """Where a passage is, as users read it: "page 4", "Leave > Sick leave"."""
    parts = [f"page {page}"] if page else []
    if heading:
        parts.append(heading)
    return ", ".join(parts)


@dataclass(frozen=True)
class Chunk:
    """A piece of one page, small enough for the embedder's window."""

    path: str  # absolute path of the source file
    source: str  # the name shown to users: path relative to the indexed folder
    page: int
    number: int  # position of the chunk within its document, from 0
    text: str
    doc_sha256: str
    heading: str = ""
    collection: str = DEFAULT_COLLECTION  # who may read it: see copilot.access
    ocr: bool = False  # read from a scanned image (OCR), not a text layer: cite it as such

    @property
    def id(self) -> str:
        """A stable id: one file, one version, one position.

        The path is part of it: two copies of one document in different
        folders are two sources, and deleting one must not touch the other.
        """
        from hashlib import sha256

        where = sha256(self.path.encode()).hexdigest()[:12]
        return f"{where}-{self.doc_sha256[:16]}:{self.number}"

    @property
    def embed_text(self) -> str:
        """What the embedder reads: the heading path gives a short passage its context."""
        return f"{self.heading}\n{self.text}" if self.heading else self.text


@dataclass(frozen=True)
class Hit:
    """A chunk retrieved for a question, with its similarity (higher is closer)."""

    chunk: Chunk
    score: float


@dataclass(frozen=True)
class Citation:
    """A numbered source (a passage) as the user sees it listed and cited."""

    n: int
    source: str
    path: str
    page: int
    score: float
    text: str
    heading: str = ""
    chunk_id: str = ""  # which stored passage (for the audit trail)
    sha256: str = ""  # of the document version it came from
    ocr: bool = False  # the passage was read from a scan: its words are OCR's reading

    @property
    def place(self) -> str:
        """"page 4" and/or the heading path: where in the file the passage is."""
        return place(self.page, self.heading)

    @property
    def mark(self) -> str:
        """What follows the place of a passage read from a scan: its words are OCR's."""
        return " (OCR)" if self.ocr else ""

    def label(self) -> str:
        """`[n] file, page N`: the form users read citations in (`(OCR)` after a scan's)."""
        where = self.place
        return f"[{self.n}] {self.source}" + (f", {where}" if where else "") + self.mark


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
    """How sure the copilot was of an answer, and what it judged by (see `copilot.confidence`).

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
    shown.
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


def _record(cls, data: dict):
    """`cls(**data)`, keeping only the keys that are fields of `cls`."""
    from dataclasses import fields

    names = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in data.items() if k in names})


@dataclass(frozen=True)
class Completion:
    """A model's whole reply, held rather than streamed, with how sure it was of each token.

    `logprobs` is the natural log of the probability of each token written,
    as the model scored it; `cancelled` says the reply was cut short by the
    caller.
    """

    text: str
    logprobs: tuple[float, ...] = ()
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cancelled: bool = False
    tokens_per_s: float | None = None  # generation speed, from the first token to the last

    @classmethod
    def collect(cls, pieces: Iterable[tuple[str, Sequence[float]]], on_piece: TokenFn | None,
                counts: Callable[[], tuple[int, int]], cancel: Event | None) -> Completion:
        """The reply a generator writes as `pieces` (each its text and its tokens' log
        probabilities), every non-empty text passed to `on_piece` as it comes; `counts` gives
        (prompt, completion) tokens once the pieces are drained."""
        from time import perf_counter

        texts: list[str] = []
        logprobs: list[float] = []
        times: list[float] = []
        for text, lps in pieces:
            texts.append(text)
            logprobs.extend(lps)
            times.append(perf_counter())
            if on_piece is not None and text:
                on_piece(text)
        prompt, n = counts()
        took = times[-1] - times[0] if times else 0.0
        speed = (n - 1) / took if n > 1 and took > 0 else None
        return cls("".join(texts), tuple(logprobs), prompt, n, cancel is not None and cancel.is_set(), speed)


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into unit-length vectors."""

    def embed(self, texts: Sequence[str]) -> list[list[float]]: ...


@runtime_checkable
class Generator(Protocol):
    """Streams a chat completion, piece by piece, and counts tokens."""

    context_window: int

    def stream(
        self, messages: Sequence[dict[str, str]], max_tokens: int, cancel: Event | None = None,
        stop: Sequence[str] = (), avoid: Sequence[str] = (),
    ) -> Iterator[str]:
        """The reply, piece by piece, ending before any of `stop` and not beginning with
        any of `avoid`; once `cancel` is set it stops as soon as it can."""
        ...

    def complete(
        self, messages: Sequence[dict[str, str]], max_tokens: int, cancel: Event | None = None,
        stop: Sequence[str] = (), avoid: Sequence[str] = (), on_piece: TokenFn | None = None,
        logprobs: bool = True,
    ) -> Completion:
        """The whole reply, as `stream` would write it, with each token's log probability (if
        `logprobs`: a model server may take long over them); `on_piece` gets each piece of
        text as it is written."""
        ...

    def opening_probability(
        self, messages: Sequence[dict[str, str]], openings: Sequence[str], cancel: Event | None = None
    ) -> float:
        """The probability that the reply to `messages` begins with one of `openings`
        (read from the model's first-token distribution; the prompt it evaluates is
        reused by the `stream` of the same messages that follows)."""
        ...

    def count_tokens(self, text: str) -> int: ...


@dataclass(frozen=True)
class Entry:
    """One file's row."""

    path: str
    source: str
    size: int
    mtime_ns: int
    sha256: str
    status: str
    reason: str = ""
    pages: int = 0
    chunks: int = 0
    updated: float = 0.0
    title: str = ""
    collection: str = DEFAULT_COLLECTION
    ocr_pages: int = 0  # pages read from scans by OCR

    @property
    def notes(self) -> str:
        """What a status listing says of the file: why it was skipped or what was not read,
        and how many of its pages were read from scans (OCR's reading, not a text layer)."""
        scanned = f"{self.ocr_pages} page{'s' if self.ocr_pages > 1 else ''} read by OCR" if self.ocr_pages else ""
        return "; ".join(part for part in (scanned, self.reason) if part)


@dataclass(frozen=True)
class ModelInfo:
    """One model the app can use, by the name `--model` and the app take."""

    name: str
    kind: str  # "packaged" (from installed packages) or "local" (a GGUF in the models folder)
    quant: str
    size: int
    sha256: str  # "" until the file exists (packaged models not assembled yet)
    path: Path | None
    note: str = ""
    installed: bool = True  # False: a packaged model whose packages are missing


TokenFn = Callable[[str], None]  # called with each piece of an answer as it is written


@dataclass(frozen=True)
class ModelState:
    """The language model answering: its setting, how its weights are quantized, its window."""

    name: str
    quant: str
    context_window: int


@dataclass(frozen=True)
class AuditBreak:
    """The first record that breaks the audit chain, and how."""

    n: int
    reason: str


@dataclass(frozen=True)
class Superseded:
    """A past answer (its audit record) that cites passages of documents since changed or removed."""

    record: dict
    gone: tuple[tuple[dict, str], ...]  # (the retrieved passage's record, "changed" or "removed")


@dataclass(frozen=True)
class Totals:
    """How much of the index a reader can see: files indexed and skipped, pages (and of them,
    read by OCR), chunks.  All zero for an empty index."""

    files: int = 0
    pages: int = 0
    chunks: int = 0
    skipped: int = 0
    ocr_pages: int = 0
