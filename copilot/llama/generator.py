"""The generator: a local GGUF model through llama.cpp, streamed token by token."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path

from copilot.core.errors import ModelMissing
from copilot.core.protocols import Completion, TokenFn
from copilot.llama.runtime import default_threads, load_llama, metadata


CHATML = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
          "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")


class LlamaGenerator:
    """A `Generator` over `llama_cpp.Llama`.

    The chat template comes from the GGUF file itself, so any instruct model
    works without a per-model prompt format; the prompt is rendered and
    tokenized here, once, so that reading the model's first-token
    probabilities (`opening_probability`) and streaming the reply
    (`stream`) share one evaluated prompt.  `last_prompt_tokens` and
    `last_completion_tokens` describe the most recent `stream()` call.
    """

    def __init__(
        self,
        path: Path,
        context_window: int = 4096,
        threads: int = 0,
        gpu_layers: int = 0,
        temperature: float = 0.0,
    ):
        import llama_cpp
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        self.path = path
        self.temperature = temperature
        # Past its trained length a model's answers degrade silently: never go there.
        # (Read from the file's metadata first: the KV cache is sized by n_ctx.)
        meta = metadata(path)
        trained = int(meta.get(f"{meta.get('general.architecture', '')}.context_length", 0) or 0)
        self._llm = load_llama(
            path,
            n_ctx=min(context_window, trained) if trained else context_window,
            n_threads=threads or default_threads(),
            n_gpu_layers=gpu_layers,
        )
        model = self._llm._model
        eos, bos = self._llm.token_eos(), self._llm.token_bos()
        self._format = Jinja2ChatFormatter(
            meta.get("tokenizer.chat_template") or CHATML,
            eos_token=model.token_get_text(eos) if eos != -1 else "",
            bos_token=model.token_get_text(bos) if bos != -1 else "",
        )
        self.context_window = self._llm.n_ctx()
        self.last_prompt_tokens = 0
        self.last_completion_tokens = 0
        self._lock = threading.Lock()  # one llama context serves one stream at a time
        self._cancel: threading.Event | None = None  # the prompt being read stops when it is set
        # Kept on self: ctypes must not collect the callbacks while llama.cpp holds one.
        self._abort = llama_cpp.ggml_abort_callback(self._aborted)
        self._no_abort = llama_cpp.ggml_abort_callback()  # NULL: nothing to call per graph node

    def prime(self, system: str) -> None:
        """Evaluate the fixed system prompt now, so the first question starts warm.

        Every prompt starts with the same system message and `_evaluate`
        reuses the longest common prefix of what the KV cache holds, so after
        this its tokens are never evaluated again while the model stays loaded.
        """
        with self._lock:
            self._evaluate(self._tokens([{"role": "system", "content": system},
                                         {"role": "user", "content": "."}]))

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def quant(self) -> str:
        """How the weights are quantized, as llama.cpp names it ("Q4_K_M"), from the file."""
        from copilot.llama.catalog import ftype_name

        return ftype_name(self._llm.metadata.get("general.file_type"))

    def count_tokens(self, text: str) -> int:
        """Tokens `text` takes in this model's vocabulary."""
        return len(self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=True))

    def opening_probability(self, messages: Sequence[dict[str, str]], openings: Sequence[str],
                            cancel: threading.Event | None = None) -> float:
        """The probability that the reply begins with one of `openings` (by its first token).

        The prompt is evaluated here, once: the `stream` of the same messages
        that follows starts generating at once.  0.0 if cancelled meanwhile.
        """
        probabilities = self._first_token_distribution(messages, cancel)
        return 0.0 if probabilities is None else float(sum(probabilities[t] for t in self._firsts(openings)))

    def opening_probabilities(self, messages: Sequence[dict[str, str]], openings: Sequence[str],
                              cancel: threading.Event | None = None) -> list[float]:
        """The probability of each of `openings` as the reply's first token (by its first token),
        read off one evaluation of the prompt; all 0.0 if cancelled meanwhile."""
        probabilities = self._first_token_distribution(messages, cancel)
        if probabilities is None:
            return [0.0] * len(openings)
        return [float(sum(probabilities[t] for t in self._firsts([o]))) for o in openings]

    def _first_token_distribution(self, messages: Sequence[dict[str, str]], cancel: threading.Event | None):
        """The reply's first-token distribution after evaluating `messages` (None if cancelled);
        the KV cache keeps the prompt for the `stream` of the same messages that follows."""
        with self._lock:
            self._check_loaded()
            tokens = self._tokens(messages)
            self.last_prompt_tokens, self.last_completion_tokens = len(tokens), 0
            if not self._read(tokens, cancel):
                return None
            return self._next_token_probabilities()

    def stream(self, messages: Sequence[dict[str, str]], max_tokens: int,
               cancel: threading.Event | None = None, stop: Sequence[str] = (),
               avoid: Sequence[str] = ()) -> Iterator[str]:
        """Yield the reply's text as it is generated; stop early if the caller stops.

        The reply does not begin with any of `avoid` (its first token is the
        likeliest other one).  Reading a long prompt takes seconds on a laptop
        CPU; a `cancel` set meanwhile aborts it through llama.cpp's abort
        callback, so the model is free for the next question at once.
        """
        with self._lock:
            for piece, _ in self._generate(messages, max_tokens, cancel, stop, avoid):
                if piece:
                    yield piece

    def complete(self, messages: Sequence[dict[str, str]], max_tokens: int,
                 cancel: threading.Event | None = None, stop: Sequence[str] = (),
                 avoid: Sequence[str] = (), on_piece: TokenFn | None = None,
                 logprobs: bool = True, opening: Sequence[str] = ()) -> Completion:
        """The whole reply, with the log probability of each token written (as `stream`; here
        they cost nothing, so `logprobs` changes nothing); `on_piece` gets each piece of text
        as it is written.  `opening`'s probability is read off the scores the reply's first
        token is chosen from, before `avoid` (one evaluation of the prompt, as llama-server's)."""
        first: list[float] = []
        with self._lock:
            reply = Completion.collect(self._generate(messages, max_tokens, cancel, stop, avoid, opening, first),
                                       on_piece, lambda: (self.last_prompt_tokens, self.last_completion_tokens),
                                       cancel)
        return replace(reply, opening=first[0] if first else 0.0) if opening else reply

    def _generate(self, messages, max_tokens: int, cancel, stop: Sequence[str], avoid: Sequence[str],
                  opening: Sequence[str] = (), first: list[float] | None = None):
        """(text, (its log probability,)) of each token of the reply, greedy (or sampled at
        `temperature`), until an end token, a `stop` string, `max_tokens` or `cancel`; the
        probability of `opening` as the first token goes into `first`.

        Decoded here rather than by llama-cpp-python's completion, which gives no
        token probabilities without keeping every position's logits (gigabytes
        at 4,096 tokens).  A character split across tokens comes out whole, with
        its last token; text that could be the start of a `stop` string is held
        back until it is known not to be.
        """
        import llama_cpp
        import numpy as np

        self._check_loaded()
        self.last_prompt_tokens = self.last_completion_tokens = 0
        prompt = self._tokens(messages)
        if not self._read(prompt, cancel):
            return
        self.last_prompt_tokens = len(prompt)
        banned = list(self._firsts(avoid)) if avoid else []
        vocab = self._llm._model.vocab
        written: list[int] = []
        sent = ""  # the text already yielded
        for step in range(max_tokens):
            if cancel is not None and cancel.is_set():
                return
            logits = self._logits()
            if step == 0 and opening and first is not None:
                chances = np.exp(logits - logits.max())
                first.append(float(chances[list(self._firsts(opening))].sum() / chances.sum()))
            if step == 0 and banned:
                logits[banned] = -np.inf
            token = self._choose(logits)
            if llama_cpp.llama_vocab_is_eog(vocab, token):
                return
            top = logits.max()
            logprob = float(logits[token] - top - np.log(np.exp(logits - top).sum()))
            written.append(token)
            self.last_completion_tokens = len(written)
            text = self._llm.detokenize(written, prev_tokens=prompt).decode("utf-8", errors="ignore")
            cut = min((text.find(s) for s in stop if s and s in text), default=-1)
            if cut >= 0:
                if text[len(sent):cut]:
                    yield text[len(sent):cut], (logprob,)
                return
            held = max((len(s) - 1 for s in stop if s and any(text.endswith(s[:i]) for i in range(1, len(s)))),
                       default=0)
            ready = text[:len(text) - held] if held else text
            if len(ready) > len(sent):
                yield ready[len(sent):], (logprob,)
                sent = ready
            elif not ready[len(sent):]:
                yield "", (logprob,)  # a token of no text yet: its probability still counts
            self._llm.eval([token])
        rest = self._llm.detokenize(written, prev_tokens=prompt).decode("utf-8", errors="ignore")[len(sent):]
        if rest:
            yield rest, ()

    def _choose(self, logits) -> int:
        """The next token: the likeliest (temperature 0), or one drawn at `temperature`."""
        import numpy as np

        if self.temperature <= 0:
            return int(logits.argmax())
        scaled = (logits - logits.max()) / self.temperature
        p = np.exp(scaled)
        return int(np.random.default_rng().choice(len(p), p=p / p.sum()))

    def close(self) -> None:
        """Free the model's memory, once any answer under way has finished with it."""
        with self._lock:
            if self._llm is not None:
                self._llm.close()
                self._llm = None

    def _check_loaded(self) -> None:
        if self._llm is None:
            raise ModelMissing(f"{self.name} was unloaded (another model was chosen): ask again")

    def _tokens(self, messages: Sequence[dict[str, str]]) -> list[int]:
        """The prompt as the model's chat template renders it, in tokens (the template adds
        any special tokens it needs itself)."""
        text = self._format(messages=list(messages)).prompt
        return self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=True)

    def _read(self, tokens: list[int], cancel: threading.Event | None) -> bool:
        """Evaluate the prompt `tokens`, stoppable by `cancel`; False if it was cancelled."""
        self._cancel = cancel
        self._watch(cancel is not None)
        try:
            self._evaluate(tokens)
        except RuntimeError:
            if cancel is not None and cancel.is_set():
                return False
            raise
        finally:
            self._watch(False)
        return True

    def _logits(self):
        """The model's scores for its next token, after the last evaluation (a copy)."""
        import llama_cpp
        import numpy as np

        return np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(self._llm.ctx, -1),
                                     shape=(self._llm.n_vocab(),)).astype(np.float64)

    def _next_token_probabilities(self):
        """The model's distribution over its next token, after the last evaluation."""
        import numpy as np

        logits = self._logits()
        probabilities = np.exp(logits - logits.max())
        return probabilities / probabilities.sum()

    def _firsts(self, openings: Sequence[str]) -> set[int]:
        """The first token of each opening (as the reply's first words are tokenized)."""
        return {self._llm.tokenize(o.encode("utf-8"), add_bos=False, special=False)[0] for o in openings if o}

    def _evaluate(self, tokens: list[int]) -> None:
        """Bring the KV cache to `tokens`, evaluating only what it does not hold yet.

        At least the last token is evaluated, so its logits are the model's
        next-token distribution.
        """
        llm = self._llm
        held = llm.input_ids[: llm.n_tokens]
        keep = 0
        for a, b in zip(held, tokens):
            if a != b:
                break
            keep += 1
        llm.n_tokens = min(keep, len(tokens) - 1)  # eval() drops the cache past n_tokens first
        llm.eval(tokens[llm.n_tokens:])

    def _watch(self, on: bool) -> None:
        """Have llama.cpp ask `_aborted` between graph nodes (only while a prompt is read:
        per node, during generation, the calls into Python would cost speed)."""
        import llama_cpp

        llama_cpp.llama_set_abort_callback(self._llm.ctx, self._abort if on else self._no_abort, None)
        if not on:
            self._cancel = None

    def _aborted(self, _data) -> bool:
        """llama.cpp's abort callback: True stops the evaluation under way."""
        cancel = self._cancel
        return bool(cancel is not None and cancel.is_set())
