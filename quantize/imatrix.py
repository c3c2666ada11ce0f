"""An importance matrix from the firm's own text, through llama.cpp's eval callback.

For each weight matrix, the mean square of every input column over the text
read: the quantizer then spends its rounding error where the firm's language
puts little weight.  This is what llama.cpp's `llama-imatrix` tool collects;
here llama.cpp calls back into Python for each matrix product of the graph
(`cb_eval`), with the input activations in host memory.
"""

from __future__ import annotations

import ctypes
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from copilot.core.errors import CopilotError

MAX_DIMS, MAX_SRC, MAX_OP_PARAMS, MAX_NAME = 4, 10, 64, 64  # ggml.h
GGML_TYPE_F32 = 0
MIN_TOKENS = 16  # smaller batches are left out, as llama-imatrix does


class ImatrixError(CopilotError):
    """An importance matrix that cannot be collected; the message says why."""


class _Tensor(ctypes.Structure):
    """`struct ggml_tensor` as ggml.h lays it out (only read here, never written)."""

    _fields_ = [
        ("type", ctypes.c_int),
        ("buffer", ctypes.c_void_p),
        ("ne", ctypes.c_int64 * MAX_DIMS),
        ("nb", ctypes.c_size_t * MAX_DIMS),
        ("op", ctypes.c_int),
        ("op_params", ctypes.c_int32 * (MAX_OP_PARAMS // 4)),
        ("flags", ctypes.c_int32),
        ("src", ctypes.c_void_p * MAX_SRC),
        ("view_src", ctypes.c_void_p),
        ("view_offs", ctypes.c_size_t),
        ("data", ctypes.c_void_p),
        ("name", ctypes.c_char * MAX_NAME),
        ("extra", ctypes.c_void_p),
        ("padding", ctypes.c_char * 8),
    ]


@dataclass
class Imatrix:
    """Per weight tensor: the sum of squared input activations, and how many rows were summed."""

    sums: dict = field(default_factory=dict)  # name → float64 array, one value per input column
    counts: dict = field(default_factory=dict)  # name → rows
    tokens: int = 0
    seconds: float = 0.0

    def means(self) -> dict:
        """name → float32 mean squares: what the quantizer takes."""
        import numpy as np

        return {name: (s / self.counts[name]).astype(np.float32) for name, s in self.sums.items()}


def _ggml():
    """ggml's base library (shipped beside llama.cpp's), for op names and tensor reads."""
    import llama_cpp._ggml as g

    lib = ctypes.CDLL(str(Path(g.libggml_base_path) / "libggml-base.so"))
    lib.ggml_op_name.restype = ctypes.c_char_p
    lib.ggml_op_name.argtypes = [ctypes.c_int]
    lib.ggml_backend_buffer_is_host.restype = ctypes.c_bool
    lib.ggml_backend_buffer_is_host.argtypes = [ctypes.c_void_p]
    lib.ggml_backend_tensor_get.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_size_t]
    return lib


def _op(lib, name: bytes) -> int:
    for i in range(256):
        if lib.ggml_op_name(i) == name:
            return i
    raise ImatrixError(f"this llama.cpp build has no {name.decode()} operation")


def collect(model: Path, tokens: list[int], window: int = 512, threads: int = 0,
            progress: Callable[[int, int], None] | None = None, gpu_layers: int = 0) -> Imatrix:
    """Read `tokens` through `model` in windows of `window`, summing each matmul's input squares."""
    import llama_cpp
    import numpy as np

    from copilot.llama.runtime import backends, quiet_llama

    quiet_llama()
    backends()
    lib = _ggml()
    mul_mat = _op(lib, b"MUL_MAT")
    found = Imatrix()

    def callback(ptr, ask, _data) -> bool:
        t = ctypes.cast(ptr, ctypes.POINTER(_Tensor)).contents
        if t.op != mul_mat or not t.src[0] or not t.src[1]:
            return not ask  # answering "no" to ask skips it; returning False otherwise aborts
        w = _Tensor.from_address(t.src[0])
        x = _Tensor.from_address(t.src[1])
        name = w.name.decode("utf-8", "replace").split("#")[-1]  # "CUDA0#blk.0.attn_q.weight"
        if ask:
            return name.startswith("blk.") and x.type == GGML_TYPE_F32 and x.ne[1] >= MIN_TOKENS
        cols, rows = x.ne[0], x.ne[1]
        for i3 in range(x.ne[3]):
            for i2 in range(x.ne[2]):
                offset = i2 * x.nb[2] + i3 * x.nb[3]
                size = (rows - 1) * x.nb[1] + cols * 4
                if lib.ggml_backend_buffer_is_host(x.buffer):
                    raw = (ctypes.c_char * size).from_address(x.data + offset)
                else:  # a GPU buffer: copy it out first
                    raw = ctypes.create_string_buffer(size)
                    lib.ggml_backend_tensor_get(t.src[1], raw, offset, size)
                a = np.ndarray((rows, cols), np.float32, raw, strides=(x.nb[1], 4)).astype(np.float64)
                found.sums[name] = found.sums.get(name, 0.0) + np.einsum("ij,ij->j", a, a)
                found.counts[name] = found.counts.get(name, 0) + rows
        return True

    keep = llama_cpp.ggml_backend_sched_eval_callback(callback)  # alive while llama.cpp holds it
    mparams = llama_cpp.llama_model_default_params()
    mparams.n_gpu_layers = gpu_layers  # offloaded tensors are read back by ggml_backend_tensor_get
    handle = llama_cpp.llama_model_load_from_file(str(model).encode(), mparams)
    if not handle:
        raise ImatrixError(f"llama.cpp could not load {model}")
    cparams = llama_cpp.llama_context_default_params()
    cparams.n_ctx = cparams.n_batch = cparams.n_ubatch = window
    cparams.n_threads = cparams.n_threads_batch = threads or _threads()
    cparams.cb_eval, cparams.cb_eval_user_data = keep, None
    cparams.embeddings = True  # every token an output: the last layer is not cut to one row
    ctx = llama_cpp.llama_init_from_model(handle, cparams)
    started = time.perf_counter()
    try:
        if not ctx:
            raise ImatrixError(f"llama.cpp could not make a context for {model}")
        starts = range(0, len(tokens) - MIN_TOKENS + 1, window)
        for n, start in enumerate(starts):
            piece = tokens[start:start + window]
            llama_cpp.llama_memory_clear(llama_cpp.llama_get_memory(ctx), True)
            ids = (llama_cpp.llama_token * len(piece))(*piece)  # the batch points into it: keep it
            batch = llama_cpp.llama_batch_get_one(ids, len(piece))
            if llama_cpp.llama_decode(ctx, batch) != 0:
                raise ImatrixError(f"llama.cpp failed to evaluate window {n + 1} of {model.name}")
            found.tokens += len(piece)
            if progress:
                progress(n + 1, len(starts))
    finally:
        if ctx:
            llama_cpp.llama_free(ctx)
        llama_cpp.llama_model_free(handle)
    found.seconds = time.perf_counter() - started
    if not found.sums:
        raise ImatrixError(f"no weight matrix of {model.name} was seen: is it a llama.cpp text model?")
    return found


def as_params(imatrix: dict) -> tuple[object, list]:
    """The null-terminated `llama_model_imatrix_data` array, and what must outlive it."""
    import llama_cpp
    import numpy as np

    entries = (llama_cpp.llama_model_imatrix_data * (len(imatrix) + 1))()
    keep: list = [entries]
    for entry, (name, values) in zip(entries, imatrix.items()):
        values = np.ascontiguousarray(values, np.float32)
        keep.append(values)
        entry.name = name.encode()  # ctypes keeps the bytes alive with `entries`
        entry.data = values.ctypes.data_as(ctypes.POINTER(ctypes.c_float))
        entry.size = values.size
    return ctypes.cast(entries, ctypes.POINTER(llama_cpp.llama_model_imatrix_data)), keep


def save(imatrix: Imatrix, path: Path) -> None:
    """Keep the matrix beside the quants (a .npz of mean squares), to reuse or inspect."""
    import numpy as np

    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as fh:
        np.savez(fh, **imatrix.means())


def load(path: Path) -> dict:
    import numpy as np

    try:
        with np.load(path) as data:
            return {name: data[name] for name in data.files}
    except (OSError, ValueError) as exc:
        raise ImatrixError(f"cannot read the importance matrix {path}: {exc}") from None


def _threads() -> int:
    from copilot.llama.runtime import default_threads

    return default_threads()
