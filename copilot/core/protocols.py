"""What the answer stages need of a model and an embedder: the `Generator` and `Embedder`
protocols and a held reply (`Completion`).  llama.cpp, a model server and the tests' fakes
all keep to them; nothing else of a generator is used.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from threading import Event
from typing import Protocol, runtime_checkable


TokenFn = Callable[[str], None]  # called with each piece of an answer as it is written


@dataclass(frozen=True)
class Completion:
    """A model's whole reply, held rather than streamed, with how sure it was of each token.

    `logprobs` is the natural log of the probability of each token written,
    as the model scored it; `cancelled` says the reply was cut short by the
    caller; `opening` is the probability, asked for with `complete(opening=...)`,
    that the reply left free (before `avoid`) would have begun with one of
    those openings.
    """

    text: str
    logprobs: tuple[float, ...] = ()
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cancelled: bool = False
    tokens_per_s: float | None = None  # generation speed, from the first token to the last
    opening: float | None = None

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
    name: str  # the model's (its file's, or the one a server serves): what its calibration is keyed by
    quant: str  # its quantization, "Q4_K_M" (or "" where it cannot be told)

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
        logprobs: bool = True, opening: Sequence[str] = (),
    ) -> Completion:
        """The whole reply, as `stream` would write it, with each token's log probability (if
        `logprobs`: a model server may take long over them); `on_piece` gets each piece of
        text as it is written.  With `opening`, the reply's `opening` is what
        `opening_probability(messages, opening)` would say, from the same evaluation of the
        prompt where the model can give it (one request to a model server, not two)."""
        ...

    def opening_probability(
        self, messages: Sequence[dict[str, str]], openings: Sequence[str], cancel: Event | None = None
    ) -> float:
        """The probability that the reply to `messages` begins with one of `openings`
        (read from the model's first-token distribution; the prompt it evaluates is
        reused by the `stream` of the same messages that follows)."""
        ...

    def opening_probabilities(
        self, messages: Sequence[dict[str, str]], openings: Sequence[str], cancel: Event | None = None
    ) -> list[float]:
        """The probability of each of `openings` as the reply's first token, from one
        evaluation of the prompt (a choice among numbered sentences; all 0.0 if cancelled)."""
        ...

    def count_tokens(self, text: str) -> int: ...

    def close(self) -> None:
        """Free the model (another is chosen); the generator is not used again."""
        ...
