"""One-time export of a sentence-transformers model to ONNX, fp32 and dynamic int8.

This is the only place that needs torch and transformers for the embedder,
and it runs once per model per machine: the files are cached under
`$COPILOT_HOME/models/embedders/` and every later run loads them with
onnxruntime alone.  An offline bundle makes the export on its build machine
and installs it under the installation's own prefix (`SHIPPED`), so the
firm's machines need neither torch nor a first-use export.  The export is
checked against the torch model before it is kept, and written atomically
under a file lock, so two processes starting at once cannot leave a
half-written model behind.
"""

from __future__ import annotations

import fcntl
import importlib.util
import os
import shutil
import sys
import tempfile
import warnings
from pathlib import Path

from copilot.core.errors import ModelMissing

INPUTS = ("input_ids", "attention_mask", "token_type_ids")
OPSET = 17
RECIPE = "qint8-per-channel"  # change it with the quantization: indexes built otherwise rebuild
FP32, INT8 = "model.onnx", f"model_{RECIPE}.onnx"


# Where an offline bundle's install.sh puts the exports it carries (read-only, beside the code).
SHIPPED = Path(sys.prefix) / "share" / "firm-copilot" / "embedders"


def export_name(folder: Path) -> str:
    """The exports of a model folder are kept under this name (in the cache, or shipped)."""
    return f"{folder.parent.name}-{folder.name}"


def exported(folder: Path, cache: Path, file: str = INT8) -> Path | None:
    """`file` (FP32 or INT8) exported from `folder`, if it exists: the installed copy, else the cache's."""
    for place in (SHIPPED, cache):
        if (place / export_name(folder) / file).is_file():
            return place / export_name(folder) / file
    return None


def missing_for_export() -> list[str]:
    """What making an export needs and this installation lacks (an offline bundle leaves them out)."""
    return [m for m in ("torch", "transformers") if importlib.util.find_spec(m) is None]


def ensure(folder: Path, cache: Path, file: str = INT8) -> Path:
    """`file` exported from `folder`: found, or exported (both files) into `cache` first."""
    found = exported(folder, cache, file)
    if found:
        return found
    missing = missing_for_export()
    if missing:
        raise ModelMissing(
            f"the embedder's ONNX export ({file}) is not installed, and making it needs "
            f"{' and '.join(missing)}, which this installation leaves out: reinstall from the offline "
            "bundle (it carries the export), or set embed_backend = \"onnx-int8\"")
    target = cache / export_name(folder)
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / f".{target.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another process may be exporting the same model
        if not (target / file).is_file():
            work = Path(tempfile.mkdtemp(prefix=".export-", dir=target.parent))
            try:
                _export(folder, work / FP32)
                _quantize(work / FP32, work / INT8)
                if target.exists():
                    shutil.rmtree(target)
                os.replace(work, target)
            finally:
                shutil.rmtree(work, ignore_errors=True)
    return target / file


def _export(folder: Path, path: Path) -> None:
    import numpy as np
    import torch
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    # Eager attention traces to a plain MatMul/Softmax graph that quantizes well.
    model = AutoModel.from_pretrained(folder, attn_implementation="eager", dtype=torch.float32).eval()
    tok = AutoTokenizer.from_pretrained(folder)

    class Encoder(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.m = model

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.m(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    # A padded example batch, so the attention-mask path is traced.
    example = tok(["hello world", "a somewhat longer example sentence, with padding"],
                  padding=True, return_tensors="pt")
    axes = {name: {0: "batch", 1: "seq"} for name in (*INPUTS, "last_hidden_state")}
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            Encoder().eval(), tuple(example[k] for k in INPUTS), str(path),
            input_names=list(INPUTS), output_names=["last_hidden_state"], dynamic_axes=axes,
            opset_version=OPSET, dynamo=False, do_constant_folding=True,
        )
    # Check on a batch of another shape before trusting the file.
    import onnxruntime as ort

    check = tok(["x", "The quick brown fox jumps over the lazy dog. " * 40], padding=True,
                truncation=True, max_length=256, return_tensors="pt")
    with torch.no_grad():
        want = model(**check).last_hidden_state.numpy()
    got = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(
        None, {k: check[k].numpy() for k in INPUTS})[0]
    mask = check["attention_mask"].numpy()[..., None].astype(bool)
    error = float(np.abs((got - want) * mask).max())
    if error > 1e-3:
        raise RuntimeError(f"ONNX export of {folder} differs from the model by {error:.2g}")


def _quantize(src: Path, dst: Path) -> None:
    import logging

    from onnxruntime.quantization import QuantType, quantize_dynamic

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # it advises "pre-processing" on the root logger, to the user's screen
    try:
        # Per-channel weight scales: per-tensor ones cost 0.011 nDCG@10 on a SciFact
        # sample, per-channel 0.0004 (bench/RESULTS.md has the full-set figures).
        quantize_dynamic(str(src), str(dst), weight_type=QuantType.QInt8, per_channel=True)
    finally:
        root.setLevel(level)
