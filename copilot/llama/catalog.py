"""`copilot models`: every model the app can use, with its size, quant type and sha256.

The quant type comes from the GGUF header's `general.file_type`.  The header
is read by hand, key by key, stopping at the keys wanted: `gguf.GGUFReader`
maps every tensor first, seconds for a large file on a cold cache.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from copilot.core.admin import ModelInfo
from copilot.core.errors import ModelMissing
from copilot.llama.models import PACKAGED, ProgressFn, file_sha256, local_models, package_dir, recorded_sha256

# GGUF value types: struct format of the fixed-size ones; 8 string, 9 array.
_SCALAR = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}
_STRING, _ARRAY = 8, 9


def _read(fh: BinaryIO, fmt: str):
    size = struct.calcsize("<" + fmt)
    data = fh.read(size)
    if len(data) != size:
        raise ValueError("the header ends early")
    return struct.unpack("<" + fmt, data)[0]


def _string(fh: BinaryIO) -> bytes:
    n = _read(fh, "Q")
    data = fh.read(n)
    if len(data) != n:
        raise ValueError("the header ends early")
    return data


def _value(fh: BinaryIO, kind: int):
    if kind in _SCALAR:
        return _read(fh, _SCALAR[kind])
    if kind == _STRING:
        return _string(fh).decode("utf-8", "replace")
    if kind == _ARRAY:
        item, n = _read(fh, "I"), _read(fh, "Q")
        if item in _SCALAR:  # arrays (the vocabulary) are skipped, not read
            fh.seek(n * struct.calcsize("<" + _SCALAR[item]), 1)
        elif item == _STRING:
            for _ in range(n):
                fh.seek(_read(fh, "Q"), 1)
        else:
            for _ in range(n):
                _value(fh, item)
        return None
    raise ValueError(f"unknown value type {kind}")


def gguf_metadata(path: Path, keys: set[str]) -> dict[str, object]:
    """The values of `keys` in a GGUF file's header (scalars and strings only)."""
    found: dict[str, object] = {}
    try:
        with path.open("rb") as fh:
            if fh.read(4) != b"GGUF":
                raise ModelMissing(f"{path} is not a GGUF model file")
            _version, _tensors, count = _read(fh, "I"), _read(fh, "Q"), _read(fh, "Q")
            for _ in range(count):
                key = _string(fh).decode("utf-8", "replace")
                value = _value(fh, _read(fh, "I"))
                if key in keys:
                    found[key] = value
                    if len(found) == len(keys):
                        break
    except (OSError, ValueError, struct.error) as exc:
        raise ModelMissing(f"{path} is not a readable GGUF file: {exc}") from None
    return found


def ftype_name(value: object) -> str:
    """llama.cpp's name for a `general.file_type` value: 15 → "Q4_K_M"."""
    from gguf import LlamaFileType

    try:
        name = LlamaFileType(int(value)).name  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return "?" if value is None else str(value)
    return name.removeprefix("MOSTLY_").removeprefix("ALL_")


def quant_of(path: Path) -> str:
    """How a GGUF's weights are quantized ("F16", "Q4_K_M"), from its header."""
    return ftype_name(gguf_metadata(path, {"general.file_type"}).get("general.file_type"))


def catalog(models_dir: Path, hashes: bool = True,
            progress: Callable[[str], ProgressFn] | None = None) -> list[ModelInfo]:
    """Packaged models first, then the GGUF files in the models folder.

    With `hashes`, a local file not hashed before is hashed now (once: the
    result is recorded beside it); `progress(name)` gives a callback for that.
    """
    rows = []
    for model in PACKAGED.values():
        missing = [m.replace("_", "-") for m, _ in model.parts if package_dir(m) is None]
        path: Path | None = models_dir / model.filename
        if len(model.parts) == 1 and not missing:
            path = package_dir(model.parts[0][0]) / model.parts[0][1]  # type: ignore[operator]
        ready = path is not None and path.is_file()
        note = ("not installed: " + model.install_hint()) if missing else (
            "" if ready else "assembled from its packages on first use")
        rows.append(ModelInfo(model.name, "packaged", model.quant, model.size, model.sha256,
                              path if ready else None, note, installed=not missing))
    for name, path in local_models(models_dir).items():
        try:
            quant, note = quant_of(path), ""
        except ModelMissing as exc:
            quant, note = "?", str(exc)
        digest = recorded_sha256(path) or ""
        if hashes and not digest:
            digest = file_sha256(path, progress(name) if progress else None)
        rows.append(ModelInfo(name, "local", quant, path.stat().st_size, digest, path, note))
    return rows
