"""A `Generator` over OpenAI-compatible model servers: the model of a firm-wide server.

Any server speaking the OpenAI chat API works: llama.cpp's `llama-server`
(parallel slots), `python -m llama_cpp.server` (run it with
`--interrupt_requests False`, or a second question cuts off the first), vLLM.
Several can be given: questions go to them in turn, and one that cannot be
reached is skipped (and tried again a little later), so a GPU box going down
costs its share of the questions nothing but a retry.

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
from pathlib import PurePath

from copilot.core.errors import Unavailable
from copilot.core.protocols import Completion, TokenFn
from copilot.core.streams import cut_on

RETRY_DOWN_S = 30.0  # a server that failed is left alone this long before it is tried again
TOP = 20  # first-token alternatives read for `opening_probability`
QUANT = re.compile(r"(?i)(?:^|[-_.])(i?q\d_[a-z0-9_]+?|f16|bf16|f32)(?:\.gguf)?$")


class Endpoints:
    """The model servers, taken in turn; one that fails is skipped for `RETRY_DOWN_S`."""

    def __init__(self, urls: Sequence[str]):
        if not urls:
            raise ValueError("no model servers given")
        self.urls = tuple(urls)
        self._next = 0
        self._down: dict[str, float] = {}
        self._lock = threading.Lock()

    def order(self) -> list[str]:
        """Every server, the next one in turn first and those down lately last."""
        with self._lock:
            start, self._next = self._next, (self._next + 1) % len(self.urls)
        turn = [self.urls[(start + i) % len(self.urls)] for i in range(len(self.urls))]
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
        self.model_id = self._call(lambda url: self._get(url, "/v1/models")["data"][0]["id"])
        self.last_prompt_tokens = self.last_completion_tokens = 0

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
        return float(sum(math.exp(alt["logprob"]) for alt in self._first_alternatives(messages, cancel)
                         if alt["token"].strip() and any(o.startswith(alt["token"]) for o in openings)))

    def opening_probabilities(self, messages: Sequence[dict[str, str]], openings: Sequence[str],
                              cancel: threading.Event | None = None) -> list[float]:
        """The probability of each of `openings` as the reply's first token, from that token's
        `top_logprobs` in one request (an opening outside the top 20 counts as 0)."""
        alternatives = self._first_alternatives(messages, cancel)
        return [float(sum(math.exp(alt["logprob"]) for alt in alternatives
                          if alt["token"].strip() and o.startswith(alt["token"])))
                for o in openings]

    def _first_alternatives(self, messages: Sequence[dict[str, str]], cancel: threading.Event | None) -> list:
        """The reply's first token's `top_logprobs` (none if cancelled or the server gives none)."""
        if cancel is not None and cancel.is_set():
            return []
        body = self._body(messages, 1) | {"logprobs": True, "top_logprobs": TOP}
        reply = self._call(lambda url: self._post(url, "/v1/chat/completions", body))
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
                 logprobs: bool = True) -> Completion:
        """The whole reply with each token's log probability (`logprobs`, if asked for: the
        llama-cpp-python server sorts the whole vocabulary for each token, slow on a CPU), as
        `stream` writes it; `on_piece` gets each piece of text as it comes."""
        body = self._body(messages, max_tokens) | ({"logprobs": True, "top_logprobs": 1} if logprobs else {})
        return Completion.collect(self._reply(body, cancel, stop, avoid), on_piece,
                                  lambda: (self.last_prompt_tokens, self.last_completion_tokens), cancel)

    def _reply(self, body: dict, cancel: threading.Event | None, stop: Sequence[str],
               avoid: Sequence[str]) -> Iterator[tuple[str, list[float]]]:
        """(text, its tokens' log probabilities) of each piece, from the first server that answers."""
        body = body | {"stream": True}
        if stop:
            body["stop"] = list(stop)
        if avoid:
            body["logit_bias"] = {str(self._first_token(o)): -100 for o in avoid if o}
        self.last_prompt_tokens = self.last_completion_tokens = 0
        for url in self.endpoints.order():
            started = False
            try:
                for piece in self._stream(url, body, cancel):
                    started = True
                    yield piece
                self.endpoints.worked(url)
                return
            except Unavailable:
                self.endpoints.failed(url)
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
        return {"model": self.model_id, "messages": list(messages),
                "max_tokens": max_tokens, "temperature": self.temperature}

    def _stream(self, url: str, body: dict, cancel: threading.Event | None) -> Iterator[tuple[str, list[float]]]:
        import httpx

        done = threading.Event()
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
                        return
                    chunk = json.loads(data)
                    usage = chunk.get("usage") or {}
                    self.last_prompt_tokens = usage.get("prompt_tokens", self.last_prompt_tokens)
                    choices = chunk.get("choices") or [{}]
                    text = (choices[0].get("delta") or {}).get("content")
                    scored = ((choices[0].get("logprobs") or {}).get("content")) or []
                    if text:
                        self.last_completion_tokens += max(1, len(scored))
                        yield text, [t["logprob"] for t in scored if t.get("logprob") is not None]
        except (httpx.HTTPError, httpx.StreamError, ValueError, KeyError) as exc:
            if cancel is not None and cancel.is_set():
                return  # the connection was cut on purpose
            raise Unavailable(f"the model server {url} failed: {type(exc).__name__}: {exc}") from None
        finally:
            done.set()

    def _call(self, ask):
        """`ask(url)` of each server in turn until one answers; `Unavailable` if none does."""
        import httpx

        errors = []
        for url in self.endpoints.order():
            try:
                result = ask(url)
            except (httpx.HTTPError, ValueError, KeyError, IndexError) as exc:
                self.endpoints.failed(url)
                errors.append(f"{url}: {type(exc).__name__}: {exc}")
                continue
            self.endpoints.worked(url)
            return result
        raise Unavailable("no model server answered (" + "; ".join(errors) + ")")

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
