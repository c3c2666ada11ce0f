"""The indexing run: walk the given paths, bring the index in step with them.

A file is hashed only when its size or mtime changed; a file whose content is
unchanged costs no embedding.  A changed file's old chunks are replaced, a
file gone from a folder loses its chunks, and a file that cannot be read is
recorded with its reason and the run goes on.

Crash safety: a file is marked pending in the manifest before the store is
touched, and its manifest row (which clears the mark) is written last, in one
SQLite transaction.  Readers only see chunks of versions the manifest lists
as indexed, so a kill at any point leaves a consistent index, and the next
run undoes whatever a killed run left half-written before doing anything else.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from copilot.core.errors import CopilotError, IndexBusy, SkipFile
from copilot.core.hashing import sha256_of
from copilot.core.indexing import Progress, Silent, Summary
from copilot.core.protocols import Embedder
from copilot.core.records import Entry
from copilot.core.sanitize import printable
from copilot.core.walls import DEFAULT_COLLECTION
from index import loaders, ocr
from index.chunking import Chunker
from index.manifest import Manifest
from index.store import ChromaStore

LAYOUT = "3"  # what an index holds; 2: passages in the lexical index too; 3: collections
EMBED_STEP = 128  # chunks embedded between progress updates (and held in memory at once)


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


def walk(paths: Iterable[Path]) -> Iterator[tuple[Path, str]]:
    """(file, shown name) for every visible file under the given paths."""
    for root in paths:
        root = root.expanduser().resolve()
        if root.is_file():
            yield root, shown(root.name)
        elif root.is_dir():
            for dirpath, dirnames, filenames in os.walk(root):
                dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
                for name in sorted(filenames):
                    if not name.startswith("."):
                        file = Path(dirpath) / name
                        yield file, shown(str(file.relative_to(root)))
        else:
            raise CopilotError(f"no such file or folder: {root}")


def shown(name: str) -> str:
    """A file name as it may be printed: escape sequences and line breaks in a name
    must not drive the terminal, and bytes that are not UTF-8 show as U+FFFD."""
    return " ".join(printable(name).split())


def _utf8(path: str) -> bool:
    try:
        path.encode("utf-8")
        return True
    except UnicodeEncodeError:  # os.walk gave the undecodable bytes as lone surrogates
        return False


def embedder_name(embedder: Embedder) -> str:
    """What identifies an embedder's vectors: vectors of two embedders never mix."""
    return str(getattr(embedder, "name", type(embedder).__name__))


class Indexer:
    """Brings a store and its manifest in step with folders of documents."""

    def __init__(
        self, store: ChromaStore, manifest: Manifest, chunker: Chunker, embedder: Embedder,
        passwords: Sequence[str] = (), collection_of: Callable[[Path], str] | None = None,
        max_mb: int = 0, ocr: bool = True,
    ):
        self.store, self.manifest = store, manifest
        self.chunker, self.embedder = chunker, embedder
        self.passwords = tuple(passwords)
        self.collection_of = collection_of or (lambda _file: DEFAULT_COLLECTION)
        self.max_mb = max_mb  # 0: no limit.  A file is read whole: a 4 GB one could take the run down
        self.ocr = ocr  # read scanned pages (where the OCR engine is installed)

    def run(self, paths: Iterable[Path], progress: Progress | None = None) -> Summary:
        progress = progress or Silent()
        started = time.perf_counter()
        self.recover()
        roots = [Path(p).expanduser().resolve() for p in paths]
        summary = Summary()
        files = []
        for file, source in walk(roots):
            if not loaders.supported(file):
                suffix = file.suffix.lower() or "(no extension)"
                summary.ignored[suffix] = summary.ignored.get(suffix, 0) + 1
                continue
            if not _utf8(str(file)):  # the index's databases store names as text
                summary.files += 1
                summary.skipped.append((source, "its name is not valid UTF-8 (saved under another "
                                                "system's encoding): rename the file to index it"))
                continue
            try:
                files.append((file, source, file.stat()))
            except OSError as exc:  # a broken link, or gone since the folder was listed
                summary.files += 1
                summary.skipped.append((source, f"cannot be read: {exc.strerror or exc}"))
        progress.start(len(files), sum(st.st_size for *_, st in files))
        for file, source, st in files:
            progress.file(source, st.st_size)
            self._one(file, source, st, summary, progress)
            progress.done(source)
        summary.removed = self._remove_missing(roots, {str(f) for f, *_ in files})
        summary.seconds = time.perf_counter() - started
        return summary

    def recover(self) -> None:
        """Undo what a killed run left half-written (and re-index what lost its passages);
        rebuild if the embedder changed."""
        for path in self.manifest.pending() + self.manifest.wordless():
            self.store.delete_path(path)
            self.manifest.remove(path)  # re-indexed from scratch on this run
        name = embedder_name(self.embedder)
        built = (self.manifest.setting("embedder"), self.manifest.setting("layout"))
        if built != (name, LAYOUT):
            # Another embedder's vectors cannot be mixed with ours, and an index
            # from before the lexical passages lacks them: rebuild either.
            self.store.clear()
            self.manifest.clear()
            self.manifest.set_setting("embedder", name)
            self.manifest.set_setting("layout", LAYOUT)

    def _one(self, file: Path, source: str, st: os.stat_result, summary: Summary, progress: Progress) -> None:
        summary.files += 1
        path = str(file)
        collection = self.collection_of(file)
        old = self.manifest.get(path)
        # A file moved behind another wall is re-written: its chunks carry the collection.  Scans
        # left unread (OCR off, or not installed then) are read once it can.
        retry = bool(old and ((self.passwords and "password" in old.reason) or old.collection != collection
                              or (self.ocr and loaders.awaits_ocr(old.reason) and ocr.available())))
        if old and (old.size, old.mtime_ns) == (st.st_size, st.st_mtime_ns) and not retry:
            return self._unchanged(old, summary)
        try:
            sha = sha256_of(file)
        except OSError as exc:  # deleted or locked while the run went on: the next run catches up
            summary.skipped.append((source, f"cannot be read: {exc.strerror or exc}"))
            return
        if old and old.sha256 == sha and old.source == source and not retry:
            self.manifest.retime(path, st.st_mtime_ns)  # not put(): that rewrites its passages
            return self._unchanged(old, summary)
        base = Entry(path, source, st.st_size, st.st_mtime_ns, sha, "skipped", collection=collection)
        try:
            if self.max_mb and st.st_size > self.max_mb * 2**20:
                raise SkipFile(f"too large to index ({st.st_size / 2**20:,.0f} MB; the limit is "
                               f"{self.max_mb:,} MB: max_file_mb in config.toml)")
            doc = loaders.load_source(file, file.suffix, loaders.Reading(self.passwords, self.ocr, progress.read))
            chunks = [replace(c, collection=collection)
                      for c in self.chunker.chunks(doc.pages, path, source, sha)]
            if not chunks:
                raise SkipFile("no text")
            vectors = self._embed(chunks, progress)
        except SkipFile as exc:
            if old and old.status == "indexed":  # an unreadable new version must not leave the old
                self.manifest.begin(path)
                self.store.delete_path(path)
            self.manifest.put(replace(base, reason=str(exc)))
            summary.skipped.append((source, str(exc)))
            return
        self.manifest.begin(path)
        self.store.delete_path(path)
        self.store.add(chunks, vectors)
        pages = len({p.number for p in doc.pages if p.number})  # formats without pages add none
        scanned = sum(p.ocr for p in doc.pages)  # a scan page, or a picture in a Word file
        self.manifest.put(replace(
            base, status="indexed", reason="; ".join(doc.problems), pages=pages,
            chunks=len(chunks), title=doc.title, ocr_pages=scanned,
        ), chunks)
        summary.indexed += 1
        summary.pages += pages
        summary.ocr_pages += scanned
        summary.chunks += len(chunks)
        summary.partial += [(source, problem) for problem in doc.problems]

    def _embed(self, chunks: list, progress: Progress):
        """A float32 matrix of the file's chunk vectors, reporting progress per batch.

        float32 rows take a quarter of the memory of Python float lists: a
        file's vectors are the largest thing a run holds at once.
        """
        import numpy as np

        parts, done = [], 0
        pages_seen: set[int] = set()
        for start in range(0, len(chunks), EMBED_STEP):
            part = chunks[start : start + EMBED_STEP]
            parts.append(np.asarray(self.embedder.embed([c.embed_text for c in part]), dtype=np.float32))
            done += len(part)
            new_pages = {c.page for c in part} - pages_seen
            pages_seen |= new_pages
            progress.advance(pages=len(new_pages), chunks=len(part), fraction=done / len(chunks))
        return np.vstack(parts)

    @staticmethod
    def _unchanged(old: Entry, summary: Summary) -> None:
        summary.unchanged += 1
        if old.status == "skipped":
            summary.skipped.append((old.source, old.reason))

    def _remove_missing(self, roots: list[Path], seen: set[str]) -> int:
        removed = 0
        for entry in self.manifest.entries():
            under = any(
                entry.path == str(r) or entry.path.startswith(str(r) + os.sep) for r in roots
            )
            if under and entry.path not in seen:
                self.manifest.begin(entry.path)
                self.store.delete_path(entry.path)
                self.manifest.remove(entry.path)
                removed += 1
        return removed
