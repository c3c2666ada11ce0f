"""`copilot models`: the list of usable models, names that resolve, and switching model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from copilot.core.errors import ModelMissing
from copilot.llama import catalog as catalog_mod
from copilot.llama.catalog import catalog, ftype_name, gguf_metadata, quant_of
from copilot.llama.models import PACKAGED, local_models, resolve_llm

from fakes import write_gguf

COPILOT = str(Path(sys.executable).with_name("copilot"))


def test_the_header_reader_steps_over_arrays_and_stops_at_the_keys(tmp_path: Path) -> None:
    path = tmp_path / "m.gguf"
    write_gguf(path, file_type=15, vocab=5000)
    meta = gguf_metadata(path, {"general.file_type", "tokenizer.chat_template", "general.architecture"})
    assert meta == {"general.architecture": "llama", "general.file_type": 15,
                    "tokenizer.chat_template": "{{ messages }}"}
    assert quant_of(path) == "Q4_K_M"
    assert [ftype_name(v) for v in (0, 1, 7, 18, 32, None)] == ["F32", "F16", "Q8_0", "Q6_K", "BF16", "?"]


def test_a_file_that_is_not_gguf_or_is_cut_short_is_one_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"PK\x03\x04 a zip file")
    with pytest.raises(ModelMissing, match="not a GGUF"):
        quant_of(bad)
    good = tmp_path / "good.gguf"
    write_gguf(good)
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(good.read_bytes()[:200])  # inside the vocabulary
    with pytest.raises(ModelMissing, match="not a readable GGUF file: the header ends early"):
        quant_of(cut)


def test_local_models_resolve_by_name_and_unknown_names_list_them(tmp_path: Path) -> None:
    models = tmp_path / "models"
    models.mkdir()
    write_gguf(models / "contracts.Q4_0.gguf", file_type=2)
    (models / "contracts.Q4_0.gguf.part").write_bytes(b"half written")
    (models / PACKAGED["qwen2.5-coder-0.5b"].filename).write_bytes(b"GGUF")  # assembled: its own name
    assert list(local_models(models)) == ["contracts.Q4_0"]
    assert resolve_llm("contracts.Q4_0", models) == models / "contracts.Q4_0.gguf"
    with pytest.raises(ModelMissing, match=r"unknown model 'contracts'.*contracts\.Q4_0.*copilot models"):
        resolve_llm("contracts", models)


def test_catalog_hashes_a_local_file_once_and_lists_packaged_models(tmp_path: Path, monkeypatch) -> None:
    models = tmp_path / "models"
    models.mkdir()
    write_gguf(models / "mine.gguf", file_type=7)
    calls = []
    real = catalog_mod.file_sha256
    monkeypatch.setattr(catalog_mod, "file_sha256", lambda p, progress=None: calls.append(p) or real(p))
    rows = {m.name: m for m in catalog(models)}
    assert set(PACKAGED) <= set(rows)
    mine = rows["mine"]
    import hashlib

    assert (mine.kind, mine.quant, mine.size) == ("local", "Q8_0", (models / "mine.gguf").stat().st_size)
    assert mine.sha256 == hashlib.sha256((models / "mine.gguf").read_bytes()).hexdigest()
    assert {m.name: m for m in catalog(models)}["mine"].sha256 == mine.sha256
    assert len(calls) == 1  # the second listing read the record
    tiny = rows["smollm2-135m"]
    assert (tiny.kind, tiny.quant, tiny.sha256) == ("packaged", "Q4_1", PACKAGED["smollm2-135m"].sha256)
    assert tiny.path is not None and tiny.path.is_file()
    big = rows["qwen2.5-coder-1.5b"]
    assert big.path is None and big.note  # not assembled into this folder: says when it will be


def test_a_changed_file_is_hashed_again(tmp_path: Path) -> None:
    models = tmp_path / "models"
    models.mkdir()
    write_gguf(models / "mine.gguf", file_type=7)
    before = {m.name: m for m in catalog(models)}["mine"].sha256
    write_gguf(models / "mine.gguf", file_type=2, vocab=10)
    after = {m.name: m for m in catalog(models)}["mine"]
    assert after.sha256 != before and after.quant == "Q4_0"


def test_copilot_models_prints_names_quants_sizes_and_hashes(tmp_path: Path) -> None:
    models = tmp_path / "models"
    models.mkdir()
    write_gguf(models / "mine.Q8_0.gguf", file_type=7)
    env = {**os.environ, "COPILOT_HOME": str(tmp_path / "home"), "COPILOT_MODELS_HOME": str(models),
           "COPILOT_MODEL": "mine.Q8_0"}
    run = subprocess.run([COPILOT, "models", "--json"], env=env,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    rows = {r["name"]: r for r in json.loads(run.stdout)}
    assert rows["mine.Q8_0"]["in_use"] and rows["mine.Q8_0"]["quant"] == "Q8_0"
    assert len(rows["mine.Q8_0"]["sha256"]) == 64
    text = subprocess.run([COPILOT, "models"], env=env,
                          capture_output=True, text=True, timeout=120).stdout
    assert "* mine.Q8_0" in text and f"sha256 {rows['mine.Q8_0']['sha256']}" in text
    assert "smollm2-135m" in text and "Q4_1" in text
