"""Plain text and Markdown, in whatever encoding the file was saved in.

Decoding order: a byte-order mark, then an encoding the document declares,
then strict UTF-8, then detection by charset-normalizer.  Detection cannot
tell the Windows code pages of Western and Central Europe apart on a short
file; when Windows-1252 is among its best guesses it wins, as the WHATWG
encoding standard makes it the default for undeclared Western text.
"""

from __future__ import annotations

import codecs
import re
from pathlib import Path

from copilot.core.errors import SkipFile
from copilot.core.records import Document, Page
from index.loaders import Reading, read_bytes
from index.loaders.structure import Sections, clean

_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
         (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
_ATX = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_SETEXT = re.compile(r"^(=+|-+)\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")
# Inline markup is not the text: a quote reads "kept for seven years", not "**kept** for".
_INLINE = (
    (re.compile(r"!?\[([^\]\n]*)\]\([^)\s]*(?:\s+\"[^\"]*\")?\)"), r"\1"),  # [text](url), ![alt](src)
    (re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1"), r"\2"),  # **strong**, __strong__
    (re.compile(r"(?<![\w*])\*(?=[^\s*])([^*\n]+?)(?<=[^\s*])\*(?![\w*])"), r"\1"),  # *emphasis*
    (re.compile(r"`([^`\n]+)`"), r"\1"),  # `code`
)


def plain(line: str) -> str:
    """A Markdown line without its inline markup (list markers and the words stay)."""
    for pattern, keep in _INLINE:
        line = pattern.sub(keep, line)
    return line


def decode(data: bytes, declared: str | None = None) -> str:
    """Bytes to text, by BOM, declaration, UTF-8, then detection."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return data.decode(encoding, errors="replace")
    if declared:
        try:
            return data.decode(codecs.lookup(declared).name, errors="strict")
        except (LookupError, UnicodeDecodeError):
            pass  # a wrong declaration is common: detect instead
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    guesses = list(from_bytes(data))
    if not guesses:
        # No encoding makes sense of it.  Mostly printable bytes are still worth reading as
        # Windows-1252 (a damaged file keeps its text); noise (random bytes are 11 % control
        # codes) would be indexed as thousands of chunks of nonsense.
        controls = sum(data.count(bytes([b])) for b in range(32) if b not in b"\t\n\r\x0c")
        if controls > len(data) // 20:
            raise SkipFile("not text: binary data (no text encoding fits it)")
        return data.decode("cp1252", errors="replace")
    best = guesses[0]
    for guess in guesses:
        if guess.encoding == "cp1252" and guess.chaos <= best.chaos + 0.01:
            return str(guess)
    return str(best)


def _text(source: Path | bytes) -> str:
    text = clean(decode(read_bytes(source)))
    if not text:
        raise SkipFile("empty file")
    return text


def load_text(source: Path | bytes, reading: Reading = Reading()) -> Document:
    """A text file: one passage run without pages or headings."""
    return Document((Page(0, _text(source)),))


def load_markdown(source: Path | bytes, reading: Reading = Reading()) -> Document:
    """Markdown, sectioned by its `#` and underlined headings (code blocks ignored)."""
    sections = Sections()
    lines = _text(source).split("\n")
    para: list[str] = []
    fenced = False

    def flush() -> None:
        sections.para("\n".join(para))
        para.clear()

    for i, line in enumerate(lines):
        if _FENCE.match(line):
            fenced = not fenced
        atx = None if fenced else _ATX.match(line)
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        if atx:
            flush()
            sections.heading(len(atx.group(1)), plain(atx.group(2)))
        elif not fenced and line.strip() and not para and _SETEXT.match(nxt) and len(nxt.strip()) >= 2:
            flush()
            sections.heading(1 if nxt.strip()[0] == "=" else 2, plain(line))
        elif not fenced and _SETEXT.match(line) and i > 0 and sections_took(lines, i):
            continue  # the underline of a heading just taken
        elif not line.strip():
            flush()
        else:
            para.append(line if fenced else plain(line))
    flush()
    return Document(tuple(sections.pages()))


def sections_took(lines: list[str], i: int) -> bool:
    """Whether line `i` underlines the line before it as a setext heading."""
    prev = lines[i - 1]
    before = lines[i - 2] if i >= 2 else ""
    return bool(prev.strip()) and not before.strip() and len(lines[i].strip()) >= 2
