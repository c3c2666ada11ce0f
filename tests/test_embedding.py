"""The ONNX embedder: exported once, offline, close to the fp32 model, order-preserving."""

from pathlib import Path

import pytest

from copilot.core import offline
from copilot.models import resolve_embedder
from index.embedding import OnnxEmbedder, SentenceTransformerEmbedder, export_dir

pytestmark = pytest.mark.slow

TEXTS = [
    "The Supplier shall indemnify the Customer against all losses arising from any breach.",
    "Client matter files are kept for seven years after the matter is closed.",
    "Fees",
    "This Agreement is governed by the laws of the State of Delaware. " * 30,  # past the window
    "Les honoraires sont payables à trente jours.",
]


def test_first_use_exports_offline_and_matches_fp32(tmp_path: Path) -> None:
    offline.install(tmp_path / "offline.log")
    before = len(offline.attempts())
    folder = resolve_embedder("")
    ours = OnnxEmbedder(folder, tmp_path / "embedders")
    vectors = ours.embed(TEXTS)
    assert offline.attempts()[before:] == []  # the export itself reaches for nothing
    assert (export_dir(folder, tmp_path / "embedders")).is_dir()
    plain = SentenceTransformerEmbedder(folder).embed(TEXTS)
    for a, b in zip(vectors, plain):
        assert len(a) == 384 and abs(sum(x * x for x in a) - 1) < 1e-4
        assert sum(x * y for x, y in zip(a, b)) > 0.95
    # Length-sorted batching must hand vectors back in the order given.
    again = OnnxEmbedder(folder, tmp_path / "embedders", batch_size=2).embed(TEXTS[::-1])
    for a, b in zip(again[::-1], vectors):
        assert sum(x * y for x, y in zip(a, b)) > 0.99


def test_the_index_remembers_its_embedder(tmp_path: Path) -> None:
    folder = resolve_embedder("")
    int8 = OnnxEmbedder(folder, tmp_path, quantized=True)
    fp32 = OnnxEmbedder(folder, tmp_path, quantized=False)
    torch = SentenceTransformerEmbedder(folder)
    assert len({int8.name, fp32.name, torch.name}) == 3
