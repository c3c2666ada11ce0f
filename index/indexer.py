"""The indexing run: walk the given paths, bring the index in step with them.

A file is hashed only when its size or mtime changed; a file whose content is
unchanged costs no embedding.  A changed file's old chunks are replaced, a
file gone from a folder loses its chunks, and a file that cannot be read is
recorded with its reason and the run goes on.  The manifest row is written
last, so until a file is complete no reader sees any of its new chunks.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol

from copilot.errors import CopilotError, IndexBusy, SkipFile
from copilot.models import sha256_of
from copilot.types import Embedder
from index import loaders
from index.chunking import Chunker
from index.manifest import Entry, Manifest
from index.store import ChromaStore


class Progress(Protocol):
    """What a run reports as it goes (the CLI draws a bar from it)."""

    def start(self, files: int) -> None: ...
    def file(self, source: str) -> None: ...
    def done(self, source: str, chunks: int) -> None: ...


class _Silent:
    def start(self, files: int) -> None: ...
    def file(self, source: str) -> None: ...
    def done(self, source: str, chunks: int) -> None: ...


@dataclass
class Summary:
    """What one run did."""

    files: int = 0
    indexed: int = 0
    unchanged: int = 0
    removed: int = 0
    pages: int = 0
    chunks: int = 0
    ignored: dict[str, int] = field(default_factory=dict)  # unsupported suffix → files
    skipped: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0

    def line(self) -> str:
        """The one-line summary printed at the end of `copilot index`."""
        return (
            f"{self.files} files: {self.indexed} indexed ({self.pages} pages, "
            f"{self.chunks} chunks embedded), {self.unchanged} unchanged, "
            f"{self.removed} removed, {len(self.skipped)} skipped; {self.seconds:.1f} s"
        ) + self._ignored_note()

    def _ignored_note(self) -> str:
        if not self.ignored:
            return ""
        kinds = ", ".join(f"{n} {suffix}" for suffix, n in sorted(self.ignored.items()))
        n = sum(self.ignored.values())
        return f"\n{n} file{'s' if n > 1 else ''} of unsupported type not read ({kinds})"


@contextmanager
def writer_lock(folder: Path) -> Iterator[None]:
    """Hold the index's writer lock, or fail at once naming the holder."""
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / "writer.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            raise IndexBusy(f"index is being updated by PID {holder}; try again when it ends") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(fd)  # closing releases the lock, even after a kill


def walk(paths: Iterable[Path]) -> Iterator[tuple[Path, Path, str]]:
    """(root, file, shown name) for every visible file under the given paths."""
    for root in paths:
        root = root.expanduser().resolve()
        if root.is_file():
            yield root, root, root.name
        elif root.is_dir():
            for dirpath, dirnames, filenames in os.walk(root):
                dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
                for name in sorted(filenames):
                    if not name.startswith("."):
                        file = Path(dirpath) / name
                        yield root, file, str(file.relative_to(root))
        else:
            raise CopilotError(f"no such file or folder: {root}")


class Indexer:
    """Brings a store and its manifest in step with folders of documents."""

    def __init__(self, store: ChromaStore, manifest: Manifest, chunker: Chunker, embedder: Embedder):
        self.store, self.manifest = store, manifest
        self.chunker, self.embedder = chunker, embedder

    def run(self, paths: Iterable[Path], progress: Progress | None = None) -> Summary:
        progress = progress or _Silent()
        started = time.perf_counter()
        roots = [Path(p).expanduser().resolve() for p in paths]
        files = [(r, f, s) for r, f, s in walk(roots)]
        summary = Summary()
        progress.start(len(files))
        seen: set[str] = set()
        for _root, file, source in files:
            progress.file(source)
            seen.add(str(file))
            chunks = self._one(file, source, summary)
            progress.done(source, chunks)
        summary.removed = self._remove_missing(roots, seen)
        summary.seconds = time.perf_counter() - started
        return summary

    def _one(self, file: Path, source: str, summary: Summary) -> int:
        if not loaders.supported(file):
            suffix = file.suffix.lower() or "(no extension)"
            summary.ignored[suffix] = summary.ignored.get(suffix, 0) + 1
            return 0
        summary.files += 1
        path, st = str(file), file.stat()
        old = self.manifest.get(path)
        if old and (old.size, old.mtime_ns) == (st.st_size, st.st_mtime_ns):
            return self._unchanged(old, summary)
        sha = sha256_of(file)
        if old and old.sha256 == sha and old.source == source:
            self.manifest.put(replace(old, mtime_ns=st.st_mtime_ns, updated=0))
            return self._unchanged(old, summary)
        base = Entry(path, source, st.st_size, st.st_mtime_ns, sha, "skipped")
        try:
            pages = loaders.load(file)
            chunks = list(self.chunker.chunks(pages, path, source, sha))
            if not chunks:
                raise SkipFile("no text")
            vectors = self.embedder.embed([c.text for c in chunks])
        except SkipFile as exc:
            self.store.delete_path(path)  # an unreadable new version must not leave the old
            self.manifest.put(replace(base, reason=str(exc)))
            summary.skipped.append((source, str(exc)))
            return 0
        self.store.delete_path(path)
        self.store.add(chunks, vectors)
        self.manifest.put(replace(base, status="indexed", pages=len(pages), chunks=len(chunks)))
        summary.indexed += 1
        summary.pages += len(pages)
        summary.chunks += len(chunks)
        return len(chunks)

    @staticmethod
    def _unchanged(old: Entry, summary: Summary) -> int:
        summary.unchanged += 1
        if old.status == "skipped":
            summary.skipped.append((old.source, old.reason))
        return 0

    def _remove_missing(self, roots: list[Path], seen: set[str]) -> int:
        removed = 0
        for entry in self.manifest.entries():
            under = any(
                entry.path == str(r) or entry.path.startswith(str(r) + os.sep) for r in roots
            )
            if under and entry.path not in seen:
                self.store.delete_path(entry.path)
                self.manifest.remove(entry.path)
                removed += 1
        return removed
