"""A fake engine for the app's tests: real answering logic, scripted model, fake index."""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from pathlib import Path

from copilot.answer.answerer import Answerer, AnswerSettings
from copilot.answer.retrieval import RetrievalSettings, Retriever
from copilot.core.admin import ModelState, Totals
from copilot.core.answers import Timings
from copilot.core.config import Config
from copilot.core.errors import ModelMissing
from copilot.core.indexing import Summary
from copilot.core.records import Chunk, Entry
from copilot.core.walls import Reader, Walls
from index import loaders

from fakes import BagOfWordsEmbedder, Indexed, ListStore, ScriptedGenerator

EVERYONE = Walls.everything()  # no wall: the walls themselves are tested in test_walls.py

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
MSA = EXAMPLES / "master-services-agreement-acme-bluefield.pdf"
RETENTION = EXAMPLES / "data-retention-policy.md"


def example_chunks() -> list[Chunk]:
    """Passages of two example files, as the indexer would have cut them (one per page/section)."""
    chunks = []
    for file in (MSA, RETENTION):
        for i, page in enumerate(loaders.load(file).pages):
            chunks.append(Chunk(str(file), file.name, page.number, i, page.text, "sha-" + file.name,
                                page.heading))
    return chunks


class SlowGenerator(ScriptedGenerator):
    """Streams like a model would: one word every `delay` seconds."""

    def __init__(self, reply, delay: float = 0.02):
        super().__init__(reply)
        self.delay = delay
        self.quant = "Q4_K_M"

    def stream(self, messages, max_tokens, cancel=None, stop=(), avoid=()):
        for piece in super().stream(messages, max_tokens, cancel, stop, avoid):
            time.sleep(self.delay)
            yield piece


class FakeEngine:
    """The engine contract (`copilot.core.contract.Engine`) over a fake index and a scripted
    model, with fixed timings so screens are stable (test_layers checks it keeps to it)."""

    def __init__(self, reply="Client matter files are kept for seven (7) years after the matter is closed [1].",
                 home: Path = Path("/nonexistent"), fail_load: bool = False, delay: float = 0.02,
                 files: int = 2):
        emb = BagOfWordsEmbedder()
        chunks = example_chunks()
        versions = {c.path: c.doc_sha256 for c in chunks}
        retriever = Retriever(emb, ListStore(chunks, emb), Indexed(versions), RetrievalSettings(top_k=3, min_score=0.1, depth=3))
        self.answerer = Answerer(retriever, SlowGenerator(reply, delay), AnswerSettings(max_tokens=400))
        self.config = Config(home=home, model="qwen2.5-coder-0.5b")
        self.fail_load = fail_load
        self.history: list = []
        self.asked: list[tuple[str, str | None]] = []  # (question, document) of every ask
        self.indexed: list[Path] = []
        self.manifest = FakeManifest(files)
        self.index_delay = 0.05
        self.index_gate: threading.Event | None = None  # set: the run may finish (a test holds it open)

    @property
    def model(self) -> str:
        return str(self.config.model)

    def models(self, hashes=True, progress=None):
        from copilot.llama.catalog import catalog

        return catalog(self.config.models_dir, hashes, progress)  # the real listing of a test's folder

    def _model_state(self) -> ModelState:
        if self.fail_load:
            raise ModelMissing("model file not found: /x.gguf; run `copilot doctor`")
        generator = self.answerer.generator
        return ModelState(Path(self.model).name.removesuffix(".gguf"), generator.quant, generator.context_window)

    def use_model(self, setting):
        from copilot.llama.models import resolve_llm

        resolve_llm(setting, self.config.models_dir)  # the real lookup: names, files, errors
        self.config = replace(self.config, model=setting)
        return self._model_state()

    def totals(self, reader):
        return self.manifest.totals()

    def load_models(self):
        return self._model_state()

    def document(self, path, reader):
        return loaders.load(Path(path))

    def local_reader(self):
        return Reader("tester", EVERYONE)

    def audit(self):
        from copilot.engine.audit import AuditLog

        return AuditLog(self.config.audit_file)

    def superseded(self):
        return []

    def sign_off(self, signoff, reader):
        from copilot.engine.audit import signed

        return self.audit().append(signed(signoff, reader.user, reader.walls, {"file": self.model}))

    def ask(self, question, reader, on_token=None, cancel=None, history=(), on_wait=None, document=None):
        self.history = list(history)
        self.asked.append((question, document))
        answer = self.answerer.answer(question, reader.walls, on_token, cancel, history, document)
        return replace(answer, timings=Timings(12.0, 150.0, 900.0, 1200, 40, 44.4))

    def status(self, reader):
        return [("indexed", Entry(str(MSA), MSA.name, 1, 1, "a", "indexed", "", 3, 3, 0.0)),
                ("indexed", Entry(str(RETENTION), RETENTION.name, 1, 1, "b", "indexed", "", 0, 6, 0.0)),
                ("skipped", Entry("/docs/scan.pdf", "scan.pdf", 1, 1, "c", "skipped",
                                  "scanned: no text layer (needs OCR)"))][: self.manifest.files + 1]

    def last_run(self):
        return {"time": 1_700_000_000.0, "paths": ["/docs"], "outcome": "done",
                "line": "3 files: 2 indexed (3 pages, 9 chunks embedded), 0 unchanged, 0 removed, 1 skipped; 0.4 s"}

    def index(self, paths, progress=None, passwords=(), collection=None, folders=None):
        """Walk a fake run of five files, slowly enough to be watched and cancelled."""
        self.indexed += list(paths)
        progress.start(5, 5000)
        for i in range(5):
            progress.file(f"file{i}.pdf", 1000)
            for step in range(4):
                time.sleep(self.index_delay)
                progress.advance(1, 2, (step + 1) / 4)
            if i == 4 and self.index_gate is not None:
                self.index_gate.wait(60)
            progress.done(f"file{i}.pdf")
        self.manifest.files += 5
        return Summary(files=5, indexed=5, pages=20, chunks=40, seconds=1.0)


class FakeManifest:
    def __init__(self, files: int):
        self.files = files

    def totals(self):
        return Totals(files=self.files, pages=3 * self.files, chunks=9 * self.files, skipped=1)
