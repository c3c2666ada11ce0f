"""What the engine reports about itself: the models it can use and the one answering, the
index's totals for a reader, and the audit trail's breaks and superseded answers.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


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
