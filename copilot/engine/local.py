"""The local engine: a configured copilot that indexes and answers on this machine.

It implements `copilot.core.contract.Engine`, the whole contract of the CLI
and the app, by wiring the stages together from a `Config`; each heavy
component loads on first use, so a command pays only for what it touches
(`copilot index` never loads the language model).  It holds no identity:
every read is made for the `Reader` passed in with the call.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TypeVar

from copilot.answer.answerer import Answerer, AnswerSettings
from copilot.answer.prompt import SYSTEM
from copilot.answer.retrieval import RetrievalSettings, Retriever
from copilot.core import offline, sanitize
from copilot.core.admin import ModelInfo, ModelState, Superseded, Totals
from copilot.core.answers import Answer, SignOff
from copilot.core.config import Config
from copilot.core.contract import AuditTrail
from copilot.core.errors import AccessDenied, ConfigError, IndexCancelled, IndexEmpty, IndexStale
from copilot.core.hashing import ProgressFn
from copilot.core.indexing import Progress, Summary
from copilot.core.protocols import TokenFn
from copilot.core.records import Document, Entry
from copilot.core.walls import Reader, Walls, resolver
from copilot.llama.models import resolve_embedder, resolve_llm

T = TypeVar("T")


class Copilot:
    """Index documents and answer questions about them, offline."""

    def __init__(self, config: Config, model_progress: ProgressFn | None = None):
        self.config = config
        self._model_progress = model_progress
        self._parts: dict[str, object] = {}
        # The app touches parts from several worker threads: each loads exactly once, under a
        # lock of its own so that different parts load at the same time (the model beside the
        # index); `_lock` guards the dict itself and is never held while waiting on a part's.
        self._lock = threading.RLock()
        self._making: dict[str, threading.RLock] = {}
        offline.guard(config)

    def _making_lock(self, name: str) -> threading.RLock:
        with self._lock:
            return self._making.setdefault(name, threading.RLock())

    def _part(self, name: str, make: Callable[[], T]) -> T:
        with self._lock:
            if name in self._parts:
                return self._parts[name]  # type: ignore[return-value]
        with self._making_lock(name):
            with self._lock:
                if name in self._parts:  # another thread made it while this one waited
                    return self._parts[name]  # type: ignore[return-value]
            made = make()
            with self._lock:
                return self._parts.setdefault(name, made)  # type: ignore[return-value]

    @property
    def embedder(self):
        from index.embedding import make_embedder

        c = self.config
        return self._part("embedder", lambda: make_embedder(
            resolve_embedder(c.embedder), c.embed_backend, c.models_dir / "embedders", c.embed_batch
        ))

    @property
    def store(self):
        from index.store import ChromaStore

        def make() -> ChromaStore:
            generation = self.manifest.generation()  # what the store holds when opened
            with self._lock:
                self._parts["generation"] = generation
            return ChromaStore(self.config.index_dir / "chroma", self.config.chroma_url)

        return self._part("store", make)

    def _index_as_it_is(self) -> None:
        """Reopen the vector store if another process changed the index since it was opened
        (see `index.store.forget_open_clients`): a long-lived engine (a warm one, a server)
        answers from what is indexed now.  A Chroma server needs none of it: it is the one
        writer and reader."""
        if self.config.chroma_url:
            return
        with self._making_lock("answerer"), self._making_lock("store"), self._lock:  # parts' order
            opened = self._parts.get("generation")  # None: a store given whole (a test's), kept
            if "store" in self._parts and opened is not None and opened != self.manifest.generation():
                from index.store import forget_open_clients

                self._parts.pop("store")
                self._parts.pop("answerer", None)
                forget_open_clients()

    @property
    def manifest(self):
        from index.manifest import Manifest

        return self._part("manifest", lambda: Manifest(self.config.index_dir / "manifest.sqlite"))

    @property
    def model_path(self) -> Path:
        return resolve_llm(self.config.model, self.config.models_dir, self._model_progress)

    @property
    def generator(self):
        from copilot.llama.generator import LlamaGenerator

        c = self.config
        if c.endpoints:  # a firm's model servers answer; nothing loads here
            from copilot.llama.endpoint import EndpointGenerator

            return self._part("generator", lambda: EndpointGenerator(c.endpoints, c.context_window, c.temperature))

        def make() -> LlamaGenerator:
            generator = LlamaGenerator(self.model_path, c.context_window, c.threads, c.gpu_layers,
                                       c.temperature)
            generator.prime(SYSTEM)
            return generator

        return self._part("generator", make)

    @property
    def model(self) -> str:
        return str(self.config.model)

    def models(self, hashes: bool = True, progress: Callable[[str], ProgressFn] | None = None) -> list[ModelInfo]:
        """Packaged models first, then the GGUF files in the models folder (see `copilot.llama.catalog`)."""
        from copilot.llama.catalog import catalog

        return catalog(self.config.models_dir, hashes, progress)

    def _model_state(self) -> ModelState:
        generator = self.generator
        name = generator.name if self.config.endpoints else self.model  # served: the servers' model
        return ModelState(Path(name).name.removesuffix(".gguf"), generator.quant,
                          generator.context_window)

    def use_model(self, setting: str) -> ModelState:
        """Answer with another model from now on (a name from `copilot models`, or a path).

        The model in use is freed before the new one loads, so a laptop never
        holds both; if the new one fails to load, the old setting stays and
        loads again on the next question.
        """
        if self.config.endpoints:
            raise ConfigError("the model is the one the model servers serve (model_endpoints): "
                              "it is chosen where they run")
        resolve_llm(setting, self.config.models_dir)  # a bad name fails here, nothing unloaded
        with self._making_lock("answerer"), self._making_lock("generator"), self._lock:  # parts' order
            old = self._parts.pop("generator", None)
            self._parts.pop("answerer", None)
            self._parts.pop("model_record", None)
            if old is not None:
                old.close()
            previous, self.config = self.config, replace(self.config, model=setting)
            try:
                return self._model_state()
            except BaseException:
                self.config = previous
                raise

    @property
    def answerer(self) -> Answerer:
        c = self.config

        def make() -> Answerer:
            beside = _Beside(lambda: (self.store, self.embedder.model))  # a cold start's longest parts,
            generator = self.generator  # the model and the index, load at the same time
            beside.join()
            retriever = Retriever(self.embedder, self.store, self.manifest, RetrievalSettings.of(c))
            return Answerer(retriever, generator, AnswerSettings.of(c))

        return self._part("answerer", make)

    def local_reader(self) -> Reader:
        """The person at this machine's keyboard, as the OS says, with the walls the access
        policy gives them (`AccessDenied` if none).  Read afresh each time: the engine
        keeps no identity, so one engine can answer many readers."""
        from copilot.engine.access import load

        try:
            return load(self.config.policy_path).reader
        except AccessDenied:
            self._indexed_or_say_so()  # a new install has no policy until its first index
            raise

    def index(self, paths: Iterable[Path], progress: Progress | None = None, passwords: Sequence[str] = (),
              collection: str | None = None, folders: Mapping[Path, str] | None = None) -> Summary:
        """Bring the index in step with `paths` (see `index.indexer`).

        `passwords` are tried, in turn, on encrypted files; each file goes to
        the collection of the deepest of `folders` holding it, else to
        `collection`, else to the default one.  A `progress`
        may stop the run by raising `IndexCancelled`: files already done stay
        indexed, the one in hand is left as it was.  Each run is recorded
        (`last_run`), cancelled or failed ones too.
        """
        from index.chunking import Chunker
        from index.indexer import Indexer, writer_lock

        from copilot.engine.access import first_policy

        paths = [Path(p) for p in paths]
        collection_of = resolver(collection, dict(folders or {}))  # a bad name fails before any work
        if not self.manifest.entries():  # a new install: its first user may read what they index
            first_policy(self.config.policy_path)
        with writer_lock(self.config.index_dir):
            chunker = Chunker(
                self.embedder.tokenizer_file, self.config.chunk_tokens,
                self.config.chunk_overlap, self.embedder.window,
            )
            indexer = Indexer(self.store, self.manifest, chunker, self.embedder, passwords, collection_of,
                              self.config.max_file_mb, ocr=self.config.ocr != "off")
            run = {"time": time.time(), "paths": [str(p) for p in paths]}
            try:
                summary = indexer.run(paths, progress)
            except BaseException as exc:
                run["outcome"] = "cancelled" if isinstance(exc, IndexCancelled) else f"failed: {exc}"
                self.manifest.set_setting("last_run", json.dumps(run))
                raise
            run.update(outcome="done", line=summary.line())
            self.manifest.set_setting("last_run", json.dumps(run))
            with self._lock:  # written through this engine's own store: it holds it all already
                self._parts["generation"] = self.manifest.generation()
            return summary

    def totals(self, reader: Reader) -> Totals:
        """Files, pages (of them, read by OCR) and chunks indexed, files skipped, behind `reader`'s walls."""
        return self.manifest.totals(reader.walls)

    @property
    def slots(self) -> int:
        """How many answers the model writes at once: its servers' slots, all together (one that is
        down counts one); 1 where it runs in this process."""
        return self.generator.slots if self.config.endpoints else 1

    def load_models(self) -> ModelState:
        """Load the embedder and the language model now (the app does it while the user types)."""
        _ = self.embedder.model
        return self._model_state()

    def document(self, path: str, reader: Reader) -> Document:
        """A cited document, read whole to be shown at its page: only one the index holds
        behind `reader`'s walls (`AccessDenied` otherwise), so a path cannot open another's."""
        from index import loaders

        self._readable(path, reader)
        return loaders.load(Path(path))

    def _readable(self, path: str, reader: Reader) -> Entry:
        """The ledger's row for `path` if it is indexed behind `reader`'s walls; `AccessDenied`
        otherwise, in the same words whether it is walled off or was never indexed."""
        entry = self.manifest.get(path)
        if entry is None or entry.status != "indexed" or not reader.walls.allows(entry.collection):
            raise AccessDenied(f"{Path(path).name} is not among the documents {reader.user} may read")
        return entry

    def last_run(self) -> dict | None:
        """The latest indexing run: time, paths, outcome, and its summary line when done."""
        try:
            return json.loads(self.manifest.setting("last_run") or "null")
        except ValueError:
            return None

    def status(self, reader: Reader) -> list[tuple[str, Entry]]:
        """Every file the index knows behind the reader's walls, with its state now:
        indexed, skipped, stale or pending.

        Stale means the file changed or disappeared since it was indexed (the
        next `copilot index` of its folder will catch up).
        """
        manifest = self.manifest
        entries = manifest.entries()
        pending = set(manifest.pending())
        rows = []
        for entry in entries:
            if not reader.walls.allows(entry.collection):
                continue  # another matter's file names are behind the wall too
            try:
                st = os.stat(entry.path)
                changed = (st.st_size, st.st_mtime_ns) != (entry.size, entry.mtime_ns)
            except OSError:
                changed = True
            state = "pending" if entry.path in pending else "stale" if changed else entry.status
            rows.append((state, entry))
        return rows

    def ask(
        self,
        question: str,
        reader: Reader,
        on_token: TokenFn | None = None,
        cancel: threading.Event | None = None,
        history: Sequence[Answer] = (),
        on_wait: Callable[[int], None] | None = None,
        document: str | None = None,
    ) -> Answer:
        """Answer `reader` from the indexed documents they may see; `IndexEmpty` if there are none.

        `history` is the conversation so far, for follow-up questions; `on_wait` is not
        called (nothing queues in front of this engine: a server queues before calling it);
        `document` keeps retrieval to that one file (`AccessDenied` unless the reader may read it).
        The question is cleaned first (`sanitize.question`): `BadQuestion` if nothing askable is left.
        """
        question = sanitize.question(question)
        self._indexed_or_say_so()
        if document is not None:
            self._readable(document, reader)
        walls = reader.walls
        if not self.manifest.indexed_versions(walls):
            raise IndexEmpty(f"nothing is indexed in the collections you may read ({walls})")
        from index.indexer import embedder_name

        built_with = self.manifest.setting("embedder")
        if built_with and built_with != embedder_name(self.embedder):
            raise IndexStale(
                f"the index was built with the embedder {built_with}, not "
                f"{embedder_name(self.embedder)}; run `copilot index` on your folders to rebuild it"
            )
        self._index_as_it_is()
        answer = self.answerer.answer(question, walls, on_token, cancel, history, document)
        self.record(answer, reader, document)
        return answer

    def _indexed_or_say_so(self) -> None:
        if not self.manifest.indexed_versions(Walls.everything()):
            raise IndexEmpty(f"nothing is indexed yet in {self.config.index_dir}; run: copilot index FOLDER")

    def record(self, answer: Answer, reader: Reader, document: str | None = None) -> dict:
        """Add an answer given to `reader` (from `document` alone, if given) to the audit trail
        (`AuditError` if it cannot be written)."""
        from copilot.engine.audit import entry

        return self.audit().append(entry(answer, reader.user, reader.walls, self.model_record, document))

    def sign_off(self, signoff: SignOff, reader: Reader) -> dict:
        """Add a reviewer's verdict on a review's answer to the audit trail (`AccessDenied`
        unless `reader` may read its document; `AuditError` if it cannot be written)."""
        from copilot.engine.audit import signed

        self._readable(signoff.document, reader)
        return self.audit().append(signed(signoff, reader.user, reader.walls, self.model_record))

    def audit(self) -> AuditTrail:
        """The audit trail (`copilot.engine.audit.AuditLog`): read, checked, appended to by `record`."""
        from copilot.engine.audit import AuditLog

        return AuditLog(self.config.audit_file)

    def superseded(self) -> list[Superseded]:
        """Past answers that cited passages of documents since changed or removed from the index:
        IT's check over every record, so the versions are read without walls (which versions
        exist, not what they say)."""
        current = self.manifest.indexed_versions(Walls.everything())
        found = []
        for record in self.audit().records():
            cited = {c.get("chunk_id") for c in record["answer"].get("citations", [])}
            gone = tuple((r, "removed" if r["file"] not in current else "changed")
                         for r in record.get("retrieved", [])
                         if r["chunk"] in cited and current.get(r["file"]) != r["sha256"])
            if gone:
                found.append(Superseded(record, gone))
        return found

    @property
    def model_record(self) -> dict:
        """The model file and settings an answer was made with, for the audit trail."""
        from copilot.llama.models import file_sha256

        c = self.config

        def make() -> dict:
            if c.endpoints:  # the file is on the model servers: the audit names the model they serve
                served = {"file": self.generator.name, "sha256": "", "setting": c.model,
                          "endpoints": list(c.endpoints)}
            else:
                path = self.model_path
                served = {"file": path.name, "sha256": file_sha256(path), "setting": c.model}
            return served | {"settings": {
                "temperature": c.temperature, "max_tokens": c.max_tokens, "context_window": c.context_window,
                "top_k": c.top_k, "min_score": c.min_score, "retrieval": c.retrieval,
                "retrieval_depth": c.retrieval_depth, "evidence_tokens": c.evidence_tokens,
                "evidence_sentences": c.evidence_sentences, "evidence_window": c.evidence_window,
                "min_confidence": c.min_confidence}}

        return self._part("model_record", make)


class _Beside:
    """`work` in a thread of its own; `join` waits for it and raises what it raised."""

    def __init__(self, work: Callable[[], object]):
        self._failure: BaseException | None = None

        def run() -> None:
            try:
                work()
            except BaseException as exc:  # raised where it is waited for, in the caller's thread
                self._failure = exc

        self._thread = threading.Thread(target=run, name="copilot-load", daemon=True)
        self._thread.start()

    def join(self) -> None:
        self._thread.join()
        if self._failure is not None:
            raise self._failure
