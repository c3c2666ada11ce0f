"""llama.cpp's runtime: where it computes (the best CPU kernels for this CPU, the GPUs it can
use), loading a model onto them, and reading a model file's metadata.

The portable build (scripts/setup.sh's default, the one bundles carry) holds
ggml's CPU kernels once per x86-64 generation, `libggml-cpu-<variant>.so`
beside libllama; each scores itself against the CPU it runs on, 0 where it
cannot run.  A GPU build (LLAMA_BUILD=cuda) adds `libggml-cuda.so` the same
way, loaded only where its driver and a GPU are there: without them the CPU
answers, never a crash.  ggml looks for these libraries beside the
executable, which for us is Python's, so here they are loaded from llama.cpp's
own folder by ggml's own choice (the highest score), once, before the first
model.  A build for one CPU (LLAMA_BUILD=native) has its kernels linked in:
nothing to load, and `variant` says so.
"""

from __future__ import annotations

import ctypes
import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path

from copilot.core.errors import ModelMissing

BUILT_IN = "built in"  # the kernels of a single-CPU build, linked into libggml
GPU_BACKENDS = ("CUDA", "Vulkan", "HIP", "SYCL")  # ggml's names, as its registry and library files give them
_lock = threading.Lock()
_loaded: Backends | None = None


@dataclass(frozen=True)
class Gpu:
    """One GPU llama.cpp can offload layers to."""

    name: str  # ggml's device name: "CUDA0"
    description: str  # "NVIDIA H200"
    total: int  # bytes of memory
    free: int

    def describe(self) -> str:
        return f"{self.name} ({self.description}, {self.total / 2**30:.1f} GiB, {self.free / 2**30:.1f} free)"


@dataclass(frozen=True)
class Backends:
    """Which CPU kernels llama.cpp runs here, which the build carries, and its GPUs."""

    variant: str  # "icelake", "haswell", ...; BUILT_IN for a single-CPU build
    carried: tuple[str, ...]  # every CPU variant the build holds (empty: single-CPU build)
    gpu_backend: str = ""  # the GPU backend the build has ("CUDA"), usable here or not
    gpus: tuple[Gpu, ...] = ()  # the GPUs it found (none: no backend, no driver or no card)

    def describe(self) -> str:
        if not self.carried:
            return "llama.cpp built for one CPU's features (its kernels linked in)"
        return f"{self.variant} kernels, the best for this CPU of the {len(self.carried)} the build carries"

    def gpu_use(self, gpu_layers: int, layers: int) -> tuple[bool, str]:
        """Whether `gpu_layers` (config) of a model of `layers` are offloaded as asked, and how it reads."""
        if gpu_layers <= 0:
            found = f"; {', '.join(g.describe() for g in self.gpus)} found" if self.gpus else ""
            return True, f"not used (gpu_layers = 0){found}"
        if not self.gpus:
            why = (f"this llama.cpp's {self.gpu_backend} backend found no usable GPU or driver"
                   if self.gpu_backend else "this llama.cpp has no GPU backend (LLAMA_BUILD=cuda builds one)")
            return False, f"gpu_layers = {gpu_layers}, but {why}: the CPU answers"
        on = min(gpu_layers, layers) if layers else gpu_layers
        return True, f"{on} of {layers or '?'} layers on {self.gpus[0].describe()}"


class _DlInfo(ctypes.Structure):
    _fields_ = [("dli_fname", ctypes.c_char_p), ("dli_fbase", ctypes.c_void_p),
                ("dli_sname", ctypes.c_char_p), ("dli_saddr", ctypes.c_void_p)]


def _libggml():
    """The libggml libllama links to (symbols looked up through libllama reach it), and its folder.

    Not a libggml loaded by name: the wheel holds copies of it under several
    names, and a copy libllama does not use keeps a registry it never sees.
    """
    from llama_cpp import llama_cpp as bindings  # loads libllama (from llama_cpp/lib, or LLAMA_CPP_LIB_PATH)

    ggml = bindings._lib
    info = _DlInfo()
    if not ctypes.CDLL(None).dladdr(ctypes.cast(ggml.ggml_backend_load_all_from_path, ctypes.c_void_p),
                                    ctypes.byref(info)):
        raise ModelMissing("llama.cpp's libggml cannot be found: reinstall llama-cpp-python")
    return ggml, Path(info.dli_fname.decode()).parent


def _loaded_variant() -> str:
    """The CPU kernels' library ggml kept (it unloads the others), from the kernel's map of this process."""
    with open("/proc/self/maps") as maps:
        found = re.search(r"libggml-cpu-([\w.]+)\.so", maps.read())
    return found.group(1) if found else ""


def _gpus(ggml) -> tuple[Gpu, ...]:
    ggml.ggml_backend_dev_count.restype = ctypes.c_size_t
    ggml.ggml_backend_dev_get.restype = ctypes.c_void_p
    ggml.ggml_backend_dev_get.argtypes = [ctypes.c_size_t]
    for name in ("ggml_backend_dev_name", "ggml_backend_dev_description"):
        getattr(ggml, name).restype = ctypes.c_char_p
        getattr(ggml, name).argtypes = [ctypes.c_void_p]
    ggml.ggml_backend_dev_type.argtypes = [ctypes.c_void_p]
    ggml.ggml_backend_dev_memory.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_size_t),
                                             ctypes.POINTER(ctypes.c_size_t)]
    found = []
    for i in range(ggml.ggml_backend_dev_count()):
        dev = ggml.ggml_backend_dev_get(i)
        if ggml.ggml_backend_dev_type(dev) != 1:  # GGML_BACKEND_DEVICE_TYPE_GPU
            continue
        free, total = ctypes.c_size_t(), ctypes.c_size_t()
        ggml.ggml_backend_dev_memory(dev, ctypes.byref(free), ctypes.byref(total))
        found.append(Gpu(ggml.ggml_backend_dev_name(dev).decode(), ggml.ggml_backend_dev_description(dev).decode(),
                         total.value, free.value))
    return tuple(found)


def _load(prefer: str) -> Backends:
    quiet_llama()  # ggml reports the libraries it loads: not for a lawyer's terminal
    ggml, lib = _libggml()
    carried = tuple(sorted(p.name[len("libggml-cpu-"):-len(".so")] for p in lib.glob("libggml-cpu-*.so")))
    ggml.ggml_backend_reg_count.restype = ctypes.c_size_t
    ggml.ggml_backend_reg_by_name.restype = ctypes.c_void_p
    ggml.ggml_backend_reg_by_name.argtypes = [ctypes.c_char_p]
    if ggml.ggml_backend_reg_count() == 0:  # a build of loadable backends (GGML_BACKEND_DL)
        if prefer:
            if prefer not in carried:
                raise ModelMissing(f"llama.cpp has no {prefer} CPU kernels here (it carries {', '.join(carried)})")
            ggml.ggml_backend_load.restype = ctypes.c_void_p
            ggml.ggml_backend_load.argtypes = [ctypes.c_char_p]
            ggml.ggml_backend_load(str(lib / f"libggml-cpu-{prefer}.so").encode())
        else:
            ggml.ggml_backend_load_all_from_path.argtypes = [ctypes.c_char_p]
            ggml.ggml_backend_load_all_from_path(str(lib).encode())  # GPU ones first, where they load
        if not ggml.ggml_backend_reg_by_name(b"CPU"):
            raise ModelMissing(f"none of llama.cpp's CPU kernels in {lib} ({', '.join(carried) or 'none'}) "
                               "runs on this CPU")
    variant = _loaded_variant()
    built = [b for b in GPU_BACKENDS if ggml.ggml_backend_reg_by_name(b.encode())
             or (lib / f"libggml-{b.lower()}.so").is_file()]
    return Backends(variant if variant and carried else BUILT_IN, carried, built[0] if built else "", _gpus(ggml))


def gpus_now() -> tuple[Gpu, ...]:
    """The GPUs with their memory as it is now (after `backends()`; `Backends.gpus` is as it was then)."""
    return _gpus(_libggml()[0])


def backends(prefer: str = "") -> Backends:
    """Load the best CPU kernels and any usable GPU backend (once per process: later calls say what
    was loaded) and say which they are.  `prefer` names a CPU variant to load instead (tests and
    benchmarks: what another CPU would run); one this CPU cannot run is refused by ggml."""
    global _loaded
    with _lock:
        if _loaded is None:
            _loaded = _load(prefer)
        return _loaded


def default_threads() -> int:
    """All cores on a small machine; half (the physical ones, usually) on a big one.

    llama.cpp's own default is half the logical cores, which on a 2-core
    laptop leaves half the machine idle.
    """
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return cores if cores <= 4 else cores // 2


def quiet_llama() -> None:
    """Keep llama.cpp's log to errors: its load and quantize chatter is not for a lawyer's terminal."""
    try:
        from llama_cpp._logger import set_verbose
    except ImportError:  # pragma: no cover - a llama-cpp-python without the helper
        return
    set_verbose(False)


def metadata(path: Path) -> dict[str, str]:
    """A GGUF file's metadata, read without loading its weights or sizing a context."""
    from llama_cpp import Llama

    try:  # llama.cpp warns on stderr about a vocab-only load's context; users need not see it
        from llama_cpp._utils import suppress_stdout_stderr

        quiet = suppress_stdout_stderr(disable=False)
    except ImportError:  # pragma: no cover - a llama-cpp-python without the helper
        from contextlib import nullcontext

        quiet = nullcontext()
    with quiet:
        return dict(Llama(model_path=str(path), vocab_only=True, verbose=False).metadata)


def load_llama(path: Path, **params):
    """`llama_cpp.Llama(path, **params)`, quietly, with this machine's llama.cpp kernels loaded
    first (`backends`): a portable build finds none by itself, and a model then fails to load."""
    from llama_cpp import Llama

    backends()
    return Llama(model_path=str(path), verbose=False, **params)


def layers_of(path: Path) -> int:
    """How many transformer layers (blocks) a GGUF model has: what gpu_layers counts."""
    meta = metadata(path)
    return int(meta.get(f"{meta.get('general.architecture', '')}.block_count", 0) or 0)
