"""GGUF → a smaller GGUF, through llama.cpp's own quantizer (`llama_model_quantize`).

Quantizing an already-quantized file compounds the rounding errors of both
passes, so it is refused unless asked for (`allow_requantize`).
"""

from __future__ import annotations

import ctypes
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from copilot.core.errors import CopilotError, ModelMissing

TYPES = ("Q8_0", "Q6_K", "Q5_K_M", "Q4_K_M", "Q4_0", "IQ4_XS")
FULL = {"F32", "F16", "BF16"}  # what a quant is best made from


class QuantizeError(CopilotError):
    """A quantization that cannot or should not be done; the message says why."""


@dataclass(frozen=True)
class Quantized:
    """What a quantization wrote."""

    path: Path
    type: str
    source_type: str
    bytes: int
    seconds: float


def file_type(path: Path) -> str:
    """A GGUF's type as llama.cpp names it ("F16", "Q4_K_M"), read from its header."""
    from copilot.llama.catalog import quant_of

    try:
        return quant_of(path)
    except ModelMissing as exc:
        raise QuantizeError(str(exc)) from None


def quantize(source: Path, out: Path, qtype: str, allow_requantize: bool = False,
             threads: int = 0, tick: Callable[[float, int], None] | None = None,
             imatrix: dict | None = None) -> Quantized:
    """Write `source` quantized to `qtype` at `out`.

    llama.cpp reports no progress of its own: `tick(seconds, bytes_written)`
    is called every half second from the output file's growing size.
    """
    import llama_cpp

    from copilot.llama.runtime import quiet_llama

    quiet_llama()
    qtype = qtype.upper()
    if qtype not in TYPES:
        raise QuantizeError(f"quant type {qtype}: choose one of {', '.join(TYPES)}")
    if qtype == "IQ4_XS" and not imatrix:
        raise QuantizeError("IQ4_XS needs an importance matrix: add --imatrix (collected from your "
                            "documents) or --imatrix-file")
    have = file_type(source)
    if have not in FULL and not allow_requantize:
        raise QuantizeError(
            f"{source.name} is already quantized ({have}): quantizing it again compounds the rounding "
            "of both passes; start from an F32/F16/BF16 file, or pass --allow-requantize"
        )
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = getattr(llama_cpp, f"LLAMA_FTYPE_MOSTLY_{qtype}")
    params.allow_requantize = allow_requantize
    params.nthread = threads or (os.cpu_count() or 1)
    keep = None
    if imatrix:
        from quantize.imatrix import as_params

        params.imatrix, keep = as_params(imatrix)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".part")  # a crash leaves no half file under the real name
    started = time.perf_counter()
    done = threading.Event()
    watcher = threading.Thread(target=_watch, args=(partial, started, done, tick), daemon=True)
    watcher.start()
    try:
        code = llama_cpp.llama_model_quantize(str(source).encode(), str(partial).encode(),
                                              ctypes.byref(params))
    finally:
        done.set()
        watcher.join()
        del keep  # the matrix's memory, held until llama.cpp is done with it
    if code != 0:
        partial.unlink(missing_ok=True)
        raise QuantizeError(f"llama.cpp could not quantize {source.name} to {qtype} (code {code})")
    partial.replace(out)
    return Quantized(out, qtype, have, out.stat().st_size, time.perf_counter() - started)


def _watch(path: Path, started: float, done: threading.Event, tick) -> None:
    while tick is not None and not done.wait(0.5):
        try:
            tick(time.perf_counter() - started, path.stat().st_size)
        except OSError:
            pass
