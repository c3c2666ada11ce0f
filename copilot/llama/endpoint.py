"""A `Generator` over OpenAI-compatible model servers: the model of a firm-wide server.

Any server speaking the OpenAI chat API works: llama.cpp's `llama-server`
(parallel slots), `python -m llama_cpp.server` (run it with
`--interrupt_requests False`, or a second question cuts off the first), vLLM.
Several can be given: questions go to them in turn, and one that cannot be
reached is skipped (and tried again a little later), so a GPU box going down
costs its share of the questions nothing but a retry.  The requests of one
answer (the gateway writes each answer in a thread of its own) stay on the
server the answer began on, where its prompt is cached: a request whose
conversation begins as the thread's previous one did goes where that one went.

`describe` reads what each server is: llama-server's `/props` gives its
slots and the context of each, and the gateway hands out as many answers at
once as the servers have slots; any other server counts as one slot.
An answer evaluates its prompt once.  Through llama-server the refusal's
first-token probabilities come with the draft itself (`complete(opening=...)`:
its `top_logprobs` are the model's own, before `logit_bias`), and the check of
the quote finds the draft's tokens in the slot's prompt cache; any other
server is asked for the probabilities in a request of their own, on the same
server, whose prompt the draft then finds cached where the server caches.
What llama-server evaluated, it says in each reply's `timings`
(`evaluated_tokens`); a server that does not say leaves it None.

What the answerer needs of a model beyond streaming, it gets from the API:
the first token's probabilities (`logprobs`, `top_logprobs`), each written
token's probability (`logprobs`), a first token kept out (`logit_bias`), and
token counts (the server's own tokenizer:
`/tokenize` of llama-server and vLLM, `/extras/tokenize` of llama_cpp.server).
"""

from __future__ import annotations

import json
import math
import re
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import PurePath

from copilot.core.errors import Unavailable
from copilot.core.protocols import Completion, TokenFn
from copilot.core.streams import cut_on
from copilot.llama.server import LLAMA_CPP_SERVER, LLAMA_SERVER

RETRY_DOWN_S = 30.0  # a server that failed is left alone this long before it is tried again
TOP = 20  # first-token alternatives read for an opening's probability (a probe, or a draft on llama-server)
QUANT = re.compile(r"(?i)(?:^|[-_.])(i?q\d_[a-z0-9_]+?|f16|bf16|f32)(?:\.gguf)?$")


@dataclass(frozen=True)
class ModelServer:
    """One model server as it describes itself: what it is, how many answers it writes at once
    (its slots), and the context each of them has (None where it does not say)."""

    url: str
    kind: str  # LLAMA_SERVER, LLAMA_CPP_SERVER, or "OpenAI-compatible" (vLLM and the like)
    slots: int
    context: int | None

    def line(self) -> str:
        context = f", {self.context} tokens of context each" if self.context else ""
        return f"{self.url}: {self.kind}, {self.slots} slot{'s' if self.slots != 1 else ''}{context}"


class Endpoints:
    """The model servers, taken in turn; one that fails is skipped for `RETRY_DOWN_S`."""

    def __init__(self, urls: Sequence[str]):
        if not urls:
            raise ValueError("no model servers given")
        self.urls = tuple(urls)
        self._next = 0
        self._down: dict[str, float] = {}
        self._lock = threading.Lock()

    def order(self, first: str | None = None) -> list[str]:
        """Every server, `first` (the one this answer began on: its prompt is cached there) or else
        the next one in turn leading, and those down lately last."""
        with self._lock:
            start = self._next
            if first not in self.urls:  # a new answer: the next server's turn
                self._next = (self._next + 1) % len(self.urls)
        turn = [self.urls[(start + i) % len(self.urls)] for i in range(len(self.urls))]
        if first in turn:
            turn.remove(first)
            turn.insert(0, first)
        now = time.monotonic()
        return sorted(turn, key=lambda u: self._down.get(u, 0.0) > now)

    def failed(self, url: str) -> None:
        with self._lock:
            self._down[url] = time.monotonic() + RETRY_DOWN_S

    def worked(self, url: str) -> None:
        with self._lock:
            self._down.pop(url, None)


class EndpointGenerator:
    """Answers with the model behind one or more OpenAI-compatible servers."""

    def __init__(self, urls: Sequence[str], context_window: int = 4096, temperature: float = 0.0,
                 timeout: float = 600.0):
        import httpx

        self.endpoints = Endpoints(urls)
        self.context_window = context_window
        self.temperature = temperature
        self._http = httpx.Client(timeout=httpx.Timeout(timeout, connect=5.0))
        self._counts: dict[str, int] = {}
        self._firsts: dict[str, int] = {}  # text → its first token, for `avoid` (the same few each answer)
        self._tokenizer: dict[str, tuple[str, str]] = {}  # server → (path, field) of its tokenize call
        self._kinds: dict[str, str] = {}  # server → what it is (`describe`), for `complete(opening=...)`
        self._last = threading.local()  # the gateway writes several answers at once, one per thread
        self.model_id = self._call(lambda url: self._get(url, "/v1/models")["data"][0]["id"])

    @property
    def last_prompt_tokens(self) -> int:
        """The prompt's tokens in this thread's latest reply."""
        return getattr(self._last, "prompt", 0)

    @property
    def last_completion_tokens(self) -> int:
        return getattr(self._last, "completion", 0)

    @property
    def evaluated_tokens(self) -> int | None:
        """The prompt tokens the servers evaluated (not found in their cache) for this thread's
        requests since `count_evaluated` began, by their own timings; None if one did not say."""
        return getattr(self._last, "evaluated", None)

    def count_evaluated(self) -> None:
        """Begin counting, for this thread, the prompt tokens its next requests make servers evaluate."""
        self._last.evaluated = 0

    @property
    def slots(self) -> int:
        """How many answers the servers write at once, all together (one that is down counts one)."""
        total = 0
        for url in self.endpoints.urls:
            try:
                total += self.describe(url).slots
            except Unavailable:
                total += 1
        return max(1, total)

    def describe(self, url: str) -> ModelServer:
        """The model server at `url` as it says it is (`Unavailable` if it does not answer)."""
        import httpx

        try:
            props = self._http.get(url + "/props", timeout=10)
            if props.status_code == 200 and "total_slots" in (data := props.json()):
                context = (data.get("default_generation_settings") or {}).get("n_ctx")
                return ModelServer(url, LLAMA_SERVER, int(data["total_slots"]), context)
            model = self._get(url, "/v1/models")["data"][0]
        except (httpx.HTTPError, ValueError, KeyError, IndexError, TypeError) as exc:
            raise Unavailable(f"the model server {url} does not answer: {type(exc).__name__}: {exc}") from None
        if model.get("owned_by") == "me":  # what llama_cpp.server says of every model
            return ModelServer(url, LLAMA_CPP_SERVER, 1, None)
        return ModelServer(url, "OpenAI-compatible", 1, model.get("max_model_len"))  # vLLM says its context

    @property
    def name(self) -> str:
        """The model's file name as the server names it (what calibration is keyed by)."""
        return PurePath(self.model_id).name

    @property
    def quant(self) -> str:
        found = QUANT.search(self.name)
        return found.group(1).upper() if found else ""

    def close(self) -> None:
        self._http.close()

    # The three things the answerer asks of a model ------------------------------------

    def count_tokens(self, text: str) -> int:
        """Tokens `text` takes in the served model's vocabulary (asked once per text)."""
        if text not in self._counts:
            if len(self._counts) > 50_000:
                self._counts.clear()
            self._counts[text] = len(self._call(lambda url: self._tokens(url, text)))
        return self._counts[text]

    def opening_probability(self, messages: Sequence[dict[str, str]], openings: Sequence[str],
                            cancel: threading.Event | None = None) -> float:
        """The probability that the reply begins with one of `openings`, from the first
        token's `top_logprobs` (the alternatives outside the top 20 are too unlikely to count)."""
        return _share(self._first_alternatives(messages, cancel), openings)

    def opening_probabilities(self, messages: Sequence[dict[str, str]], openings: Sequence[str],
                              cancel: threading.Event | None = None) -> list[float]:
        """The probability of each of `openings` as the reply's first token, from that token's
        `top_logprobs` in one request (an opening outside the top 20 counts as 0)."""
        alternatives = self._first_alternatives(messages, cancel)
        return [_share(alternatives, [o]) for o in openings]

    def _first_alternatives(self, messages: Sequence[dict[str, str]], cancel: threading.Event | None,
                            url: str | None = None) -> list:
        """The reply's first token's `top_logprobs` (none if cancelled or the server gives none),
        from `url` or else the servers in turn."""
        if cancel is not None and cancel.is_set():
            return []
        body = self._body(messages, 1) | {"logprobs": True, "top_logprobs": TOP}
        if url is None:
            reply = self._call(lambda url: self._post(url, "/v1/chat/completions", body), body)
        else:
            import httpx

            try:
                reply = self._post(url, "/v1/chat/completions", body)
            except (httpx.HTTPError, ValueError) as exc:
                raise Unavailable(f"the model server {url} failed: {type(exc).__name__}: {exc}") from None
        self._evaluated(reply)
        content = (reply["choices"][0].get("logprobs") or {}).get("content") or []
        return content[0].get("top_logprobs", []) if content else []

    def stream(self, messages: Sequence[dict[str, str]], max_tokens: int,
               cancel: threading.Event | None = None, stop: Sequence[str] = (),
               avoid: Sequence[str] = ()) -> Iterator[str]:
        """The reply, piece by piece.  `avoid`: the first token of each is kept out of the
        reply (by `logit_bias`).  A `cancel` closes the connection, which frees the server."""
        for text, _ in self._reply(self._body(messages, max_tokens), cancel, stop, avoid):
            yield text

    def complete(self, messages: Sequence[dict[str, str]], max_tokens: int,
                 cancel: threading.Event | None = None, stop: Sequence[str] = (),
                 avoid: Sequence[str] = (), on_piece: TokenFn | None = None,
                 logprobs: bool = True, opening: Sequence[str] = ()) -> Completion:
        """The whole reply with each token's log probability (`logprobs`, if asked for: the
        llama-cpp-python server sorts the whole vocabulary for each token, slow on a CPU), as
        `stream` writes it; `on_piece` gets each piece of text as it comes.  `opening`'s
        probability comes from the reply's own first token where the server is llama-server
        (its `top_logprobs` are the model's, before `logit_bias`: one request), and from a
        request of its own, on the same server just before, where it is any other."""
        body = self._body(messages, max_tokens) | ({"logprobs": True, "top_logprobs": 1} if logprobs else {})
        self._last.first = None
        reply = Completion.collect(self._reply(body, cancel, stop, avoid, opening), on_piece,
                                   lambda: (self.last_prompt_tokens, self.last_completion_tokens), cancel)
        return replace(reply, opening=_share(self._last.first or [], opening)) if opening else reply

    def _reply(self, body: dict, cancel: threading.Event | None, stop: Sequence[str],
               avoid: Sequence[str], opening: Sequence[str] = ()) -> Iterator[tuple[str, list[float]]]:
        """(text, its tokens' log probabilities) of each piece, from the first server that answers;
        with `opening`, the first token's alternatives are left in `self._last.first`."""
        body = body | {"stream": True, "stream_options": {"include_usage": True}}  # the prompt's tokens
        if stop:
            body["stop"] = list(stop)
        if avoid:
            body["logit_bias"] = {str(self._first_token(o)): -100 for o in avoid if o}
        self._last.prompt = self._last.completion = 0
        for url in self._order(body):
            started = False
            sent, first = body, None
            try:
                if opening and self._kind(url) == LLAMA_SERVER:
                    sent, first = body | {"logprobs": True, "top_logprobs": TOP}, []
                elif opening:
                    self._last.first = self._first_alternatives(body["messages"], cancel, url)
                for piece in self._stream(url, sent, cancel, first):
                    started = True
                    yield piece
                if first is not None:
                    self._last.first = first[0] if first else []
                self.endpoints.worked(url)
                self._went(url, body)
                return
            except Unavailable:
                self._failed(url)
                if started or (cancel is not None and cancel.is_set()):
                    raise  # half an answer cannot be finished by another server
        raise Unavailable(f"no model server answered ({', '.join(self.endpoints.urls)})")

    def _first_token(self, text: str) -> int:
        """The served model's first token of `text` (asked once per text)."""
        if text not in self._firsts:
            self._firsts[text] = self._call(lambda url: self._tokens(url, text))[0]
        return self._firsts[text]

    # The API ----------------------------------------------------------------------------

    def _body(self, messages: Sequence[dict[str, str]], max_tokens: int) -> dict:
        # No repetition penalty, as in process (llama_cpp.server's default is 1.1; others ignore it):
        # a greedy answer through any server is the laptop's, token for token.
        return {"model": self.model_id, "messages": list(messages),
                "max_tokens": max_tokens, "temperature": self.temperature, "repeat_penalty": 1.0}

    def _stream(self, url: str, body: dict, cancel: threading.Event | None,
                first: list | None = None) -> Iterator[tuple[str, list[float]]]:
        """The reply's pieces from `url`; the first token's `top_logprobs` go into `first`."""
        import httpx

        done = threading.Event()
        last: dict = {}  # the reply's usage, and what the server evaluated for it (its last chunk)
        try:
            with self._http.stream("POST", url + "/v1/chat/completions", json=body) as response:
                if response.status_code != 200:
                    response.read()
                    raise Unavailable(f"the model server {url} said {response.status_code}: "
                                      f"{response.text[:200]}")
                if cancel is not None:  # a cancel must not wait for the server's next piece
                    done = cut_on(response, cancel)
                for line in response.iter_lines():
                    if cancel is not None and cancel.is_set():
                        return
                    if not line.startswith("data:"):
                        continue
                    data = line[5:].strip()
                    if data == "[DONE]":
                        self._evaluated(last)
                        return
                    chunk = json.loads(data)
                    usage = chunk.get("usage") or {}
                    self._last.prompt = usage.get("prompt_tokens", self._last.prompt)
                    last = {"usage": usage, "timings": chunk.get("timings")} if usage else last
                    choices = chunk.get("choices") or [{}]
                    text = (choices[0].get("delta") or {}).get("content")
                    scored = ((choices[0].get("logprobs") or {}).get("content")) or []
                    if first is not None and not first and scored:  # the reply's first token
                        first.append(scored[0].get("top_logprobs") or [])
                    if text:
                        self._last.completion += max(1, len(scored))
                        yield text, [t["logprob"] for t in scored if t.get("logprob") is not None]
        except (httpx.HTTPError, httpx.StreamError, ValueError, KeyError) as exc:
            if cancel is not None and cancel.is_set():
                return  # the connection was cut on purpose
            raise Unavailable(f"the model server {url} failed: {type(exc).__name__}: {exc}") from None
        finally:
            done.set()

    def _call(self, ask, body: dict | None = None):
        """`ask(url)` of each server in turn (for a request with `body`, the one its conversation
        went to first) until one answers; `Unavailable` if none does."""
        import httpx

        errors = []
        for url in self._order(body):
            try:
                result = ask(url)
            except (httpx.HTTPError, ValueError, KeyError, IndexError) as exc:
                self._failed(url)
                errors.append(f"{url}: {type(exc).__name__}: {exc}")
                continue
            self.endpoints.worked(url)
            self._went(url, body)
            return result
        raise Unavailable("no model server answered (" + "; ".join(errors) + ")")

    def _order(self, body: dict | None) -> list[str]:
        """The servers to try for `body`: the one this thread's previous request went to first if
        this one's conversation begins as that one's did (the prompt is cached there)."""
        same = body is not None and _conversation(body) == getattr(self._last, "conversation", None)
        return self.endpoints.order(getattr(self._last, "url", None) if same else None)

    def _kind(self, url: str) -> str | None:
        """What the server at `url` is (asked once while it keeps answering; None if it does not)."""
        if url not in self._kinds:
            try:
                self._kinds[url] = self.describe(url).kind
            except Unavailable:
                return None
        return self._kinds[url]

    def _failed(self, url: str) -> None:
        self.endpoints.failed(url)
        self._kinds.pop(url, None)  # what answers there next may be another server

    def _went(self, url: str, body: dict | None) -> None:
        if body is not None:
            self._last.url, self._last.conversation = url, _conversation(body)

    def _evaluated(self, reply: dict) -> None:
        """Add the prompt tokens a reply says the server evaluated (llama-server's `timings`) to
        this thread's count; a reply without them makes the count unknown."""
        if getattr(self._last, "evaluated", None) is None:
            return
        timings = reply.get("timings")
        if isinstance(timings, dict) and isinstance(timings.get("prompt_n"), int):
            self._last.evaluated += timings["prompt_n"]
        else:  # a server that does not say (llama_cpp.server, vLLM)
            self._last.evaluated = None

    def _get(self, url: str, path: str) -> dict:
        response = self._http.get(url + path)
        response.raise_for_status()
        return response.json()

    def _post(self, url: str, path: str, body: dict) -> dict:
        response = self._http.post(url + path, json=body)
        response.raise_for_status()
        return response.json()

    def _tokens(self, url: str, text: str) -> list[int]:
        """`text` in the server's tokens, by whichever tokenize call it has."""
        import httpx

        if url not in self._tokenizer:
            for path, field in (("/tokenize", "content"), ("/extras/tokenize", "input")):
                try:
                    tokens = self._post(url, path, {field: text, "model": self.model_id})["tokens"]
                except httpx.HTTPStatusError:
                    continue
                self._tokenizer[url] = (path, field)
                return tokens
            raise ValueError(f"{url} has no tokenize call (/tokenize or /extras/tokenize)")
        path, field = self._tokenizer[url]
        return self._post(url, path, {field: text, "model": self.model_id})["tokens"]


def _share(alternatives: Sequence[dict], openings: Sequence[str]) -> float:
    """The probability, among a first token's `top_logprobs`, of the tokens that begin one of
    `openings` (a blank token begins nothing)."""
    return float(sum(math.exp(alt["logprob"]) for alt in alternatives
                     if alt.get("token", "").strip() and any(o.startswith(alt["token"]) for o in openings)))


def _conversation(body: dict) -> int:
    """What identifies a request's conversation: its first two messages (the instructions and the
    evidence, or the first turn), which every later request of the same answer repeats."""
    return hash(json.dumps(body.get("messages", [])[:2], sort_keys=True))
