"""llama.cpp's CPU kernels: the best ones for the CPU this runs on.

The portable build (scripts/setup.sh's default, the one bundles carry) holds
ggml's CPU kernels once per x86-64 generation, `libggml-cpu-<variant>.so`
beside libllama; each scores itself against the CPU it runs on, 0 where it
cannot run.  ggml looks for them beside the executable, which for us is
Python's, so here they are loaded from llama_cpp's own folder by ggml's own
choice (the highest score), once, before the first model.  A build for one
CPU (LLAMA_CMAKE_ARGS=... scripts/setup.sh) has its kernels linked in: nothing
to load, and `variant` says so.
"""

from __future__ import annotations

import ctypes
import re
import threading
from dataclasses import dataclass
from pathlib import Path

from copilot.core.errors import ModelMissing

BUILT_IN = "built in"  # the kernels of a single-CPU build, linked into libggml
_lock = threading.Lock()


@dataclass(frozen=True)
class Kernels:
    """Which CPU kernels llama.cpp runs here, and which the installed build carries."""

    variant: str  # "icelake", "haswell", ...; BUILT_IN for a single-CPU build
    carried: tuple[str, ...]  # every variant the build holds (empty: single-CPU build)

    def describe(self) -> str:
        if not self.carried:
            return "llama.cpp built for one CPU's features (its kernels linked in)"
        return f"{self.variant} kernels, the best for this CPU of the {len(self.carried)} the build carries"


def _mapped(pattern: str) -> re.Match | None:
    """The first library mapped into this process whose path matches `pattern`, in the kernel's view."""
    with open("/proc/self/maps") as maps:
        return re.search(pattern, maps.read(), re.MULTILINE)


_loaded: Kernels | None = None


def _load(prefer: str) -> Kernels:
    import llama_cpp  # noqa: F401 - loads libllama, and the libggml it links to

    from copilot.llm import quiet_llama

    quiet_llama()  # ggml reports the library it loads: not for a lawyer's terminal
    # The libggml libllama uses, by its path (llama_cpp/lib, or LLAMA_CPP_LIB_PATH's): the wheel
    # holds copies under other names (libggml.so, libggml.so.0), and a copy loaded by another name
    # would keep a registry libllama never sees.
    ggml_path = _mapped(r"(/[^\n]*/libggml\.so[.\d]*)$")  # a path may hold spaces
    if ggml_path is None:
        raise ModelMissing("llama.cpp's libggml is not loaded: reinstall llama-cpp-python")
    lib = Path(ggml_path.group(1)).parent
    carried = tuple(sorted(p.name[len("libggml-cpu-"):-len(".so")] for p in lib.glob("libggml-cpu-*.so")))
    if not carried:
        return Kernels(BUILT_IN, ())
    ggml = ctypes.CDLL(ggml_path.group(1))
    ggml.ggml_backend_reg_count.restype = ctypes.c_size_t
    if ggml.ggml_backend_reg_count() == 0 and prefer:
        if prefer not in carried:
            raise ModelMissing(f"llama.cpp has no {prefer} CPU kernels here (it carries {', '.join(carried)})")
        ggml.ggml_backend_load.restype = ctypes.c_void_p
        ggml.ggml_backend_load.argtypes = [ctypes.c_char_p]
        ggml.ggml_backend_load(str(lib / f"libggml-cpu-{prefer}.so").encode())
    elif ggml.ggml_backend_reg_count() == 0:
        ggml.ggml_backend_load_all_from_path.argtypes = [ctypes.c_char_p]
        ggml.ggml_backend_load_all_from_path(str(lib).encode())
    variant = _mapped(r"libggml-cpu-([\w.]+)\.so")
    if variant is None:
        raise ModelMissing(f"none of llama.cpp's CPU kernels in {lib} ({', '.join(carried)}) runs on this CPU")
    return Kernels(variant.group(1), carried)


def kernels(prefer: str = "") -> Kernels:
    """Load the best CPU kernels (once per process: later calls say what was loaded) and say which
    they are.  `prefer` names a variant to load instead (tests and benchmarks: what another CPU
    would run); a variant this CPU cannot run is refused by ggml, and then none is loaded."""
    global _loaded
    with _lock:
        if _loaded is None:
            _loaded = _load(prefer)
        return _loaded
