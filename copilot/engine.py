"""The product's core object: a configured copilot that indexes and answers.

It wires the stages together from a `Config` and loads each heavy component
on first use, so a command pays only for what it touches (`copilot index`
never loads the language model).  The CLI and the terminal app both talk to
this object and nothing below it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from functools import cached_property
from pathlib import Path

from copilot import offline
from copilot.answer import Answerer, TokenFn
from copilot.config import Config
from copilot.errors import IndexEmpty
from copilot.models import ProgressFn, resolve_embedder, resolve_llm
from copilot.retrieval import Retriever
from copilot.types import Answer


class Copilot:
    """Index documents and answer questions about them, offline."""

    def __init__(self, config: Config, model_progress: ProgressFn | None = None):
        self.config = config
        self._model_progress = model_progress
        self._init_lock = threading.Lock()  # the app loads from worker threads
        offline.install(config.offline_log)

    @cached_property
    def embedder(self):
        from index.embedding import SentenceTransformerEmbedder

        folder = resolve_embedder(self.config.embedder)
        return SentenceTransformerEmbedder(folder, batch_size=self.config.embed_batch)

    @cached_property
    def store(self):
        from index.store import ChromaStore

        return ChromaStore(self.config.index_dir / "chroma")

    @cached_property
    def manifest(self):
        from index.manifest import Manifest

        return Manifest(self.config.index_dir / "manifest.sqlite")

    @property
    def model_path(self) -> Path:
        return resolve_llm(self.config.model, self.config.models_dir, self._model_progress)

    @cached_property
    def generator(self):
        from copilot.llm import LlamaGenerator

        c = self.config
        with self._init_lock:
            return LlamaGenerator(
                self.model_path, c.context_window, c.threads, c.gpu_layers, c.temperature
            )

    def index(self, paths: Iterable[Path], progress=None):
        """Bring the index in step with `paths` (see `index.indexer`)."""
        from index.chunking import Chunker
        from index.indexer import Indexer, writer_lock

        with writer_lock(self.config.index_dir):
            chunker = Chunker(
                self.embedder.tokenizer_file, self.config.chunk_tokens,
                self.config.chunk_overlap, self.embedder.window,
            )
            indexer = Indexer(self.store, self.manifest, chunker, self.embedder)
            return indexer.run(paths, progress)

    @cached_property
    def answerer(self) -> Answerer:
        c = self.config
        retriever = Retriever(
            self.embedder, self.store, self.manifest.indexed_versions, c.top_k, c.min_score
        )
        return Answerer(retriever, self.generator, c.max_tokens)

    def ask(
        self,
        question: str,
        on_token: TokenFn | None = None,
        cancel: threading.Event | None = None,
    ) -> Answer:
        """Answer from the indexed documents; `IndexEmpty` if there are none."""
        if not self.manifest.indexed_versions():
            raise IndexEmpty(
                f"nothing is indexed yet in {self.config.index_dir}; run: copilot index FOLDER"
            )
        return self.answerer.ask(question, on_token, cancel)
