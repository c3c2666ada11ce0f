"""The embedders: MiniLM through onnxruntime (default) or sentence-transformers.

Both read a local sentence-transformers folder and fetch nothing.  The ONNX
embedder runs the model exported once by `index.onnx_export` (or carried by
an offline bundle; dynamically quantized to int8 by default) with
onnxruntime, the model's own tokenizer and numpy: no torch or transformers
at run time, so a question is embedded in milliseconds after a start-up of
well under a second.  Texts are sorted by length before batching, so a batch
pads to its own longest text rather than to the longest text of the file.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Sequence
from pathlib import Path


class _LocalModel:
    """What every embedder knows from the model folder without loading the model."""

    backend = ""
    default_batch = 32

    def __init__(self, folder: Path, batch_size: int = 0):
        self.folder, self.batch_size = folder, batch_size or self.default_batch
        self._model = None
        self._lock = threading.Lock()  # the app may ask for it from two workers at once

    @property
    def name(self) -> str:
        """Identifies the vectors this embedder makes (an index never mixes two)."""
        return f"{self.folder.parent.name}/{self.folder.name}:{self.backend}"

    @property
    def tokenizer_file(self) -> Path:
        return self.folder / "tokenizer.json"

    @property
    def window(self) -> int:
        """The longest input, in tokens, the model reads before truncating.

        Read from the folder's config so chunking needs no model load.
        """
        try:
            return int(json.loads((self.folder / "sentence_bert_config.json").read_text())["max_seq_length"])
        except (OSError, ValueError, KeyError):
            return 256

    @property
    def model(self):
        with self._lock:
            if self._model is None:
                self._model = self._load()
            return self._model

    def _load(self):
        raise NotImplementedError


class OnnxEmbedder(_LocalModel):
    """An `Embedder` over the ONNX export of a sentence-transformers folder.

    Equivalent to the folder's SentenceTransformer with `normalize_embeddings`:
    truncation to the window, attention-masked mean pooling, L2 norm.  Small
    batches are fastest on a laptop CPU: a batch's activations stay in cache
    (on 2 cores, batches of 4 ran 1.7 times faster than batches of 32).
    """

    default_batch = 4

    def __init__(self, folder: Path, cache: Path, batch_size: int = 0, quantized: bool = True,
                 threads: int = 0):
        super().__init__(folder, batch_size)
        self.cache, self.quantized = cache, quantized
        self.threads = threads or min(4, os.cpu_count() or 1)
        self.backend = "onnx-int8" if quantized else "onnx"

    @property
    def name(self) -> str:
        from index.onnx_export import RECIPE

        return super().name + (f":{RECIPE}" if self.quantized else "")

    def _load(self):
        import onnxruntime as ort
        from tokenizers import Tokenizer

        from index import onnx_export

        model = onnx_export.ensure(self.folder, self.cache, onnx_export.INT8 if self.quantized else onnx_export.FP32)
        tok = Tokenizer.from_file(str(self.tokenizer_file))
        # tokenizer.json ships truncating at 128 and padding to 128: the model reads 256.
        tok.enable_truncation(max_length=self.window)
        tok.no_padding()
        options = ort.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        session = ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
        return tok, session

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One unit vector per text, in the order given."""
        import numpy as np

        if not texts:
            return []
        tok, session = self.model
        encodings = tok.encode_batch(list(texts))
        order = sorted(range(len(encodings)), key=lambda i: -len(encodings[i].ids))
        out = np.empty((len(encodings), 0), dtype=np.float32)
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            vectors = self._run(session, [encodings[i] for i in idx])
            if out.shape[1] == 0:
                out = np.empty((len(encodings), vectors.shape[1]), dtype=np.float32)
            out[idx] = vectors
        return out.tolist()

    @staticmethod
    def _run(session, encodings):
        import numpy as np

        ids = np.zeros((len(encodings), max(len(e.ids) for e in encodings)), dtype=np.int64)
        mask = np.zeros_like(ids)
        for row, e in enumerate(encodings):
            ids[row, : len(e.ids)] = e.ids
            mask[row, : len(e.ids)] = 1
        hidden = session.run(None, {"input_ids": ids, "attention_mask": mask,
                                    "token_type_ids": np.zeros_like(ids)})[0]
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(1) / np.clip(weights.sum(1), 1e-9, None)
        return pooled / np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)


class SentenceTransformerEmbedder(_LocalModel):
    """An `Embedder` over sentence-transformers with torch (the fp32 reference)."""

    backend = "torch"

    def __init__(self, folder: Path, batch_size: int = 0, device: str = "cpu"):
        super().__init__(folder, batch_size)
        self.device = device

    def _load(self):
        try:
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as hf_logging
        except ImportError:
            from copilot.core.errors import ModelMissing

            raise ModelMissing('embed_backend = "torch" needs sentence-transformers and torch, which this '
                               'installation leaves out: set embed_backend = "onnx-int8"') from None

        hf_logging.disable_progress_bar()  # its bars would cut through ours
        hf_logging.set_verbosity_error()
        return SentenceTransformer(str(self.folder), device=self.device, local_files_only=True)

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One unit vector per text."""
        if not texts:
            return []
        vectors = self.model.encode(
            list(texts), batch_size=self.batch_size, normalize_embeddings=True,
            convert_to_numpy=True, show_progress_bar=False,
        )
        return vectors.tolist()


def make_embedder(folder: Path, backend: str, cache: Path, batch_size: int = 0):
    """The embedder a `Config.embed_backend` names."""
    if backend == "torch":
        return SentenceTransformerEmbedder(folder, batch_size)
    return OnnxEmbedder(folder, cache, batch_size, quantized=backend == "onnx-int8")
