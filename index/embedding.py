"""The embedder: sentence-transformers on a local model folder, nothing fetched."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path


class SentenceTransformerEmbedder:
    """An `Embedder` over a local sentence-transformers folder (CPU by default).

    Vectors are L2-normalised, so the store's cosine distance and a plain dot
    product agree.  The model loads once, on first use, and stays loaded.
    """

    def __init__(self, folder: Path, batch_size: int = 32, device: str = "cpu"):
        self.folder = folder
        self.batch_size = batch_size
        self.device = device
        self._model = None
        self._lock = threading.Lock()  # the app may ask for it from two workers at once

    @property
    def tokenizer_file(self) -> Path:
        return self.folder / "tokenizer.json"

    @property
    def window(self) -> int:
        """The longest input, in tokens, the model reads before truncating.

        Read from the folder's config so chunking needs no model load.
        """
        import json

        config = self.folder / "sentence_bert_config.json"
        try:
            return int(json.loads(config.read_text())["max_seq_length"])
        except (OSError, ValueError, KeyError):
            return int(self.model.max_seq_length)

    @property
    def model(self):
        with self._lock:
            return self._load()

    def _load(self):
        if self._model is None:
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()  # its bars would cut through ours
            hf_logging.set_verbosity_error()

            self._model = SentenceTransformer(
                str(self.folder), device=self.device, local_files_only=True
            )
        return self._model

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One unit vector per text."""
        if not texts:
            return []
        vectors = self.model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return vectors.tolist()
