"""Cutting pages into chunks measured in the embedder's own tokens.

The embedder silently truncates anything past its window (256 word pieces
for MiniLM, two of them taken by [CLS] and [SEP]), so chunk length is counted
with its tokenizer, never guessed from characters.  Chunks follow the text's
structure: paragraphs first, then sentences (`copilot.core.sentences`), and only
a sentence longer than a whole chunk is cut mid-way; a chunk holds one
sentence a line.  Consecutive chunks share a little overlap so a
clause split across two chunks is still found whole in one of them.  A chunk
never spans two pages (or two sections of a Word, HTML or Markdown file), so
every chunk has exactly one page and one heading path to cite.  The heading
path is read by the embedder with the chunk, so its budget is taken from the
chunk's.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from copilot.core import sentences
from copilot.core.records import Chunk, Page

SPECIAL_TOKENS = 2  # [CLS] and [SEP]
SLICE_CHARS = 20_000  # the most of one over-long sentence encoded at once (see Chunker._cut)
# WordPiece reads a "word" over 100 characters as one [UNK]: a base64 image or a line of
# noise would be one chunk megabytes long.  Its first 100 characters stand for it.
_LONG_WORD = re.compile(r"(\S{100})\S+")


class Chunker:
    """Splits pages into chunks of at most `max_tokens` embedder tokens."""

    def __init__(self, tokenizer_file: Path, max_tokens: int, overlap: int, window: int = 256):
        from tokenizers import Tokenizer

        self._tok = Tokenizer.from_file(str(tokenizer_file))
        self._tok.no_truncation()
        self._tok.no_padding()
        self.max_tokens = max(16, min(max_tokens, window - SPECIAL_TOKENS))
        self.overlap = max(0, min(overlap, self.max_tokens // 2))

    def count(self, text: str) -> int:
        """Tokens in `text`, without special tokens."""
        return len(self._tok.encode(text, add_special_tokens=False).ids)

    def chunks(self, pages: Iterable[Page], path: str, source: str, sha: str) -> Iterator[Chunk]:
        """Every chunk of a document, numbered in reading order."""
        number = 0
        for page in pages:
            heading = page.heading
            budget = self.max_tokens
            if heading:
                budget -= self.count(heading) + 1  # +1 for the newline that joins them
                if budget < self.max_tokens // 2:  # a heading path longer than the text it heads
                    heading, budget = "", self.max_tokens
            for text in self.split(page.text, budget):
                yield Chunk(path, source, page.number, number, text, sha, heading, ocr=page.ocr)
                number += 1

    def split(self, text: str, budget: int | None = None) -> list[str]:
        """Cut one page's text into chunk texts of at most `budget` tokens."""
        limit = budget or self.max_tokens
        units = list(self._units(text))
        if not units:
            return []
        counts: list[int] = []
        for i in range(0, len(units), 1024):  # Encodings are heavy (see _cut): a batch at a time
            batch = units[i:i + 1024]
            # A unit too long to encode at once is cut in slices anyway: counting it would cost the same.
            encoded = self._tok.encode_batch([u if len(u) <= SLICE_CHARS else "" for u in batch],
                                             add_special_tokens=False)
            counts += [len(e.ids) if len(u) <= SLICE_CHARS else limit + 1 for u, e in zip(batch, encoded)]
        pieces: list[tuple[str, int]] = []
        for unit, n in zip(units, counts):
            pieces.extend(self._cut(unit, limit) if n > limit else [(unit, n)])
        return self._pack(pieces, limit)

    @staticmethod
    def _units(text: str) -> Iterator[str]:
        yield from sentences.split(_LONG_WORD.sub("\\1…", text))

    def _cut(self, text: str, limit: int) -> list[tuple[str, int]]:
        """A sentence longer than a chunk, cut at token boundaries.

        Encoded a slice at a time: an Encoding costs ~150 bytes a token in Python
        objects, and a text with no sentence ends (a log, a bad OCR layer) can be
        one "sentence" of megabytes: 4 MB of it took 500 MB at once.
        """
        out = []
        start = 0
        while start < len(text):
            end = len(text) if len(text) - start <= SLICE_CHARS else text.rfind(" ", start, start + SLICE_CHARS)
            end = end if end > start else start + SLICE_CHARS  # no space to cut at: cut anyway
            out += self._cut_slice(text[start:end], limit)
            start = end
        return out

    def _cut_slice(self, text: str, limit: int) -> list[tuple[str, int]]:
        enc = self._tok.encode(text, add_special_tokens=False)
        words, offsets = enc.word_ids, enc.offsets
        out, start, total = [], 0, len(enc.ids)
        while start < total:
            end = min(start + limit, total)
            # Back off to a word boundary so re-tokenizing the piece cannot grow it.
            while start + 1 < end < total and words[end] is not None and words[end] == words[end - 1]:
                end -= 1
            if end == start + 1 and end < total:  # one giant "word": cut anyway
                end = min(start + limit, total)
            piece = text[offsets[start][0] : offsets[end - 1][1]].strip()
            if piece:
                out.append((piece, end - start))
            start = end
        return out

    def _pack(self, pieces: list[tuple[str, int]], limit: int) -> list[str]:
        chunks: list[str] = []
        current: list[tuple[str, int]] = []
        size = 0
        for text, n in pieces:
            if current and size + n > limit:
                chunks.append("\n".join(t for t, _ in current))
                current, size = self._tail(current, n, limit)
            current.append((text, n))
            size += n
        if current:
            chunks.append("\n".join(t for t, _ in current))
        return chunks

    def _tail(self, current: list[tuple[str, int]], incoming: int, limit: int) -> tuple[list, int]:
        """The last sentences of a chunk to repeat at the start of the next."""
        budget = min(self.overlap, limit - incoming)
        tail: list[tuple[str, int]] = []
        size = 0
        for text, n in reversed(current):
            if size + n > budget:
                break
            tail.insert(0, (text, n))
            size += n
        return tail, size
