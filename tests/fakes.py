"""Fakes for the pipeline's protocols: fast, deterministic, no models."""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Iterator, Sequence

from copilot.core.protocols import Completion
from copilot.core.records import Chunk, Hit


class BagOfWordsEmbedder:
    """Hashes words into a small unit vector: similar texts score high."""

    dims = 64

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        out = []
        for text in texts:
            v = [0.0] * self.dims
            for word in re.findall(r"\w+", text.lower()):
                v[int(hashlib.md5(word.encode()).hexdigest(), 16) % self.dims] += 1
            norm = math.sqrt(sum(x * x for x in v)) or 1.0
            out.append([x / norm for x in v])
        return out


class ListStore:
    """An in-memory vector store."""

    def __init__(self, chunks: Sequence[Chunk], embedder: BagOfWordsEmbedder):
        self.rows = list(zip(chunks, embedder.embed([c.text for c in chunks])))

    def query(self, vector, k: int, walls, path: str | None = None) -> list[Hit]:
        scored = [Hit(c, sum(a * b for a, b in zip(vector, v))) for c, v in self.rows
                  if (path is None or c.path == path) and walls.allows(c.collection)]
        return sorted(scored, key=lambda h: -h.score)[:k]

    def vectors(self, ids) -> dict[str, list[float]]:
        return {c.id: v for c, v in self.rows if c.id in set(ids)}


class Indexed:
    """A file ledger with no lexical index: these versions (path → sha256) are fully indexed,
    whatever the walls."""

    def __init__(self, versions: dict[str, str]):
        self.versions = versions

    def indexed_versions(self, walls) -> dict[str, str]:
        return dict(self.versions)


class DictStore:
    """An in-memory stand-in for `ChromaStore`'s writing side, keyed by chunk id."""

    def __init__(self):
        self.rows: dict[str, Chunk] = {}
        self.fail_after: int | None = None  # raise mid-`add` after this many chunks (a crash)

    def add(self, chunks: Sequence[Chunk], vectors) -> None:
        for n, c in enumerate(chunks):
            if self.fail_after is not None and n >= self.fail_after:
                raise KeyboardInterrupt("killed")
            self.rows[c.id] = c

    def delete_path(self, path: str) -> None:
        self.rows = {k: c for k, c in self.rows.items() if c.path != path}

    def clear(self) -> None:
        self.rows.clear()

    def paths(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for c in self.rows.values():
            counts[c.path] = counts.get(c.path, 0) + 1
        return counts


class ScriptedGenerator:
    """Streams a fixed reply word by word (or each of several replies in turn,
    the last one repeating); records what it was asked and how long it may answer.

    Its opening probability is 0.9 for an opening its next reply starts with,
    else 0.05, unless `opening` sets it; asked whether a quote states its
    answer, it says "Yes" with probability `verified`; asked which numbered
    sentence answers, it picks as `opening_probabilities` says.  Each word it
    writes has the log probability `logprob`."""

    name = "scripted.gguf"
    quant = "Q8_0"

    def __init__(self, reply: str | list[str], context_window: int = 4096, opening: float | None = None,
                 verified: float = 0.9, logprob: float = -0.1, choice: str | None = None):
        self.replies = [reply] if isinstance(reply, str) else list(reply)
        self.context_window = context_window
        self.opening = opening
        self.verified, self.logprob = verified, logprob
        self.choice = choice
        self.choices: list[list[dict]] = []
        self.verifications: list[list[dict]] = []
        self.max_tokens: list[int] = []
        self.calls: list[list[dict]] = []
        self.last_prompt_tokens = 0
        self.last_completion_tokens = 0

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def close(self) -> None:
        self.closed = True

    def _next(self) -> str:
        return self.replies[min(len(self.calls), len(self.replies) - 1)]

    def opening_probability(self, messages, openings, cancel=None) -> float:
        if messages[-1]["role"] == "user" and messages[-2]["role"] == "assistant" and list(openings) == ["Yes"]:
            self.verifications.append(list(messages))
            return self.verified
        if self.opening is not None:
            return self.opening
        return 0.9 if any(self._next().startswith(o.split()[0]) for o in openings) else 0.05

    def opening_probabilities(self, messages, openings, cancel=None) -> list[float]:
        """Asked to choose among numbered sentences: 0.9 on the one sharing the most words with
        its next reply (unless `choice` names the number, "0" for none), 0.9 on "0" if none
        shares any; 0.1 spread over the rest."""
        self.choices.append(list(messages))
        if cancel is not None and cancel.is_set():
            return [0.0] * len(openings)
        pick = self.choice
        if pick is None:
            said = set(re.findall(r"\w+", self._next().lower()))
            lines = re.findall(r"^(\d+)\. (.*)$", messages[-1]["content"], re.MULTILINE)
            shared = {n: len(said & set(re.findall(r"\w+", text.lower()))) for n, text in lines}
            pick = max(shared, key=lambda n: (shared[n], -int(n)), default="0")
            pick = pick if shared.get(pick) else "0"
        rest = 0.1 / max(1, len(openings) - 1)
        return [0.9 if o == pick else rest for o in openings]

    def complete(self, messages, max_tokens: int, cancel=None, stop=(), avoid=(), on_piece=None,
                 logprobs=True, opening=()) -> Completion:
        first = self.opening_probability(messages, opening, cancel) if opening else None
        if cancel is not None and cancel.is_set():  # as llama.cpp: Esc while the prompt is read
            return Completion("", cancelled=True, opening=first)
        words = []
        for w in self.stream(messages, max_tokens, cancel, stop, avoid):
            if cancel is not None and cancel.is_set():
                break
            words.append(w)
            if on_piece is not None:
                on_piece(w)
        return Completion("".join(words), tuple(self.logprob for _ in words), self.last_prompt_tokens,
                          len(words), cancel is not None and cancel.is_set(), opening=first)

    def stream(self, messages, max_tokens: int, cancel=None, stop=(), avoid=()) -> Iterator[str]:
        reply = self._next()
        self.avoided = tuple(avoid)
        self.calls.append(list(messages))
        self.max_tokens.append(max_tokens)
        self.last_prompt_tokens = sum(self.count_tokens(m["content"]) for m in messages)
        for s in stop:
            reply = reply.split(s)[0]
        words = re.findall(r"\S+\s*", reply)[:max_tokens]
        for i, w in enumerate(words, 1):
            self.last_completion_tokens = i
            yield w


def chunk(text: str, source: str = "doc.pdf", page: int = 1, number: int = 0) -> Chunk:
    return Chunk(f"/docs/{source}", source, page, number, text, "sha-" + source)


def write_gguf(path, file_type: int = 7, vocab: int = 300) -> None:
    """A GGUF holding only metadata (no tensors): a header for `copilot.llama.catalog` to read.

    Its vocabulary (an array of strings) and scores (an array of floats) come
    before `general.file_type` on purpose: the reader must step over both.
    """
    import gguf

    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_token_list([f"tok{i}".encode() for i in range(vocab)])
    writer.add_token_scores([float(i) for i in range(vocab)])
    writer.add_file_type(file_type)
    writer.add_chat_template("{{ messages }}")
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
