"""The ONNX embedder: exported once, offline, close to the fp32 model, order-preserving."""

from pathlib import Path

import pytest

from copilot.core import offline
from copilot.core.errors import ModelMissing
from copilot.llama.models import resolve_embedder
from index import onnx_export
from index.embedding import OnnxEmbedder, SentenceTransformerEmbedder

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
    assert onnx_export.exported(folder, tmp_path / "embedders") == (
        tmp_path / "embedders" / onnx_export.export_name(folder) / onnx_export.INT8)
    plain = SentenceTransformerEmbedder(folder).embed(TEXTS)
    for a, b in zip(vectors, plain):
        assert len(a) == 384 and abs(sum(x * x for x in a) - 1) < 1e-4
        assert sum(x * y for x, y in zip(a, b)) > 0.95
    # Length-sorted batching must hand vectors back in the order given.
    again = OnnxEmbedder(folder, tmp_path / "embedders", batch_size=2).embed(TEXTS[::-1])
    for a, b in zip(again[::-1], vectors):
        assert sum(x * y for x, y in zip(a, b)) > 0.99


def test_an_export_installed_with_the_code_is_used_and_nothing_is_exported(tmp_path: Path, monkeypatch) -> None:
    """An offline bundle installs the int8 export under the venv (onnx_export.SHIPPED); the target has
    no torch, and must neither need it nor write a cache."""
    folder = resolve_embedder("")
    made = onnx_export.ensure(folder, tmp_path / "build-machine")
    shipped = tmp_path / "venv-share"
    (shipped / onnx_export.export_name(folder)).mkdir(parents=True)
    (shipped / onnx_export.export_name(folder) / made.name).write_bytes(made.read_bytes())
    monkeypatch.setattr(onnx_export, "SHIPPED", shipped)
    monkeypatch.setattr(onnx_export, "_export", lambda *_: pytest.fail("exported again"))
    vectors = OnnxEmbedder(folder, tmp_path / "target-cache").embed(TEXTS)
    assert len(vectors) == len(TEXTS) and not (tmp_path / "target-cache").exists()
    reference = OnnxEmbedder(folder, tmp_path / "build-machine").embed(TEXTS)
    assert vectors == reference


def test_no_export_and_no_torch_to_make_one_is_one_clear_error(tmp_path: Path, monkeypatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "torch" else real(name, *a))
    monkeypatch.setattr(onnx_export, "SHIPPED", tmp_path / "nothing-shipped")
    with pytest.raises(ModelMissing, match=r"ONNX export .* needs torch, .* reinstall from the offline bundle"):
        OnnxEmbedder(resolve_embedder(""), tmp_path / "cache").embed(["a question"])
    assert not (tmp_path / "cache").exists()


def test_the_index_remembers_its_embedder(tmp_path: Path) -> None:
    folder = resolve_embedder("")
    int8 = OnnxEmbedder(folder, tmp_path, quantized=True)
    fp32 = OnnxEmbedder(folder, tmp_path, quantized=False)
    torch = SentenceTransformerEmbedder(folder)
    assert len({int8.name, fp32.name, torch.name}) == 3


def test_the_torch_backend_where_torch_is_left_out_is_one_clear_error(monkeypatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "sentence_transformers", None)  # as in an offline bundle's install
    with pytest.raises(ModelMissing, match='leaves out: set embed_backend = "onnx-int8"'):
        SentenceTransformerEmbedder(resolve_embedder("")).embed(["a question"])
