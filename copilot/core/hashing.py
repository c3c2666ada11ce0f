"""File digests: how the index knows a document's version and the audit a model's."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

ProgressFn = Callable[[int, int], None]  # (bytes done, bytes in all)


def sha256_of(path: Path, progress: ProgressFn | None = None) -> str:
    """The file's sha256, read 8 MiB at a time (models are gigabytes)."""
    digest = hashlib.sha256()
    done, total = 0, path.stat().st_size
    with path.open("rb") as fh:
        while block := fh.read(8 << 20):
            digest.update(block)
            done += len(block)
            if progress:
                progress(done, total)
    return digest.hexdigest()
