"""E-mail (.eml): headers as metadata, the body and readable attachments as text.

The headers (From, To, Cc, Date, Subject) are kept as the document's
metadata and also open its text, so "the e-mail from Dana about the lease"
can be found.  The body is the plain-text part, or the HTML part's text.
Attachments of any type we index (text, HTML, PDF, Word...) are read by
their own loader and cited under "attachment <name>"; others are listed in
the document's problems so the user knows they were not read.
"""

from __future__ import annotations

import email
from email import policy
from pathlib import Path, PurePath

from copilot.core.errors import SkipFile
from copilot.core.records import Document, Page
from index.loaders import Reading
from index.loaders.structure import clean, one_line

HEADERS = ("from", "to", "cc", "date", "subject")
_BY_TYPE = {"text/plain": ".txt", "text/html": ".html", "text/markdown": ".md", "application/pdf": ".pdf",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ".docx",
            "message/rfc822": ".eml"}


def load_eml(source: Path | bytes, reading: Reading = Reading()) -> Document:
    """The message's headers, body and attachments."""
    from index.loaders import read_bytes

    msg = email.message_from_bytes(read_bytes(source), policy=policy.default)
    meta = {h: value for h in HEADERS if (value := _header(msg, h))}
    if not meta:
        raise SkipFile("corrupt: not an e-mail message (no From, To, Date or Subject header)")
    subject = meta.get("subject", "")
    pages: list[Page] = []
    header = "\n".join(f"{h.capitalize()}: {v}" for h, v in meta.items())
    body = _body(msg)
    pages.append(Page(0, header + ("\n\n" + body if body else ""), subject))
    problems: list[str] = []
    for part in msg.iter_attachments():
        pages.extend(_attachment(part, subject, reading, problems))
    return Document(tuple(pages), title=subject, meta=meta, problems=tuple(problems))


def _header(msg, name: str) -> str:
    """A header's value; its raw text where the parser trips on it (a damaged address
    makes CPython's header parser raise IndexError), so the body is still read."""
    try:
        return one_line(str(msg[name] or ""))
    except Exception:  # noqa: BLE001 - any parser failure: the raw value is still worth having
        raw = next((v for k, v in msg.raw_items() if k.lower() == name), "")
        return one_line(str(raw))


def _body(msg) -> str:
    part = msg.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    try:
        content = part.get_content()
    except (LookupError, UnicodeError, ValueError):  # an unknown or damaged charset: detect it instead
        from index.loaders.text import decode

        try:
            content = decode(part.get_payload(decode=True) or b"")
        except SkipFile:
            return ""
    if part.get_content_type() == "text/html":
        from index.loaders.web import load_html

        try:  # get_content() has decoded it by the part's charset already
            return "\n\n".join(p.text for p in load_html(content).pages)
        except SkipFile:
            return ""
    return clean(content if isinstance(content, str) else content.decode("utf-8", "replace"))


def _attachment(part, subject: str, reading: Reading, problems: list[str]) -> list[Page]:
    from index.loaders import FORMATS, load_source
    from index.ocr import page_sized

    name = part.get_filename() or "unnamed"
    suffix = PurePath(name).suffix.lower()
    if suffix not in FORMATS:
        suffix = _BY_TYPE.get(part.get_content_type(), suffix)
    if suffix not in FORMATS:
        problems.append(f"attachment {name}: not read (unsupported type {part.get_content_type()})")
        return []
    data = part.get_payload(decode=True) or b""
    if FORMATS[suffix][0] == "image" and not page_sized(data):
        return []  # a logo or a signature in the message, not a scan sent with it
    try:
        doc = load_source(data, suffix, reading)
    except SkipFile as exc:
        problems.append(f"attachment {name}: {exc}")
        return []
    where = f"{subject} > attachment {name}" if subject else f"attachment {name}"
    return [
        Page(0, p.text, " > ".join(x for x in (where, f"page {p.number}" if p.number else "", p.heading) if x),
             ocr=p.ocr)
        for p in doc.pages
    ]
